#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: flannel_lease
short_description: Release the flannel subnet leases of a host in etcd
version_added: 0.1.0
description:
  - flanneld keeps a host's subnet lease (C(<prefix>/subnets/<subnet>)) across restarts
    and never gives it back. A host taken out of the fabric holds its subnet until the
    lease's etcd TTL runs out (24 hours), and meanwhile the other hosts keep their routes
    and vxlan entries towards it, and no new host can lease that subnet.
  - With O(state=absent) this module deletes every lease whose C(PublicIP) is one of
    O(public_ips). Each delete succeeds only when the lease has not changed since it was
    read again just before it, and only while it still names one of those addresses.
    The other hosts' flanneld see the delete and remove their routes to that subnet.
  - Stop flanneld on that host first; a running flanneld takes a lease again at once.
    C(playbooks/reset.yml) does both (the flannel role's C(flannel_reset_release_lease)).
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
  public_ips:
    description:
      - The host's addresses as flanneld announces them (C(PublicIP) in the lease, the address
        of C(--iface) or C(--public-ip)). Leases of other addresses are never touched.
    type: list
    elements: str
    required: true
  prefix:
    description: flanneld's C(--etcd-prefix).
    type: str
    default: /coreos.com/network
  state:
    description: V(absent) releases the leases. Creating a lease is flanneld's job.
    type: str
    default: absent
    choices: [absent]
'''

EXAMPLES = r'''
- name: Stop flanneld on the host that leaves the fabric
  ansible.builtin.systemd_service:
    name: flanneld
    state: stopped

- name: Give its subnet back
  crosshost.network.flannel_lease:
    public_ips: ["{{ ansible_facts['default_ipv4']['address'] }}"]
    endpoints: [https://192.168.122.11:2379]
    ca_cert: /etc/flannel/pki/ca.crt
    client_cert: /etc/flannel/pki/flannel.crt
    client_key: /etc/flannel/pki/flannel.key
'''

RETURN = r'''
released:
  description: The leases deleted (or that would be, in check mode), as in RV(leases).
  returned: always
  type: list
  elements: dict
  sample: [{"subnet": "10.100.15.0/24", "public_ip": "192.168.122.13", "backend_type": "vxlan",
            "backend_data": {"VNIReserved": 1, "VtepMAC": "8a:2e:7b:1e:5c:01"}}]
leases:
  description: Every lease under C(<prefix>/subnets/) before the call.
  returned: always
  type: list
  elements: dict
endpoint:
  description: The etcd endpoint that answered.
  returned: success
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.crosshost.network.plugins.module_utils.etcd import (
    EtcdError, etcd_argument_spec, etcd_client)
from ansible_collections.crosshost.network.plugins.module_utils.flannel_network import (
    FlannelConfigError, check_prefix, parse_lease)


def lease_lines(leases):
    return ''.join('%s %s\n' % (lease['subnet'], lease['public_ip']) for lease in leases)


def main():
    spec = etcd_argument_spec()
    spec.update(public_ips=dict(type='list', elements='str', required=True),
                prefix=dict(type='str', default='/coreos.com/network'),
                state=dict(type='str', default='absent', choices=['absent']))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    result = dict(changed=False, released=[], leases=[])
    if not [ip for ip in params['public_ips'] if ip]:
        module.fail_json(msg="public_ips: give the host's address as flanneld announces it (PublicIP of its lease)")
    subnets_prefix = params['prefix'] + '/subnets/'
    try:
        check_prefix(params['prefix'])
        client = etcd_client(params)
        keyed = [(key, parse_lease(key, value, params['prefix'])) for key, value in client.get_prefix(subnets_prefix)]
    except (FlannelConfigError, EtcdError) as e:
        module.fail_json(msg=str(e), **result)
    result.update(endpoint=client.endpoint, leases=[lease for _key, lease in keyed])
    mine = [(key, lease) for key, lease in keyed if lease['public_ip'] in params['public_ips']]
    result['released'] = [lease for _key, lease in mine]
    result['changed'] = bool(mine)
    if mine and module._diff:
        kept = [lease for _key, lease in keyed if lease['public_ip'] not in params['public_ips']]
        result['diff'] = dict(before=lease_lines(result['leases']), after=lease_lines(kept),
                              before_header=subnets_prefix, after_header=subnets_prefix)
    if mine and not module.check_mode:
        try:
            for key, _lease in mine:
                # Deleted only at the revision read here, and only while it still names
                # one of these addresses (another host may have leased the subnet since).
                value, revision = client.get(key)
                if value is not None and parse_lease(key, value, params['prefix'])['public_ip'] in params['public_ips']:
                    client.delete(key, revision)
        except EtcdError as e:
            module.fail_json(msg=str(e), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
