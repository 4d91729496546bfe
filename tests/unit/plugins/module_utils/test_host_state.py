# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the host_state parsers (systemctl show, dpkg-query) and describe_path."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

import pytest

from ansible_collections.crosshost.network.plugins.module_utils.host_state import (
    describe_path, parse_installed_packages, parse_unit_states, systemctl_show_argv)

UNITS = ["etcd.service", "flanneld.service", "nosuch.service"]
# systemd prints the properties in its own order, one block per unit in argument order.
SHOW = ("ActiveState=active\nUnitFileState=enabled\n\n"
        "UnitFileState=disabled\nActiveState=inactive\n\n"
        "ActiveState=inactive\nUnitFileState=\n")


def test_argv_asks_both_properties_of_every_unit():
    assert systemctl_show_argv("/bin/systemctl", UNITS) == [
        "/bin/systemctl", "show", "--property=ActiveState,UnitFileState", "--"] + UNITS


def test_unit_states_follow_the_argument_order():
    assert parse_unit_states(SHOW, UNITS) == {
        "etcd.service": {"active_state": "active", "unit_file_state": "enabled"},
        "flanneld.service": {"active_state": "inactive", "unit_file_state": "disabled"},
        "nosuch.service": {"active_state": "inactive", "unit_file_state": ""},
    }


def test_a_value_with_an_equals_sign_is_kept_whole():
    states = parse_unit_states("ActiveState=active\nUnitFileState=a=b\n", ["x.service"])
    assert states["x.service"]["unit_file_state"] == "a=b"


@pytest.mark.parametrize("output", ["", "ActiveState=active\nUnitFileState=enabled\n"])
def test_a_block_count_that_does_not_match_the_units_is_an_error(output):
    with pytest.raises(ValueError, match="blocks for 3 units"):
        parse_unit_states(output, UNITS)


def test_installed_packages_only():
    output = ("installed etcd-server\nconfig-files docker.io\nnot-installed iperf3\n"
              "installed python3-openvswitch\nhalf-installed x\n")
    assert parse_installed_packages(output) == ["etcd-server", "python3-openvswitch"]


def test_describe_path_of_a_file_a_link_a_directory_and_nothing(tmp_path):
    script = tmp_path / "pipework"
    script.write_bytes(b"#!/bin/sh\n")
    os.chmod(str(script), 0o750)
    link = tmp_path / "flanneld"
    os.symlink(str(script), str(link))
    described = describe_path(str(script))
    assert described == {"type": "file", "mode": "0750", "uid": os.getuid(), "gid": os.getgid(),
                         "sha256": hashlib.sha256(b"#!/bin/sh\n").hexdigest(), "link": None}
    # A link is described, not followed.
    assert describe_path(str(link))["type"] == "link"
    assert describe_path(str(link))["link"] == str(script)
    assert describe_path(str(link))["sha256"] is None
    assert describe_path(str(tmp_path))["type"] == "directory"
    assert describe_path(str(tmp_path / "missing")) is None
    # A dangling link is still something at the path.
    os.symlink(str(tmp_path / "missing"), str(tmp_path / "dangling"))
    assert describe_path(str(tmp_path / "dangling"))["link"] == str(tmp_path / "missing")
