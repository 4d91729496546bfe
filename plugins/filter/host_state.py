# -*- coding: utf-8 -*-
# Copyright (c) crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters on the run's first host read (crosshost_host_state): which of a role's
packages it did not find installed (the etcd, docker, ovs_gre and pipework roles skip
their os_packages include when this list is empty), and whether the files an install
step leaves are all in place (the flannel and pipework roles skip the step then). The
documentation of each filter is in the YAML file named after it.
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


FILE_EXPECTATIONS = ('path', 'type', 'checksum', 'mode', 'uid', 'gid', 'link')


def _sha256_of(checksum):
    """The sha256 hex a pinned checksum names ("sha256:<hex>" or bare hex); None for another algorithm."""
    algorithm, _sep, digest = str(checksum).strip().rpartition(':')
    return digest.lower() if algorithm.lower() in ('', 'sha256') else None


def _file_matches(found, wanted):
    if not found:
        return False
    checksum = wanted.get('checksum') or ''
    if checksum:
        sha256 = _sha256_of(checksum)
        if found.get('type') != 'file' or sha256 is None or found.get('sha256') != sha256:
            return False
    if wanted.get('link') is not None and (found.get('type') != 'link' or found.get('link') != wanted['link']):
        return False
    if wanted.get('type') is not None and found.get('type') != wanted['type']:
        return False
    if wanted.get('mode') is not None and int(str(found.get('mode')), 8) != int(str(wanted['mode']), 8):
        return False
    return all(wanted.get(key) is None or int(found.get(key, -1)) == int(wanted[key]) for key in ('uid', 'gid'))


def files_in_place(host_state, expected):
    """Whether the host read found every file of `expected` as described there.

    Only a proof counts: a path the read did not cover, a missing file, a checksum of
    another algorithm than sha256 (the read hashes with sha256) or any difference gives
    False, and the caller runs its install step, which decides for itself.
    """
    if host_state is not None and not isinstance(host_state, dict):
        raise AnsibleFilterError("files_in_place: the input must be the host read (crosshost_host_state), a "
                                 "mapping with a 'files' mapping, got %r" % (host_state,))
    if isinstance(expected, (str, bytes)) or not hasattr(expected, '__iter__'):
        raise AnsibleFilterError("files_in_place: the argument must be a list of {path, ...}, got %r" % (expected,))
    found = (host_state or {}).get('files') or {}
    for wanted in expected:
        if not isinstance(wanted, dict) or not wanted.get('path') or set(wanted) - set(FILE_EXPECTATIONS):
            raise AnsibleFilterError("files_in_place: each item needs a path and may have only %s, got %r"
                                     % (', '.join(FILE_EXPECTATIONS), wanted))
        if not _file_matches(found.get(wanted['path']), wanted):
            return False
    return True


class FilterModule(object):
    """crosshost.network filters on the run's host read."""

    def filters(self):
        return {'packages_missing': packages_missing, 'files_in_place': files_in_place}
