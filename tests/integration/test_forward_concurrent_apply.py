"""The docker role's FORWARD helper against the real iptables (nf_tables) of a network
namespace the test creates: applies started at the same moment, as a Docker start
(which pulls crosshost-forward.service in) and the role's own apply do on a first
converge, all succeed and leave exactly the wanted chain and one jump."""
import os
import subprocess

import jinja2
import pytest

from dockerd_daemon import NetNS

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns, iptables)")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(REPO, "roles", "docker", "templates", "crosshost-forward.j2")
CHAIN = "CROSSHOST-FWD"
NETWORKS = ["10.100.0.0/16", "192.168.10.0/24", "10.200.0.0/16"]


@pytest.fixture
def namespace():
    ns = NetNS("fwd")
    yield ns
    ns.delete()


@pytest.fixture
def helper(tmp_path):
    with open(TEMPLATE, encoding="utf-8") as handle:
        script = jinja2.Template(handle.read()).render(
            ansible_managed="test", docker_forward_chain=CHAIN, docker__forward_networks=NETWORKS,
            docker__forward_lock=str(tmp_path / "forward.lock"))
    path = tmp_path / "crosshost-forward"
    path.write_text(script)
    return str(path)


def rules(namespace, chain):
    proc = namespace.run(["iptables", "-w", "-S", chain], capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if line.startswith("-A ")]


def test_concurrent_applies_all_succeed_with_exact_rules(namespace, helper):
    # Another tool's rule in DOCKER-USER must survive every round.
    namespace.run(["iptables", "-w", "-N", "DOCKER-USER"], check=True)
    namespace.run(["iptables", "-w", "-A", "DOCKER-USER", "-s", "172.20.0.0/16", "-j", "DROP"], check=True)
    wanted = []
    for net in NETWORKS:
        wanted += ["-A %s -s %s -j ACCEPT" % (CHAIN, net), "-A %s -d %s -j ACCEPT" % (CHAIN, net)]
    for round_number in range(8):
        assert namespace.run(["/bin/sh", helper, "remove"]).returncode == 0
        apply_argv = ["nsenter", "--net=/run/netns/" + namespace.name, "/bin/sh", helper, "apply"]
        runs = [subprocess.Popen(apply_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for run_number in range(3)]
        for run in runs:
            stderr = run.communicate(timeout=120)[1]
            assert run.returncode == 0, "round %d: %s" % (round_number, stderr)
            assert "retrying" not in stderr, "round %d: %s" % (round_number, stderr)
        assert rules(namespace, CHAIN) == wanted
        assert rules(namespace, "DOCKER-USER") == [
            "-A DOCKER-USER -j %s" % CHAIN, "-A DOCKER-USER -s 172.20.0.0/16 -j DROP"]
        assert namespace.run(["/bin/sh", helper, "check"]).returncode == 0
