"""Fixtures for the lab tool's tests (helpers live in lab_helpers.py).

These tests boot real systemd-nspawn hosts, so they need root (CI has it) and the
cached image (`make lab-build`; built on first use, a few minutes).
"""
import os

import pytest

from lab_helpers import lab, leftovers
from tools.lab import lifecycle, state  # importable once lab_helpers set sys.path

if os.geteuid() != 0:
    pytest.skip("the lab needs root (namespaces, bridges, mounts)", allow_module_level=True)


@pytest.fixture(scope="session")
def no_lab_running():
    if lifecycle.is_running(state.load()):
        pytest.fail("a lab is already running; `make lab-down` before running the lab tests")
    lab("down")     # sweeps what a crashed earlier run may have left
    assert not leftovers()
