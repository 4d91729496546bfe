"""The flannel filters: the module's rules, and host network overlaps, on the controller."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.filter.flannel import (
    flannel_network_config, flannel_network_conflicts)


def test_defaults_and_capacity():
    config = flannel_network_config("10.100.0.0/16", backend={"type": "host-gw"}, expected_hosts=3)
    assert config["SubnetLen"] == 24 and config["Capacity"] == 255
    assert config["Backend"] == {"Type": "host-gw"}


@pytest.mark.parametrize("args,message", [
    ((("10.100.0.0/24",), {"subnet_len": 26, "expected_hosts": 4}), "expected_hosts: 4 hosts need 4 subnets"),
    ((("10.100.0.0",), {}), "has no prefix length"),
    ((("10.100.0.0/16",), {"backend": {"type": "vxlan", "vni": 0}}), "backend.vni: 0 is out of range"),
    ((("10.100.0.0/16",), {"backend": {"type": "host-gw", "port": 1}}), "not used by the host-gw backend"),
    ((("10.100.0.0/16",), {"backend": {"vni": 1}}), "backend.type: missing"),
])
def test_errors_carry_the_module_message(args, message):
    positional, named = args
    with pytest.raises(AnsibleFilterError, match=message):
        flannel_network_config(*positional, **named)


def host_facts(**interfaces):
    """Gathered-facts shape: interface names plus one ansible_<name> entry each."""
    facts = {"interfaces": list(interfaces)}
    for name, addresses in interfaces.items():
        primary, secondaries = addresses[0], addresses[1:]
        address, prefix = primary.split("/")
        facts[name.replace(".", "_").replace("-", "_")] = {
            "device": name,
            "ipv4": {"address": address, "prefix": prefix},
            "ipv4_secondaries": [{"address": a.split("/")[0], "prefix": a.split("/")[1]} for a in secondaries],
        }
    return facts


LAB_HOST = host_facts(**{"lo": ["127.0.0.1/8"], "host0": ["192.168.150.11/24"], "docker0": ["172.17.0.1/16"]})


@pytest.mark.parametrize("network,expected", [
    ("10.100.0.0/16", []),
    ("192.168.0.0/16", ["host0 192.168.150.0/24"]),             # holds the underlay
    ("192.168.150.128/25", ["host0 192.168.150.0/24"]),         # inside the underlay
    ("172.17.0.0/16", ["docker0 172.17.0.0/16"]),               # Docker's default bridge
    ("172.16.0.0/12", ["docker0 172.17.0.0/16"]),
])
def test_conflicts_with_host_networks(network, expected):
    assert flannel_network_conflicts(network, LAB_HOST, 24) == expected


def test_flannel_interfaces_and_docker0_on_its_lease_do_not_conflict():
    converged = host_facts(**{"host0": ["192.168.150.11/24"], "flannel.1": ["10.100.5.0/32"],
                              "flannel0": ["10.100.5.0/16"], "docker0": ["10.100.5.1/24"]})
    assert flannel_network_conflicts("10.100.0.0/16", converged, 24) == []
    # docker0 holding a range other than a lease is not flannel's doing.
    assert flannel_network_conflicts("10.100.0.0/16", converged, 26) == ["docker0 10.100.5.0/24"]
    # An underlay inside the flannel network conflicts even when it is lease-sized.
    assert flannel_network_conflicts("192.168.0.0/16", converged, 24) == ["host0 192.168.150.0/24"]


def test_secondary_addresses_count():
    facts = host_facts(eth0=["192.168.150.11/24", "10.100.7.1/24"])
    assert flannel_network_conflicts("10.100.0.0/16", facts, 28) == ["eth0 10.100.7.0/24"]


def test_conflicts_reject_a_bad_network():
    with pytest.raises(AnsibleFilterError, match="flannel_network 'nope' is not an IPv4 CIDR"):
        flannel_network_conflicts("nope", LAB_HOST, 24)
