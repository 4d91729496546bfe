# -*- coding: utf-8 -*-
# Copyright (c) crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters on the run's first host read (crosshost_host_state): which of a role's
packages it did not find installed. The etcd, docker, ovs_gre and pipework roles skip
their os_packages include when this list is empty. The documentation of each filter is
in the YAML file named after it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def packages_missing(names, host_state=None):
    """The names that host_state's package list lacks; all of them when there is no list.

    No list (no host read in this run, a role used on its own, or an OS family dpkg does
    not serve) means "not known to be installed": the caller installs them.
    """
    if isinstance(names, (str, bytes)) or not hasattr(names, '__iter__'):
        raise AnsibleFilterError("packages_missing: input must be a list of package names, got %r" % (names,))
    if host_state is not None and not isinstance(host_state, dict):
        raise AnsibleFilterError("packages_missing: the argument must be the host read (crosshost_host_state),"
                                 " a mapping with a 'packages' list, got %r" % (host_state,))
    known = set((host_state or {}).get('packages') or ())
    return [name for name in names if name not in known]


class FilterModule(object):
    """crosshost.network filters on the run's host read."""

    def filters(self):
        return {'packages_missing': packages_missing}
