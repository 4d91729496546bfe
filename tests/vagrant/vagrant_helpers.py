"""Helpers for the Vagrant tier's tests: run `python -m tools.lab.vagrant`, find leftovers.

A plain module, not conftest.py: test suites importing `conftest` clash in one session.
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.environ.get("CROSSHOST_PYTHON", sys.executable)
sys.path.insert(0, REPO)

from tools.lab import vagrant, vagrant_box, vagrant_libvirt  # noqa: E402


def vagrant_cli(*args, env=None, timeout=900):
    """Run the Vagrant tool; return the CompletedProcess (never raises on failure)."""
    return subprocess.run([PYTHON, "-m", "tools.lab.vagrant", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})), check=False)


def leftovers():
    """Everything of the Vagrant tier still on the machine (empty means clean)."""
    found = vagrant_libvirt.leftovers()
    if vagrant.server_pid():
        found.append("artifact server")
    if vagrant.LOCAL_INVENTORY.exists():
        found.append(str(vagrant.LOCAL_INVENTORY))
    found += vagrant_box.unfinished_builds()
    return found


def machine_network():
    """What the tier must never change on the machine itself (policies, forwarding, routes)."""
    snap = vagrant_libvirt.machine_network()
    snap["default_route"] = subprocess.run(["ip", "route", "show", "default"], capture_output=True,
                                           text=True, check=False).stdout
    return snap
