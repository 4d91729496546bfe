# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # etcd connection options, shared by the modules of the crosshost.network.etcd
    # action group (set them once with module_defaults: group/crosshost.network.etcd).
    DOCUMENTATION = r'''
attributes:
  action_group:
    description: Use C(group/crosshost.network.etcd) in O(ignore:module_defaults) to set etcd connection options once.
    support: full
    membership:
      - crosshost.network.etcd
options:
  endpoints:
    description:
      - etcd client URLs, tried in order. The first one that answers is used, so one
        dead member does not fail the task.
      - Use C(https://) URLs when etcd serves TLS.
    type: list
    elements: str
    default: ['http://127.0.0.1:2379']
  api_version:
    description:
      - etcd API to use. flanneld v0.18 and newer reads only the C(v3) API; C(v2) is
        for older flanneld and needs etcd started with C(--enable-v2).
      - C(v3) talks to etcd's JSON gateway (C(/v3/kv/...)), so the managed host needs
        no etcd Python library.
    type: str
    default: v3
    choices: [v3, v2]
  ca_cert:
    description: CA certificate file that signed etcd's server certificate.
    type: path
  client_cert:
    description: Client certificate file for etcd's mutual TLS. Requires O(client_key).
    type: path
  client_key:
    description: Private key file of O(client_cert).
    type: path
  ca_cert_content:
    description:
      - The CA certificate as PEM text, instead of O(ca_cert), for a host that does not
        hold the file yet (for example C(lookup('file', ...)) on the controller).
      - It is written to a private temporary file only while the TLS context loads it.
    type: str
  client_cert_content:
    description: The client certificate as PEM text, instead of O(client_cert).
    type: str
  client_key_content:
    description:
      - The private key of the client certificate as PEM text, instead of O(client_key).
        Never logged.
    type: str
  validate_certs:
    description: Verify etcd's server certificate. Only turn this off in throw-away labs.
    type: bool
    default: true
  username:
    description: etcd user, when etcd has authentication enabled.
    type: str
  password:
    description: Password of O(username).
    type: str
  timeout:
    description: Seconds to wait for each etcd request before trying the next endpoint.
    type: float
    default: 5.0
'''
