# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the ovs_gre_host_range filter (pure address arithmetic)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import itertools

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.crosshost.network.plugins.filter import ovs_gre
from ansible_collections.crosshost.network.plugins.filter.ovs_gre import ovs_gre_host_range


def all_ranges(hosts, segment="192.168.10.0/24", prefix=None):
    return [ovs_gre_host_range(hosts, h, segment, prefix) for h in hosts]


def test_three_hosts_default_segment():
    got = all_ranges(["lab1", "lab2", "lab3"])
    assert [r["bip"] for r in got] == ["192.168.10.1/24", "192.168.10.2/24", "192.168.10.3/24"]
    assert [r["fixed_cidr"] for r in got] == ["192.168.10.64/26", "192.168.10.128/26", "192.168.10.192/26"]
    assert got[0]["prefix"] == 26 and got[0]["count"] == 3 and got[0]["gateway_range"] == "192.168.10.1-192.168.10.3"


def test_two_hosts_leave_a_free_slice_and_fix_the_seed():
    a, b = all_ranges(["hostA", "hostB"])
    # the seed gave docker0 .1/24 and .2/24 and let both Dockers allocate from the whole /24
    assert (a["bip"], b["bip"]) == ("192.168.10.1/24", "192.168.10.2/24")
    assert (a["fixed_cidr"], b["fixed_cidr"]) == ("192.168.10.64/26", "192.168.10.128/26")


def test_one_host():
    r = ovs_gre_host_range(["only"], "only")
    assert r["bip"] == "192.168.10.1/24" and r["fixed_cidr"] == "192.168.10.128/25" and r["index"] == 0


def test_order_is_sorted_and_stable():
    one = ovs_gre_host_range(["c", "a", "b", "a"], "b")
    two = ovs_gre_host_range(("b", "c", "a"), "b")
    assert one == two and one["index"] == 1 and one["count"] == 3


@pytest.mark.parametrize("count,segment", [(1, "10.0.0.0/24"), (3, "192.168.10.0/24"), (7, "192.168.10.0/24"),
                                           (30, "192.168.10.0/24"), (60, "10.1.0.0/16"), (3, "172.16.0.0/28")])
def test_ranges_disjoint_and_gateways_outside(count, segment):
    hosts = ["h%02d" % i for i in range(count)]
    got = all_ranges(hosts, segment)
    net = ipaddress.ip_network(segment)
    addresses = [ipaddress.ip_address(r["address"]) for r in got]
    cidrs = [ipaddress.ip_network(r["fixed_cidr"]) for r in got]
    assert len(set(addresses)) == count
    for r in got:
        bip = ipaddress.ip_interface(r["bip"])
        assert bip.network == net and bip.ip != net.network_address and bip.ip != net.broadcast_address
    for x, y in itertools.combinations(cidrs, 2):
        assert not x.overlaps(y)
    for c in cidrs:
        assert c.subnet_of(net)
        assert not any(a in c for a in addresses)


def test_explicit_prefix_keeps_ranges_when_hosts_are_added():
    before = ovs_gre_host_range(["a", "b"], "b", prefix=27)
    after = ovs_gre_host_range(["a", "b", "c", "d"], "b", "192.168.10.0/24", "27")
    assert before["fixed_cidr"] == after["fixed_cidr"] == "192.168.10.64/27"
    assert before["bip"] == after["bip"] == "192.168.10.2/24"


def test_many_gateways_need_more_than_one_slice():
    hosts = ["h%02d" % i for i in range(40)]
    got = all_ranges(hosts, "10.0.0.0/24")  # 41 addresses (network + gateways) fill more than one slice
    cidrs = [ipaddress.ip_network(r["fixed_cidr"]) for r in got]
    assert all(c.prefixlen == got[0]["prefix"] for c in cidrs)
    assert min(int(c.network_address) for c in cidrs) > int(ipaddress.ip_address(got[-1]["address"]))


@pytest.mark.parametrize("hosts,host,segment,prefix,match", [
    (["a"] * 1 + ["h%d" % i for i in range(63)], "a", "192.168.10.0/24", None, "too small"),
    (["a", "b", "c"], "a", "192.168.10.0/24", 25, "holds 2 slices of /25"),
    (["a"], "a", "192.168.10.0/24", 24, "must be longer"),
    (["a"], "a", "192.168.10.0/24", 31, "at most /30"),
    (["a"], "a", "192.168.10.0/24", "x", "not an integer"),
    (["a"], "b", "192.168.10.0/24", None, "not in the host list"),
    (["a"], "a", "192.168.10.1/24", None, "no host bits"),
    (["a"], "a", "fd00::/64", None, "IPv6"),
    (["a"], "a", "nonsense", None, "not an IPv4 network"),
    ("a", "a", "192.168.10.0/24", None, "list of host names"),
    ([], "a", "192.168.10.0/24", None, "empty"),
])
def test_errors(hosts, host, segment, prefix, match):
    with pytest.raises(AnsibleFilterError, match=match):
        ovs_gre_host_range(hosts, host, segment, prefix)


def test_filter_module_exports():
    assert ovs_gre.FilterModule().filters() == {"ovs_gre_host_range": ovs_gre_host_range}
