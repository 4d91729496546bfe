# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flannel network configuration: validation, defaults and semantic comparison.

Pure logic, no I/O. The rules mirror flanneld's own checks (pkg/subnet/config.go
in flannel v0.28) so that a config we accept is a config flanneld accepts, and
every rejection names the field, the bad value and the fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json

# Backend types flanneld v0.28 registers on Linux.
BACKEND_TYPES = ('udp', 'vxlan', 'host-gw', 'ipip', 'wireguard', 'ipsec',
                 'alloc', 'extension', 'tencent-vpc')

# Module option name -> flannel JSON key inside "Backend".
BACKEND_OPTION_KEYS = {
    'vni': 'VNI',
    'port': 'Port',
    'direct_routing': 'DirectRouting',
    'mtu': 'MTU',
    'gbp': 'GBP',
    'learning': 'Learning',
}

# Which typed options each backend understands; others use backend.options.
BACKEND_ALLOWED_OPTIONS = {
    'vxlan': ('vni', 'port', 'direct_routing', 'mtu', 'gbp', 'learning'),
    'udp': ('port',),
    'ipip': ('direct_routing',),
    'host-gw': (),
}

# Values flanneld assumes when a key is absent, so that {"Type": "vxlan"} and
# {"Type": "vxlan", "VNI": 1} compare equal. vxlan Port 0 means the kernel
# default, 8472 on Linux.
BACKEND_DEFAULTS = {
    'vxlan': {'VNI': 1, 'Port': 8472, 'GBP': False, 'Learning': False, 'DirectRouting': False},
    'udp': {'Port': 8285},
    'ipip': {'DirectRouting': False},
}

TOP_LEVEL_KEYS = ('Network', 'SubnetLen', 'SubnetMin', 'SubnetMax', 'Backend')

# Keys whose change moves or invalidates every live lease.
LEASE_BREAKING_FIELDS = ('Network', 'SubnetLen', 'Backend.Type')

VNI_MAX = (1 << 24) - 1


class FlannelConfigError(ValueError):
    """A configuration flanneld would reject (or that cannot work)."""


def _canonical_key(key, known):
    """Map a key case-insensitively onto its canonical spelling.

    flanneld decodes JSON with Go's encoding/json, which matches field names
    without regard to case, so "network" and "Network" mean the same thing.
    """
    for name in known:
        if name.lower() == key.lower():
            return name
    return key


def canonicalize(document):
    """Return the document with known keys in canonical case (recursively for Backend)."""
    result = {}
    for key, value in document.items():
        name = _canonical_key(key, TOP_LEVEL_KEYS)
        if name == 'Backend' and isinstance(value, dict):
            backend_keys = ('Type',) + tuple(BACKEND_OPTION_KEYS.values())
            value = dict((_canonical_key(k, backend_keys), v) for k, v in value.items())
        result[name] = value
    return result


def _ipv4_network(field, value):
    try:
        network = ipaddress.ip_network(u'%s' % value, strict=False)
    except ValueError:
        raise FlannelConfigError(
            "%s: %r is not a valid CIDR; give an IPv4 network such as 10.100.0.0/16" % (field, value))
    if '/' not in str(value):
        raise FlannelConfigError(
            "%s: %r has no prefix length; write it as a CIDR such as 10.100.0.0/16" % (field, value))
    if network.version != 4:
        raise FlannelConfigError(
            "%s: %r is IPv6; this module manages IPv4 flannel networks only, give an IPv4 CIDR such as "
            "10.100.0.0/16" % (field, value))
    if network.network_address != ipaddress.ip_interface(u'%s' % value).ip:
        raise FlannelConfigError(
            "%s: %r has host bits set; use the network address %s" % (field, value, network))
    return network


def _ipv4_address(field, value):
    try:
        address = ipaddress.ip_address(u'%s' % value)
    except ValueError:
        raise FlannelConfigError(
            "%s: %r is not an IPv4 address; give the first address of a subnet, such as 10.100.8.0"
            % (field, value))
    if address.version != 4:
        raise FlannelConfigError("%s: %r is IPv6; give an IPv4 address" % (field, value))
    return address


def _int_in_range(field, value, low, high, fix):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise FlannelConfigError("%s: %r is not a whole number; %s" % (field, value, fix))
    if not low <= value <= high:
        raise FlannelConfigError("%s: %d is out of range; %s" % (field, value, fix))
    return value


def default_subnet_len(network):
    """flanneld's default: a /24 per host when Network is a /22 or larger, else prefix+2."""
    if network.prefixlen > 28:
        raise FlannelConfigError(
            "network: %s is too small for flannel (the smallest useful network is a /28); "
            "use a shorter prefix such as /16" % network)
    if network.prefixlen <= 22:
        return 24
    return network.prefixlen + 2


def validate_backend(backend):
    """Check a canonicalized Backend object; return it with Type always set."""
    if backend is None:
        backend = {}
    if not isinstance(backend, dict):
        raise FlannelConfigError("backend: %r is not an object; give e.g. {type: vxlan}" % (backend,))
    backend_type = backend.get('Type')
    if not backend_type:
        raise FlannelConfigError(
            "backend.type: missing; set it explicitly (udp, vxlan, host-gw, ...): flanneld silently "
            "falls back to the slow udp backend when Backend.Type is absent")
    if backend_type not in BACKEND_TYPES:
        raise FlannelConfigError(
            "backend.type: %r is not a flannel backend; choose one of %s"
            % (backend_type, ', '.join(BACKEND_TYPES)))
    if 'VNI' in backend:
        _int_in_range('backend.vni', backend['VNI'], 1, VNI_MAX,
                      'a VXLAN network identifier is 1..%d' % VNI_MAX)
    if 'Port' in backend:
        _int_in_range('backend.port', backend['Port'], 1, 65535, 'a UDP port is 1..65535')
    if 'MTU' in backend:
        _int_in_range('backend.mtu', backend['MTU'], 68, 65535,
                      'an interface MTU is 68..65535 (leave it out to follow the underlay)')
    return backend


def effective_config(document):
    """Validate a flannel config document and fill flanneld's defaults.

    Returns a dict with canonical keys: Network, SubnetLen, SubnetMin, SubnetMax,
    Backend (with its defaults), plus any other keys as given.
    Raises FlannelConfigError naming the field and the fix.
    """
    doc = canonicalize(document)
    if not doc.get('Network'):
        raise FlannelConfigError("network: missing; give the overlay CIDR, such as 10.100.0.0/16")
    network = _ipv4_network('network', doc['Network'])

    if doc.get('SubnetLen'):
        subnet_len = _int_in_range('subnet_len', doc['SubnetLen'], 1, 30,
                                   'each host subnet must be a /30 or larger (SubnetLen <= 30)')
        if subnet_len < network.prefixlen + 2:
            raise FlannelConfigError(
                "subnet_len: %d leaves room for fewer than four subnets in %s; use %d or more "
                "(at least Network prefix + 2)" % (subnet_len, network, network.prefixlen + 2))
    else:
        subnet_len = default_subnet_len(network)
    size = 1 << (32 - subnet_len)

    def bound(field, key, default):
        if not doc.get(key):
            return default
        address = _ipv4_address(field, doc[key])
        if address not in network:
            raise FlannelConfigError(
                "%s: %s is outside network %s; pick an address inside it" % (field, address, network))
        if int(address) % size:
            aligned = ipaddress.ip_address(int(address) - int(address) % size)
            raise FlannelConfigError(
                "%s: %s is not on a /%d boundary; use %s" % (field, address, subnet_len, aligned))
        return address

    subnet_min = bound('subnet_min', 'SubnetMin', network.network_address + size)
    subnet_max = bound('subnet_max', 'SubnetMax', network.broadcast_address + 1 - size)
    if subnet_min > subnet_max:
        raise FlannelConfigError(
            "subnet_min: %s is above subnet_max %s, so no subnet can be leased; swap them or widen the range"
            % (subnet_min, subnet_max))

    backend = validate_backend(doc.get('Backend'))
    full_backend = {'Type': backend['Type']}
    full_backend.update(BACKEND_DEFAULTS.get(backend['Type'], {}))
    full_backend.update(backend)

    effective = dict(doc)
    effective.update({
        'Network': str(network),
        'SubnetLen': subnet_len,
        'SubnetMin': str(subnet_min),
        'SubnetMax': str(subnet_max),
        'Backend': full_backend,
    })
    return effective


def capacity(effective):
    """How many subnets SubnetMin..SubnetMax holds, i.e. how many hosts can get a lease."""
    size = 1 << (32 - effective['SubnetLen'])
    low = int(ipaddress.ip_address(u'%s' % effective['SubnetMin']))
    high = int(ipaddress.ip_address(u'%s' % effective['SubnetMax']))
    return (high - low) // size + 1


def check_capacity(effective, expected_hosts):
    """Fail at plan time where flanneld would fail at run time with "out of subnets"."""
    available = capacity(effective)
    if expected_hosts and available < expected_hosts:
        raise FlannelConfigError(
            "expected_hosts: %d hosts need %d subnets but %s..%s holds only %d /%d subnets "
            "(flanneld would fail with 'out of subnets'); widen network, lower subnet_len or "
            "widen subnet_min/subnet_max"
            % (expected_hosts, expected_hosts, effective['SubnetMin'], effective['SubnetMax'],
               available, effective['SubnetLen']))


def build_document(network, subnet_len=None, subnet_min=None, subnet_max=None,
                   backend_type=None, backend_options=None):
    """The JSON document to store: what the user asked for, Backend.Type always present."""
    document = {'Network': network}
    if subnet_len:
        document['SubnetLen'] = subnet_len
    if subnet_min:
        document['SubnetMin'] = subnet_min
    if subnet_max:
        document['SubnetMax'] = subnet_max
    backend = {'Type': backend_type}
    backend.update(backend_options or {})
    document['Backend'] = backend
    return document


def backend_from_options(backend):
    """Translate the module's backend option dict into flannel's Backend keys."""
    backend = dict(backend or {})
    backend_type = backend.pop('type', None)
    extra = backend.pop('options', None) or {}
    allowed = BACKEND_ALLOWED_OPTIONS.get(backend_type)
    result = {}
    for option, value in sorted(backend.items()):
        if value is None:
            continue
        if allowed is not None and option not in allowed:
            raise FlannelConfigError(
                "backend.%s: not used by the %s backend; remove it (%s understands: %s)"
                % (option, backend_type, backend_type, ', '.join(allowed) or 'no options'))
        result[BACKEND_OPTION_KEYS[option]] = value
    for key, value in extra.items():
        if key.lower() == 'type':
            raise FlannelConfigError("backend.options.%s: set the type with backend.type instead" % key)
        result[key] = value
    return backend_type, result


def _comparable(value):
    """Case-fold object keys recursively: Go's JSON decoder ignores key case."""
    if isinstance(value, dict):
        return dict((k.lower(), _comparable(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def semantically_equal(desired, existing):
    """True when flanneld would read both documents as the same configuration."""
    if existing is None:
        return False
    try:
        want = effective_config(desired)
        have = effective_config(existing)
    except FlannelConfigError:
        return False
    return _comparable(want) == _comparable(have)


def lease_breaking_changes(desired, existing):
    """The LEASE_BREAKING_FIELDS that differ between two effective configs."""
    if existing is None:
        return []
    changes = []
    for field in LEASE_BREAKING_FIELDS:
        if field == 'Backend.Type':
            old, new = existing['Backend'].get('Type'), desired['Backend'].get('Type')
        else:
            old, new = existing.get(field), desired.get(field)
        if old != new:
            changes.append({'field': field, 'before': old, 'after': new})
    return changes


def check_prefix(prefix):
    """Refuse a prefix that flanneld's --etcd-prefix would not take."""
    if not prefix.startswith('/') or prefix != prefix.strip() or prefix.endswith('/') or '//' in prefix:
        raise FlannelConfigError(
            "prefix: %r is not an etcd key prefix like flanneld's --etcd-prefix; write it as "
            "/coreos.com/network (leading slash, no trailing slash)" % prefix)


def parse_lease(key, value, prefix):
    """One lease from `<prefix>/subnets/10.100.15.0-24` and its JSON value."""
    name = key[len(prefix.rstrip('/') + '/subnets/'):]
    subnet = name.replace('-', '/', 1)
    try:
        attrs = json.loads(value) if value else {}
    except ValueError:
        attrs = {}
    if not isinstance(attrs, dict):
        attrs = {}
    return {
        'subnet': subnet,
        'public_ip': attrs.get('PublicIP'),
        'backend_type': attrs.get('BackendType'),
        'backend_data': attrs.get('BackendData'),
    }


def dumps(document):
    """Stable, readable JSON for etcd and for diffs."""
    return json.dumps(document, indent=2, sort_keys=False, separators=(',', ': '))
