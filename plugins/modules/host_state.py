#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_state
short_description: Read systemd units, paths, files and installed packages in one call
description:
  - Reads, without changing anything, the state of several systemd units (one C(systemctl show)),
    whether some paths exist, what some files are (type, mode, owner, sha256, a link's target),
    and the list of installed packages (one C(dpkg-query)); optionally the host's facts too, as
    M(ansible.builtin.setup) gathers them.
  - The roles decide from it whether to install, start, enable or bootstrap. Each read is one
    module run on the host; asking for everything a run needs in one call saves a round trip
    per item. C(playbooks/tasks/facts.yml) gathers the facts and reads the installed packages
    once per run in one call, and under C(playbooks/site.yml) also the units the flannel and
    docker roles start and the files the flannel and pipework roles install.
version_added: 0.1.0
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
    details: It only reads, so it runs the same way in check mode.
  facts:
    support: full
    details: With O(gather_subset), it returns the facts of those subsets.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  gather_subset:
    description:
      - Also gather these facts, with the same collectors and subset rules as
        M(ansible.builtin.setup) (for example V(["!all", "!min", "network"])), and return them as
        host facts. One module run instead of two, when a play needs both.
      - Empty (the default) gathers no facts.
    type: list
    elements: str
    default: []
  units:
    description: systemd units to read, with their suffix (for example V(etcd.service)).
    type: list
    elements: str
    default: []
  paths:
    description: Paths whose existence to report.
    type: list
    elements: path
    default: []
  files:
    description:
      - Paths to describe. A regular file is hashed (sha256), so name installed files, not data
        directories. C(playbooks/site.yml) reads the files its roles install (the flanneld release,
        the pipework script) at the start of the run, and the roles skip an install step that
        would change nothing (filter P(crosshost.network.files_in_place#filter)).
    type: list
    elements: path
    default: []
  packages:
    description:
      - Also return the installed packages. Debian and Ubuntu (C(dpkg-query)) only; elsewhere
        RV(packages) is V(null).
    type: bool
    default: false
requirements:
  - systemd (C(systemctl)) when O(units) is not empty.
"""

EXAMPLES = r"""
- name: Read whether etcd runs, is enabled and holds member data
  crosshost.network.host_state:
    units: [etcd.service]
    paths: [/var/lib/etcd/default/member]
  register: etcd_state

- name: Bootstrap only a member without data
  ansible.builtin.debug:
    msg: "{{ etcd_state.units['etcd.service'].active_state }}"
  when: not etcd_state.paths['/var/lib/etcd/default/member']
"""

RETURN = r"""
ansible_facts:
  description: The facts of O(gather_subset), named as M(ansible.builtin.setup) names them; empty without it.
  returned: always
  type: dict
  sample: {"os_family": "Debian", "architecture": "x86_64"}
units:
  description: Per unit of O(units), its C(ActiveState) and C(UnitFileState) (empty when there is no such unit file).
  returned: always
  type: dict
  sample: {"etcd.service": {"active_state": "active", "unit_file_state": "enabled"}}
paths:
  description: Per path of O(paths), whether it exists.
  returned: always
  type: dict
  sample: {"/var/lib/etcd/default/member": true}
files:
  description:
    - Per path of O(files), V(null) when nothing is there, else its C(type) (V(file), V(directory),
      V(link) or V(other); a link is not followed), C(mode) (four octal digits), C(uid), C(gid),
      C(sha256) (regular files, else V(null)) and C(link) (a link's target, else V(null)).
  returned: always
  type: dict
  sample: {"/usr/local/bin/flanneld": {"type": "link", "mode": "0777", "uid": 0, "gid": 0, "sha256": null,
           "link": "/opt/flannel/v0.28.9/flanneld"}}
packages:
  description: The names of the installed packages, when O(packages) is set and the host has C(dpkg-query); else V(null).
  returned: always
  type: list
  elements: str
  sample: [etcd-server, docker.io]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facts import ansible_collector, default_collectors
from ansible.module_utils.facts.namespace import PrefixFactNamespace

from ansible_collections.crosshost.network.plugins.module_utils.host_state import (
    DPKG_FORMAT, describe_path, parse_installed_packages, parse_unit_states, systemctl_show_argv)


def read_units(module, units):
    if not units:
        return {}
    systemctl = module.get_bin_path('systemctl', required=True)
    rc, out, err = module.run_command(systemctl_show_argv(systemctl, units))
    if rc != 0:
        module.fail_json(msg="`systemctl show` of %s failed (rc %d): %s. Is systemd the init system on this host?"
                         % (', '.join(units), rc, err.strip()))
    try:
        return parse_unit_states(out, units)
    except ValueError as e:
        module.fail_json(msg=str(e))


def read_packages(module):
    dpkg_query = module.get_bin_path('dpkg-query')
    if not dpkg_query:
        return None
    rc, out, err = module.run_command([dpkg_query, '--show', '--showformat=' + DPKG_FORMAT])
    if rc != 0:
        module.fail_json(msg="dpkg-query --show failed (rc %d): %s" % (rc, err.strip()))
    return parse_installed_packages(out)


def gather_facts(module, subset):
    """The facts of `subset`, collected the way ansible.builtin.setup collects them."""
    if not subset:
        return {}
    try:
        collector = ansible_collector.get_ansible_collector(
            all_collector_classes=default_collectors.collectors,
            namespace=PrefixFactNamespace(namespace_name='ansible', prefix='ansible_'),
            gather_subset=subset, gather_timeout=10)
    except Exception as e:  # unknown subset names and dependency errors of the collectors
        module.fail_json(msg="gather_subset: %s; use the subset names of ansible.builtin.setup" % e)
    return collector.collect(module=module)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather_subset=dict(type='list', elements='str', default=[]),
            units=dict(type='list', elements='str', default=[]),
            paths=dict(type='list', elements='path', default=[]),
            files=dict(type='list', elements='path', default=[]),
            packages=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    module.exit_json(
        changed=False,
        ansible_facts=gather_facts(module, params['gather_subset']),
        units=read_units(module, params['units']),
        paths=dict((path, os.path.exists(path)) for path in params['paths']),
        files=dict((path, describe_path(path)) for path in params['files']),
        packages=read_packages(module) if params['packages'] else None,
    )


if __name__ == '__main__':
    main()
