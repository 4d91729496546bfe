"""Pure logic of crosshost.network's container_interface: validation, naming, planning."""
import pytest

from ansible_collections.crosshost.network.plugins.module_utils.container_net import (
    ContainerNetError,
    describe_action,
    host_veth_name,
    normalize_mac,
    pair_intact,
    plan_interface,
    resolve_bridge_type,
    temp_peer_name,
    validate_params,
)

BASE = {"bridge": "br1", "address": "192.168.10.5/24", "interface": "eth1", "state": "present"}


def want_for(**kwargs):
    params = dict(BASE, **kwargs)
    want = validate_params(params)
    want["create_bridge"] = params.get("create_bridge", True)
    want["host_veth"] = host_veth_name("abc", want["interface"])
    want["temp_peer"] = temp_peer_name("abc", want["interface"])
    return want


def converged(want, **over):
    """`have` for an interface that matches `want`."""
    have = {
        "bridge_exists": True, "bridge_mtu": 1500, "temp_peer_exists": False,
        "host_veth": {"index": 10, "peer_index": 2, "mtu": want["mtu"] or 1500, "up": True},
        "host_port_bridge": want["bridge"],
        "container_if": {"index": 2, "peer_index": 10, "kind": "veth", "mac": want["mac"] or "02:00:00:00:00:01",
                         "mtu": want["mtu"] or 1500, "up": True, "addresses": [want["address"]]},
        "default_route": {"gateway": want["gateway"], "oif": want["interface"]} if want["gateway"] else None,
    }
    have.update(over)
    return have


def test_validate_normalises():
    want = validate_params(dict(BASE, mac="02:42:C0:A8:0A:05", gateway="192.168.10.1", mtu=1450))
    assert want == {"state": "present", "interface": "eth1", "bridge": "br1", "bridge_type": "linux",
                    "address": "192.168.10.5/24", "gateway": "192.168.10.1", "mac": "02:42:c0:a8:0a:05",
                    "mtu": 1450}


@pytest.mark.parametrize("params, message", [
    ({"address": "192.168.10.300/24"}, "address=192.168.10.300/24 is not an IPv4 address in CIDR form"),
    ({"address": "192.168.10.5"}, "has no prefix length"),
    ({"address": "192.168.10.5/33"}, "is not an IPv4 address in CIDR form"),
    ({"address": "fd00::5/64"}, "is IPv6"),
    ({"address": "192.168.10.255/24"}, "is the broadcast address of 192.168.10.0/24"),
    ({"address": ""}, "address is required with state=present"),
    ({"gateway": "192.168.11.1"}, "gateway=192.168.11.1 is outside the subnet 192.168.10.0/24"),
    ({"gateway": "192.168.10.5"}, "equals the interface address"),
    ({"gateway": "router"}, "gateway=router is not an IPv4 address"),
    ({"mac": "02:42:c0:a8:0a"}, "is not a MAC address"),
    ({"mac": "03:42:c0:a8:0a:05"}, "is a multicast address"),
    ({"mac": "00:00:00:00:00:00"}, "all-zero"),
    ({"interface": "eth1234567890123"}, "interface=eth1234567890123 is 16 characters long"),
    ({"interface": "eth 1"}, "is not a valid interface name"),
    ({"bridge": ""}, "bridge must not be empty"),
    ({"mtu": 67}, "mtu=67 is out of range"),
    ({"bridge_type": "vde"}, "bridge_type=vde: use linux, ovs or auto"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_validate_rejects(params, message):
    with pytest.raises(ContainerNetError) as err:
        validate_params(dict(BASE, **params))
    assert message in str(err.value)


def test_absent_needs_no_address():
    assert validate_params({"bridge": "br1", "state": "absent"})["state"] == "absent"


def test_point_to_point_prefixes_allowed():
    assert validate_params(dict(BASE, address="10.0.0.0/31"))["address"] == "10.0.0.0/31"
    assert validate_params(dict(BASE, address="10.0.0.7/32"))["address"] == "10.0.0.7/32"


def test_bridge_type_auto_follows_pipework():
    assert resolve_bridge_type("ovsbr0", "auto") == "ovs"
    assert resolve_bridge_type("br0", "auto") == "linux"
    assert resolve_bridge_type("ovsbr0", "linux") == "linux"
    assert resolve_bridge_type("br0", "ovs") == "ovs"


def test_names_deterministic_and_short():
    a = host_veth_name("f" * 64, "eth1")
    assert a == host_veth_name("f" * 64, "eth1") and len(a) == 15 and a.startswith("ci")
    assert a != host_veth_name("f" * 64, "eth2") and a != host_veth_name("e" * 64, "eth1")
    t = temp_peer_name("f" * 64, "eth1")
    assert len(t) == 15 and t.startswith("ct") and t[2:] == a[2:]


def test_normalize_mac():
    assert normalize_mac("AA:BB:CC:DD:EE:F0") == "aa:bb:cc:dd:ee:f0"


def test_fresh_container_plan():
    want = want_for(gateway="192.168.10.1", mac="02:42:c0:a8:0a:05")
    have = {"bridge_exists": False, "bridge_mtu": None, "host_veth": None, "temp_peer_exists": False,
            "host_port_bridge": None, "container_if": None, "default_route": None}
    actions, before, after = plan_interface(want, have)
    assert [a[0] for a in actions] == ["create_bridge", "create_veth", "set_mac", "set_mtu", "add_addr", "link_up",
                                       "set_default_route", "set_host_mtu", "set_master", "host_link_up"]
    assert before == {}
    assert after == {"interface": "eth1", "address": "192.168.10.5/24", "mac": "02:42:c0:a8:0a:05", "mtu": 1500,
                     "gateway": "192.168.10.1", "bridge": "br1", "host_interface": want["host_veth"]}
    texts = [describe_action(a, want) for a in actions]
    assert "create linux bridge br1" in texts
    assert "(container) ip route replace default via 192.168.10.1 dev eth1" in texts


def test_converged_is_empty_and_diff_equal():
    want = want_for(gateway="192.168.10.1", mac="02:42:c0:a8:0a:05")
    actions, before, after = plan_interface(want, converged(want))
    assert actions == []
    assert before == after


def test_mtu_defaults_to_bridge_mtu():
    want = want_for()
    have = converged(want, bridge_mtu=1450)
    actions, _b, after = plan_interface(want, have)
    assert ("set_mtu", 1450) in actions and ("set_host_mtu", 1450) in actions and after["mtu"] == 1450


def test_drift_corrected():
    want = want_for(gateway="192.168.10.1", mac="02:42:c0:a8:0a:05")
    have = converged(want)
    have["container_if"].update(addresses=["192.168.10.99/24"], mac="02:00:00:00:00:99", up=False)
    have["default_route"] = {"gateway": "172.17.0.1", "oif": "eth0"}
    have["host_port_bridge"] = None
    actions, before, after = plan_interface(want, have)
    assert actions == [("set_mac", "02:42:c0:a8:0a:05"), ("del_addr", "192.168.10.99/24"),
                       ("add_addr", "192.168.10.5/24"), ("link_up",), ("set_default_route", "192.168.10.1"),
                       ("set_master",)]
    assert before["address"] == "192.168.10.99/24" and before["gateway"] is None
    assert after["address"] == "192.168.10.5/24"


def test_restart_recreates_and_stale_host_end_removed():
    want = want_for()
    have = converged(want, container_if=None, temp_peer_exists=True)   # new netns; host end of a half run
    actions, before, _after = plan_interface(want, have)
    names = [a[0] for a in actions]
    assert names[:3] == ["delete_host_veth", "delete_temp_peer", "create_veth"]
    assert before == {}


def test_foreign_interface_refused():
    want = want_for()
    have = converged(want)
    have["container_if"]["peer_index"] = 99            # a veth, but not paired with our host end
    assert not pair_intact(have)
    with pytest.raises(ContainerNetError) as err:
        plan_interface(want, have)
    assert "already exists in the container and is not ours" in str(err.value)


def test_missing_bridge_without_create():
    want = want_for(create_bridge=False)
    with pytest.raises(ContainerNetError) as err:
        plan_interface(want, converged(want, bridge_exists=False))
    assert "bridge br1 does not exist" in str(err.value)


def test_ovs_ports():
    want = want_for(bridge="ovsbr0")
    assert want["bridge_type"] == "ovs"
    actions, _b, _a = plan_interface(want, converged(want, host_port_bridge="ovsother"))
    assert actions == [("ovs_del_port", "ovsother"), ("ovs_add_port",)]
    assert plan_interface(want, converged(want))[0] == []


def test_absent():
    want = want_for(state="absent")
    want_present = want_for()
    have = converged(want_present)
    actions, before, after = plan_interface(want, have)
    assert actions == [("delete_container_if",)] and after == {} and before["address"] == "192.168.10.5/24"
    assert plan_interface(want, converged(want_present, container_if=None, host_veth=None))[0] == []
    assert plan_interface(want, converged(want_present, container_if=None))[0] == [("delete_host_veth",)]
