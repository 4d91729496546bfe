# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The input checks of the roles, as plain functions (run on the controller by the
crosshost.network.input_checks action).

Each role's checks used to be one assert task per rule: a dozen task rounds per
host and run before anything changes. Here each role is one function that takes
the role's inputs (already templated, plus what only the controller knows: file
checksums, the inventory) and returns the first failure message, in the order and
with the text the assert tasks had, or None. Nothing here touches a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible.module_utils.parsing.convert_bool import boolean

IPV4_CIDR = r'^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$'
IPV4_ADDRESS = r'^([0-9]{1,3}\.){3}[0-9]{1,3}$'
# etcd binds and advertises IP addresses only (v4 octets in range, or anything v6-like).
ETCD_IP = (r'^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$'
           r'|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$')
SHA256_PINNED = r'^sha256:[0-9a-fA-F]{64}$'
ETCD_CHECKSUM = r'^(sha256:)?[0-9a-fA-F]{64}$'
CERT_NAME = r'^[A-Za-z0-9][A-Za-z0-9_.-]*$'
IPTABLES_CHAIN = r'^[A-Za-z0-9_-]{1,28}$'
ADDRESS_WITH_PREFIX = r'^[0-9.]+/[0-9]+$'


def as_bool(value):
    """Ansible's `| bool`: yes/true/on/1 (any case) are true, anything else false."""
    return boolean(value, strict=False)


def matches(pattern, value):
    """Jinja's `value is match(pattern)`: anchored at the start, on the value as text."""
    return value is not None and re.match(pattern, str(value)) is not None


def as_int(value):
    """Ansible's `| int`: 0 when it is not a whole number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def is_list(value):
    return isinstance(value, (list, tuple))


def _bare_checksum(checksum):
    return re.sub(r'^sha256:', '', checksum or '').lower()


def etcd(inputs, groups, inventory_hostname, member_addresses, local_tarball_sha256, ca_files_exist):
    """The etcd role's inputs. `member_addresses` maps each member of the etcd group to
    its etcd_address (or ansible_host, or its name); `ca_files_exist` is (cert, key)."""
    method = inputs['install_method']
    checksum = inputs['checksum'] or ''
    local_tarball = inputs['local_tarball'] or ''
    tarball = method == 'tarball'
    if method not in ('package', 'tarball'):
        return ("etcd_install_method is '%s'; set it to 'package' (distribution package, default) or "
                "'tarball' (upstream release)." % method)
    if tarball and not checksum and not local_tarball:
        return ("etcd_install_method is 'tarball' but etcd_checksum is empty. Set etcd_checksum to the sha256 "
                "of %s as \"sha256:<hex>\" (from upstream's SHA256SUMS), or set etcd_local_tarball to a "
                "tarball on the controller. The role never downloads unverified binaries." % inputs['download_url'])
    if tarball and checksum and not matches(ETCD_CHECKSUM, checksum):
        return "etcd_checksum is '%s'; expected \"sha256:\" followed by 64 hex digits." % checksum
    if tarball and local_tarball:
        if not local_tarball_sha256:
            return ("etcd_local_tarball is '%s' but no such file exists on the controller; fix the path or leave "
                    "it empty to download etcd_download_url." % local_tarball)
        if checksum and local_tarball_sha256 != _bare_checksum(checksum):
            return ("etcd_local_tarball %s has sha256 %s, but etcd_checksum is %s. Fix etcd_checksum or the file."
                    % (local_tarball, local_tarball_sha256, checksum))
    group = inputs['inventory_group']
    if group not in groups or inventory_hostname not in groups[group]:
        return ("%s runs the etcd role but is not in the inventory group etcd_inventory_group='%s' (members: %s). "
                "Add it to that group; the cluster's member list comes from the group."
                % (inventory_hostname, group, list(groups.get(group, []))))
    for member in groups[group]:
        address = str(member_addresses[member])
        if not matches(ETCD_IP, address):
            return ("etcd_address of %s is '%s': etcd binds and advertises IP addresses only. Set etcd_address "
                    "(or ansible_host) of %s to its IPv4/IPv6 address on the member network."
                    % (member, address, member))
    client, peer = as_int(inputs['client_port']), as_int(inputs['peer_port'])
    if not (0 < client < 65536 and 0 < peer < 65536 and client != peer):
        return ("etcd_client_port=%s and etcd_peer_port=%s must be two different TCP ports (defaults 2379 and 2380)."
                % (inputs['client_port'], inputs['peer_port']))
    tls = as_bool(inputs['tls'])
    ca_cert, ca_key = inputs['ca_cert'] or '', inputs['ca_key'] or ''
    if tls and (ca_cert or ca_key) and not (ca_cert and ca_key and all(ca_files_exist)):
        return ("etcd_ca_cert='%s' and etcd_ca_key='%s' must both name existing files on the controller (PEM CA "
                "certificate and its key), or both be empty to let the role create a CA in %s."
                % (ca_cert, ca_key, inputs['pki_local_dir']))
    names = inputs['client_cert_names']
    if tls and (not is_list(names) or not all(matches(CERT_NAME, name) for name in names) or 'ca' in names):
        return ("etcd_client_cert_names is %s: each name becomes <name>.crt/<name>.key in %s; use letters, "
                "digits, '.', '_' and '-' only, and not 'ca'." % (names, inputs['pki_local_dir']))
    return None


def etcd_warnings(inputs, groups):
    group = groups.get(inputs['inventory_group'], [])
    if len(group) == 2:
        return ["the etcd group '%s' has 2 members. A 2-member cluster needs both members for quorum: it "
                "tolerates no failure and is less available than a single member. Use 1, 3 or 5 members."
                % inputs['inventory_group']]
    return []


def flannel(inputs, local_tarball_sha256):
    """The flannel role's inputs up to the network config (checked by flannel_network_config)."""
    backend = inputs['backend']
    if not (isinstance(backend, dict) and backend.get('type', '') in ('vxlan', 'host-gw', 'udp')
            and ('vni' not in backend or backend['type'] == 'vxlan')):
        return ("flannel_backend=%s is not supported by this role: it must be a dict with type vxlan (optional "
                "vni, port, direct_routing), host-gw or udp (optional port), for example {type: vxlan, vni: 1}."
                % (backend,))
    checksum = inputs['checksum'] or ''
    local_tarball = inputs['local_tarball'] or ''
    if not ((local_tarball or matches(SHA256_PINNED, checksum)) and (not checksum or matches(SHA256_PINNED, checksum))):
        return ("flannel_checksum='%s': set it to \"sha256:<64 hex digits>\" of %s (we never guess upstream "
                "checksums), or set flannel_local_tarball to a release tarball on the controller."
                % (checksum, inputs['download_url']))
    if local_tarball:
        if not local_tarball_sha256:
            return ("flannel_local_tarball=%s is not a file on the controller: fix the path, or leave it empty to "
                    "download flannel_download_url." % local_tarball)
        if checksum and local_tarball_sha256 != _bare_checksum(checksum):
            return ("flannel_local_tarball=%s has sha256 %s, but flannel_checksum is %s: use the right tarball or "
                    "fix the checksum." % (local_tarball, local_tarball_sha256, checksum))
    if not (matches(IPV4_CIDR, inputs['network']) and matches(IPV4_ADDRESS, inputs['public_ip'])):
        return ("flannel_network='%s' must be an IPv4 CIDR (e.g. 10.100.0.0/16) and flannel_public_ip='%s' an "
                "IPv4 address (default: ansible_host; set it explicitly when ansible_host is a name)."
                % (inputs['network'], inputs['public_ip']))
    return None


def flannel_endpoints(inputs):
    """The etcd endpoints flanneld will use (checked after the network config, as before)."""
    endpoints = inputs['etcd_endpoints']
    tls = as_bool(inputs['etcd_tls'])
    if not (is_list(endpoints) and endpoints and all(matches(r'^https?://', url) for url in endpoints)
            and (not tls or all(matches(r'^https://', url) for url in endpoints))):
        return ("flannel_etcd_endpoints=%s: need at least one URL (the default comes from group '%s'), all "
                "https:// when flannel_etcd_tls is true." % (endpoints, inputs['etcd_group']))
    return None


def docker(inputs):
    source = inputs['bridge_source']
    bip = inputs['bip']
    fixed_cidr = inputs['fixed_cidr']
    mtu = inputs['mtu']
    if source not in ('flannel', 'static', 'none'):
        return ("docker_bridge_source='%s' must be flannel (follow flanneld's lease), static (docker_bip, "
                "docker_fixed_cidr, docker_mtu) or none." % source)
    if source == 'static' and not (matches(IPV4_CIDR, bip) and (not fixed_cidr or matches(IPV4_CIDR, fixed_cidr))
                                   and (mtu in (None, '') or 68 <= as_int(mtu) <= 65535)):
        return ("docker_bridge_source is static: docker_bip='%s' must be the bridge address with prefix (e.g. "
                "192.168.10.1/24), docker_fixed_cidr='%s' empty or a CIDR inside it, docker_mtu='%s' empty or "
                "68..65535." % (bip, fixed_cidr, mtu))
    if source == 'flannel' and bip:
        return ("docker_bip='%s' is set but docker_bridge_source is flannel, where the bridge address is "
                "flanneld's lease: unset docker_bip or use docker_bridge_source: static." % bip)
    networks = inputs['forward_networks']
    if not (is_list(networks) and all(matches(IPV4_CIDR, network) for network in networks)
            and matches(IPTABLES_CHAIN, inputs['forward_chain'])):
        return ("docker_forward_networks=%s must be a list of IPv4 CIDRs (e.g. ['192.168.10.0/24']) and "
                "docker_forward_chain='%s' an iptables chain name (letters, digits, _ and -, at most 28 "
                "characters)." % (networks, inputs['forward_chain']))
    return None


def pipework_checksum_algorithm(checksum):
    return (checksum or 'sha256:').split(':')[0]


def _pipework_interface_ok(item, default_bridge_type):
    if not isinstance(item, dict):
        return False
    state = item.get('state', 'present')
    return bool(item.get('container', '')) and bool(item.get('bridge', '')) and state in ('present', 'absent') \
        and (state == 'absent' or matches(ADDRESS_WITH_PREFIX, item.get('address', ''))) \
        and item.get('bridge_type', default_bridge_type) in ('auto', 'linux', 'ovs')


def pipework(inputs, local_file_checksum):
    install = as_bool(inputs['install_script'])
    checksum = inputs['checksum'] or ''
    local_file = inputs['local_file'] or ''
    url = inputs['download_url'] or ''
    if install and not ((local_file or url) and (local_file or checksum)
                        and (not checksum or matches(inputs['checksum_pattern'], checksum))):
        return ("pipework_checksum='%s' with pipework_download_url='%s' and pipework_local_file='%s': the script "
                "needs a pinned checksum. Set pipework_checksum to \"sha256:<64 hex digits>\" of the file at "
                "pipework_download_url (we never guess upstream checksums), or set pipework_local_file to a copy "
                "of the script on the controller, or set pipework_install_script=false." % (checksum, url, local_file))
    if install and local_file and (not local_file_checksum or (
            checksum and local_file_checksum != checksum.split(':')[1].lower())):
        return ("pipework_local_file=%s does not match pipework_checksum=%s (found %s): fix the file or the checksum."
                % (local_file, checksum, local_file_checksum or 'no such file on the controller'))
    if install and not matches('^/', inputs['install_path']):
        return ("pipework_install_path='%s' must be an absolute path, e.g. /usr/local/bin/pipework."
                % inputs['install_path'])
    interfaces = inputs['interfaces']
    if not is_list(interfaces):
        return ("pipework_interfaces must be a list of dicts (container, bridge, address, ...), got: %s"
                % (interfaces,))
    for item in interfaces:
        if not _pipework_interface_ok(item, inputs['bridge_type']):
            return ("pipework_interfaces item %s: each item needs container (name or id), bridge and, unless "
                    "state is absent, address as IPv4 CIDR (e.g. 192.168.10.5/24); bridge_type is auto, linux or "
                    "ovs; state is present or absent." % (item,))
    for item in interfaces:
        taken = _taken_on_segment(item, inputs.get('segment_hosts') or [])
        if taken:
            return ("pipework_interfaces item %s: address %s is on the OVS GRE segment %s, %s. Use an address "
                    "outside every host's fixed-cidr and the gateways %s (the slices after the last host's are "
                    "free for static addresses), or another bridge and network."
                    % (item, item['address'], taken[0], taken[1], taken[2]))
    return None


def _taken_on_segment(item, segment_hosts):
    """(segment, what holds the address, gateway range) when a present item's address lies
    in a Docker range or the gateway range of the OVS GRE segment (segment_hosts: the
    ovs_gre_host facts of the segment's hosts), else None."""
    if item.get('state', 'present') != 'present' or not segment_hosts:
        return None
    try:
        address = ipaddress.ip_interface(u'%s' % item['address']).ip
        segment = ipaddress.ip_network(u'%s' % segment_hosts[0]['segment'])
    except (KeyError, ValueError):
        return None
    if address not in segment:
        return None
    gateways = segment_hosts[0]['gateway_range']
    first, last = [ipaddress.ip_address(u'%s' % end) for end in gateways.split('-')]
    if address in (segment.network_address, segment.broadcast_address):
        return str(segment), 'its network or broadcast address', gateways
    if first <= address <= last:
        return str(segment), 'in the range of the hosts\' bridge addresses (Docker\'s bip)', gateways
    for host in segment_hosts:
        if address in ipaddress.ip_network(u'%s' % host['fixed_cidr']):
            return (str(segment), "inside %s's Docker range %s (Docker there may hand it to a container)"
                    % (host['host'], host['fixed_cidr']), gateways)
    return None
