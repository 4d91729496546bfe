# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the flannel role: flanneld's config rules, on the controller.

The same validation the flannel_config module runs on the host (module_utils
flannel_network), available before anything changes anywhere, so a bad network
or a capacity smaller than the host count stops a whole run at preflight.
The documentation of each filter is in the YAML file named after it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.module_utils.flannel_network import (
    FlannelConfigError, backend_from_options, build_document, capacity, check_capacity, effective_config)


def flannel_network_config(network, subnet_len=None, subnet_min=None, subnet_max=None, backend=None,
                           expected_hosts=None):
    """flanneld's effective config (defaults filled) plus Capacity; fails like the module would."""
    options = dict(backend or {'type': 'vxlan'})
    try:
        backend_type, backend_options = backend_from_options(options)
        effective = effective_config(build_document(network, subnet_len or None, subnet_min or None,
                                                    subnet_max or None, backend_type, backend_options))
        check_capacity(effective, int(expected_hosts or 0))
    except FlannelConfigError as e:
        raise AnsibleFilterError("flannel: %s" % e)
    except (KeyError, TypeError, ValueError) as e:
        raise AnsibleFilterError("flannel: invalid backend %r (%s); give e.g. {type: vxlan, vni: 1}" % (backend, e))
    effective['Capacity'] = capacity(effective)
    return effective


# Interfaces that flannel itself addresses inside its network: flannel.<VNI> (vxlan)
# and flannel0 (udp).
FLANNEL_INTERFACE_PREFIXES = ('flannel.', 'flannel0')


def _interface_networks(facts):
    """(interface, CIDR) for every IPv4 address in gathered facts (primary and secondaries)."""
    for name in facts.get('interfaces', []):
        interface = facts.get(name.replace('-', '_').replace('.', '_').replace(':', '_')) or {}
        addresses = [interface.get('ipv4')] + list(interface.get('ipv4_secondaries') or [])
        for address in addresses:
            if address and address.get('address') and (address.get('prefix') or address.get('netmask')):
                cidr = '%s/%s' % (address['address'], address.get('prefix') or address['netmask'])
                yield interface.get('device', name), ipaddress.ip_interface(cidr).network


def flannel_network_conflicts(network, facts, subnet_len=None, lease_bridges=('docker0', 'cni0')):
    """Host networks that overlap the flannel network, as "interface CIDR" strings.

    `facts` are a host's gathered facts (ansible_facts). flannel's own interfaces
    never conflict, and neither does a container bridge (`lease_bridges`) holding
    exactly one lease-sized subnet of the flannel network (docker0 on its lease
    after an earlier run). Anything else overlapping (the underlay, Docker's
    default 172.17.0.0/16 bridge, another network) breaks routing on that host.
    """
    try:
        flannel = ipaddress.ip_network(network, strict=False)
    except ValueError as e:
        raise AnsibleFilterError("flannel: flannel_network %r is not an IPv4 CIDR (%s)" % (network, e))
    lease_len = int(subnet_len or 0) or None
    conflicts = []
    for name, host_network in _interface_networks(facts or {}):
        if host_network.version != 4 or not host_network.overlaps(flannel):
            continue
        if name.startswith(FLANNEL_INTERFACE_PREFIXES):
            continue
        if name in lease_bridges and host_network.subnet_of(flannel) and host_network.prefixlen == lease_len:
            continue
        conflicts.append('%s %s' % (name, host_network))
    return conflicts


class FilterModule(object):
    """crosshost.network flannel filters."""

    def filters(self):
        return {"flannel_network_config": flannel_network_config,
                "flannel_network_conflicts": flannel_network_conflicts}
