"""Lab hosts: an overlay root per host over the shared image, booted with systemd-nspawn.

Per host under RUN/hosts/<name>/: upper/ and work/ (the overlay's writable half),
root/ (the mounted overlay), console.log. /var/lib/docker comes from a directory on
one loop-mounted ext4 file system shared by the lab (overlay2 refuses overlayfs).
"""
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from tools.lab import config, network
from tools.lab.util import LabError, mounts_under, quiet, run

DOCKER_FS_IMAGE = config.RUN / "docker.ext4"
DOCKER_FS_MOUNT = config.RUN / "docker"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def host_dir(name):
    return config.RUN / "hosts" / name


def console_log(name):
    """Per-host console log, outside the run dir so it outlives `down` (a failed up)."""
    config.LOGS.mkdir(parents=True, exist_ok=True)
    return config.LOGS / f"{name}.console.log"


def ssh_key():
    """The lab's root login key pair (made once, kept in the cache)."""
    key = config.SSH_DIR / "id_ed25519"
    if not key.exists():
        config.SSH_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "crosshost-lab", "-f", key])
    return key


def mount_docker_fs():
    config.RUN.mkdir(parents=True, exist_ok=True)
    DOCKER_FS_IMAGE.unlink(missing_ok=True)
    run(["truncate", "-s", config.DOCKER_FS_SIZE, DOCKER_FS_IMAGE])
    run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1",
         DOCKER_FS_IMAGE])
    DOCKER_FS_MOUNT.mkdir(exist_ok=True)
    run(["mount", "-o", "loop", DOCKER_FS_IMAGE, DOCKER_FS_MOUNT])


def prepare_root(image, name, all_hosts, apt_repo_url):
    """Seed the host's upper dir with its identity and its package source (the lab's
    apt repository: the Debian mirror is out of reach), then mount its overlay root."""
    base = host_dir(name)
    upper, work, root = base / "upper", base / "work", base / "root"
    for path in (upper, work, root):
        path.mkdir(parents=True, exist_ok=True)
    machine_id = uuid.uuid4().hex         # unique per host: flannel.1 MACs derive from it
    (upper / "etc").mkdir(exist_ok=True)
    (upper / "etc/machine-id").write_text(machine_id + "\n")
    (upper / "etc/hostname").write_text(name + "\n")
    hosts_lines = ["127.0.0.1 localhost", f"127.0.1.1 {name}"]
    hosts_lines += [f"{h['address']} {h['name']}" for h in all_hosts]
    (upper / "etc/hosts").write_text("\n".join(hosts_lines) + "\n")
    (upper / "etc/apt").mkdir(exist_ok=True)
    (upper / "etc/apt/sources.list").write_text(
        "# The lab's apt repository, served from the lab bridge (tools/lab/image.py)\n"
        f"deb [trusted=yes] {apt_repo_url} ./\n")
    ssh_dir = upper / "root/.ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (ssh_dir / "authorized_keys").write_text(ssh_key().with_suffix(".pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    if name in config.FAULT_NO_SSH:
        (upper / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
        (upper / "etc/systemd/system/ssh.service").symlink_to("/dev/null")
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={image},upperdir={upper},workdir={work}", root])
    docker_dir = DOCKER_FS_MOUNT / name
    docker_dir.mkdir(mode=0o710, exist_ok=True)
    return {"root": str(root), "machine_id": machine_id, "docker_dir": str(docker_dir),
            "console": str(console_log(name))}


def nspawn_argv(host):
    return [
        "systemd-nspawn", "--boot", "--quiet",
        f"--directory={host['root']}", f"--machine={host['name']}",
        f"--uuid={host['machine_id']}",
        "--register=no", "--keep-unit",          # the machine has no systemd or dbus
        f"--network-namespace-path={network.netns_path(host['netns'])}",
        "--private-network",       # with the path above: also makes /proc/sys/net writable
        "--system-call-filter=@keyring bpf",      # docker and containerd need these
        # A private netns does not grant CAP_NET_ADMIN by itself (iptables, links, OVS);
        # IPC_LOCK for ovs-vswitchd --mlockall, SYS_RESOURCE/BPF for dockerd. Not SYS_TIME.
        "--capability=CAP_NET_ADMIN,CAP_IPC_LOCK,CAP_SYS_RESOURCE,CAP_BPF",
        "--bind=/dev/net/tun",                    # flannel's udp backend
        f"--bind={host['docker_dir']}:/var/lib/docker",
        "--resolv-conf=off", "--timezone=off", "--link-journal=no",
        "--console=read-only",
    ]


def start(host):
    """Start one host in the background; its console goes to console.log."""
    with open(host["console"], "wb") as console:     # a fresh log per boot
        proc = subprocess.Popen(nspawn_argv(host), stdin=subprocess.DEVNULL, stdout=console,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def alive(pid):
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def leader_pid(nspawn_pid):
    """PID (on the machine) of the host's init: the child that is PID 1 in its namespace."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() == str(nspawn_pid) and fields.get("NSpid", "").split()[-1:] == ["1"]:
            return int(entry)
    return None


def console_tail(host, lines=20):
    """The last console lines, without the pty's carriage returns and colours."""
    try:
        text = Path(host["console"]).read_text(errors="replace")
    except OSError:
        return "(no console log)"
    clean = [ANSI_ESCAPE.sub("", line).rstrip("\r ") for line in text.splitlines()]
    return "\n".join([line for line in clean if line.strip()][-lines:])


def ssh_argv(host, *command, batch=True):
    argv = ["ssh", "-i", str(ssh_key()), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=3"]
    if batch:
        argv += ["-o", "BatchMode=yes"]
    return argv + [f"root@{host['address']}", *command]


def wait_for_ssh(hosts, timeout=config.SSH_TIMEOUT):
    """Wait until every host accepts the lab key over SSH; fail naming the host that does not."""
    pending = list(hosts)
    deadline = time.monotonic() + timeout
    while pending:
        for host in list(pending):
            if not alive(host["pid"]):
                raise LabError(f"host {host['name']} stopped while booting; last console lines "
                               f"({host['console']}):\n{console_tail(host)}")
            try:
                socket.create_connection((host["address"], 22), timeout=0.3).close()
            except OSError:
                continue
            if run(ssh_argv(host, "true"), check=False, capture=True, timeout=15).returncode == 0:
                pending.remove(host)
        if pending and time.monotonic() > deadline:
            # Name every host still pending: on a busy machine a slow host may be
            # pending beside the one that is broken, and both are worth a look.
            raise LabError("\n".join(
                f"host {host['name']} ({host['address']}) did not answer SSH within {timeout:.0f} s; "
                f"last console lines ({host['console']}):\n{console_tail(host)}" for host in pending))
        if pending:
            time.sleep(0.1)


def stop_all(hosts, timeout=20.0):
    """Power every host off (SIGTERM makes nspawn shut its host down); kill what lingers."""
    for host in hosts:
        if alive(host.get("pid")):
            os.kill(host["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(h.get("pid")) for h in hosts) and time.monotonic() < deadline:
        time.sleep(0.1)
    for host in hosts:
        # SIGKILL of the PID namespace's init kills everything inside that host.
        leader = host.get("leader") or (leader_pid(host["pid"]) if alive(host.get("pid")) else None)
        for pid in (leader, host.get("pid")):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def kill_netns_processes(netns):
    """Anything still running in a lab host's namespace belongs to that host: kill it."""
    for pid in network.netns_pids(netns):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def lab_mounts():
    """Mount points under the run dir, deepest first."""
    return mounts_under(config.RUN)


def unmount_all():
    for _attempt in range(3):
        for point in lab_mounts():
            if not quiet(["umount", point]):
                time.sleep(0.2)
                quiet(["umount", "--lazy", point])
        if not lab_mounts():
            break
    left = lab_mounts()
    if left:
        raise LabError(f"could not unmount: {', '.join(left)}")
    # `mount -o loop` sets autoclear, but detach explicitly if a loop device survives.
    proc = run(["losetup", "-j", DOCKER_FS_IMAGE], check=False, capture=True)
    for line in proc.stdout.splitlines():
        quiet(["losetup", "-d", line.split(":", 1)[0]])
