#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: flannel_config
short_description: Ensure flannel's network configuration in etcd
version_added: 0.1.0
description:
  - Ensures the flannel network configuration JSON at C(<prefix>/config) in etcd,
    through etcd's v3 API (the only one flanneld v0.18 and newer reads) or, on
    request, the legacy v2 API.
  - Validates the configuration the way flanneld does before anything is written
    and fills the same defaults, so a bad network is refused at plan time rather
    than by flanneld on every host.
  - Compares semantically. Key order, whitespace, key case and values equal to
    flanneld's defaults do not count as changes.
  - Reads the live subnet leases under C(<prefix>/subnets/) and refuses a change of
    C(Network), C(SubnetLen) or C(Backend.Type) while leases exist, because every
    flanneld and Docker would have to restart and re-lease. O(force=true) allows it.
  - Writes with an etcd compare-and-swap, so a concurrent change is detected
    instead of overwritten.
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - crosshost.network.etcd
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  network:
    description:
      - The overlay network in CIDR notation, from which every host leases a subnet.
      - Required when O(state=present). IPv4 only.
    type: str
  subnet_len:
    description:
      - Prefix length of each host's subnet. Defaults (as in flanneld) to 24 when
        O(network) is a /22 or larger, otherwise to the network prefix + 2.
      - At most 30, and at least the network prefix + 2 (four subnets).
    type: int
  subnet_min:
    description:
      - First subnet that may be leased; inside O(network) and aligned to
        O(subnet_len). Defaults to the second subnet of the network.
    type: str
  subnet_max:
    description:
      - Last subnet that may be leased; inside O(network) and aligned to
        O(subnet_len). Defaults to the last subnet of the network.
    type: str
  backend:
    description:
      - The flannel backend. C(Backend.Type) is always written, because flanneld
        silently falls back to the slow C(udp) backend when it is absent.
    type: dict
    default: {type: vxlan}
    suboptions:
      type:
        description:
          - Backend type. C(vxlan) and C(host-gw) keep the data path in the kernel;
            C(udp) runs it in user space and is much slower; C(host-gw) needs all hosts on
            one L2 segment.
        type: str
        required: true
        choices: [udp, vxlan, host-gw, ipip, wireguard, ipsec, alloc, extension, tencent-vpc]
      vni:
        description: VXLAN network identifier (vxlan, 1 to 16777215; flanneld's default is 1).
        type: int
      port:
        description: UDP port (vxlan, kernel default 8472; udp, default 8285).
        type: int
      direct_routing:
        description: Use direct routes between hosts on the same subnet (vxlan, ipip).
        type: bool
      mtu:
        description: MTU of the vxlan device; leave unset to follow the underlay.
        type: int
      gbp:
        description: VXLAN Group Based Policy (vxlan).
        type: bool
      learning:
        description: VXLAN learning mode (vxlan).
        type: bool
      options:
        description:
          - Further keys for C(Backend), written as given (for example C(PSK) and
            C(ListenPort) of the wireguard backend).
        type: dict
  prefix:
    description:
      - etcd key prefix, the same as flanneld's C(--etcd-prefix). Distribution packages
        of flannel often use C(/atomic.io/network).
    type: str
    default: /coreos.com/network
  state:
    description: Whether the configuration should exist.
    type: str
    default: present
    choices: [present, absent]
  force:
    description:
      - Allow changes that orphan live leases (O(network), O(subnet_len), O(backend.type))
        and removing the configuration while leases exist.
      - After such a change every flanneld and then every Docker daemon must restart.
    type: bool
    default: false
  expected_hosts:
    description:
      - Number of hosts that will run flanneld. Fails when the range
        O(subnet_min)..O(subnet_max) cannot hold that many leases (flanneld's run-time
        "out of subnets" failure, caught at plan time).
    type: int
notes:
  - The module talks to etcd over HTTP(S) from the managed host; it needs no Python
    library beyond Ansible's own.
seealso:
  - name: flannel configuration reference
    description: The fields of flannel's network configuration.
    link: https://github.com/flannel-io/flannel/blob/master/Documentation/configuration.md
'''

EXAMPLES = r'''
- name: Flannel network with the vxlan backend (etcd on the same host, plain HTTP lab)
  crosshost.network.flannel_config:
    network: 10.100.0.0/16
    backend:
      type: vxlan
      vni: 1
  run_once: true

- name: Production etcd with TLS, two endpoints for failover, capacity check
  crosshost.network.flannel_config:
    network: 10.100.0.0/16
    subnet_len: 24
    backend:
      type: host-gw
    endpoints:
      - https://10.0.0.11:2379
      - https://10.0.0.12:2379
    ca_cert: /etc/flannel/pki/ca.crt
    client_cert: /etc/flannel/pki/client.crt
    client_key: /etc/flannel/pki/client.key
    expected_hosts: "{{ groups['flannel'] | length }}"
  run_once: true

- name: Share etcd connection options through module_defaults
  module_defaults:
    group/crosshost.network.etcd:
      endpoints: ["https://10.0.0.11:2379"]
      ca_cert: /etc/flannel/pki/ca.crt
  block:
    - name: Ensure the config
      crosshost.network.flannel_config:
        network: 10.100.0.0/16

- name: Old flanneld (before v0.18) reads the v2 API
  crosshost.network.flannel_config:
    network: 10.100.0.0/16
    backend:
      type: udp
    api_version: v2
    prefix: /atomic.io/network
'''

RETURN = r'''
config:
  description: The effective configuration, with flanneld's defaults filled in.
  returned: when state is present
  type: dict
  sample:
    Network: 10.100.0.0/16
    SubnetLen: 24
    SubnetMin: 10.100.1.0
    SubnetMax: 10.100.255.0
    Backend: {Type: vxlan, VNI: 1, Port: 8472, GBP: false, Learning: false, DirectRouting: false}
document:
  description: The JSON document stored (or to be stored) at C(<prefix>/config).
  returned: when state is present
  type: dict
  sample: {Network: 10.100.0.0/16, Backend: {Type: vxlan}}
capacity:
  description: How many host subnets the range SubnetMin..SubnetMax holds.
  returned: when state is present
  type: int
  sample: 255
leases:
  description: The live subnet leases under C(<prefix>/subnets/).
  returned: always
  type: list
  elements: dict
  sample:
    - {subnet: 10.100.15.0/24, public_ip: 192.168.122.11, backend_type: vxlan,
       backend_data: {VNI: 1, VtepMAC: "6a:5e:1f:0c:7d:11"}}
lease_breaking_changes:
  description: Changes of Network, SubnetLen or Backend.Type against the stored config.
  returned: always
  type: list
  elements: dict
  sample: [{field: Backend.Type, before: vxlan, after: host-gw}]
endpoint:
  description: The etcd endpoint that answered.
  returned: always
  type: str
  sample: https://10.0.0.11:2379
in_sync:
  description:
    - Whether etcd already held the wanted state before the call (the same config, compared
      semantically, or no config for O(state=absent)). Also in check mode, where C(changed)
      says what would change; a role can skip a later write when a dry run found it in sync.
  returned: success
  type: bool
  sample: true
key:
  description: The etcd key of the configuration.
  returned: always
  type: str
  sample: /coreos.com/network/config
'''

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.crosshost.network.plugins.module_utils.etcd import (
    EtcdError, etcd_argument_spec, etcd_client)
from ansible_collections.crosshost.network.plugins.module_utils.flannel_network import (
    BACKEND_TYPES, FlannelConfigError, backend_from_options, build_document, capacity,
    check_capacity, check_prefix, dumps, effective_config, lease_breaking_changes, parse_lease,
    semantically_equal)


def argument_spec():
    spec = etcd_argument_spec()
    spec.update(
        network=dict(type='str'),
        subnet_len=dict(type='int'),
        subnet_min=dict(type='str'),
        subnet_max=dict(type='str'),
        backend=dict(type='dict', default={'type': 'vxlan'}, options=dict(
            type=dict(type='str', required=True, choices=list(BACKEND_TYPES)),
            vni=dict(type='int'),
            port=dict(type='int'),
            direct_routing=dict(type='bool'),
            mtu=dict(type='int'),
            gbp=dict(type='bool'),
            learning=dict(type='bool'),
            options=dict(type='dict'),
        )),
        prefix=dict(type='str', default='/coreos.com/network'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        force=dict(type='bool', default=False),
        expected_hosts=dict(type='int'),
    )
    return spec


def desired_document(params):
    """The document the user asked for, validated; raises FlannelConfigError."""
    if not params['network']:
        raise FlannelConfigError("network: missing; give the overlay CIDR, such as 10.100.0.0/16")
    if params['expected_hosts'] is not None and params['expected_hosts'] < 1:
        raise FlannelConfigError("expected_hosts: %d is not a host count; give 1 or more"
                                 % params['expected_hosts'])
    backend_type, backend_options = backend_from_options(params['backend'])
    document = build_document(params['network'], params['subnet_len'], params['subnet_min'],
                              params['subnet_max'], backend_type, backend_options)
    effective = effective_config(document)
    check_capacity(effective, params['expected_hosts'])
    return document, effective


def parse_stored(text):
    """The stored document, or None when absent or not a JSON object."""
    if text is None:
        return None
    try:
        stored = json.loads(text)
    except ValueError:
        return None
    return stored if isinstance(stored, dict) else None


def stored_effective(stored):
    try:
        return effective_config(stored) if stored else None
    except FlannelConfigError:
        return None


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[('state', 'present', ('network',))])
    params = module.params
    key = params['prefix'] + '/config'
    result = dict(changed=False, key=key, leases=[], lease_breaking_changes=[], endpoint=None)

    try:
        check_prefix(params['prefix'])
        if params['state'] == 'present':
            document, effective = desired_document(params)
            result.update(document=document, config=effective, capacity=capacity(effective))
        client = etcd_client(params)
        stored_text, revision = client.get(key)
        leases = [parse_lease(k, v, params['prefix'])
                  for k, v in client.get_prefix(params['prefix'] + '/subnets/')]
    except (FlannelConfigError, EtcdError) as e:
        module.fail_json(msg=str(e), **result)
    result.update(endpoint=client.endpoint, leases=leases)
    stored = parse_stored(stored_text)

    if params['state'] == 'present':
        result['in_sync'] = semantically_equal(document, stored)
        if result['in_sync']:
            module.exit_json(**result)
        before = stored_effective(stored)
        breaking = lease_breaking_changes(effective, before)
        result['lease_breaking_changes'] = breaking
        if breaking and leases and not params['force']:
            module.fail_json(msg="refusing to change %s of %s while %d hosts hold leases (%s): every "
                                 "flanneld and Docker would have to restart and re-lease. Set force: true "
                                 "to change it anyway, then restart flanneld and Docker on every host"
                             % (', '.join('%s %s -> %s' % (c['field'], c['before'], c['after']) for c in breaking),
                                key, len(leases), ', '.join(lease['subnet'] for lease in leases)), **result)
        old_backend = (before or {}).get('Backend', {})
        old_vni = old_backend.get('VNI')
        # Only a vxlan -> vxlan change of VNI leaves a stale flannel.<old VNI> behind;
        # a backend change is reported through lease_breaking_changes instead.
        if leases and old_backend.get('Type') == 'vxlan' == effective['Backend'].get('Type') \
                and old_vni != effective['Backend'].get('VNI'):
            module.warn("VNI changes from %s: flanneld leaves a stale flannel.%s interface on each host; "
                        "delete it after restarting flanneld" % (old_vni, old_vni))
        new_text = dumps(document)
    else:
        result['in_sync'] = stored_text is None
        if result['in_sync']:
            module.exit_json(**result)
        if leases and not params['force']:
            module.fail_json(msg="refusing to delete %s while %d hosts hold leases (%s); stop flanneld "
                                 "on those hosts first or set force: true"
                             % (key, len(leases), ', '.join(lease['subnet'] for lease in leases)), **result)
        new_text = None

    result['changed'] = True
    if module._diff:
        result['diff'] = dict(before=stored_text + '\n' if stored_text is not None else '',
                              after=new_text + '\n' if new_text is not None else '',
                              before_header=key, after_header=key)
    if not module.check_mode:
        try:
            if new_text is None:
                client.delete(key, revision)
            else:
                client.put(key, new_text, revision)
        except EtcdError as e:
            module.fail_json(msg=str(e), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
