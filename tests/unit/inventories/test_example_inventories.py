"""The example inventories users copy are production-safe: etcd and flanneld talk TLS,
and nothing there turns it off (plain HTTP is for a lab, never for an example)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(path.name for path in (REPO / "inventories").iterdir()
                  if path.is_dir() and path.name not in ("lab", "vagrant"))


def inventory(name):
    """What Ansible itself reads from the example (group_vars merged per host)."""
    binary = Path(sys.executable).parent / "ansible-inventory"
    proc = subprocess.run([str(binary), "-i", str(REPO / "inventories" / name), "--list"],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_WARNING="0"))
    return json.loads(proc.stdout)


def test_there_are_examples_for_every_topology():
    assert set(EXAMPLES) >= {"flannel-vxlan", "flannel-host-gw", "flannel-udp", "ovs-gre"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_uses_tls_for_etcd(name):
    data = inventory(name)
    hostvars = data["_meta"]["hostvars"]
    etcd_hosts = data.get("etcd", {}).get("hosts", [])
    flannel_hosts = data.get("flannel", {}).get("hosts", [])
    for host in etcd_hosts:
        assert hostvars[host].get("etcd_tls", True) is True, (name, host)
    for host in flannel_hosts:
        assert hostvars[host].get("flannel_etcd_tls", True) is True, (name, host)
        endpoints = hostvars[host].get("flannel_etcd_endpoints", [])
        assert all(not url.startswith("http://") for url in endpoints), (name, host, endpoints)
    if name.startswith("flannel-"):
        assert etcd_hosts and flannel_hosts, name      # the check above really ran


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_never_turns_tls_off(name):
    for path in (REPO / "inventories" / name).rglob("*.yml"):
        text = path.read_text()
        assert "tls: false" not in text.replace('"', "").lower(), path
