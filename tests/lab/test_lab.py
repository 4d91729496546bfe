"""The lab end to end: one lab of 3 hosts on 2 segments for the whole module.

lab1 and lab3 share segment 0; lab2 sits on segment 1 behind the lab router.
"""
import hashlib
import os
import time

import pytest
import yaml

from lab_helpers import ansible, config, host_run, lab, leftovers, machine_network_policy

HOSTS, SEGMENTS = 3, 2


@pytest.fixture(scope="module")
def running_lab(no_lab_running):
    before = machine_network_policy()
    started = time.monotonic()
    proc = lab("up", "--hosts", str(HOSTS), "--segments", str(SEGMENTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"lab up in {time.monotonic() - started:.1f} s")
    try:
        yield {"policy_before": before, "up": proc}
    finally:
        lab("down")


@pytest.fixture(scope="module")
def inventory(running_lab):
    return yaml.safe_load(config.INVENTORY.read_text())


def test_inventory_describes_hosts_and_groups(inventory):
    top = inventory["all"]
    assert top["vars"]["ansible_python_interpreter"] == "/usr/bin/python3"
    assert top["vars"]["ansible_ssh_private_key_file"].endswith("id_ed25519")
    hosts = top["children"]["lab"]["hosts"]
    assert sorted(hosts) == ["lab1", "lab2", "lab3"]
    assert hosts["lab2"]["lab_segment"] == 1 and hosts["lab3"]["lab_segment"] == 0
    for name, hostvars in hosts.items():
        assert hostvars["lab_underlay_interface"] == "eth0"
        assert hostvars["ansible_host"] == hostvars["lab_underlay_address"]
        assert hostvars["lab_artifact_url"].startswith("http://192.168.")
    children = top["children"]
    assert list(children["etcd"]["hosts"]) == ["lab1"]
    # the default fabric is flannel: site.yml runs on this inventory as it is
    for group in ("flannel", "docker", "pipework"):
        assert sorted(children[group]["hosts"]) == ["lab1", "lab2", "lab3"]
    assert "ovs_gre" not in children
    assert sorted(children["segment_0"]["hosts"]) == ["lab1", "lab3"]
    assert set(top["vars"]["lab_artifact_sha256"]) == {
        "flannel-v0.28.9-linux-amd64.tar.gz", "etcd-v3.5.1-linux-amd64.tar.gz", "pipework", "busybox-image.tar"}
    assert top["vars"]["lab_etcd_tarball"] == "etcd-v3.5.1-linux-amd64.tar.gz"
    assert os.path.isfile(os.path.join(top["vars"]["lab_artifacts_dir"], top["vars"]["lab_etcd_tarball"]))


def test_second_up_reports_and_creates_nothing(running_lab):
    links_before = sorted(p for p in leftovers())
    again = lab("up", "--hosts", str(HOSTS), "--segments", str(SEGMENTS))
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr and "lab1" in again.stderr
    assert sorted(leftovers()) == links_before
    other = lab("up", "--hosts", "5")
    assert other.returncode == 1 and "already runs 3 hosts" in other.stderr
    bare = lab("up", "--hosts", str(HOSTS), "--segments", str(SEGMENTS), "--image", "bare")
    assert bare.returncode == 1 and "from the full image" in bare.stderr, bare.stderr


def test_hosts_install_from_the_lab_apt_repository(running_lab, inventory):
    # lab2 sits on segment 1: its source is the artifact server on its own bridge.
    hosts = inventory["all"]["children"]["lab"]["hosts"]
    for name in ("lab1", "lab2"):
        url = hosts[name]["lab_artifact_url"] + "/apt"
        assert host_run(name, "cat /etc/apt/sources.list").stdout.split("\n")[1] == \
            f"deb [trusted=yes] {url} ./"
        host_run(name, "apt-get update -q")
        policy = host_run(name, "apt-cache policy docker.io").stdout
        assert url in policy, policy


def test_status_and_exec(running_lab):
    status = lab("status")
    assert status.returncode == 0 and status.stdout.count("ssh ok") == HOSTS
    assert lab("exec", "lab2", "--", "hostname").stdout.strip() == "lab2"
    assert lab("exec", "nosuch", "--", "true").returncode == 1


def test_ansible_ping_through_the_written_inventory(running_lab):
    proc, report = ansible("all", "-i", str(config.INVENTORY), "-m", "ping")
    results = report["plays"][0]["tasks"][0]["hosts"]
    assert proc.returncode == 0, proc.stdout
    assert sorted(results) == ["lab1", "lab2", "lab3"]
    assert all(r["ping"] == "pong" for r in results.values())


def test_each_host_has_its_own_identity(running_lab):
    ids = {host_run(n, "cat /etc/machine-id").stdout.strip() for n in ("lab1", "lab2", "lab3")}
    keys = {host_run(n, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
            for n in ("lab1", "lab2", "lab3")}
    assert len(ids) == len(keys) == HOSTS


def test_services_are_installed_but_disabled(running_lab):
    proc = host_run("lab1", "systemctl is-enabled docker containerd openvswitch-switch etcd", check=False)
    assert proc.stdout.split() == ["disabled"] * 4
    host_run("lab1", "command -v dockerd ovs-vsctl etcd etcdctl iperf3 brctl && python3 -c 'import pyroute2'")


@pytest.mark.parametrize("peer", ["lab3", "lab2"], ids=["same-segment", "across-router"])
def test_vxlan_between_two_hosts(running_lab, inventory, peer):
    hostvars = inventory["all"]["children"]["lab"]["hosts"]
    vni = {"lab3": 42, "lab2": 43}[peer]
    ends = {"lab1": ("10.250.%d.1" % vni, hostvars[peer]["ansible_host"]),
            peer: ("10.250.%d.2" % vni, hostvars["lab1"]["ansible_host"])}
    for name, (inner, remote) in ends.items():
        host_run(name, f"ip link add vx{vni} type vxlan id {vni} remote {remote} dstport 4789 dev eth0 && "
                       f"ip addr add {inner}/24 dev vx{vni} && ip link set vx{vni} up")
    try:
        ping = host_run("lab1", f"ping -c 3 -i 0.2 -W 2 {ends[peer][0]}", check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert " 0% packet loss" in ping.stdout
    finally:
        for name in ends:
            host_run(name, f"ip link del vx{vni}", check=False)


def test_artifacts_download_with_the_published_checksums(running_lab, inventory):
    """From lab2 (segment 1): fetch every artifact and SHA256SUMS, compare both ways."""
    url = inventory["all"]["children"]["lab"]["hosts"]["lab2"]["lab_artifact_url"]
    published = inventory["all"]["vars"]["lab_artifact_sha256"]
    sums = host_run("lab2", f"mkdir -p /tmp/a && cd /tmp/a && curl -fsS -O {url}/SHA256SUMS && "
                            + " && ".join(f"curl -fsS -O {url}/{name}" for name in published)
                            + " && sha256sum -c SHA256SUMS && sha256sum " + " ".join(published))
    assert sums.stdout.count(": OK") == len(published)
    computed = dict(reversed(line.split()) for line in sums.stdout.splitlines() if ": OK" not in line)
    assert computed == published
    local = {name: hashlib.sha256((config.ARTIFACTS / name).read_bytes()).hexdigest() for name in published}
    assert local == published
    listing = host_run("lab2", "tar -tzf /tmp/a/flannel-v0.28.9-linux-amd64.tar.gz").stdout.split()
    assert "flanneld" in listing
    version = host_run("lab2", "cd /tmp/a && tar -xzf flannel-*.tar.gz flanneld && ./flanneld --version")
    assert "v0.28.9" in version.stdout + version.stderr


def test_docker_runs_the_lab_image(running_lab, inventory):
    url = inventory["all"]["children"]["lab"]["hosts"]["lab1"]["lab_artifact_url"]
    out = host_run("lab1", f"systemctl start docker && curl -fsS {url}/busybox-image.tar | docker import - lab/busybox"
                           " >/dev/null && docker run --rm --init lab/busybox echo container-ok"
                           " && docker info --format '{{.Driver}}'")
    assert out.stdout.split() == ["container-ok", "overlay2"]


def test_restart_is_a_cold_boot_of_one_host(running_lab):
    """`restart lab2` (segment 1, behind the router): a new boot on the same disk, a fresh
    network namespace (run-time links gone, eth0 and the route across the router back),
    an empty /run; the other hosts keep running; exec and SSH reach the new boot."""
    others = {n: host_run(n, "cat /proc/sys/kernel/random/boot_id").stdout for n in ("lab1", "lab3")}
    before = host_run("lab2", "cat /proc/sys/kernel/random/boot_id /etc/machine-id").stdout.split()
    host_run("lab2", "echo kept > /root/restart-marker && touch /run/restart-marker && "
                     "ip link add restart-br type bridge")
    proc = lab("restart", "lab2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    boot_id, machine_id = host_run("lab2", "cat /proc/sys/kernel/random/boot_id /etc/machine-id").stdout.split()
    assert boot_id != before[0] and machine_id == before[1]
    assert host_run("lab2", "cat /root/restart-marker").stdout.strip() == "kept"
    assert host_run("lab2", "test -e /run/restart-marker", check=False).returncode == 1
    assert host_run("lab2", "ip link show restart-br", check=False).returncode != 0
    host_run("lab2", "ping -c 1 -W 2 lab1")          # across the router again
    assert lab("exec", "lab2", "--", "hostname").stdout.strip() == "lab2"
    assert {n: host_run(n, "cat /proc/sys/kernel/random/boot_id").stdout for n in others} == others
    status = lab("status")
    assert status.returncode == 0 and status.stdout.count("ssh ok") == HOSTS
    missing = lab("restart", "nosuch")
    assert missing.returncode == 1 and "no running lab host named 'nosuch'" in missing.stderr


def test_hosts_have_no_way_out(running_lab):
    for name in ("lab1", "lab2"):
        assert host_run(name, "ip route show default").stdout.strip() == ""
        assert host_run(name, "ip route get 192.0.2.1", check=False).returncode != 0
    assert machine_network_policy() == running_lab["policy_before"]


def test_down_leaves_nothing_behind(running_lab):
    proc = lab("down")
    assert proc.returncode == 0, proc.stderr
    assert leftovers() == []
    assert machine_network_policy() == running_lab["policy_before"]
    again = lab("down")
    assert again.returncode == 0 and "nothing to remove" in again.stderr
