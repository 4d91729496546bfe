"""A real dockerd (and the containerd it starts) in a network namespace of our own.

Used by test_docker_bip.py. Everything lives under one temporary directory: config,
data root (vfs driver), exec root (holding containerd's state and socket), pid file
and API socket. Processes are stopped by PID; nothing touches the host's network.
"""
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

DOCKERD = "/usr/sbin/dockerd"
_counter = itertools.count()


class NetNS(object):
    """`ip netns add` a uniquely named namespace; delete() removes it."""

    def __init__(self, prefix="dkbip"):
        self.name = "%s%d_%d" % (prefix, os.getpid() % 100000, next(_counter))
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")

    def ip(self, *args, check=True):
        return subprocess.run(["ip", "-n", self.name] + list(args), check=check,
                              capture_output=True, text=True)

    def addrs(self, dev):
        """(IPv4 'a/len' list, IPv6 list, mtu) of `dev`, or None when it does not exist."""
        proc = self.ip("-j", "addr", "show", "dev", dev, check=False)
        if proc.returncode != 0:
            return None
        link = json.loads(proc.stdout)[0]
        v4 = ["%s/%s" % (a["local"], a["prefixlen"]) for a in link["addr_info"] if a["family"] == "inet"]
        v6 = ["%s/%s" % (a["local"], a["prefixlen"]) for a in link["addr_info"]
              if a["family"] == "inet6" and not a["local"].startswith("fe80")]
        return v4, v6, link["mtu"]

    def run(self, argv, check=False, **kwargs):
        return subprocess.run(["nsenter", "--net=/run/netns/" + self.name] + list(argv),
                              check=check, **kwargs)

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, check=False)


class Dockerd(object):
    """One dockerd started by hand with nsenter in `netns`, state under its own tmp dir."""

    def __init__(self, netns, config_file):
        self.netns = netns
        self.config_file = config_file
        self.root = tempfile.mkdtemp(prefix="dkd", dir="/tmp")  # short: unix socket paths
        self.sock = os.path.join(self.root, "docker.sock")
        self.log_path = os.path.join(self.root, "dockerd.log")
        self.proc = None

    def argv(self, base=(DOCKERD,)):
        """`base` (a unit's ExecStart argv) plus the options that isolate this daemon."""
        return list(base) + [
            "--config-file", self.config_file,
            "--data-root", os.path.join(self.root, "data"),
            "--exec-root", os.path.join(self.root, "exec"),
            "--pidfile", os.path.join(self.root, "docker.pid"),
            "--host", "unix://" + self.sock,
        ]

    def start(self, base=(DOCKERD,), timeout=40):
        """Start; return (ok, log text). ok is False when dockerd exited on its own."""
        log = open(self.log_path, "w")
        # nsenter execs dockerd (no fork for a net namespace): proc.pid is dockerd
        self.proc = subprocess.Popen(["nsenter", "--net=/run/netns/" + self.netns.name]
                                     + self.argv(base), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False, self.log()
            if os.path.exists(self.sock) and self.docker("version", check=False).returncode == 0:
                return True, self.log()
            time.sleep(0.3)
        raise AssertionError("dockerd did not come up in %ss:\n%s" % (timeout, self.log()))

    def log(self):
        with open(self.log_path) as handle:
            return handle.read()

    def docker(self, *args, check=True):
        return subprocess.run(["docker", "-H", "unix://" + self.sock] + list(args),
                              capture_output=True, text=True, check=check)

    def bridge_network(self):
        """`docker network inspect bridge` as dict."""
        return json.loads(self.docker("network", "inspect", "bridge").stdout)[0]

    def _containerd_pid(self):
        try:
            with open(os.path.join(self.root, "exec", "containerd", "containerd.pid")) as handle:
                return int(handle.read().strip())
        except (IOError, OSError, ValueError):
            return None

    def stop(self):
        containerd = self._containerd_pid()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if containerd:
            _kill_pid(containerd, "containerd")
        self.proc = None

    def cleanup(self):
        self.stop()
        with open("/proc/mounts") as handle:
            mounts = [line.split()[1] for line in handle if line.split()[1].startswith(self.root)]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def _kill_pid(pid, name):
    """SIGTERM then SIGKILL one pid, only while it still runs `name`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            with open("/proc/%d/comm" % pid) as handle:
                if name not in handle.read():
                    return
        except (IOError, OSError):
            return
        os.kill(pid, sig)
        for _attempt in range(50):
            if not os.path.exists("/proc/%d" % pid):
                return
            time.sleep(0.1)
