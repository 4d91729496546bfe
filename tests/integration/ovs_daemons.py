"""A private Open vSwitch (ovsdb-server + ovs-vswitchd) for integration tests.

Everything lives in a temporary directory (database, sockets, pid files, logs)
and both daemons run inside a network namespace created here, entered with
``nsenter --net=`` (not ``ip netns exec``). Bridges use the userspace datapath
(``datapath_type=netdev``), so no OVS kernel module is needed. ``stop()`` kills
the daemons by PID, deletes the namespace and the directory; it is safe to call
after a partial start.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
BINARIES = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "nsenter", "ip")


def missing_requirements():
    """Why the private switch cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespace, ovs-vswitchd)"
    for name in BINARIES:
        if shutil.which(name) is None and not os.path.exists("/usr/sbin/" + name):
            return "%s is not installed (apt-get install openvswitch-switch)" % name
    if not os.path.exists(SCHEMA):
        return "%s is missing" % SCHEMA
    return None


def _which(name):
    return shutil.which(name) or "/usr/sbin/" + name


class OvsDaemons:
    def __init__(self):
        self.netns = "chovs-%s" % uuid.uuid4().hex[:8]
        self.tmp = None
        self.procs = []
        self.netns_created = False

    @property
    def db(self):
        return "unix:" + os.path.join(self.tmp, "db.sock")

    def _env(self):
        env = dict(os.environ)
        env.update(OVS_RUNDIR=self.tmp, OVS_DBDIR=self.tmp, OVS_LOGDIR=self.tmp,
                   OVS_PKGDATADIR="/usr/share/openvswitch")
        return env

    def _spawn(self, argv):
        proc = subprocess.Popen(
            [_which("nsenter"), "--net=/run/netns/" + self.netns] + argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=self._env(), cwd=self.tmp)
        self.procs.append(proc)
        return proc

    def _wait_for(self, path, proc, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("%s did not start (rc=%s); log:\n%s"
                           % (what, proc.poll(), self.log(what)))

    def log(self, what):
        name = "ovsdb-server.log" if what == "ovsdb-server" else "ovs-vswitchd.log"
        try:
            with open(os.path.join(self.tmp, name)) as handle:
                return handle.read()[-3000:]
        except OSError:
            return "(no log)"

    def start(self):
        try:
            self.tmp = tempfile.mkdtemp(prefix="crosshost-ovs-")
            subprocess.run([_which("ip"), "netns", "add", self.netns], check=True)
            self.netns_created = True
            subprocess.run([_which("ip"), "-n", self.netns, "link", "set", "lo", "up"],
                           check=True)
            conf = os.path.join(self.tmp, "conf.db")
            subprocess.run([_which("ovsdb-tool"), "create", conf, SCHEMA], check=True)
            server = self._spawn([
                _which("ovsdb-server"), conf,
                "--remote=punix:" + os.path.join(self.tmp, "db.sock"),
                "--pidfile=" + os.path.join(self.tmp, "ovsdb-server.pid"),
                "--unixctl=" + os.path.join(self.tmp, "ovsdb-server.ctl"),
                "--log-file=" + os.path.join(self.tmp, "ovsdb-server.log"),
                "--no-chdir"])
            self._wait_for(os.path.join(self.tmp, "db.sock"), server, "ovsdb-server")
            self.vsctl("--no-wait", "init")
            vswitchd = self._spawn([
                _which("ovs-vswitchd"), self.db,
                "--pidfile=" + os.path.join(self.tmp, "ovs-vswitchd.pid"),
                "--unixctl=" + os.path.join(self.tmp, "ovs-vswitchd.ctl"),
                "--log-file=" + os.path.join(self.tmp, "ovs-vswitchd.log"),
                "--no-chdir"])
            self._wait_for(os.path.join(self.tmp, "ovs-vswitchd.ctl"), vswitchd,
                           "ovs-vswitchd")
            # A first bridge round-trip proves vswitchd applies changes.
            self.vsctl("add-br", "probe0", "--", "set", "bridge", "probe0",
                       "datapath_type=netdev")
            self.vsctl("del-br", "probe0")
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self.procs = []
        if self.netns_created:
            subprocess.run([_which("ip"), "netns", "del", self.netns], check=False)
            self.netns_created = False
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # -- helpers for tests -------------------------------------------------
    def vsctl(self, *args, check=True):
        proc = subprocess.run([_which("ovs-vsctl"), "--db=" + self.db, "--timeout=20"]
                              + list(args), capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("ovs-vsctl %s failed: %s" % (" ".join(args), proc.stderr))
        return proc.stdout

    def appctl(self, *args):
        """ovs-appctl against this ovs-vswitchd (for example ofproto/trace)."""
        proc = subprocess.run([_which("ovs-appctl"), "-t", os.path.join(self.tmp, "ovs-vswitchd.ctl")]
                              + list(args), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise AssertionError("ovs-appctl %s failed: %s" % (" ".join(args), proc.stderr))
        return proc.stdout

    def table(self, table, columns):
        out = self.vsctl("--format=json", "--columns=" + ",".join(columns), "list", table)
        data = json.loads(out)
        return [dict(zip(data["headings"], [_decode(v) for v in row])) for row in data["data"]]

    def snapshot(self):
        """All bridges, ports and interfaces: compare before/after a failed run."""
        return {
            "bridges": sorted(self.table("Bridge", ["name", "datapath_type", "stp_enable",
                                                    "rstp_enable"]), key=lambda r: r["name"]),
            "ports": sorted(self.table("Port", ["name", "external_ids"]),
                            key=lambda r: r["name"]),
            "interfaces": sorted(self.table("Interface", ["name", "type", "options"]),
                                 key=lambda r: r["name"]),
        }

    def ports(self, bridge):
        """{port name: {"type", "options", "owner"}} of one bridge."""
        names = self.vsctl("list-ports", bridge).split()
        ifaces = dict((r["name"], r) for r in self.table("Interface", ["name", "type", "options"]))
        ports = dict((r["name"], r) for r in self.table("Port", ["name", "external_ids"]))
        return dict((n, {"type": ifaces[n]["type"], "options": ifaces[n]["options"],
                         "owner": ports[n]["external_ids"].get("crosshost-owner")})
                    for n in names)

    def reset(self):
        for bridge in self.vsctl("list-br").split():
            self.vsctl("--if-exists", "del-br", bridge)


def _decode(value):
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        if value[0] == "uuid":
            return value[1]
        if value[0] == "set":
            return [_decode(v) for v in value[1]]
        if value[0] == "map":
            return dict((_decode(k), _decode(v)) for k, v in value[1])
    return value
