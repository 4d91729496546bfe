"""The lab's root file systems: Debian bookworm made with debootstrap, cached.

One build makes three things, side by side under IMAGES:
  bookworm-<hash>       the full image: the base plus every package the roles install
                        (hosts cannot download, so the default lab has them all)
  bookworm-<hash>.bare  the base only, without package lists: a fresh host, on which
                        the roles' package installs run for real (`up --image bare`)
  bookworm-<hash>.apt   a flat apt repository of exactly the packages the full image
                        adds to the base, served to the hosts by the artifact server
The cache path holds a hash of the recipe (mirror, packages, files and commands
applied to the image), so a changed recipe builds a new image and an unchanged one
is reused. A build happens in temporary directories that are renamed into place only
when complete, so a half-built image is never booted.
"""
import email.utils
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from tools.lab import config
from tools.lab.util import LabError, log, mounts_under, quiet, run, sha256_file

# A host before any role ran: systemd, SSH, Python and the usual tools.
BASE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt",
    "iproute2", "iptables", "iputils-ping", "procps", "curl", "ca-certificates",
    "less", "tcpdump", "kmod",
]

# What the roles install (and the tests use): in the full image, and in the apt
# repository for bare hosts.
FABRIC_PACKAGES = [
    "docker.io", "containerd", "tini",
    "openvswitch-switch", "python3-openvswitch",
    "etcd-server", "etcd-client",
    "bridge-utils", "python3-pyroute2", "iperf3", "ethtool",
]

# Installed, but the roles enable and start them.
DISABLED_UNITS = [
    "docker.service", "docker.socket", "containerd.service",
    "openvswitch-switch.service", "ovsdb-server.service", "ovs-vswitchd.service",
    "etcd.service",
]

# Useless in a lab host, or slow to boot: networkd-wait-online waits for links
# networkd does not manage; timers would wake up and fail without network.
MASKED_UNITS = [
    "systemd-networkd-wait-online.service", "systemd-networkd.service",
    "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer",
    "e2scrub_reap.service", "fstrim.timer", "console-getty.service",
]

# Per-host SSH host keys: the image ships none; each host makes its own at first boot.
SSH_HOSTKEYS_UNIT = """\
[Unit]
Description=Generate this lab host's own SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""

# systemd-nspawn mounts the cgroup v1 controllers read-only; dockerd and containerd
# need to create cgroups in them, so make them writable before those start.
CGROUP_RW_UNIT = """\
[Unit]
Description=Make cgroup v1 controllers writable for containerd and docker
DefaultDependencies=no
After=local-fs.target
Before=containerd.service docker.service sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-cgroup-rw

[Install]
WantedBy=sysinit.target
"""

CGROUP_RW_SCRIPT = """\
#!/bin/sh
# Remount /sys/fs/cgroup and each cgroup v1 controller read-write (nspawn mounts them read-only).
# A controller that is a bind mount of a sub-cgroup (memory, here) only takes remount,bind.
for dir in /sys/fs/cgroup /sys/fs/cgroup/*; do
    mountpoint -q "$dir" || continue
    findmnt -n -o OPTIONS "$dir" | grep -q '^ro' || continue
    mount -o remount,rw "$dir" 2>/dev/null || mount -o remount,bind,rw "$dir" \
        || echo "lab-cgroup-rw: cannot make $dir writable" >&2
done
exit 0
"""

SSHD_CONFIG = """\
# Lab hosts: root logs in with the lab key only; no DNS (there is none).
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
MaxStartups 64
"""

JOURNALD_CONFIG = """\
[Journal]
Storage=volatile
RuntimeMaxUse=16M
"""

# Blocks service starts from package scripts while the image is built.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"

IMAGE_FILES = {
    "etc/systemd/system/lab-ssh-hostkeys.service": (SSH_HOSTKEYS_UNIT, 0o644),
    "etc/systemd/system/lab-cgroup-rw.service": (CGROUP_RW_UNIT, 0o644),
    "usr/local/sbin/lab-cgroup-rw": (CGROUP_RW_SCRIPT, 0o755),
    "etc/ssh/sshd_config.d/lab.conf": (SSHD_CONFIG, 0o644),
    "etc/systemd/journald.conf.d/lab.conf": (JOURNALD_CONFIG, 0o644),
}
ENABLED_UNITS = ["lab-ssh-hostkeys.service", "lab-cgroup-rw.service", "ssh.service"]

# Bump when the build steps below change in a way the recipe does not show.
RECIPE_REVISION = 3

# The suffixes of the bare image and of the apt repository beside the full image.
BARE_SUFFIX = ".bare"
LISTS_MTIME = 1700000000       # 2023-11-14: the bare image's (empty) package lists
APT_SUFFIX = ".apt"


def debian_mirror():
    """The machine's configured Debian mirror (apt reaches it; hosts never do)."""
    if os.environ.get("CROSSHOST_DEBIAN_MIRROR"):
        return os.environ["CROSSHOST_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        # deb822 (.sources) stanzas
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and config.DEBIAN_SUITE in suites.group(1).split() \
                    and uris.group(1).rstrip("/").endswith("/debian"):
                return uris.group(1).rstrip("/")
        # one-line format
        for match in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
            if match.group(2) == config.DEBIAN_SUITE and match.group(1).rstrip("/").endswith("/debian"):
                return match.group(1).rstrip("/")
    raise LabError("no Debian bookworm mirror found in /etc/apt/sources.list*; "
                   "set CROSSHOST_DEBIAN_MIRROR")


def recipe():
    return {
        "revision": RECIPE_REVISION,
        "suite": config.DEBIAN_SUITE,
        "mirror": debian_mirror(),
        "packages": sorted(BASE_PACKAGES),
        "fabric_packages": sorted(FABRIC_PACKAGES),
        "disabled": DISABLED_UNITS,
        "masked": MASKED_UNITS,
        "enabled": ENABLED_UNITS,
        "files": {path: [text, oct(mode)] for path, (text, mode) in IMAGE_FILES.items()},
    }


def recipe_hash():
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def image_path():
    return config.IMAGES / f"{config.DEBIAN_SUITE}-{recipe_hash()}"


def beside(full, suffix):
    """The bare image or the apt repository of the build whose full image is `full`."""
    return full.with_name(full.name + suffix)


def bare_image_path():
    return beside(image_path(), BARE_SUFFIX)


def apt_repo_path():
    return beside(image_path(), APT_SUFFIX)


def nspawn_chroot(root, *argv):
    """Run a command in the image being built (nspawn sets up /proc, /sys, /dev for us)."""
    run(["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--resolv-conf=replace-host",
         "--timezone=off", "-D", root, "--setenv=DEBIAN_FRONTEND=noninteractive", *argv])


def build_image(force=False):
    """Return the cached full image for the current recipe, building it (and the
    bare image and the apt repository beside it) if needed."""
    final = image_path()       # the recipe hash reads the apt sources: once
    bare, repo = beside(final, BARE_SUFFIX), beside(final, APT_SUFFIX)
    if config.IMAGES.is_dir():
        remove_stale_builds()
    if final.is_dir() and bare.is_dir() and repo.is_dir() and not force:
        log(f"image cached: {final}")
        return final
    config.IMAGES.mkdir(parents=True, exist_ok=True)
    tmp = {path: config.IMAGES / f".build-{path.name}-{os.getpid()}" for path in (final, bare, repo)}
    mirror = debian_mirror()
    log(f"building image {final.name} from {mirror} (a few minutes)")
    try:
        root = tmp[final]
        run(["debootstrap", "--variant=minbase", config.DEBIAN_SUITE, root, mirror])
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
        nspawn_chroot(root, "apt-get", "install", "-y", "-q", "--no-install-recommends", *BASE_PACKAGES)
        nspawn_chroot(root, "apt-get", "clean")
        # The bare image: the base as a fresh host has it, with no policy-rc.d
        # and no package lists (the roles must refresh them before installing).
        run(["cp", "-a", "--reflink=auto", root, tmp[bare]])
        (tmp[bare] / "usr/sbin/policy-rc.d").unlink()
        customize(tmp[bare], fabric_installed=False)
        lists = tmp[bare] / "var/lib/apt/lists"
        for path in lists.glob("*_*"):
            path.unlink()
        # Dated like an image made long ago: apt's cache_valid_time reads this time.
        os.utime(lists, (LISTS_MTIME, LISTS_MTIME))
        nspawn_chroot(root, "apt-get", "install", "-y", "-q", "--no-install-recommends", *FABRIC_PACKAGES)
        write_apt_repo(root / "var/cache/apt/archives", tmp[repo])
        customize(root)
        policy.unlink()
    except BaseException:
        for path in tmp.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    for path in (final, bare, repo):
        if path.exists():      # a forced rebuild replaces the old trees
            shutil.rmtree(path)
        tmp[path].rename(path)
    prune_images(keep=final)
    log(f"image ready: {final} (bare: {bare.name}, apt repository: {repo.name})")
    return final


def write_apt_repo(archives, repo):
    """Move the .debs apt downloaded into `repo`, a flat repository (`deb URL ./`)
    with a Packages index and a Release file listing its checksum."""
    repo.mkdir()
    entries = []
    for deb in sorted(archives.glob("*.deb")):
        control = run(["dpkg-deb", "--field", deb], capture=True).stdout.strip()
        fields = dict(line.split(": ", 1) for line in control.splitlines() if ": " in line)
        # A mirror's pool name: no epoch (apt's archive names hold it as "%3a").
        name = f"{fields['Package']}_{fields['Version'].split(':')[-1]}_{fields['Architecture']}.deb"
        target = repo / name
        shutil.move(deb, target)
        entries.append(f"{control}\nFilename: ./{name}\nSize: {target.stat().st_size}\n"
                       f"SHA256: {sha256_file(target)}\n")
    if not entries:
        raise LabError(f"no packages were downloaded into {archives}")
    packages = repo / "Packages"
    packages.write_text("\n".join(entries))
    # apt warns about a Release file without a Date ("Invalid 'Date' entry").
    (repo / "Release").write_text(
        f"Suite: crosshost-lab\nCodename: {config.DEBIAN_SUITE}\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\nSHA256:\n"
        f" {sha256_file(packages)} {packages.stat().st_size} Packages\n")


def remove_stale_builds():
    """Delete half-built trees a killed build left (callers hold the lab lock)."""
    for stale in config.IMAGES.glob(".build-*"):
        for point in mounts_under(stale):      # debootstrap mounts /proc and /sys inside
            quiet(["umount", "--lazy", point])
        log(f"removing unfinished build {stale.name}")
        shutil.rmtree(stale, ignore_errors=True)


def customize(root, fabric_installed=True):
    for rel, (text, mode) in IMAGE_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    if fabric_installed:
        run(["systemctl", "--root", root, "disable", *DISABLED_UNITS], check=False)
    run(["systemctl", "--root", root, "mask", *MASKED_UNITS])
    run(["systemctl", "--root", root, "enable", *ENABLED_UNITS])
    # Identity comes per host at `up`: machine-id, hostname, SSH host keys.
    (root / "etc/machine-id").write_text("")
    for path in [root / "var/lib/dbus/machine-id", root / "etc/hostname"]:
        path.unlink(missing_ok=True)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("# lab hosts have no DNS\n")
    # Keep the apt lists (Ansible's apt module reads them); drop downloaded .debs.
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def images_in_use():
    """Images that a lab instance (any of them: run/, run-1/ ... run-9/) booted from."""
    in_use = set()
    for state_file in config.CACHE.glob("run*/state.json"):
        try:
            image = json.loads(state_file.read_text()).get("image")
        except (OSError, ValueError):
            continue
        if image:
            in_use.add(image)
    return in_use


def prune_images(keep):
    """Remove images of older recipes, unless a lab instance still runs on one."""
    in_use = images_in_use()
    for path in config.IMAGES.iterdir():
        if path.name.startswith((keep.name, ".build-")) or str(path) in in_use:
            continue
        if path.name.endswith(BARE_SUFFIX) and str(path)[:-len(BARE_SUFFIX)] in in_use:
            continue          # a lab runs on its full image: keep the whole build
        if path.name.endswith(APT_SUFFIX) and any(image.startswith(str(path)[:-len(APT_SUFFIX)])
                                                  for image in in_use):
            continue          # a running lab's bare hosts may still install from it
        log(f"removing old image {path.name}")
        shutil.rmtree(path, ignore_errors=True)
