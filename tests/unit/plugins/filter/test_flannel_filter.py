"""The flannel_network_config filter: the module's rules, on the controller."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.filter.flannel import flannel_network_config


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
