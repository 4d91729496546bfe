"""crosshost.network.ovs_tunnel against a real, private Open vSwitch.

ovsdb-server and ovs-vswitchd run inside a network namespace created for this
module (see ovs_daemons.py); bridges use the userspace datapath. Remote IPs are
documentation addresses (203.0.113.0/24, 198.51.100.0/24): they are only
configuration, nothing routes to them and no traffic is sent to them. The one traffic test builds two more switches in
two namespaces of its own, joined by a veth pair, and sends UDP only between
them.
"""
import subprocess
import sys
import time

import pytest

from ovs_daemons import OvsDaemons, missing_requirements

REMOTES = ["203.0.113.11", "203.0.113.12", "198.51.100.13"]
NAMES = {"203.0.113.11": "gre-cb00710b", "203.0.113.12": "gre-cb00710c",
         "198.51.100.13": "gre-c633640d"}


@pytest.fixture(scope="module")
def switch():
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    daemons = OvsDaemons()
    daemons.start()
    try:
        yield daemons
    finally:
        daemons.stop()


@pytest.fixture
def ovs(switch, module_runner):
    """The private switch with one empty netdev bridge br0; emptied afterwards."""
    switch.runner = module_runner
    switch.reset()
    switch.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")
    try:
        yield switch
    finally:
        switch.reset()


def tunnel(ovs, **args):
    args.setdefault("bridge", "br0")
    args["db"] = ovs.db
    args.setdefault("vsctl_timeout", 20)
    return args


def run(ovs, check=False, diff=False, **args):
    """Run the module through real Ansible (conftest's module_runner) on `ovs`."""
    return ovs.runner("ovs_tunnel", tunnel(ovs, **args), check=check, diff=diff)


def ok(result):
    assert not result.get("failed"), result.get("msg", result)
    return result


def test_create_check_diff_and_idempotence(ovs):
    # check mode on a fresh set: plans one transaction, changes nothing
    before = ovs.snapshot()
    res = ok(run(ovs, check=True, diff=True, remote_ips=REMOTES, key="42"))
    assert res["changed"] is True
    assert len(res["commands"]) == 1
    argv = res["commands"][0]
    assert argv[0].endswith("ovs-vsctl") and "--db=" + ovs.db in argv
    assert argv.count("add-port") == 3
    assert ovs.snapshot() == before
    diff = res["diff"]
    assert diff["before"]["tunnels"] == []
    assert [t["name"] for t in diff["after"]["tunnels"]] == sorted(NAMES.values())

    # the real run creates exactly the three ports, marked and configured
    res = ok(run(ovs, diff=True, remote_ips=REMOTES, key="42"))
    assert res["changed"] is True and len(res["commands"]) == 1
    ports = ovs.ports("br0")
    assert set(ports) == set(NAMES.values())
    for ip, name in NAMES.items():
        assert ports[name] == {"type": "gre", "owner": "crosshost",
                               "options": {"remote_ip": ip, "key": "42"}}
    assert [t["remote_ip"] for t in res["tunnels"]] == sorted(REMOTES, key=lambda i: NAMES[i])

    # second run: nothing to do
    res = ok(run(ovs, diff=True, remote_ips=REMOTES, key="42"))
    assert res["changed"] is False
    assert res["commands"] == []
    assert res["diff"]["before"] == res["diff"]["after"]


def test_drift_is_corrected(ovs):
    ok(run(ovs, remote_ips=REMOTES, type="vxlan", key="100", dst_port=4790))
    names = dict((ip, "vxlan-" + NAMES[ip][4:]) for ip in REMOTES)
    # by hand: wrong remote_ip, an extra option, a deleted port
    ovs.vsctl("set", "interface", names["203.0.113.11"], "options:remote_ip=203.0.113.99")
    ovs.vsctl("set", "interface", names["203.0.113.12"], "options:ttl=3")
    ovs.vsctl("del-port", "br0", names["198.51.100.13"])

    res = ok(run(ovs, diff=True, remote_ips=REMOTES, type="vxlan", key="100", dst_port=4790))
    assert res["changed"] is True and len(res["commands"]) == 1
    text = " ".join(res["actions"])
    assert "options:remote_ip 203.0.113.99 -> 203.0.113.11" in text
    assert "options:ttl 3 -> (unset)" in text
    assert "add vxlan tunnel %s" % names["198.51.100.13"] in text
    ports = ovs.ports("br0")
    assert set(ports) == set(names.values())
    for ip, name in names.items():
        assert ports[name]["options"] == {"remote_ip": ip, "key": "100", "dst_port": "4790"}
        assert ports[name]["type"] == "vxlan"

    res = ok(run(ovs, remote_ips=REMOTES, type="vxlan", key="100", dst_port=4790))
    assert res["changed"] is False


def test_type_change_replaces_owned_port(ovs):
    ok(run(ovs, remote_ips=["203.0.113.11"]))
    res = ok(run(ovs, remote_ips=["203.0.113.11"], type="geneve", key=7))
    assert res["changed"] is True
    assert ovs.ports("br0") == {"geneve-cb00710b": {
        "type": "geneve", "owner": "crosshost",
        "options": {"remote_ip": "203.0.113.11", "key": "7"}}}


def test_purge_removes_only_owned_ports(ovs):
    ok(run(ovs, remote_ips=REMOTES))
    # foreign ports: an internal port, a tunnel without marker, another owner's tunnel
    ovs.vsctl("add-port", "br0", "int0", "--", "set", "interface", "int0", "type=internal")
    ovs.vsctl("add-port", "br0", "gre0", "--", "set", "interface", "gre0", "type=gre",
              "options:remote_ip=203.0.113.50")
    ok(run(ovs, owner="fabric-b", tunnels=[{"name": "b-peer", "remote_ip": "198.51.100.60"}]))

    res = ok(run(ovs, diff=True, remote_ips=["203.0.113.12"], purge=True))
    assert res["changed"] is True
    assert sorted(op for op in res["commands"][0] if op.startswith("gre-")) == \
        ["gre-c633640d", "gre-cb00710b"]
    ports = ovs.ports("br0")
    assert set(ports) == {"gre-cb00710c", "int0", "gre0", "b-peer"}
    assert ports["b-peer"]["owner"] == "fabric-b"
    assert ports["gre0"]["owner"] is None
    assert [t["name"] for t in res["diff"]["after"]["tunnels"]] == ["gre-cb00710c"]

    # the other owner purges its own set; ours and the foreign ports stay
    ok(run(ovs, owner="fabric-b", tunnels=[], purge=True))
    assert set(ovs.ports("br0")) == {"gre-cb00710c", "int0", "gre0"}


def test_bridge_create_and_settings(switch, module_runner):
    switch.runner = module_runner
    switch.reset()
    try:
        args = dict(bridge="br-fab", bridge_create=True, datapath_type="netdev", stp=True,
                    remote_ips=["203.0.113.11"])
        res = ok(run(switch, diff=True, **args))
        assert res["changed"] is True
        assert res["diff"]["before"]["bridge"] is None
        br = switch.table("Bridge", ["name", "datapath_type", "stp_enable", "rstp_enable"])
        assert br == [{"name": "br-fab", "datapath_type": "netdev", "stp_enable": True,
                       "rstp_enable": False}]
        assert set(switch.ports("br-fab")) == {"gre-cb00710b"}

        assert ok(run(switch, **args))["changed"] is False

        # settings are applied to an existing bridge too (not only on creation)
        args.update(stp=False, rstp=True, bridge_create=False)
        res = ok(run(switch, **args))
        assert res["changed"] is True
        assert res["actions"] == ["bridge br-fab: stp_enable true -> false",
                                  "bridge br-fab: rstp_enable false -> true"]
        br = switch.table("Bridge", ["name", "datapath_type", "stp_enable", "rstp_enable"])
        assert br[0]["stp_enable"] is False and br[0]["rstp_enable"] is True
    finally:
        switch.reset()


BAD_INPUTS = [
    ("invalid remote_ip", dict(remote_ips=["203.0.113.11", "203.0.113.300"]),
     "remote_ips[1]='203.0.113.300' is not an IPv4 or IPv6 address"),
    ("key out of range", dict(remote_ips=["203.0.113.11"], type="vxlan", key="16777216"),
     "key='16777216' is out of range for type vxlan: use an integer 0..16777215"),
    ("gre key out of range", dict(remote_ips=["203.0.113.11"], key="4294967296"),
     "key='4294967296' is out of range for type gre: use an integer 0..4294967295"),
    ("dst_port out of range", dict(remote_ips=["203.0.113.11"], type="geneve", dst_port=70000),
     "dst_port=70000 is out of range: use a UDP port 1..65535"),
    ("dst_port with gre", dict(remote_ips=["203.0.113.11"], dst_port=4789),
     "dst_port=4789 is not valid with type gre"),
    ("unknown type", dict(remote_ips=["203.0.113.11"], type="ipip"),
     "value of type must be one of: gre, vxlan, geneve, got: ipip"),
    ("duplicate remote", dict(remote_ips=["203.0.113.11", "203.0.113.12", "203.0.113.11"]),
     "remote_ips[2]=203.0.113.11 duplicates remote_ips[0]"),
    ("local_ip among remotes", dict(remote_ips=["203.0.113.11", "203.0.113.1"],
                                    local_ip="203.0.113.1"),
     "remote_ips[1]=203.0.113.1 is local_ip"),
    ("missing bridge", dict(bridge="br-missing", remote_ips=["203.0.113.11"]),
     "bridge br-missing does not exist: set bridge_create: true"),
    ("ovsdb unreachable", dict(remote_ips=["203.0.113.11"], db="unix:/nonexistent/ovs/db.sock"),
     "cannot reach the Open vSwitch database at unix:/nonexistent/ovs/db.sock"),
    ("reserved option", dict(remote_ips=["203.0.113.11"], options={"remote_ip": "203.0.113.5"}),
     "options.remote_ip is set through its own parameter"),
    ("stp and rstp", dict(remote_ips=["203.0.113.11"], stp=True, rstp=True),
     "stp and rstp are both true"),
    ("name too long", dict(tunnels=[{"name": "tunnel-to-east-1", "remote_ip": "203.0.113.11"}]),
     "tunnels[0].name='tunnel-to-east-1' is 16 characters long"),
    ("foreign port with wanted name", dict(remote_ips=["203.0.113.11"]),
     "port gre-cb00710b on bridge br0 is not managed by owner 'crosshost'"),
]


@pytest.mark.parametrize("args,expected", [c[1:] for c in BAD_INPUTS],
                         ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_clearly_and_changes_nothing(ovs, args, expected):
    # a foreign port squatting on the generated name of 203.0.113.11
    ovs.vsctl("add-port", "br0", "gre-cb00710b", "--", "set", "interface", "gre-cb00710b",
              "type=gre", "options:remote_ip=203.0.113.11")
    args = dict(args)
    db = args.pop("db", None)
    call = tunnel(ovs, **args)
    if db:
        call["db"] = db
    before = ovs.snapshot()
    res = ovs.runner("ovs_tunnel", call)
    assert res.get("failed") is True, res
    assert expected in res["msg"]
    assert ovs.snapshot() == before


# --- traffic: two "hosts" (two switches in two namespaces) joined by GRE -----

UDP_ECHO = (
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.bind(('172.31.99.2', 9999))\n"
    "s.settimeout(15)\n"
    "while True:\n"
    "    data, peer = s.recvfrom(100)\n"
    "    s.sendto(b'pong:' + data, peer)\n")
UDP_PROBE = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.settimeout(0.5)\n"
    "for _ in range(int(sys.argv[1])):\n"
    "    s.sendto(b'ping', ('172.31.99.2', 9999))\n"
    "    try:\n"
    "        print(s.recvfrom(100)[0].decode())\n"
    "        break\n"
    "    except socket.timeout:\n"
    "        pass\n")


def _sh(*argv):
    subprocess.run(list(argv), check=True, capture_output=True, text=True)


def _in_netns(netns, *argv):
    return ["nsenter", "--net=/run/netns/" + netns] + list(argv)


@pytest.fixture
def two_hosts(module_runner):
    """Two more private switches, each in its own namespace, linked by a veth
    underlay on a netdev br-phy (10.99.0.1 and .2), each with an internal
    "container" port c0 on br0 (172.31.99.1 and .2). Only these namespaces
    ever see traffic."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    hosts = []
    try:
        hosts.append(OvsDaemons().start())
        hosts.append(OvsDaemons().start())
        a, b = hosts
        a.runner = b.runner = module_runner
        _sh("ip", "-n", a.netns, "link", "add", "vA", "type", "veth", "peer", "name", "vB",
            "netns", b.netns)
        for host, veth, underlay in ((a, "vA", "10.99.0.1"), (b, "vB", "10.99.0.2")):
            _sh("ip", "-n", host.netns, "link", "set", veth, "up")
            host.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy",
                       "datapath_type=netdev", "--", "add-port", "br-phy", veth)
            _sh("ip", "-n", host.netns, "addr", "add", underlay + "/24", "dev", "br-phy")
            _sh("ip", "-n", host.netns, "link", "set", "br-phy", "up")
        yield a, b
    finally:
        for host in hosts:
            host.stop()


def test_gre_tunnel_carries_traffic(two_hosts):
    a, b = two_hosts
    for host, me, peer, inner in ((a, "10.99.0.1", "10.99.0.2", "172.31.99.1"),
                                  (b, "10.99.0.2", "10.99.0.1", "172.31.99.2")):
        ok(run(host, bridge_create=True, datapath_type="netdev", local_ip=me,
               remote_ips=[peer]))
        host.vsctl("add-port", "br0", "c0", "--", "set", "interface", "c0", "type=internal")
        _sh("ip", "-n", host.netns, "addr", "add", inner + "/24", "dev", "c0")
        _sh("ip", "-n", host.netns, "link", "set", "c0", "mtu", "1400", "up")

    server = subprocess.Popen(_in_netns(b.netns, sys.executable, "-c", UDP_ECHO),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = subprocess.run(_in_netns(a.netns, sys.executable, "-c", UDP_PROBE, "20"),
                               capture_output=True, text=True, timeout=30, check=False)
        assert probe.stdout.strip() == "pong:ping", probe
        # br0 reaches the other namespace only through the GRE port: purge it on
        # host A and the "containers" are cut off again
        assert ok(run(a, remote_ips=[], purge=True))["changed"] is True
        probe = subprocess.run(_in_netns(a.netns, sys.executable, "-c", UDP_PROBE, "2"),
                               capture_output=True, text=True, timeout=30, check=False)
        assert probe.stdout.strip() == ""
    finally:
        server.kill()
        server.wait()


def flood_actions(ovs, in_port):
    """The datapath actions of a broadcast entering br0 at in_port (ofproto/trace)."""
    trace = ovs.appctl("ofproto/trace", "br0", "in_port=%s,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp"
                       % in_port)
    return [line for line in trace.splitlines() if line.startswith("Datapath actions:")]


@pytest.fixture
def two_veth_ports(ovs):
    """p1 and p2 on br0: system ports (veths in the switch's namespace, their peers up),
    like the link to docker0."""
    def ip(*args, check=True):
        subprocess.run(["ip", "-n", ovs.netns] + list(args), check=check, capture_output=True)
    try:
        for name in ("p1", "p2"):
            ip("link", "del", name, check=False)
            ip("link", "add", name, "type", "veth", "peer", "name", name + "-peer")
            ip("link", "set", name, "up")
            ip("link", "set", name + "-peer", "up")
            ovs.vsctl("add-port", "br0", name)
        yield ovs
    finally:
        for name in ("p1", "p2"):
            ip("link", "del", name, check=False)


@pytest.mark.parametrize("flag", ["rstp"])
def test_turning_the_spanning_tree_off_keeps_every_port_in_floods(two_veth_ports, flag):
    """Open vSwitch 3.1 kept each port's last spanning-tree state (disabled) in its
    forwarding cache after the bridge's (R)STP was turned off: broadcasts went to the
    bridge's own port only, and a star or two-host fabric that had been a mesh was
    silent. The module refreshes the ports after turning it off."""
    ovs = two_veth_ports
    baseline = flood_actions(ovs, "p1")
    assert baseline and "," in baseline[0], baseline     # p2 and the bridge port
    ok(run(ovs, remote_ips=["203.0.113.11"], **{flag: True}))
    deadline = time.monotonic() + 60
    while flood_actions(ovs, "p1") != baseline:          # until the tree forwards on p2 again
        assert time.monotonic() < deadline, "the spanning tree never forwarded on p2"
        time.sleep(0.5)
    result = run(ovs, remote_ips=["203.0.113.11"], **{flag: False})
    ok(result)
    assert result["changed"] is True
    # The tunnel has no route here (a documentation address), so it adds no action;
    # p2 and the bridge port must still get the broadcast.
    assert flood_actions(ovs, "p1") == baseline
