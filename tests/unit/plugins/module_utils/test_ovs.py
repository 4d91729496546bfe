# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure Open vSwitch tunnel logic (no ovs-vsctl is run)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest

try:
    from ansible_collections.crosshost.network.plugins.module_utils import ovs
except ImportError:  # plain pytest from the checkout: use the `make collection` link
    _REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    sys.path.insert(0, os.path.join(_REPO, ".build", "collections"))
    from ansible_collections.crosshost.network.plugins.module_utils import ovs


def params(**kw):
    base = dict(bridge="br0", remote_ips=None, tunnels=None, type="gre", key=None,
                dst_port=None, local_ip=None, options={}, owner="crosshost", purge=False,
                bridge_create=False, datapath_type=None, stp=None, rstp=None)
    base.update(kw)
    return base


def want(**kw):
    return ovs.build_want(params(**kw))


def port(name, remote_ip, ttype="gre", owner="crosshost", options=None, me="crosshost"):
    opts = dict(options) if options is not None else {"remote_ip": remote_ip}
    return {"name": name, "owner": owner, "owned": owner == me,
            "interfaces": [{"name": name, "type": ttype, "options": opts, "error": []}],
            "type": ttype, "options": opts, "remote_ip": opts.get("remote_ip")}


def have(ports=(), bridge=True, dp="netdev", stp=False, rstp=False, others=None):
    port_bridge = dict(others or {})
    br = None
    if bridge:
        br = {"name": "br0", "datapath_type": dp, "stp": stp, "rstp": rstp}
        port_bridge["br0"] = "br0"
        for p in ports:
            port_bridge[p["name"]] = "br0"
    return {"bridge": br, "ports": list(ports), "port_bridge": port_bridge}


# --- naming ----------------------------------------------------------------

@pytest.mark.parametrize("ttype,ip,name", [
    ("gre", "192.168.10.2", "gre-c0a80a02"),
    ("vxlan", "192.168.10.2", "vxlan-c0a80a02"),
    ("geneve", "255.255.255.255", "geneve-ffffffff"),
    ("gre", "0.0.0.1", "gre-00000001"),
])
def test_port_name_ipv4(ttype, ip, name):
    assert ovs.port_name(ttype, ip) == name
    assert len(name) <= ovs.IFNAMSIZ_MAX


@pytest.mark.parametrize("ttype", ovs.TUNNEL_TYPES)
def test_port_name_ipv6_fits_and_is_stable(ttype):
    first = ovs.port_name(ttype, "2001:db8::1")
    assert first == ovs.port_name(ttype, "2001:0DB8:0::1")
    assert first != ovs.port_name(ttype, "2001:db8::2")
    assert len(first) <= 15
    assert first.startswith(ovs.IPV6_PREFIX[ttype] + "-")


def test_explicit_name_too_long():
    with pytest.raises(ovs.OvsError, match=r"tunnels\[0\]\.name='much-too-long-name' is 18"):
        want(tunnels=[{"name": "much-too-long-name", "remote_ip": "192.0.2.1"}])


def test_explicit_name_bad_chars():
    with pytest.raises(ovs.OvsError, match="not a usable interface name"):
        want(tunnels=[{"name": "a/b", "remote_ip": "192.0.2.1"}])


# --- validation ------------------------------------------------------------

def test_want_defaults():
    w = want(remote_ips=["192.0.2.2", "192.0.2.3"], key="7", local_ip="192.0.2.1",
             options={"ttl": 64, "df_default": False})
    assert [t["name"] for t in w["tunnels"]] == ["gre-c0000202", "gre-c0000203"]
    assert w["tunnels"][0]["options"] == {"remote_ip": "192.0.2.2", "local_ip": "192.0.2.1",
                                          "key": "7", "ttl": "64", "df_default": "false"}
    assert w["owner"] == "crosshost"


def test_ip_normalized():
    w = want(remote_ips=["2001:0DB8::0001"])
    assert w["tunnels"][0]["remote_ip"] == "2001:db8::1"


@pytest.mark.parametrize("value", ["192.0.2.300", "host.example", "192.0.2.0/24", "", None])
def test_invalid_remote_ip(value):
    with pytest.raises(ovs.OvsError, match=r"remote_ips\[1\]=.* is not an IPv4 or IPv6"):
        want(remote_ips=["192.0.2.1", value])


def test_invalid_tunnel_remote_ip():
    with pytest.raises(ovs.OvsError, match=r"tunnels\[0\]\.remote_ip='nope'"):
        want(tunnels=[{"remote_ip": "nope"}])


@pytest.mark.parametrize("ttype,key,ok", [
    ("gre", "0", True), ("gre", "4294967295", True), ("gre", "4294967296", False),
    ("vxlan", "16777215", True), ("vxlan", "16777216", False), ("geneve", "-1", False),
    ("gre", "flow", True), ("gre", "abc", False), ("vxlan", "0x10", False),
])
def test_key_range(ttype, key, ok):
    if ok:
        w = want(remote_ips=["192.0.2.2"], type=ttype, key=key)
        assert w["tunnels"][0]["options"]["key"] == key
    else:
        with pytest.raises(ovs.OvsError, match="key=.* is out of range for type %s" % ttype):
            want(remote_ips=["192.0.2.2"], type=ttype, key=key)


def test_key_normalized():
    assert want(remote_ips=["192.0.2.2"], key="007")["tunnels"][0]["options"]["key"] == "7"
    assert want(remote_ips=["192.0.2.2"], key=5001)["tunnels"][0]["options"]["key"] == "5001"
    with pytest.raises(ovs.OvsError, match="not a tunnel key"):
        want(remote_ips=["192.0.2.2"], key=True)


@pytest.mark.parametrize("port_value", [0, 65536, -5])
def test_dst_port_range(port_value):
    with pytest.raises(ovs.OvsError, match="dst_port=%d is out of range: use a UDP port 1..65535"
                       % port_value):
        want(remote_ips=["192.0.2.2"], type="vxlan", dst_port=port_value)


def test_dst_port_with_gre():
    with pytest.raises(ovs.OvsError, match="not valid with type gre"):
        want(remote_ips=["192.0.2.2"], dst_port=4789)


def test_dst_port_ok():
    w = want(remote_ips=["192.0.2.2"], type="geneve", dst_port=6082)
    assert w["tunnels"][0]["options"]["dst_port"] == "6082"


def test_unknown_type():
    with pytest.raises(ovs.OvsError, match="type='ipip' is not supported: use one of gre, vxlan, geneve"):
        want(remote_ips=["192.0.2.2"], type="ipip")


def test_duplicate_remote():
    with pytest.raises(ovs.OvsError, match=r"remote_ips\[2\]=192.0.2.2 duplicates remote_ips\[0\]"):
        want(remote_ips=["192.0.2.2", "192.0.2.3", "192.0.2.2"])


def test_duplicate_remote_ipv6_spelling():
    with pytest.raises(ovs.OvsError, match="duplicates"):
        want(remote_ips=["2001:db8::1", "2001:DB8:0::1"])


def test_local_ip_among_remotes():
    with pytest.raises(ovs.OvsError, match=r"remote_ips\[1\]=192.0.2.1 is local_ip"):
        want(remote_ips=["192.0.2.2", "192.0.2.1"], local_ip="192.0.2.1")


def test_bad_local_ip():
    with pytest.raises(ovs.OvsError, match="local_ip='x' is not an IPv4"):
        want(remote_ips=["192.0.2.2"], local_ip="x")


@pytest.mark.parametrize("key", ["remote_ip", "local_ip", "key", "dst_port"])
def test_reserved_options(key):
    with pytest.raises(ovs.OvsError, match="options.%s is set through its own parameter" % key):
        want(remote_ips=["192.0.2.2"], options={key: "1"})


def test_bad_option_key_and_value():
    with pytest.raises(ovs.OvsError, match="not a valid OVS option name"):
        want(remote_ips=["192.0.2.2"], options={"a:b": "1"})
    with pytest.raises(ovs.OvsError, match="options.ttl has no value"):
        want(remote_ips=["192.0.2.2"], options={"ttl": None})


def test_stp_and_rstp():
    with pytest.raises(ovs.OvsError, match="stp and rstp are both true"):
        want(remote_ips=[], stp=True, rstp=True)


def test_remote_ips_xor_tunnels():
    with pytest.raises(ovs.OvsError, match="one of remote_ips or tunnels is required"):
        want()
    with pytest.raises(ovs.OvsError, match="mutually exclusive"):
        want(remote_ips=[], tunnels=[])


def test_empty_owner():
    with pytest.raises(ovs.OvsError, match="owner must be a non-empty string"):
        want(remote_ips=[], owner=" ")


def test_name_collision_between_explicit_and_generated():
    with pytest.raises(ovs.OvsError, match="already used by"):
        want(tunnels=[{"remote_ip": "192.0.2.2"},
                      {"remote_ip": "192.0.2.3", "name": "gre-c0000202"}])


# --- OVSDB JSON decoding ---------------------------------------------------

BRIDGE_JSON = {"headings": list(ovs.BRIDGE_COLUMNS), "data": [
    [["uuid", "b1"], "br0", ["set", [["uuid", "p0"], ["uuid", "p1"], ["uuid", "p2"]]],
     "netdev", True, False],
    [["uuid", "b2"], "br1", ["uuid", "p3"], "", False, False],
]}
PORT_JSON = {"headings": list(ovs.PORT_COLUMNS), "data": [
    [["uuid", "p0"], "br0", ["uuid", "i0"], ["map", []]],
    [["uuid", "p1"], "gre-c0000202", ["uuid", "i1"], ["map", [["crosshost-owner", "crosshost"]]]],
    [["uuid", "p2"], "manual", ["uuid", "i2"], ["map", [["other", "x"]]]],
    [["uuid", "p3"], "br1", ["uuid", "i3"], ["map", []]],
]}
IFACE_JSON = {"headings": list(ovs.INTERFACE_COLUMNS), "data": [
    [["uuid", "i0"], "br0", "internal", ["map", []], ["set", []]],
    [["uuid", "i1"], "gre-c0000202", "gre", ["map", [["key", "5"], ["remote_ip", "192.0.2.2"]]],
     ["set", []]],
    [["uuid", "i2"], "manual", "gre", ["map", [["remote_ip", "192.0.2.3"]]], "could not add"],
    [["uuid", "i3"], "br1", "internal", ["map", []], ["set", []]],
]}
LIST_OUTPUT = "\n".join(json.dumps(t) for t in (BRIDGE_JSON, PORT_JSON, IFACE_JSON)) + "\n"


def test_decode_datum():
    assert ovs.decode_datum(["uuid", "abc"]) == "abc"
    assert ovs.decode_datum(["set", []]) == []
    assert ovs.decode_datum(["set", [["uuid", "a"], ["uuid", "b"]]]) == ["a", "b"]
    assert ovs.decode_datum(["map", [["k", "v"], ["n", 1]]]) == {"k": "v", "n": 1}
    assert ovs.decode_datum("plain") == "plain"
    assert ovs.decode_datum(7) == 7
    assert ovs.decode_datum(False) is False


def test_parse_list_output_and_have():
    tables = ovs.parse_list_output(LIST_OUTPUT)
    assert len(tables) == 3
    h = ovs.build_have(tables, "br0", "crosshost")
    assert h["bridge"] == {"name": "br0", "datapath_type": "netdev", "stp": True, "rstp": False}
    assert [p["name"] for p in h["ports"]] == ["br0", "gre-c0000202", "manual"]
    gre = h["ports"][1]
    assert gre["owned"] and gre["type"] == "gre" and gre["remote_ip"] == "192.0.2.2"
    assert gre["options"] == {"key": "5", "remote_ip": "192.0.2.2"}
    assert not h["ports"][2]["owned"] and h["ports"][2]["owner"] is None
    assert h["port_bridge"]["br1"] == "br1"
    assert ovs.interface_errors(tables, {"manual", "gre-c0000202"}) == [("manual", "could not add")]


def test_have_other_owner_and_missing_bridge():
    tables = ovs.parse_list_output(LIST_OUTPUT)
    h = ovs.build_have(tables, "br0", "fabric-b")
    assert not any(p["owned"] for p in h["ports"])
    assert ovs.build_have(tables, "nope", "crosshost")["bridge"] is None


def test_read_state_args_are_structured():
    args = ovs.read_state_args()
    assert args[0] == "--format=json"
    assert args.count("list") == 3


# --- planning --------------------------------------------------------------

def test_plan_create_three():
    w = want(remote_ips=["192.0.2.2", "192.0.2.3", "198.51.100.4"], key="5")
    p = ovs.plan(w, have([]))
    adds = [op for op in p["ops"] if op[0] == "add-port"]
    assert [op[2] for op in adds] == ["gre-c0000202", "gre-c0000203", "gre-c6336404"]
    assert adds[0][3] == 'external_ids:crosshost-owner="crosshost"'
    sets = [op for op in p["ops"] if op[0] == "set"]
    assert sets[0] == ["set", "interface", "gre-c0000202", "type=gre", 'options:key="5"',
                       'options:remote_ip="192.0.2.2"']
    assert p["before"]["tunnels"] == []
    assert len(p["after"]["tunnels"]) == 3


def test_plan_idempotent():
    w = want(remote_ips=["192.0.2.2"], key="5")
    cur = port("gre-c0000202", "192.0.2.2", options={"remote_ip": "192.0.2.2", "key": "5"})
    p = ovs.plan(w, have([cur]))
    assert p["ops"] == [] and p["actions"] == []
    assert p["before"] == p["after"]


def test_plan_drift_remote_ip():
    w = want(remote_ips=["192.0.2.2"])
    cur = port("gre-c0000202", "192.0.2.99")
    p = ovs.plan(w, have([cur]))
    assert p["ops"] == [["clear", "interface", "gre-c0000202", "options"],
                        ["set", "interface", "gre-c0000202", "type=gre",
                         'options:remote_ip="192.0.2.2"']]
    assert "options:remote_ip 192.0.2.99 -> 192.0.2.2" in p["actions"][0]


def test_plan_drift_extra_option_removed():
    w = want(remote_ips=["192.0.2.2"])
    cur = port("gre-c0000202", "192.0.2.2", options={"remote_ip": "192.0.2.2", "ttl": "3"})
    p = ovs.plan(w, have([cur]))
    assert p["ops"][0] == ["clear", "interface", "gre-c0000202", "options"]
    assert "options:ttl 3 -> (unset)" in p["actions"][0]


def test_plan_drift_type_only():
    w = want(tunnels=[{"name": "t1", "remote_ip": "192.0.2.2"}], type="vxlan")
    cur = port("t1", "192.0.2.2", ttype="gre")
    p = ovs.plan(w, have([cur]))
    assert p["ops"] == [["set", "interface", "t1", "type=vxlan"]]


def test_plan_type_change_replaces_owned_port_without_purge():
    w = want(remote_ips=["192.0.2.2"], type="vxlan")
    cur = port("gre-c0000202", "192.0.2.2")
    p = ovs.plan(w, have([cur]))
    assert p["ops"][0] == ["del-port", "br0", "gre-c0000202"]
    assert p["ops"][1][:3] == ["add-port", "br0", "vxlan-c0000202"]


def test_plan_no_purge_keeps_stale_owned():
    w = want(remote_ips=["192.0.2.2"])
    p = ovs.plan(w, have([port("gre-c0000202", "192.0.2.2"), port("gre-c0000209", "192.0.2.9")]))
    assert p["ops"] == []
    assert [t["name"] for t in p["after"]["tunnels"]] == ["gre-c0000202", "gre-c0000209"]


def test_plan_purge_only_owned():
    w = want(remote_ips=["192.0.2.2"], purge=True)
    ports = [port("gre-c0000202", "192.0.2.2"), port("gre-c0000209", "192.0.2.9"),
             port("manual", "192.0.2.10", owner=None),
             port("fabric-b", "192.0.2.11", owner="other"),
             port("br0", None, ttype="internal", owner=None, options={})]
    p = ovs.plan(w, have(ports))
    assert p["ops"] == [["del-port", "br0", "gre-c0000209"]]
    assert [t["name"] for t in p["after"]["tunnels"]] == ["gre-c0000202"]
    assert [t["name"] for t in p["before"]["tunnels"]] == ["gre-c0000202", "gre-c0000209"]


def test_plan_purge_everything_of_owner():
    p = ovs.plan(want(remote_ips=[], purge=True),
                 have([port("gre-c0000202", "192.0.2.2"), port("x", "192.0.2.3", owner=None)]))
    assert p["ops"] == [["del-port", "br0", "gre-c0000202"]]


def test_plan_refuses_foreign_port_with_wanted_name():
    w = want(remote_ips=["192.0.2.2"])
    with pytest.raises(ovs.OvsError, match="not managed by owner 'crosshost' .*no owner marker"):
        ovs.plan(w, have([port("gre-c0000202", "192.0.2.2", owner=None)]))
    with pytest.raises(ovs.OvsError, match="owner 'other'"):
        ovs.plan(w, have([port("gre-c0000202", "192.0.2.2", owner="other")]))


def test_plan_refuses_name_on_other_bridge():
    w = want(remote_ips=["192.0.2.2"])
    with pytest.raises(ovs.OvsError, match="already exists on bridge br9"):
        ovs.plan(w, have([], others={"gre-c0000202": "br9"}))


def test_plan_warns_foreign_tunnel_to_same_peer():
    w = want(remote_ips=["192.0.2.2"])
    p = ovs.plan(w, have([port("gre0", "192.0.2.2", owner=None)]))
    assert p["warnings"] and "gre0" in p["warnings"][0]
    assert p["ops"][0][:3] == ["add-port", "br0", "gre-c0000202"]


def test_two_owners_coexist():
    a = port("gre-c0000202", "192.0.2.2", owner="a", me="b")
    w = want(tunnels=[{"name": "b-peer", "remote_ip": "192.0.2.3"}], owner="b", purge=True)
    p = ovs.plan(w, have([a]))
    assert [op[0] for op in p["ops"]] == ["add-port", "set"]
    assert p["ops"][0][3] == 'external_ids:crosshost-owner="b"'


def test_plan_missing_bridge():
    with pytest.raises(ovs.OvsError, match="bridge br0 does not exist: set bridge_create: true"):
        ovs.plan(want(remote_ips=["192.0.2.2"]), have(bridge=False))


def test_plan_create_bridge():
    w = want(remote_ips=["192.0.2.2"], bridge_create=True, datapath_type="netdev", stp=True,
             rstp=False)
    p = ovs.plan(w, have(bridge=False))
    assert p["ops"][0] == ["add-br", "br0"]
    assert p["ops"][1] == ["set", "bridge", "br0", 'datapath_type="netdev"', "stp_enable=true",
                           "rstp_enable=false"]
    assert p["before"]["bridge"] is None
    assert p["after"]["bridge"]["stp"] is True


def test_plan_existing_bridge_settings():
    w = want(remote_ips=[], datapath_type="netdev", stp=False, rstp=True)
    p = ovs.plan(w, have(dp="", stp=True, rstp=False))
    assert p["ops"] == [["set", "bridge", "br0", 'datapath_type="netdev"', "stp_enable=false",
                         "rstp_enable=true"]]
    p2 = ovs.plan(w, have(dp="netdev", stp=False, rstp=True))
    assert p2["ops"] == []


def test_system_equals_empty_datapath():
    assert ovs.plan(want(remote_ips=[], datapath_type="system"), have(dp=""))["ops"] == []


def test_unset_bridge_settings_left_alone():
    assert ovs.plan(want(remote_ips=[]), have(dp="", stp=True, rstp=True))["ops"] == []


def test_bridge_name_is_a_port():
    with pytest.raises(ovs.OvsError, match="is the name of a port on bridge br1"):
        ovs.plan(want(bridge="p1", remote_ips=[]), have(bridge=False, others={"p1": "br1"}))


def test_transaction_is_one_argv():
    base = ovs.base_argv("/usr/bin/ovs-vsctl", "unix:/tmp/db.sock", 10)
    assert base == ["/usr/bin/ovs-vsctl", "--db=unix:/tmp/db.sock", "--timeout=10"]
    argv = ovs.transaction(base, [["add-br", "br0"], ["del-port", "br0", "x"]])
    assert argv == base + ["--", "add-br", "br0", "--", "del-port", "br0", "x"]
    assert ovs.transaction(base, []) == []


def test_quoting_of_odd_values():
    w = want(remote_ips=["2001:db8::1"], owner='a "b"', options={"tos": "inherit"})
    p = ovs.plan(w, have([]))
    assert p["ops"][0][3] == 'external_ids:crosshost-owner="a \\"b\\""'
    assert 'options:remote_ip="2001:db8::1"' in p["ops"][1]


def test_failure_messages():
    msg = ovs.explain_vsctl_failure(
        1, "ovs-vsctl: unix:/x.sock: database connection failed (No such file or directory)",
        "unix:/x.sock")
    assert "start Open vSwitch" in msg and "openvswitch-switch" in msg and "unix:/x.sock" in msg
    assert "openvswitch-switch" in ovs.missing_vsctl_message()
    assert "timed out" in ovs.explain_vsctl_failure(142, "ovs-vsctl: timeout", None)
    assert ovs.explain_vsctl_failure(1, "other", None) == "ovs-vsctl failed (rc=1): other"


OFCTL_SHOW = """OFPT_FEATURES_REPLY (xid=0x2): dpid:0000320ee739674f
n_tables:254, n_buffers:0
 1(gre-c0a8dc0b): addr:fe:c4:9d:4a:1f:c2
     config:     0
     state:      0
 3(vgre-ovs): addr:c2:78:59:82:69:c1
     config:     0
     state:      0
 4(by-hand): addr:c2:78:59:82:69:c2
     config:     NO_FLOOD
     state:      0
 LOCAL(br0): addr:32:0e:e7:39:67:4f
     config:     PORT_DOWN
     state:      LINK_DOWN
OFPT_GET_CONFIG_REPLY (xid=0x4): frags=normal miss_send_len=0
"""


def test_flooding_ports_skips_the_bridge_port_and_no_flood_ports():
    assert ovs.flooding_ports(OFCTL_SHOW) == ["gre-c0a8dc0b", "vgre-ovs"]
    assert ovs.flooding_ports("") == []


@pytest.mark.parametrize("before,after,expected", [
    ({"stp": False, "rstp": True}, {"stp": False, "rstp": False}, True),
    ({"stp": True, "rstp": False}, {"stp": False, "rstp": False}, True),
    ({"stp": True, "rstp": False}, {"stp": False, "rstp": True}, False),    # still a tree
    ({"stp": False, "rstp": False}, {"stp": False, "rstp": False}, False),
    (None, {"stp": False, "rstp": False}, False),                           # a new bridge
])
def test_spanning_tree_turned_off(before, after, expected):
    assert ovs.spanning_tree_turned_off(before, after) is expected


def test_ofctl_target_is_the_management_socket_beside_a_unix_db():
    assert ovs.ofctl_target("unix:/tmp/ovs-x/db.sock", "br0") == "unix:/tmp/ovs-x/br0.mgmt"
    assert ovs.ofctl_target(None, "br0") == "br0"
    assert ovs.ofctl_target("tcp:127.0.0.1:6640", "br0") == "br0"
