"""Pure logic of flannel config validation, defaults and comparison."""
import pytest

from ansible_collections.crosshost.network.plugins.module_utils.flannel_network import (
    FlannelConfigError, backend_from_options, build_document, capacity, check_capacity,
    effective_config, lease_breaking_changes, parse_lease, semantically_equal)


@pytest.mark.parametrize("network,subnet_len,first,last", [
    ("10.100.0.0/16", 24, "10.100.1.0", "10.100.255.0"),   # /22 or larger: a /24 per host
    ("10.100.0.0/22", 24, "10.100.1.0", "10.100.3.0"),
    ("10.100.0.0/23", 25, "10.100.0.128", "10.100.1.128"),  # smaller: prefix + 2
    ("10.100.0.0/28", 30, "10.100.0.4", "10.100.0.12"),
])
def test_defaults_match_flanneld(network, subnet_len, first, last):
    config = effective_config({"Network": network, "Backend": {"Type": "vxlan"}})
    assert (config["SubnetLen"], config["SubnetMin"], config["SubnetMax"]) == (subnet_len, first, last)


def test_capacity_counts_inclusive_range():
    config = effective_config({"Network": "10.0.0.0/16", "SubnetMin": "10.0.10.0",
                               "SubnetMax": "10.0.19.0", "Backend": {"Type": "udp"}})
    assert capacity(config) == 10
    check_capacity(config, 10)
    with pytest.raises(FlannelConfigError, match="out of subnets"):
        check_capacity(config, 11)


def test_backend_defaults_are_filled():
    config = effective_config({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}})
    assert config["Backend"] == {"Type": "vxlan", "VNI": 1, "Port": 8472, "GBP": False,
                                 "Learning": False, "DirectRouting": False}


def test_missing_backend_type_is_refused():
    with pytest.raises(FlannelConfigError, match="falls back to the slow udp"):
        effective_config({"Network": "10.0.0.0/16", "Backend": {}})


@pytest.mark.parametrize("a,b,equal", [
    ({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}},
     {"network": "10.0.0.0/16", "backend": {"type": "vxlan", "vni": 1, "Port": 8472}}, True),
    ({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}},
     {"Network": "10.0.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan"}}, True),
    ({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}},
     {"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan", "VNI": 2}}, False),
    ({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}},
     {"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}, "EnableNFTables": True}, False),
    ({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}}, {"Network": "garbage"}, False),
    ({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}}, None, False),
])
def test_semantic_equality(a, b, equal):
    assert semantically_equal(a, b) is equal


def test_lease_breaking_changes_lists_each_field():
    old = effective_config({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan"}})
    new = effective_config({"Network": "10.1.0.0/16", "SubnetLen": 25, "Backend": {"Type": "host-gw"}})
    fields = [change["field"] for change in lease_breaking_changes(new, old)]
    assert fields == ["Network", "SubnetLen", "Backend.Type"]
    assert lease_breaking_changes(new, None) == []
    same_leases = effective_config({"Network": "10.0.0.0/16", "Backend": {"Type": "vxlan", "VNI": 4}})
    assert lease_breaking_changes(same_leases, old) == []


def test_backend_options_translate_to_flannel_keys():
    backend_type, options = backend_from_options(
        {"type": "vxlan", "vni": 4, "port": 4789, "direct_routing": True, "mtu": None, "options": None})
    assert backend_type == "vxlan"
    assert options == {"VNI": 4, "Port": 4789, "DirectRouting": True}
    assert build_document("10.0.0.0/16", backend_type=backend_type, backend_options=options) == {
        "Network": "10.0.0.0/16", "Backend": {"Type": "vxlan", "VNI": 4, "Port": 4789, "DirectRouting": True}}


def test_backend_passthrough_options_for_other_backends():
    backend_type, options = backend_from_options({"type": "wireguard", "options": {"PSK": "x", "ListenPort": 51820}})
    assert options == {"PSK": "x", "ListenPort": 51820}
    with pytest.raises(FlannelConfigError, match="backend.type instead"):
        backend_from_options({"type": "wireguard", "options": {"Type": "udp"}})


def test_parse_lease():
    lease = parse_lease("/coreos.com/network/subnets/10.100.15.0-24",
                        '{"PublicIP": "192.0.2.1", "BackendType": "vxlan", "BackendData": {"VNI": 1}}',
                        "/coreos.com/network")
    assert lease == {"subnet": "10.100.15.0/24", "public_ip": "192.0.2.1", "backend_type": "vxlan",
                     "backend_data": {"VNI": 1}}
    assert parse_lease("/p/subnets/10.1.2.0-24", "not json", "/p")["public_ip"] is None
