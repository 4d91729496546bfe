"""Verify step of molecule/pipework, run by pytest-testinfra against the lab inventory."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))     # the repo, for tools.lab
from tools.lab.artifacts import server_requests  # noqa: E402  (this scenario's lab: CROSSHOST_LAB)

AIR_GAPPED_HOST = "lab2"     # converge.yml gives it pipework_local_file

WANT = {
    "lab1": [("c1", "eth1", "10.88.0.11/24", "02:42:0a:58:00:0b"),
             ("c2", "eth1", "10.88.0.12/24", "02:42:0a:58:00:0c"),
             ("c1", "eth2", "10.89.0.11/24", None),
             ("c2", "eth2", "10.89.0.12/24", None)],
    "lab2": [("c1", "eth1", "10.88.0.21/24", "02:42:0a:58:00:15")],
}


def name(host):
    return host.backend.get_hostname()


def container_link(host, container, ifname):
    out = host.check_output("docker exec %s ip -o addr show dev %s" % (container, ifname))
    link = host.check_output("docker exec %s ip -o link show dev %s" % (container, ifname))
    return out, link


def test_script_installed_with_the_lab_checksum(host):
    hostvars = host.ansible.get_variables()
    script = host.file("/usr/local/bin/pipework")
    assert script.is_file and script.mode == 0o755 and script.user == "root"
    assert script.sha256sum == hostvars["lab_artifact_sha256"][hostvars["lab_pipework_file"]]
    run = host.run("/usr/local/bin/pipework")       # no arguments: prints its syntax, rc 1
    assert run.rc == 1 and "pipework <hostinterface>" in run.stdout


def test_air_gapped_host_copied_the_script_the_other_downloaded_it(host):
    """The artifact server's log: lab2 (pipework_local_file) never asked for the script,
    lab1 asked once (the reruns found its checksum in place)."""
    hostvars = host.ansible.get_variables()
    downloads = server_requests(hostvars["ansible_host"], hostvars["lab_pipework_file"])
    if host.backend.get_hostname() == AIR_GAPPED_HOST:
        assert downloads == [], downloads
    else:
        assert len(downloads) == 1, downloads


def test_pyroute2_installed(host):
    assert host.package("python3-pyroute2").is_installed


def test_interfaces_have_address_and_mac(host):
    for container, ifname, address, mac in WANT[name(host)]:
        addr, link = container_link(host, container, ifname)
        assert "inet %s " % address in addr
        assert "state UP" in link or ",UP" in link
        if mac:
            assert "link/ether %s " % mac in link


def test_mtu_and_gateway(host):
    if name(host) == "lab2":
        assert "mtu 1400" in container_link(host, "c1", "eth1")[1]
    else:
        route = host.check_output("docker exec c1 ip route show default")
        assert "default via 10.88.0.1 dev eth1" in route


def test_host_ends_on_the_bridges(host):
    bridge = host.check_output("ip -o link show master br-pw")
    assert bridge.count(": ci") == (2 if name(host) == "lab1" else 1)
    if name(host) == "lab1":
        ports = host.check_output("ovs-vsctl list-ports ovsbr-pw").split()
        assert len(ports) == 2 and all(p.startswith("ci") for p in ports)


def test_forward_accept_rule_for_the_linux_bridge(host):
    rules = host.check_output("iptables -S FORWARD")
    assert rules.count('-i br-pw -o br-pw -m comment --comment "crosshost pipework bridge" -j ACCEPT') == 1
    assert "ovsbr-pw" not in rules


def test_data_path_linux_bridge(host):
    if name(host) != "lab1":
        pytest.skip("two containers only on lab1")
    host.check_output("docker exec c1 ping -c 2 -W 2 10.88.0.12")
    host.check_output("docker exec c2 ping -c 2 -W 2 10.88.0.11")


def test_data_path_ovs_bridge(host):
    if name(host) != "lab1":
        pytest.skip("two containers only on lab1")
    host.check_output("docker exec c1 ping -c 2 -W 3 10.89.0.12")   # OVS, userspace datapath


def converge(host, *extra):
    """Run the scenario's converge.yml on this host only; return its changed count."""
    project = os.environ["MOLECULE_PROJECT_DIRECTORY"]
    inventory = os.path.join(project, "inventories", "lab",
                             "hosts%s.yml" % os.environ.get("CROSSHOST_LAB_SUFFIX", ""))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_HOST_KEY_CHECKING="0",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(project, ".build", "collections"))
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", inventory, "--limit", name(host), playbook] + list(extra),
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout)["stats"][name(host)]["changed"]


def test_restart_then_converge_restores(host):
    host.check_output("docker restart -t 1 c1")
    assert host.run("docker exec c1 ip link show eth1").rc != 0   # gone with the old namespace
    assert converge(host) > 0
    for container, ifname, address, mac in WANT[name(host)]:
        addr, link = container_link(host, container, ifname)
        assert "inet %s " % address in addr
        if mac:
            assert "link/ether %s " % mac in link
    assert converge(host) == 0
    assert converge(host, "--check", "--diff") == 0      # check mode on a converged host: no change
    if name(host) == "lab1":
        host.check_output("docker exec c2 ping -c 2 -W 2 10.88.0.11")
