# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for the host_state module: `systemctl show` of several units,
`dpkg-query --show` of the installed packages, and what a path holds (unit-tested)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.crosshost.network.plugins.module_utils.files import file_digest

# One `systemctl show` for every unit: these properties, printed per unit.
UNIT_PROPERTIES = ('ActiveState', 'UnitFileState')
DPKG_FORMAT = '${db:Status-Status} ${Package}\\n'


def systemctl_show_argv(systemctl, units):
    return [systemctl, 'show', '--property=' + ','.join(UNIT_PROPERTIES), '--'] + list(units)


def parse_unit_states(output, units):
    """{unit: {active_state, unit_file_state}} from `systemctl show` of `units`.

    systemctl prints one block of KEY=value lines per unit, in the order the units
    were given, with an empty line between blocks. A unit that does not exist has
    ActiveState=inactive and an empty UnitFileState."""
    blocks = output.strip('\n').split('\n\n') if output.strip() else []
    if len(blocks) != len(units):
        raise ValueError('systemctl show printed %d blocks for %d units: %r' % (len(blocks), len(units), output))
    states = {}
    for unit, block in zip(units, blocks):
        values = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        states[unit] = {'active_state': values.get('ActiveState', ''),
                        'unit_file_state': values.get('UnitFileState', '')}
    return states


def parse_installed_packages(output):
    """Names of the installed packages from `dpkg-query --show` with DPKG_FORMAT."""
    return [line.split(' ', 1)[1] for line in output.splitlines() if line.startswith('installed ')]


def describe_path(path):
    """What is at `path`, without following a last symbolic link; None when nothing is.

    {type: file | directory | link | other, mode: "0755", uid, gid, sha256 (regular
    files, else None), link (a link's target, else None)}: enough for the roles to tell
    that an install step would change nothing (filter files_in_place)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(info.st_mode):
        kind = 'link'
    elif stat.S_ISREG(info.st_mode):
        kind = 'file'
    elif stat.S_ISDIR(info.st_mode):
        kind = 'directory'
    else:
        kind = 'other'
    return {'type': kind,
            'mode': '%04o' % stat.S_IMODE(info.st_mode),
            'uid': info.st_uid,
            'gid': info.st_gid,
            'sha256': file_digest(path) if kind == 'file' else None,
            'link': os.readlink(path) if kind == 'link' else None}
