"""The Vagrant box local/bookworm: the lab image plus Debian's kernel, for vagrant-libvirt.

The box is the nspawn lab's root file system (tools/lab/image.py: same packages,
same disabled/masked units) plus what a VM needs: linux-image-amd64 and its
initramfs, systemd-networkd with DHCP on eth0 only (Vagrant writes eth1's static
address itself; a wildcard match would shadow it), sudo for Vagrant's own
commands, and root's authorized_keys holding the lab key. It is a tar of box.img
(qcow2), metadata.json, a box Vagrantfile, vmlinuz and initrd.img; the box
Vagrantfile boots that kernel directly under qemu (TCG), so every project using the
box gets the right boot setup.

Cached as $CROSSHOST_CACHE/vagrant/bookworm-<hash>.box, where the hash covers the
lab image's recipe and everything here; an unfinished build is never used.
"""
import hashlib
import json
import os
import shutil
import tarfile
import time
from pathlib import Path

from tools.lab import config, hosts, image, state
from tools.lab.util import LabError, log, mounts_under, quiet, run, write_atomic

BOX_NAME = "local/bookworm"
VAGRANT_DIR = config.CACHE / "vagrant"
BOX_STAMP = VAGRANT_DIR / "box-added"       # the hash of the box last given to `vagrant box add`
DISK_SIZE_GB = 4

# On top of the lab image's packages: a kernel that boots on its own, and sudo
# (Vagrant runs its guest commands through sudo even as root).
VM_PACKAGES = ["linux-image-amd64", "initramfs-tools", "sudo", "zstd"]

KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 net.ifnames=0 apparmor=0"

ETH0_NETWORK = """\
# DHCP on the management NIC only; Vagrant configures eth1 and later NICs itself.
[Match]
Name=eth0

[Network]
DHCP=ipv4
"""

FSTAB = "/dev/vda / ext4 rw,relatime 0 1\n"
HOSTS = "127.0.0.1 localhost\n"

# The initramfs only needs to find the root disk: a short module list instead of
# Debian's MODULES=most builds faster and boots faster under emulation.
INITRAMFS_CONF = "MODULES=list\n"
INITRAMFS_MODULES = "virtio_pci\nvirtio_blk\next4\n"

# Under emulation an RSA host key takes minutes to generate: VMs make (and sshd
# offers) an ed25519 key only. The unit is the lab image's lab-ssh-hostkeys.service.
HOSTKEY_DROPIN = """\
[Service]
ExecStart=
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
"""
SSHD_HOSTKEY = "HostKey /etc/ssh/ssh_host_ed25519_key\n"

VM_FILES = {
    "etc/systemd/system/lab-ssh-hostkeys.service.d/vm.conf": (HOSTKEY_DROPIN, 0o644),
    "etc/ssh/sshd_config.d/vm-hostkey.conf": (SSHD_HOSTKEY, 0o644),
    "etc/initramfs-tools/conf.d/crosshost.conf": (INITRAMFS_CONF, 0o644),
    "etc/initramfs-tools/modules": (INITRAMFS_MODULES, 0o644),
    "etc/systemd/network/10-eth0.network": (ETH0_NETWORK, 0o644),
    "etc/fstab": (FSTAB, 0o644),
    "etc/hosts": (HOSTS, 0o644),
}
# The nspawn image masks networkd (nspawn hosts get their address from outside).
VM_UNMASKED = ["systemd-networkd.service"]
VM_ENABLED = ["systemd-networkd.service"]
# nspawn-only: a VM's cgroups are writable already (and the unit hangs at boot there).
VM_DISABLED = ["lab-cgroup-rw.service"]
VM_REMOVED = ["etc/systemd/system/lab-cgroup-rw.service", "usr/local/sbin/lab-cgroup-rw"]

BOX_METADATA = {"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_SIZE_GB}

# Merged under every project Vagrantfile that uses the box (the project's own
# settings win). @KEY@ is the lab key's path, filled in at build time.
BOX_VAGRANTFILE = """\
# Box Vagrantfile of local/bookworm (crosshost.network): boots Debian's kernel
# directly under qemu software emulation (no KVM), root logs in with the lab key.
Vagrant.configure("2") do |config|
  box_dir = File.dirname(__FILE__)
  config.ssh.username = "root"
  config.ssh.insert_key = false
  config.ssh.private_key_path = "@KEY@"
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |lv|
    lv.driver = "qemu"
    lv.kernel = File.join(box_dir, "vmlinuz")
    lv.initrd = File.join(box_dir, "initrd.img")
    lv.cmd_line = "@CMDLINE@"
    lv.cpu_mode = "custom"
    lv.cpu_model = "qemu64"
    lv.graphics_type = "none"
    lv.video_type = "none"
    lv.memory = 768
    lv.cpus = 1
    lv.random :model => "random"     # virtio-rng: the guest's entropy would take ~80 s
    lv.default_prefix = "crosshost-"
    lv.storage_pool_name = "crosshost-pool"
  end
end
"""

# Bump when the steps below change in a way the recipe does not show.
RECIPE_REVISION = 1


def box_vagrantfile():
    return (BOX_VAGRANTFILE.replace("@KEY@", str(hosts.ssh_key()))
            .replace("@CMDLINE@", KERNEL_CMDLINE))


def recipe():
    return {
        "revision": RECIPE_REVISION,
        "image": image.recipe_hash(),
        "packages": VM_PACKAGES,
        "files": {path: [text, oct(mode)] for path, (text, mode) in VM_FILES.items()},
        "unmasked": VM_UNMASKED,
        "enabled": VM_ENABLED,
        "disabled": VM_DISABLED,
        "removed": VM_REMOVED,
        "cmdline": KERNEL_CMDLINE,
        "metadata": BOX_METADATA,
        "vagrantfile": box_vagrantfile(),
        "ssh_key": hosts.ssh_key().with_suffix(".pub").read_text(),
    }


def recipe_hash():
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def box_path():
    return VAGRANT_DIR / f"{config.DEBIAN_SUITE}-{recipe_hash()}.box"


def build_box(force=False):
    """Return the cached box file for the current recipe, building it if needed."""
    final = box_path()
    VAGRANT_DIR.mkdir(parents=True, exist_ok=True)
    remove_stale_builds()
    if final.exists() and not force:
        log(f"box cached: {final}")
        return final
    with state.locked():            # the lab image is shared with the nspawn lab
        base = image.build_image()
    tmp = VAGRANT_DIR / f".build-{final.stem}-{os.getpid()}"
    log(f"building box {final.name} from {base.name} (about 2 minutes)")
    try:
        tmp.mkdir()
        root = tmp / "root"
        run(["cp", "-a", "--reflink=auto", base, root])
        _customize(root)                # first: the initramfs settings apply to the kernel install
        _install_vm_packages(root)
        _write_box(root, tmp, final)
    except BaseException as err:
        what = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        log(f"box build {what}; removing the unfinished build {tmp} (the cached box, if any, is kept)")
        cleanup_build(tmp)
        raise
    cleanup_build(tmp)
    for old in VAGRANT_DIR.glob(f"{config.DEBIAN_SUITE}-*.box"):
        if old != final:
            log(f"removing old box {old.name}")
            old.unlink()
    log(f"box ready: {final}")
    return final


def _install_vm_packages(root):
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text(image.POLICY_RC_D)
    policy.chmod(0o755)
    image.nspawn_chroot(root, "apt-get", "update", "-q")
    # --force-confold keeps our /etc/initramfs-tools/modules (a conffile of initramfs-tools).
    image.nspawn_chroot(root, "apt-get", "install", "-y", "-q", "--no-install-recommends",
                        "-o", "Dpkg::Options::=--force-confold", *VM_PACKAGES)
    policy.unlink()
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def _customize(root):
    for rel, (text, mode) in VM_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.write_text(text)
        path.chmod(mode)
    run(["systemctl", "--root", root, "unmask", *VM_UNMASKED])
    run(["systemctl", "--root", root, "enable", *VM_ENABLED])
    run(["systemctl", "--root", root, "disable", *VM_DISABLED])
    for rel in VM_REMOVED:
        (root / rel).unlink(missing_ok=True)
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(hosts.ssh_key().with_suffix(".pub").read_text())
    keys.chmod(0o600)


def _write_box(root, tmp, final):
    """root tree -> ext4 (no mount needed: mkfs.ext4 -d) -> qcow2 -> box tar."""
    boot = root / "boot"
    kernels = sorted(boot.glob("vmlinuz-*"))
    if not kernels:
        raise LabError(f"no kernel in {boot} after installing linux-image-amd64")
    version = kernels[-1].name[len("vmlinuz-"):]
    shutil.copy(kernels[-1], tmp / "vmlinuz")
    shutil.copy(boot / f"initrd.img-{version}", tmp / "initrd.img")
    raw = tmp / "root.ext4"
    run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", root, raw, f"{DISK_SIZE_GB}G"])
    shutil.rmtree(root)
    run(["qemu-img", "convert", "-O", "qcow2", raw, tmp / "box.img"])
    raw.unlink()
    write_atomic(tmp / "metadata.json", json.dumps(BOX_METADATA) + "\n")
    write_atomic(tmp / "Vagrantfile", box_vagrantfile())
    partial = final.with_name(f".{final.name}.tmp")
    with tarfile.open(partial, "w") as tar:
        for name in ["metadata.json", "Vagrantfile", "box.img", "vmlinuz", "initrd.img"]:
            tar.add(tmp / name, arcname=name)
    partial.rename(final)


def cleanup_build(tmp):
    """Stop what still runs inside the build tree (an interrupted apt), then delete it."""
    for _attempt in range(20):
        pids = _pids_rooted_in(tmp)
        if not pids:
            break
        for pid in pids:
            quiet(["kill", "-KILL", str(pid)])
        time.sleep(0.2)
    for point in mounts_under(tmp):        # nspawn leaves none, but a killed build might
        quiet(["umount", "--lazy", point])
    shutil.rmtree(tmp, ignore_errors=True)


def _pids_rooted_in(directory):
    """Processes whose root directory lies inside directory (killing nspawn leaves them)."""
    prefix = str(directory).rstrip("/") + "/"
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                root = os.readlink(f"/proc/{entry}/root")
            except OSError:
                continue
            if (root + "/").startswith(prefix):
                found.append(int(entry))
    return found


def remove_stale_builds():
    """Delete what an interrupted build left (a .build-* dir, a partial .box)."""
    for stale in list(VAGRANT_DIR.glob(".build-*")) + list(VAGRANT_DIR.glob(".*.box.tmp")):
        pid = stale.name.rsplit("-", 1)[-1]
        if stale.is_dir() and pid.isdigit() and Path(f"/proc/{pid}").exists() and int(pid) != os.getpid():
            continue                        # another build is running right now
        log(f"removing unfinished box build {stale.name}")
        if stale.is_dir():
            cleanup_build(stale)
        else:
            stale.unlink(missing_ok=True)


def unfinished_builds():
    return [str(p) for p in list(VAGRANT_DIR.glob(".build-*")) + list(VAGRANT_DIR.glob(".*.box.tmp"))]


def add_box(force=False):
    """Build (or reuse) the box and give it to Vagrant, unless Vagrant already has this one."""
    path = build_box(force=force)
    digest = recipe_hash()
    listed = run(["vagrant", "box", "list", "--machine-readable"], capture=True).stdout
    known = f",box-name,{BOX_NAME}" in listed
    if known and not force and BOX_STAMP.exists() and BOX_STAMP.read_text().strip() == digest:
        log(f"vagrant box {BOX_NAME} is current ({digest})")
        return path
    log(f"vagrant box add --name {BOX_NAME} {path}")
    run(["vagrant", "box", "add", "--force", "--name", BOX_NAME, path])
    write_atomic(BOX_STAMP, digest + "\n")
    return path


def remove_box():
    if quiet(["vagrant", "box", "remove", "--force", "--all", BOX_NAME]):
        log(f"vagrant box {BOX_NAME} removed")
    BOX_STAMP.unlink(missing_ok=True)
