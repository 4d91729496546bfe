# -*- coding: utf-8 -*-
"""Unit tests of the packages_missing filter (which packages the host read lacks)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.filter import packages
from ansible_collections.crosshost.network.plugins.filter.packages import packages_missing


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


def test_filter_is_registered():
    assert packages.FilterModule().filters() == {"packages_missing": packages_missing}
