"""Fixtures shared by the integration tests.

Every test here talks to a real daemon (etcd, Open vSwitch, dockerd) that the
test starts itself on loopback or inside a network namespace it created.
"""
import pytest

from adhoc import run_module


@pytest.fixture
def module_runner():
    return run_module
