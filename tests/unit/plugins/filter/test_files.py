# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the file_checksum filter (controller files)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.filter import files
from ansible_collections.crosshost.network.plugins.filter.files import file_checksum


def test_digest_of_a_file_larger_than_one_read(tmp_path):
    data = bytes(range(256)) * (1024 * 1024 // 256 * 3 + 7)  # three reads and a bit
    path = tmp_path / "release.tar.gz"
    path.write_bytes(data)
    assert file_checksum(str(path)) == hashlib.sha256(data).hexdigest()


def test_empty_file_has_the_empty_digest(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert file_checksum(str(path)) == hashlib.sha256(b"").hexdigest()


def test_missing_path_directory_and_empty_input_give_empty_string(tmp_path):
    assert file_checksum(str(tmp_path / "nope")) == ""
    assert file_checksum(str(tmp_path)) == ""
    assert file_checksum("") == ""
    assert file_checksum(None) == ""


def test_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pipework").write_bytes(b"#!/bin/bash\n")
    assert file_checksum("~/pipework") == hashlib.sha256(b"#!/bin/bash\n").hexdigest()


def test_registered_under_its_name():
    assert files.FilterModule().filters() == {"file_checksum": file_checksum}


def test_other_algorithms_and_an_unknown_one(tmp_path):
    path = tmp_path / "pipework"
    path.write_bytes(b"x" * 10)
    assert file_checksum(str(path), "sha512") == hashlib.sha512(b"x" * 10).hexdigest()
    with pytest.raises(AnsibleFilterError, match="unknown algorithm 'sha257'"):
        file_checksum(str(path), "sha257")
