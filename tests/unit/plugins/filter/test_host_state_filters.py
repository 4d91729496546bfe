# -*- coding: utf-8 -*-
"""Unit tests of the filters on the host read: packages_missing (which packages it lacks) and
files_in_place (whether an install step would change nothing)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.filter import host_state
from ansible_collections.crosshost.network.plugins.filter.host_state import files_in_place, packages_missing


def test_lists_only_the_names_the_read_lacks_in_input_order():
    state = {"packages": ["etcd-server", "iproute2", "docker.io"]}
    assert packages_missing(["docker.io", "containerd", "iproute2", "ethtool"], state) == ["containerd", "ethtool"]


def test_nothing_missing_gives_an_empty_list():
    assert packages_missing(["docker.io"], {"packages": ["docker.io", "containerd"]}) == []
    assert packages_missing([], {"packages": []}) == []


@pytest.mark.parametrize("state", [None, {}, {"packages": None}, {"units": {}}])
def test_without_a_package_list_every_name_is_missing(state):
    assert packages_missing(["docker.io", "containerd"], state) == ["docker.io", "containerd"]


@pytest.mark.parametrize("names", ["docker.io", None, 3])
def test_input_that_is_not_a_list_is_refused(names):
    with pytest.raises(AnsibleFilterError, match="list of package names"):
        packages_missing(names, {"packages": []})


def test_a_host_state_that_is_not_a_mapping_is_refused():
    with pytest.raises(AnsibleFilterError, match="crosshost_host_state"):
        packages_missing(["docker.io"], ["docker.io"])


def test_filters_are_registered():
    assert host_state.FilterModule().filters() == {"packages_missing": packages_missing,
                                                   "files_in_place": files_in_place}


DIGEST = "ab" * 32
SCRIPT = {"type": "file", "mode": "0755", "uid": 0, "gid": 0, "sha256": DIGEST, "link": None}
LINK = {"type": "link", "mode": "0777", "uid": 0, "gid": 0, "sha256": None, "link": "/opt/flannel/v1/flanneld"}
STATE = {"files": {"/usr/local/bin/pipework": SCRIPT, "/usr/local/bin/flanneld": LINK,
                   "/opt/flannel/v1/flanneld": dict(SCRIPT, sha256="cd" * 32), "/opt/gone": None}}


@pytest.mark.parametrize("expected", [
    [{"path": "/usr/local/bin/pipework", "checksum": "sha256:" + DIGEST, "mode": "0755", "uid": 0, "gid": 0}],
    [{"path": "/usr/local/bin/pipework", "checksum": DIGEST.upper()}],
    [{"path": "/usr/local/bin/pipework", "checksum": "", "mode": "755"}],
    [{"path": "/usr/local/bin/flanneld", "link": "/opt/flannel/v1/flanneld"},
     {"path": "/opt/flannel/v1/flanneld", "type": "file"}],
    [],
])
def test_files_as_described_are_in_place(expected):
    assert files_in_place(STATE, expected) is True


@pytest.mark.parametrize("expected", [
    [{"path": "/usr/local/bin/pipework", "checksum": "sha256:" + "00" * 32}],
    [{"path": "/usr/local/bin/pipework", "checksum": "sha512:" + DIGEST}],
    [{"path": "/usr/local/bin/pipework", "mode": "0644"}],
    [{"path": "/usr/local/bin/pipework", "uid": 1000}],
    [{"path": "/usr/local/bin/pipework", "gid": 1000}],
    [{"path": "/usr/local/bin/flanneld", "link": "/opt/flannel/v2/flanneld"}],
    [{"path": "/usr/local/bin/flanneld", "checksum": DIGEST}],
    [{"path": "/usr/local/bin/pipework", "link": "/opt/flannel/v1/flanneld"}],
    [{"path": "/usr/local/bin/flanneld", "type": "file"}],
    [{"path": "/opt/gone"}],
    [{"path": "/not/read"}],
    [{"path": "/usr/local/bin/pipework"}, {"path": "/opt/gone"}],
])
def test_any_difference_or_unknown_is_not_in_place(expected):
    assert files_in_place(STATE, expected) is False


@pytest.mark.parametrize("state", [None, {}, {"files": None}, {"skipped": True}])
def test_without_a_file_read_nothing_is_in_place(state):
    assert files_in_place(state, [{"path": "/usr/local/bin/pipework"}]) is False


@pytest.mark.parametrize("expected, message", [
    ("/usr/local/bin/pipework", "list of"),
    ([{"checksum": DIGEST}], "needs a path"),
    ([{"path": "/x", "owner": "root"}], "may have only"),
    (["/x"], "needs a path"),
])
def test_bad_expectations_are_refused(expected, message):
    with pytest.raises(AnsibleFilterError, match=message):
        files_in_place(STATE, expected)


def test_a_files_in_place_state_that_is_not_a_mapping_is_refused():
    with pytest.raises(AnsibleFilterError, match="crosshost_host_state"):
        files_in_place(["x"], [])
