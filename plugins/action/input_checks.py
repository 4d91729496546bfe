# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action for crosshost.network.input_checks: a role's input checks in one task on the
controller. The rules and their messages are in plugin_utils/input_checks.py; this
file adds what only the controller knows (file checksums, the inventory)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.plugins.action import ActionBase

from ansible_collections.crosshost.network.plugins.filter.files import file_checksum
from ansible_collections.crosshost.network.plugins.filter.flannel import flannel_network_config
from ansible_collections.crosshost.network.plugins.plugin_utils import input_checks

ROLES = ('etcd', 'flannel', 'docker', 'pipework')


def _controller_checksum(path, algorithm='sha256'):
    """The file_checksum filter (the roles' checks used it); '' also for an unknown
    algorithm, which the checksum format check then reports."""
    try:
        return file_checksum(path, algorithm)
    except AnsibleFilterError:
        return ''


def _member_address(hostvars, member):
    """What etcd binds for a member: etcd_address, else ansible_host, else the name."""
    member_vars = hostvars[member]
    for name in ('etcd_address', 'ansible_host'):
        if name in member_vars and member_vars[name] is not None:
            return member_vars[name]
    return member


class ActionModule(ActionBase):
    """Checks one role's inputs; fails with the first problem, changes nothing anywhere."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        result['changed'] = False
        role = self._task.args.get('role')
        inputs = self._task.args.get('inputs') or {}
        if role not in ROLES:
            return dict(result, failed=True, msg="input_checks: role=%r; use one of %s" % (role, ', '.join(ROLES)))
        try:
            message, returned, warnings = getattr(self, '_check_' + role)(inputs, task_vars)
        except KeyError as err:
            return dict(result, failed=True, msg="input_checks: role %s needs input %s" % (role, err))
        if warnings:
            result['warnings'] = warnings
        if message:
            return dict(result, failed=True, msg=message)
        result.update(returned or {})
        result['msg'] = 'the %s inputs are valid' % role
        return result

    @staticmethod
    def _check_etcd(inputs, task_vars):
        groups = task_vars.get('groups', {})
        host = task_vars.get('inventory_hostname')
        members = groups.get(inputs['inventory_group'], [])
        hostvars = task_vars.get('hostvars', {})
        addresses = dict((member, _member_address(hostvars, member)) for member in members)
        sha256 = _controller_checksum(inputs['local_tarball']) if inputs['install_method'] == 'tarball' else ''
        ca_files = (os.path.isfile(str(inputs['ca_cert'] or '')), os.path.isfile(str(inputs['ca_key'] or '')))
        message = input_checks.etcd(inputs, groups, host, addresses, sha256, ca_files)
        # Printed by the first member only, like a run_once task.
        warnings = input_checks.etcd_warnings(inputs, groups) if members and members[0] == host else []
        return message, None, warnings

    @staticmethod
    def _check_flannel(inputs, task_vars):
        message = input_checks.flannel(inputs, _controller_checksum(inputs['local_tarball']))
        if message:
            return message, None, []
        try:
            # flanneld's own rules and the capacity for the hosts (the filter the role used).
            effective = flannel_network_config(
                inputs['network'], subnet_len=inputs['subnet_len'], subnet_min=inputs['subnet_min'],
                subnet_max=inputs['subnet_max'], backend=inputs['backend'],
                expected_hosts=input_checks.as_int(inputs['expected_hosts']))
        except AnsibleError as err:
            return str(err), None, []
        return input_checks.flannel_endpoints(inputs), {'effective_config': effective}, []

    @staticmethod
    def _check_docker(inputs, task_vars):
        return input_checks.docker(inputs), None, []

    @staticmethod
    def _check_pipework(inputs, task_vars):
        checksum = ''
        if input_checks.as_bool(inputs['install_script']) and inputs['local_file']:
            algorithm = input_checks.pipework_checksum_algorithm(inputs['checksum'])
            checksum = _controller_checksum(inputs['local_file'], algorithm)
        return input_checks.pipework(inputs, checksum), None, []
