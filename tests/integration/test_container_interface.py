"""crosshost.network.container_interface through real Ansible, on real network namespaces.

A namespace created here stands in for the container (netns_path), another one plays the
host that holds the bridge (host_netns), so nothing is created in this machine's own
namespace. One test also runs a real dockerd (in its own namespace) and a real container.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from dockerd_daemon import Dockerd, NetNS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns)")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
from tools.lab.artifacts import write_busybox_image  # noqa: E402  (the lab's probe image, built here)


@pytest.fixture
def netns():
    made = []

    def make(prefix="cif"):
        ns = NetNS(prefix)
        made.append(ns)
        return ns
    yield make
    for ns in made:
        ns.delete()


def link(ns, dev):
    """`ip -j addr show dev` inside ns as dict, or None."""
    proc = ns.ip("-j", "addr", "show", "dev", dev, check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)[0]


def v4(info):
    return ["%s/%s" % (a["local"], a["prefixlen"]) for a in info["addr_info"] if a["family"] == "inet"]


def default_route(ns):
    routes = json.loads(ns.ip("-j", "route", "show", "default").stdout or "[]")
    return routes[0] if routes else None


def args_for(host, cont, **kwargs):
    args = {"host_netns": host.name, "netns_path": cont.name, "bridge": "brci",
            "address": "10.77.0.2/24"}
    args.update(kwargs)
    return args


def udp_reaches(src, dst, address, port=40999):
    """A UDP datagram from namespace src arrives at address:port in namespace dst."""
    proc = subprocess.Popen(["nsenter", "--net=/run/netns/" + dst.name, sys.executable, "-c",
                             "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
                             "s.bind(('%s',%d));s.settimeout(5);print(s.recvfrom(64)[0].decode())"
                             % (address, port)], stdout=subprocess.PIPE, text=True)
    try:
        for _attempt in range(20):
            src.run([sys.executable, "-c",
                     "import socket;socket.socket(socket.AF_INET,socket.SOCK_DGRAM)"
                     ".sendto(b'hello',('%s',%d))" % (address, port)])
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        out, _err = proc.communicate(timeout=10)
        return out.strip() == "hello"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_attach_idempotent_drift_restart(netns, module_runner):
    host, cont = netns("cih"), netns("cic")
    args = args_for(host, cont, gateway="10.77.0.1", mac="02:42:0a:4d:00:02", mtu=1450)
    result = module_runner("container_interface", args)
    assert result["changed"] is True, result
    veth = result["host_interface"]
    assert len(veth) == 15 and veth.startswith("ci")
    info = link(cont, "eth1")
    assert v4(info) == ["10.77.0.2/24"]
    assert info["address"] == "02:42:0a:4d:00:02" and info["mtu"] == 1450
    assert "UP" in info["flags"]
    route = default_route(cont)
    assert route["gateway"] == "10.77.0.1" and route["dev"] == "eth1"
    hinfo = link(host, veth)
    assert hinfo["master"] == "brci" and hinfo["mtu"] == 1450 and "UP" in hinfo["flags"]
    assert link(host, "brci") is not None

    again = module_runner("container_interface", args, diff=True)
    assert again["changed"] is False and again["commands"] == [], again
    assert again["diff"]["before"] == again["diff"]["after"]

    # drift: another address, another MAC, host end off the bridge
    cont.ip("addr", "flush", "dev", "eth1")
    cont.ip("addr", "add", "10.77.0.99/24", "dev", "eth1")
    cont.ip("link", "set", "eth1", "address", "02:00:00:00:00:99")
    host.ip("link", "set", veth, "nomaster")
    fixed = module_runner("container_interface", args, diff=True)
    assert fixed["changed"] is True, fixed
    assert "(container) ip addr del 10.77.0.99/24 dev eth1" in fixed["commands"]
    assert fixed["diff"]["before"]["address"] == "10.77.0.99/24"
    assert fixed["diff"]["after"]["address"] == "10.77.0.2/24"
    info = link(cont, "eth1")
    assert v4(info) == ["10.77.0.2/24"] and info["address"] == "02:42:0a:4d:00:02"
    assert link(host, veth)["master"] == "brci"
    assert default_route(cont)["gateway"] == "10.77.0.1"
    assert module_runner("container_interface", args)["changed"] is False

    # "restart": the namespace goes away (and the veth pair with it) and comes back empty
    subprocess.run(["ip", "netns", "delete", cont.name], check=True)
    assert link(host, veth) is None
    subprocess.run(["ip", "netns", "add", cont.name], check=True)
    cont.ip("link", "set", "lo", "up")
    restored = module_runner("container_interface", args)
    assert restored["changed"] is True, restored
    assert restored["host_interface"] == veth
    assert v4(link(cont, "eth1")) == ["10.77.0.2/24"]
    assert module_runner("container_interface", args)["changed"] is False


def test_data_path_two_namespaces_same_bridge(netns, module_runner):
    host, one, two = netns("cih"), netns("cic"), netns("cic")
    assert module_runner("container_interface", args_for(host, one, address="10.78.0.11/24"))["changed"]
    assert module_runner("container_interface", args_for(host, two, address="10.78.0.12/24"))["changed"]
    assert udp_reaches(one, two, "10.78.0.12")
    assert udp_reaches(two, one, "10.78.0.11")


def test_check_mode_and_absent(netns, module_runner):
    host, cont = netns("cih"), netns("cic")
    args = args_for(host, cont, interface="data0")
    checked = module_runner("container_interface", args, check=True, diff=True)
    assert checked["changed"] is True, checked
    assert checked["diff"]["before"] == {} and checked["diff"]["after"]["address"] == "10.77.0.2/24"
    assert "create linux bridge brci" in checked["commands"]
    assert link(cont, "data0") is None and link(host, "brci") is None   # nothing made

    assert module_runner("container_interface", args)["changed"] is True
    assert module_runner("container_interface", args, check=True)["changed"] is False
    # check mode on drift reports the change and leaves it
    cont.ip("link", "set", "data0", "mtu", "1400")
    drift = module_runner("container_interface", args, check=True)
    assert drift["changed"] is True and "(container) ip link set data0 mtu 1500" in drift["commands"]
    assert link(cont, "data0")["mtu"] == 1400

    absent = dict(args, state="absent")
    gone = module_runner("container_interface", absent)
    assert gone["changed"] is True, gone
    assert link(cont, "data0") is None and link(host, gone["host_interface"]) is None
    assert link(host, "brci") is not None      # the bridge stays
    assert module_runner("container_interface", absent)["changed"] is False


def test_foreign_interface_left_alone(netns, module_runner):
    host, cont = netns("cih"), netns("cic")
    cont.ip("link", "add", "eth1", "type", "veth", "peer", "name", "other1")
    result = module_runner("container_interface", args_for(host, cont))
    assert result.get("failed") and "already exists in the container and is not ours" in result["msg"]
    assert link(cont, "eth1") is not None


def test_existing_bridge_required(netns, module_runner):
    host, cont = netns("cih"), netns("cic")
    result = module_runner("container_interface", args_for(host, cont, create_bridge=False))
    assert result.get("failed") and "bridge brci does not exist" in result["msg"]


@pytest.mark.parametrize("extra, message", [
    ({"address": "10.77.0.300/24"}, "address=10.77.0.300/24 is not an IPv4 address in CIDR form"),
    ({"address": "10.77.0.2"}, "address=10.77.0.2 has no prefix length"),
    ({"address": "10.77.0.0/24"}, "is the network address of 10.77.0.0/24"),
    ({"gateway": "10.99.0.1"}, "gateway=10.99.0.1 is outside the subnet 10.77.0.0/24"),
    ({"mac": "02:42:0a:4d:00"}, "mac=02:42:0a:4d:00 is not a MAC address"),
    ({"mac": "01:00:5e:00:00:01"}, "is a multicast address"),
    ({"interface": "averyverylongname0"}, "interface=averyverylongname0 is 18 characters long"),
    ({"mtu": 20}, "mtu=20 is out of range"),
], ids=["bad-cidr", "no-prefix", "network-address", "gateway-outside", "bad-mac", "multicast-mac",
        "long-ifname", "bad-mtu"])
def test_bad_input(netns, module_runner, extra, message):
    host, cont = netns("cih"), netns("cic")
    result = module_runner("container_interface", args_for(host, cont, **extra))
    assert result.get("failed"), result
    assert message in result["msg"]
    assert link(host, "brci") is None     # failed before changing anything


def test_missing_namespace_and_container(netns, module_runner, tmp_path):
    host = netns("cih")
    result = module_runner("container_interface", {"host_netns": host.name, "netns_path": "cinope_404",
                                                   "bridge": "brci", "address": "10.77.0.2/24"})
    assert result.get("failed") and "network namespace /run/netns/cinope_404 does not exist" in result["msg"]
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Error: No such container: ghost' >&2\nexit 1\n")
    fake.chmod(0o755)
    args = {"host_netns": host.name, "container": "ghost", "docker_bin": str(fake),
            "bridge": "brci", "address": "10.77.0.2/24"}
    result = module_runner("container_interface", args)
    assert result.get("failed") and "container ghost not found" in result["msg"], result
    gone = module_runner("container_interface", dict(args, state="absent"))
    assert gone.get("failed") is not True and gone["changed"] is False


def test_real_docker_container(netns, module_runner, tmp_path):
    """A container of a real dockerd: attach, re-run unchanged, `docker restart`, re-run restores."""
    busybox_tar = tmp_path / "busybox-image.tar"
    write_busybox_image(busybox_tar)
    config = tmp_path / "daemon.json"
    config.write_text('{"storage-driver": "vfs", "log-level": "warn"}\n')
    daemon = Dockerd(netns("cid"), str(config))
    try:
        ok, log = daemon.start()
        assert ok, log
        daemon.docker("import", str(busybox_tar), "busybox:ci")
        daemon.docker("run", "-d", "--init", "--name", "c1", "busybox:ci", "sleep", "3600")
        args = {"host_netns": daemon.netns.name, "docker_host": "unix://" + daemon.sock,
                "container": "c1", "bridge": "brci", "address": "10.79.0.5/24",
                "mac": "02:42:0a:4f:00:05"}
        first = module_runner("container_interface", args)
        assert first["changed"] is True, first
        out = daemon.docker("exec", "c1", "ip", "addr", "show", "eth1").stdout
        assert "10.79.0.5/24" in out and "02:42:0a:4f:00:05" in out
        assert module_runner("container_interface", args)["changed"] is False
        daemon.docker("restart", "-t", "1", "c1")
        assert "10.79.0.5" not in daemon.docker("exec", "c1", "ip", "addr").stdout
        again = module_runner("container_interface", args)
        assert again["changed"] is True and again["host_interface"] == first["host_interface"]
        assert "10.79.0.5/24" in daemon.docker("exec", "c1", "ip", "addr", "show", "eth1").stdout
    finally:
        daemon.cleanup()
