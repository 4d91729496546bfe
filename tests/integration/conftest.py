"""Fixtures shared by the integration tests.

Every test here talks to a real daemon (etcd, Open vSwitch, dockerd) that the
test starts itself on loopback or inside a network namespace it created.
"""
import pytest

from adhoc import run_module
from etcd_server import EtcdServer


@pytest.fixture
def module_runner():
    return run_module


@pytest.fixture(scope="module")
def etcd():
    """A plain-HTTP etcd of the test module's own (Debian etcd-server 3.4)."""
    server = EtcdServer()
    yield server
    server.stop()
