"""libvirtd and virtlogd started by hand (no systemd here), and a full teardown.

The machine has no systemd as PID 1, so `virtlogd -d` and `libvirtd -d` are started
directly and stopped by PID. Everything libvirt makes for us carries the `crosshost`
prefix (domains, networks, the storage pool), so teardown removes exactly that:
domains, their volumes, networks, then the daemons, then the LIBVIRT_* iptables
chains libvirtd leaves. The machine's ip_forward and iptables policies are recorded
before libvirtd starts and restored if anything changed them.
"""
import json
import os
import signal
import time
from pathlib import Path

from tools.lab import config
from tools.lab.util import LabError, log, pids_with_args, quiet, run, write_atomic

PREFIX = "crosshost"
POOL = f"{PREFIX}-pool"
VAGRANT_DIR = config.CACHE / "vagrant"
POOL_DIR = VAGRANT_DIR / "pool"
LOGS = VAGRANT_DIR / "logs"
DAEMON_LOG = LOGS / "libvirtd.log"
SNAPSHOT = VAGRANT_DIR / "machine-network.json"   # the machine's settings before libvirtd
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
QEMU_LOGS = Path("/var/log/libvirt/qemu")
PIDFILES = {"virtlogd": Path("/run/virtlogd.pid"), "libvirtd": Path("/run/libvirtd.pid")}
# The box volume (the box's disk as vagrant-libvirt uploads it) is a cache, kept
# across runs unless asked; every other volume in our pool belongs to a domain.
BOX_VOLUME_PREFIX = "local-VAGRANTSLASH-"
SYSCTLS = ["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"]
TABLES = ["filter", "nat", "mangle"]

# For the tests: a libvirtd.conf path (a wrong one makes libvirtd fail to start).
LIBVIRTD_CONFIG = os.environ.get("CROSSHOST_LIBVIRTD_CONFIG", "")


def virsh(*args, check=True):
    return run(["virsh", "--connect", "qemu:///system", "-q", *args], check=check, capture=True)


def pid_of(name):
    try:
        pid = int(PIDFILES[name].read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() and _comm(pid) == name else None


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def running():
    return pid_of("libvirtd") is not None


def machine_network():
    """The machine-wide settings libvirt must not change: forwarding and iptables policies."""
    snap = {"sysctl": {}, "policies": {}}
    for key in SYSCTLS:
        try:
            snap["sysctl"][key] = Path("/proc/sys", key).read_text().strip()
        except OSError:
            pass
    for table in TABLES:
        rules = run(["iptables", "-t", table, "-S"], check=False, capture=True).stdout
        snap["policies"][table] = [line for line in rules.splitlines() if line.startswith("-P ")]
    return snap


def _configure_qemu():
    """qemu runs as root, so it can read the kernel and disks under root's home."""
    text = QEMU_CONF.read_text() if QEMU_CONF.exists() else ""
    lines = text.splitlines()
    wanted = {"user": 'user = "root"', "group": 'group = "root"'}
    if all(line in lines for line in wanted.values()):
        return
    kept = [line for line in lines if not line.replace(" ", "").startswith(("user=", "group="))]
    kept.append("# crosshost.network (tools/lab/vagrant_libvirt.py): qemu reads boxes under /root")
    kept += list(wanted.values())
    write_atomic(QEMU_CONF, "\n".join(kept) + "\n", mode=0o600)


def start():
    """Start virtlogd and libvirtd (unless ours already run) and our storage pool."""
    if running():
        _ensure_pool()
        return
    LOGS.mkdir(parents=True, exist_ok=True)
    if not SNAPSHOT.exists():          # a crashed run's snapshot is older, hence better
        write_atomic(SNAPSHOT, json.dumps(machine_network(), indent=1) + "\n")
    _configure_qemu()
    DAEMON_LOG.write_text("")
    env = dict(os.environ, LIBVIRT_LOG_OUTPUTS=f"3:file:{DAEMON_LOG}")
    if pid_of("virtlogd") is None:
        run(["virtlogd", "-d"], env=env)
    argv = ["libvirtd", "-d"] + (["-f", LIBVIRTD_CONFIG] if LIBVIRTD_CONFIG else [])
    proc = run(argv, env=env, check=False, capture=True)
    deadline = time.monotonic() + 30
    while proc.returncode == 0 and time.monotonic() < deadline:
        if running() and virsh("version", check=False).returncode == 0:
            break
        time.sleep(0.2)
    if proc.returncode != 0 or not running():
        detail = (proc.stdout + proc.stderr).strip() or _tail(DAEMON_LOG)
        stop()
        raise LabError(f"libvirtd did not start ({' '.join(argv)}): {detail}\n"
                       f"look at {DAEMON_LOG} and /etc/libvirt/libvirtd.conf")
    log(f"libvirtd running (pid {pid_of('libvirtd')}), log {DAEMON_LOG}")
    _ensure_pool()


def _tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ensure_pool():
    """A transient dir pool in the cache: volumes outlive libvirtd, its definition does not."""
    if virsh("pool-info", POOL, check=False).returncode == 0:
        return
    POOL_DIR.mkdir(parents=True, exist_ok=True)
    virsh("pool-create-as", POOL, "dir", "--target", str(POOL_DIR))


def domains():
    out = virsh("list", "--all", "--name", check=False).stdout if running() else ""
    return [name for name in out.split() if name.startswith(PREFIX)]


def networks():
    out = virsh("net-list", "--all", "--name", check=False).stdout if running() else ""
    return [name for name in out.split() if name.startswith(PREFIX)]


def remove_domains():
    for name in domains():
        virsh("destroy", name, check=False)
        virsh("undefine", name, "--nvram", check=False)
        if virsh("dominfo", name, check=False).returncode == 0:
            virsh("undefine", name, check=False)
    # qemu processes of ours that libvirt no longer knows (a crash): kill by PID.
    for pid in pids_with_args("qemu-system", f"guest={PREFIX}"):
        _kill(pid)


def remove_volumes(keep_box=True):
    for path in POOL_DIR.glob("*") if POOL_DIR.is_dir() else []:
        if keep_box and path.name.startswith(BOX_VOLUME_PREFIX):
            continue
        path.unlink(missing_ok=True)
    if running() and virsh("pool-info", POOL, check=False).returncode == 0:
        virsh("pool-refresh", POOL, check=False)


def remove_networks():
    for name in networks():
        virsh("net-destroy", name, check=False)
        virsh("net-undefine", name, check=False)
    for pid in pids_with_args("dnsmasq", f"/var/lib/libvirt/dnsmasq/{PREFIX}"):
        _kill(pid)


def _kill(pid, grace=5.0):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        if _zombie(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
    except (OSError, IndexError):
        return True


def stop():
    """Stop libvirtd, then virtlogd, by the PIDs in their pid files."""
    for name in ("libvirtd", "virtlogd"):
        pid = pid_of(name)
        if pid:
            _kill(pid, grace=10.0)
            log(f"{name} (pid {pid}) stopped")
        PIDFILES[name].unlink(missing_ok=True)


def iptables_chains():
    """LIBVIRT_* chains and the jumps to them, per table, for iptables and ip6tables."""
    found = []
    for tool in ("iptables", "ip6tables"):
        for table in TABLES:
            rules = run([tool, "-t", table, "-S"], check=False, capture=True).stdout.splitlines()
            found += [(tool, table, line) for line in rules
                      if "LIBVIRT_" in line and not line.startswith("-P ")]
    return found


def remove_iptables_chains():
    """Delete the jumps to LIBVIRT_* chains, then flush and delete the chains."""
    for tool, table, line in iptables_chains():
        if line.startswith("-A ") and not line.split()[1].startswith("LIBVIRT_"):
            quiet([tool, "-t", table, "-D", *line.split()[1:]])
    for tool, table, line in iptables_chains():
        if line.startswith("-N "):
            quiet([tool, "-t", table, "-F", line.split()[1]])
    for tool, table, line in iptables_chains():
        if line.startswith("-N "):
            quiet([tool, "-t", table, "-X", line.split()[1]])
    left = iptables_chains()
    if left:
        raise LabError("could not remove libvirt's iptables rules: "
                       + "; ".join(f"{tool} -t {table} {line}" for tool, table, line in left))


def restore_machine_network():
    """Put back forwarding and iptables policies as they were before libvirtd started."""
    if not SNAPSHOT.exists():
        return
    before = json.loads(SNAPSHOT.read_text())
    for key, value in before.get("sysctl", {}).items():
        path = Path("/proc/sys", key)
        if path.exists() and path.read_text().strip() != value:
            log(f"restoring {key} = {value} (libvirt changed it)")
            path.write_text(value)
    for table, policies in before.get("policies", {}).items():
        for line in policies:
            chain, target = line.split()[1:3]
            quiet(["iptables", "-t", table, "-P", chain, target])
    SNAPSHOT.unlink()


def teardown(keep_box=True):
    """Remove every domain, volume, network, daemon and iptables chain of ours."""
    if running():
        remove_domains()
        remove_networks()
    remove_volumes(keep_box=keep_box)
    for pid in pids_with_args("qemu-system", f"guest={PREFIX}"):
        _kill(pid)
    stop()
    for pid in pids_with_args("dnsmasq", f"/var/lib/libvirt/dnsmasq/{PREFIX}"):
        _kill(pid)
    _remove_bridges()
    remove_iptables_chains()
    restore_machine_network()


def _remove_bridges():
    """Bridges libvirt made for our networks (virbr*) that survived libvirtd."""
    for conf in Path("/etc/libvirt/qemu/networks").glob(f"{PREFIX}*.xml"):
        conf.unlink()           # a network libvirtd could not undefine (it was down)
    for name in leftover_bridges():
        quiet(["ip", "link", "delete", name])


def leftover_bridges():
    """virbr* bridges holding one of our subnets' addresses (libvirt names them virbrN)."""
    links = json.loads(run(["ip", "-j", "-4", "addr", "show"], capture=True).stdout or "[]")
    ours = []
    for link in links:
        for addr in link.get("addr_info", []):
            if link["ifname"].startswith("virbr") and addr.get("local", "").startswith(SUBNET_PREFIXES):
                ours.append(link["ifname"])
    return sorted(set(ours))


# The /24s our Vagrantfiles use (inventories/vagrant/Vagrantfile, molecule/vagrant-*).
SUBNET_PREFIXES = ("192.168.56.", "192.168.57.")


def leftovers():
    """What of ours is still on the machine (empty means clean)."""
    found = [f"domain {d}" for d in domains()] + [f"network {n}" for n in networks()]
    found += [f"{name} pid {pid_of(name)}" for name in PIDFILES if pid_of(name)]
    found += [f"qemu pid {p}" for p in pids_with_args("qemu-system", f"guest={PREFIX}")]
    found += [f"bridge {b}" for b in leftover_bridges()]
    found += [f"{tool} -t {table} chain {line.split()[1]}" for tool, table, line in iptables_chains()
              if line.startswith("-N ")]
    if POOL_DIR.is_dir():
        found += [f"volume {p.name}" for p in POOL_DIR.iterdir() if not p.name.startswith(BOX_VOLUME_PREFIX)]
    return found
