# -*- coding: utf-8 -*-
# Copyright (c) crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the ovs_gre role: per-host address ranges on the shared container segment.

The documentation of each filter is in the YAML file named after it
(plugins/filter/ovs_gre_host_range.yml).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible-core (plain unit tests)
    class AnsibleFilterError(Exception):
        pass

# Smallest slice handed to one host's Docker (a /30 holds 2 usable addresses).
MAX_SLICE_PREFIX = 30


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return u"%s" % (value,)


def _segment(segment):
    try:
        net = ipaddress.ip_network(_text(segment), strict=True)
    except ValueError as exc:
        raise AnsibleFilterError(
            "ovs_gre_host_range: segment %r is not an IPv4 network (%s); give one like 192.168.10.0/24"
            " with no host bits set (ovs_gre_segment)" % (segment, exc))
    if net.version != 4:
        raise AnsibleFilterError(
            "ovs_gre_host_range: segment %r is IPv6; Docker's bip/fixed-cidr plan supports IPv4 only"
            " (ovs_gre_segment)" % (segment,))
    return net


def _hosts(hosts):
    if isinstance(hosts, (str, bytes)) or not hasattr(hosts, "__iter__"):
        raise AnsibleFilterError(
            "ovs_gre_host_range: input must be the list of host names (for example groups['ovs_gre']),"
            " got %r" % (hosts,))
    names = sorted(set(_text(h) for h in hosts))
    if not names:
        raise AnsibleFilterError("ovs_gre_host_range: the host list is empty (is the group ovs_gre empty?)")
    return names


def _auto_prefix(net, count):
    """Smallest slice prefix (largest slices) that fits the gateway slice(s) and one slice per host."""
    for prefix in range(net.prefixlen + 1, MAX_SLICE_PREFIX + 1):
        size = 2 ** (32 - prefix)
        # the gateway slices hold the network address plus one gateway per host
        gw_slices = -(-(count + 1) // size)
        if gw_slices + count <= 2 ** (prefix - net.prefixlen):
            return prefix, gw_slices
    return None, None


def plan(hosts, segment="192.168.10.0/24", prefix=None):
    """Range of every host: dict host name -> range dict (see ovs_gre_host_range)."""
    net = _segment(segment)
    names = _hosts(hosts)
    count = len(names)
    if prefix in (None, "", 0, "0"):
        slice_prefix, gw_slices = _auto_prefix(net, count)
        if slice_prefix is None:
            raise AnsibleFilterError(
                "ovs_gre_host_range: segment %s is too small for %d hosts (each host needs a gateway address"
                " and its own slice of at least /%d): use a larger ovs_gre_segment"
                % (net, count, MAX_SLICE_PREFIX))
    else:
        try:
            slice_prefix = int(prefix)
        except (TypeError, ValueError):
            raise AnsibleFilterError("ovs_gre_host_range: prefix %r is not an integer (ovs_gre_host_prefix)" % (prefix,))
        if not net.prefixlen < slice_prefix <= MAX_SLICE_PREFIX:
            raise AnsibleFilterError(
                "ovs_gre_host_range: prefix /%d must be longer than the segment's /%d and at most /%d"
                " (ovs_gre_host_prefix)" % (slice_prefix, net.prefixlen, MAX_SLICE_PREFIX))
        size = 2 ** (32 - slice_prefix)
        gw_slices = -(-(count + 1) // size)
        if gw_slices + count > 2 ** (slice_prefix - net.prefixlen):
            raise AnsibleFilterError(
                "ovs_gre_host_range: segment %s holds %d slices of /%d; %d hosts need %d (%d for the gateways,"
                " one per host): use a longer ovs_gre_host_prefix or a larger ovs_gre_segment"
                % (net, 2 ** (slice_prefix - net.prefixlen), slice_prefix, count, gw_slices + count, gw_slices))
    slices = list(net.subnets(new_prefix=slice_prefix))
    base = int(net.network_address)
    result = {}
    for index, name in enumerate(names):
        address = ipaddress.IPv4Address(base + 1 + index)
        fixed = slices[gw_slices + index]
        result[name] = {
            "host": name,
            "index": index,
            "count": count,
            "segment": str(net),
            "address": str(address),
            "bip": "%s/%d" % (address, net.prefixlen),
            "fixed_cidr": str(fixed),
            "prefix": slice_prefix,
            "gateway_range": "%s-%s" % (ipaddress.IPv4Address(base + 1), ipaddress.IPv4Address(base + count)),
        }
    return result


def ovs_gre_host_range(hosts, host, segment="192.168.10.0/24", prefix=None):
    """Bridge address (bip) and Docker fixed-cidr of one host on the shared segment."""
    ranges = plan(hosts, segment, prefix)
    name = _text(host)
    if name not in ranges:
        raise AnsibleFilterError(
            "ovs_gre_host_range: host %r is not in the host list %s; apply it to the group the host"
            " belongs to (ovs_gre_group)" % (name, sorted(ranges)))
    return ranges[name]


class FilterModule(object):
    """crosshost.network ovs_gre filters."""

    def filters(self):
        return {"ovs_gre_host_range": ovs_gre_host_range}
