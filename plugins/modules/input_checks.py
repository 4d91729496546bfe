#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name, on the controller; this
# file holds its documentation.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: input_checks
short_description: Check one role's inputs on the controller, in one task
description:
  - Checks the inputs of one of the collection's roles (O(role)) before anything changes on any
    host, and fails with the first problem found. The message names the variable and the fix.
  - The roles call it from their validation step and C(playbooks/preflight.yml) through them;
    it replaces one assert task per rule, so a run spends one task round on the checks of a role
    instead of a dozen.
  - Runs on the controller only. It reads files there (checksums of air-gapped artifacts,
    a user-provided CA) and the inventory (the etcd group and its members' addresses).
version_added: 0.1.0
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: It changes nothing, so it runs the same way in check mode.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  role:
    description: The role whose inputs are checked.
    type: str
    required: true
    choices: [etcd, flannel, docker, pipework]
  inputs:
    description:
      - The role's variables, by their names without the role prefix, for example
        C(install_method) for C(etcd_install_method). Each role's C(tasks/validate.yml)
        (C(tasks/assert.yml) for etcd) lists the ones it passes.
    type: dict
    required: true
notes:
  - The checks are the same as flanneld's and the roles' own rules; the flannel network
    config is checked with the filter P(crosshost.network.flannel_network_config#filter).
"""

EXAMPLES = r"""
- name: Check the Docker inputs
  crosshost.network.input_checks:
    role: docker
    inputs:
      bridge_source: "{{ docker_bridge_source }}"
      bip: "{{ docker_bip }}"
      fixed_cidr: "{{ docker_fixed_cidr }}"
      mtu: "{{ docker_mtu }}"
      forward_networks: "{{ docker_forward_networks }}"
      forward_chain: "{{ docker_forward_chain }}"
"""

RETURN = r"""
msg:
  description: The first problem found, or that the inputs are valid.
  returned: always
  type: str
  sample: "docker_bridge_source='dhcp' must be flannel (follow flanneld's lease), static (...) or none."
effective_config:
  description:
    - For O(role=flannel), flanneld's effective network config (defaults filled in) with
      C(Capacity), the number of subnets the network holds.
  returned: success and O(role=flannel)
  type: dict
  sample: {"Network": "10.100.0.0/16", "SubnetLen": 24, "SubnetMin": "10.100.1.0",
           "SubnetMax": "10.100.255.0", "Backend": {"Type": "vxlan", "VNI": 1}, "Capacity": 255}
"""
