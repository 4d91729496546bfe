"""Helpers for the lab tool's tests: run `python -m tools.lab`, reach hosts, find leftovers.

A plain module, not conftest.py: test suites importing `conftest` clash in one session.
"""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.environ.get("CROSSHOST_PYTHON", sys.executable)
BIN = os.path.dirname(PYTHON)
sys.path.insert(0, REPO)

from tools.lab import config, hosts, lifecycle  # noqa: E402


def lab(*args, env=None, timeout=600):
    """Run the lab CLI; return the CompletedProcess (never raises on failure)."""
    return subprocess.run([PYTHON, "-m", "tools.lab", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})), check=False)


def leftovers():
    """Everything of the lab's still present on the machine (empty means clean)."""
    found = lifecycle.leftovers()
    if config.RUN.exists():
        found.append(str(config.RUN))
    if config.INVENTORY.exists():
        found.append(str(config.INVENTORY))
    return found


def host_run(name, command, check=True):
    """Run a shell command on a lab host over SSH; return the CompletedProcess."""
    host = lifecycle.find_host(name)
    proc = subprocess.run(hosts.ssh_argv(host, command), capture_output=True, text=True, timeout=120,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name}: {command!r} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def ansible(*args):
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run([os.path.join(BIN, "ansible"), *args], cwd=REPO, capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    try:
        return proc, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"ansible printed no JSON:\n{proc.stdout}\n{proc.stderr}")


def machine_network_policy():
    """What the lab must never change on the machine itself."""
    with open("/proc/sys/net/ipv4/ip_forward") as handle:
        forward = handle.read().strip()
    default = subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True,
                             check=False).stdout
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=False).stdout
    policies = [line for line in rules.splitlines() if line.startswith("-P ")]
    return {"ip_forward": forward, "default_route": default, "iptables_policies": policies}
