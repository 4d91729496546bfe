# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers for the host_state module: `systemctl show` of several units and
`dpkg-query --show` of the installed packages (pure functions, unit-tested)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
