"""Fixtures for the Vagrant tier's tests (helpers live in vagrant_helpers.py).

These tests start libvirtd and VMs, so they need root and the Debian packages from
`make deps`; they use the cached box (`make vagrant-box`, about 3 minutes once).
"""
import os
import shutil

import pytest

from vagrant_helpers import leftovers, machine_network, vagrant_cli

if os.geteuid() != 0 or not shutil.which("vagrant") or not shutil.which("libvirtd"):
    pytest.skip("the Vagrant tier needs root, vagrant and libvirtd (make deps)", allow_module_level=True)


@pytest.fixture
def clean_machine():
    """Nothing of ours before the test; afterwards nothing left and the machine unchanged."""
    proc = vagrant_cli("clean")
    assert proc.returncode == 0, proc.stderr
    before = machine_network()
    yield
    left = leftovers()
    vagrant_cli("clean")            # never leave anything behind, even on failure
    assert left == []
    assert machine_network() == before
