"""Verify step of the flannel-* scenarios (vxlan, host-gw, udp), run by pytest-testinfra
against the lab inventory. FLANNEL_TEST_BACKEND (provisioner env) names the backend;
FLANNEL_TEST_CHECK_MODE=1 adds a `--check --diff` run of the scenario's converge
playbook that must report 0 changes on every host."""

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))     # the repo, for tools.lab
from tools.lab.artifacts import server_requests  # noqa: E402  (this scenario's lab: CROSSHOST_LAB)

BACKEND = os.environ.get("FLANNEL_TEST_BACKEND", "vxlan")
UNIT = "/etc/systemd/system/flanneld.service"
CHAIN = "CROSSHOST-FWD"


def lease(host):
    env = {}
    for line in host.file("/run/flannel/subnet.env").content_string.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


def flanneld_flag(host, name):
    match = re.search(r"--%s=(\S+)" % re.escape(name), host.file(UNIT).content_string)
    return match.group(1) if match else None


def links(host):
    return {link["ifname"]: link for link in json.loads(host.check_output("ip -j -d link show"))}


def test_flanneld_and_docker_run(host):
    for unit in ("flanneld", "docker", "crosshost-forward"):
        service = host.service(unit)
        assert service.is_running, unit
        assert service.is_enabled, unit


def test_flanneld_uses_the_underlay_interface(host):
    hostvars = host.ansible.get_variables()
    assert flanneld_flag(host, "iface") == hostvars["lab_underlay_interface"]
    assert flanneld_flag(host, "public-ip") == hostvars["lab_underlay_address"]


def test_docker0_holds_the_lease(host):
    env = lease(host)
    subnet = ipaddress.ip_interface(env["FLANNEL_SUBNET"])
    assert subnet.network.subnet_of(ipaddress.ip_network(env["FLANNEL_NETWORK"]))
    addrs = json.loads(host.check_output("ip -4 -j addr show dev docker0"))[0]["addr_info"]
    assert ["%s/%s" % (a["local"], a["prefixlen"]) for a in addrs] == [str(subnet)]
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["bip"] == env["FLANNEL_SUBNET"]
    assert daemon["mtu"] == int(env["FLANNEL_MTU"])
    assert daemon["ip-masq"] is False       # flanneld --ip-masq masquerades instead


def test_backend_interface_and_mtu(host):
    found = links(host)
    flannel_links = sorted(name for name in found if re.match(r"^flannel(0|\.\d+)$", name))
    env = lease(host)
    if BACKEND == "vxlan":
        assert flannel_links == ["flannel.1"]
        link = found["flannel.1"]
        assert link["mtu"] == 1450
        assert link["linkinfo"]["info_kind"] == "vxlan"
        assert link["linkinfo"]["info_data"]["id"] == 1
        assert env["FLANNEL_MTU"] == "1450"
    elif BACKEND == "udp":
        assert flannel_links == ["flannel0"]
        assert found["flannel0"]["mtu"] == 1472
        assert env["FLANNEL_MTU"] == "1472"
    else:
        assert flannel_links == []
        assert env["FLANNEL_MTU"] == "1500"


def test_routes_to_peers(host):
    hostvars = host.ansible.get_variables()
    env = lease(host)
    network = ipaddress.ip_network(env["FLANNEL_NETWORK"])
    own = ipaddress.ip_interface(env["FLANNEL_SUBNET"]).network
    peers = len(hostvars["groups"]["flannel"]) - 1
    routes = [r for r in json.loads(host.check_output("ip -4 -j route show"))
              if r["dst"] != "default" and "/" in r["dst"]
              and ipaddress.ip_network(r["dst"]).subnet_of(network) and ipaddress.ip_network(r["dst"]) != own]
    if BACKEND == "udp":    # one route for the whole network through the TUN device
        assert [(r["dst"], r["dev"]) for r in routes] == [(str(network), "flannel0")]
        return
    assert len(routes) == peers, routes
    underlay = ipaddress.ip_network(hostvars["lab_underlay_subnet"])
    for route in routes:
        if BACKEND == "vxlan":
            assert route["dev"] == "flannel.1"
        else:               # host-gw: the peer's underlay address on the shared segment
            assert route["dev"] == hostvars["lab_underlay_interface"]
            assert ipaddress.ip_address(route["gateway"]) in underlay


def test_config_key_in_etcd(host):
    endpoints = flanneld_flag(host, "etcd-endpoints")
    cmd = "ETCDCTL_API=3 etcdctl --endpoints=%s" % endpoints
    if flanneld_flag(host, "etcd-cafile"):
        cmd += " --cacert=%s --cert=%s --key=%s" % (
            flanneld_flag(host, "etcd-cafile"), flanneld_flag(host, "etcd-certfile"), flanneld_flag(host, "etcd-keyfile"))
    config = json.loads(host.check_output(cmd + " get --print-value-only /coreos.com/network/config"))
    assert config["Backend"]["Type"] == BACKEND
    assert config["Network"] == lease(host)["FLANNEL_NETWORK"]


def test_forward_chain_hooked_from_docker_user(host):
    network = lease(host)["FLANNEL_NETWORK"]
    rules = host.check_output("iptables -S %s" % CHAIN).splitlines()
    assert "-A %s -s %s -j ACCEPT" % (CHAIN, network) in rules
    assert "-A %s -d %s -j ACCEPT" % (CHAIN, network) in rules
    user = host.check_output("iptables -S DOCKER-USER").splitlines()
    assert user[1] == "-A DOCKER-USER -j %s" % CHAIN
    assert host.run("/usr/local/libexec/crosshost/crosshost-forward check").rc == 0


def edit_daemon_json(host, key, value):
    """Set one key of /etc/docker/daemon.json by hand, as an operator would."""
    host.run_expect([0], "python3 - <<'EOF'\nimport json\np='/etc/docker/daemon.json'\nd=json.load(open(p))\n"
                         "d[%r]=%r\njson.dump(d, open(p, 'w'), indent=2)\nEOF" % (key, value))


def converge_again(*extra):
    """Run the scenario's converge playbook from the test; return the process, output uncoloured."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    playbook_bin = Path(sys.executable).parent / "ansible-playbook"
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(playbook_bin), "-i", str(inventory_path()), str(scenario / "converge.yml")] + list(extra),
        cwd=str(scenario), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    proc.stdout = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    return proc


def inventory_path():
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    return project / "inventories" / "lab" / ("hosts%s.yml" % os.environ.get("CROSSHOST_LAB_SUFFIX", ""))


def recap_changed(output, name):
    recap = re.search(r"^%s\s+: ok=\d+\s+changed=(\d+)" % re.escape(name), output, re.M)
    assert recap, output[-3000:]
    return int(recap.group(1))


REPAIRED_HOST = "lab3"


@pytest.fixture(scope="session")
def daemon_json_repair():
    """Edit daemon.json's mtu by hand on one host, converge again; Docker's MainPID on
    every host before and after, and the run."""
    hosts = {name: testinfra.get_host("ansible://" + name, ansible_inventory=str(inventory_path()))
             for name in ("lab1", "lab2", "lab3")}

    def docker_pids():
        return {name: h.check_output("systemctl show --property=MainPID --value docker.service")
                for name, h in hosts.items()}
    before = docker_pids()
    edit_daemon_json(hosts[REPAIRED_HOST], "mtu", 1300)
    proc = converge_again()
    return before, docker_pids(), proc


@pytest.mark.skipif(os.environ.get("FLANNEL_TEST_DOCKER_REPAIR") != "1", reason="repair run in flannel-vxlan only")
def test_hand_edited_daemon_json_is_put_right_and_docker_restarted_there_only(host, daemon_json_repair):
    before, after, proc = daemon_json_repair
    assert proc.returncode == 0, proc.stdout[-3000:]
    name = host.backend.get_hostname()
    if name == REPAIRED_HOST:
        assert recap_changed(proc.stdout, name) > 0
        assert after[name] != before[name], "Docker was not restarted after its mtu changed"
        assert json.loads(host.file("/etc/docker/daemon.json").content_string)["mtu"] == int(lease(host)["FLANNEL_MTU"])
        assert host.service("docker").is_running
        assert host.run("/usr/local/libexec/crosshost/crosshost-forward check").rc == 0
    else:
        assert recap_changed(proc.stdout, name) == 0
        assert after[name] == before[name], "Docker restarted on a host whose settings did not change"


def test_docker_follows_the_lease_after_a_reboot(host):
    """Reboot case, on one host: /run is empty, flanneld starts first and writes the
    lease, daemon.json still holds an old bip. Starting Docker alone (no Ansible) must
    bring docker0 up on the lease, with the forward rules back."""
    if host.backend.get_hostname() != "lab2":
        pytest.skip("runs on lab2 only")
    good = lease(host)["FLANNEL_SUBNET"]
    host.run_expect([0], "systemctl stop docker.socket docker.service flanneld.service")
    host.run_expect([0], "rm -f /run/flannel/subnet.env && iptables -F %s" % CHAIN)
    edit_daemon_json(host, "bip", "10.100.254.1/24")
    host.run_expect([0], "systemctl start docker.service")
    assert host.service("flanneld").is_running        # pulled in by docker's Wants=
    assert lease(host)["FLANNEL_SUBNET"] == good       # same public IP, etcd lease alive
    assert json.loads(host.file("/etc/docker/daemon.json").content_string)["bip"] == good
    addrs = json.loads(host.check_output("ip -4 -j addr show dev docker0"))[0]["addr_info"]
    assert "%s/%s" % (addrs[0]["local"], addrs[0]["prefixlen"]) == good
    assert host.run("/usr/local/libexec/crosshost/crosshost-forward check").rc == 0


def test_flanneld_authenticates_to_etcd_with_its_client_certificate(host):
    """flanneld's etcd flags point at its own certificate; etcd (client-cert-auth)
    answers with that certificate and refuses the same request without one."""
    endpoints = flanneld_flag(host, "etcd-endpoints").split(",")
    assert all(url.startswith("https://") for url in endpoints)
    cert, key, ca = (flanneld_flag(host, flag) for flag in ("etcd-certfile", "etcd-keyfile", "etcd-cafile"))
    private = host.file(key)
    assert (private.mode, private.user, private.group) == (0o600, "root", "root")
    request = "curl -sS -m 5 --cacert %s -X POST -d '{\"key\": \"Lw==\"}' %s/v3/kv/range" % (ca, endpoints[0])
    assert '"header"' in host.check_output(request + " --cert %s --key %s" % (cert, key))
    refused = host.run(request)
    assert refused.rc != 0 or '"header"' not in refused.stdout, refused.stdout


def test_no_key_material_in_the_ansible_log():
    """converge ran with diffs on (ANSIBLE_DIFF_ALWAYS) and logged to ANSIBLE_LOG_PATH
    (the scenario's provisioner env): no line of any private key the roles handled may
    appear there."""
    log_path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.log"
    log = log_path.read_text(errors="replace")
    # The tasks that copy keys ran and were logged, so the search below means something.
    assert "Install the etcd CA and the flannel client certificate and key" in log
    assert "Install the CA certificate and the member certificate" in log
    pki = Path.home() / ".crosshost" / "pki" / ("crosshost-lab%s" % (os.environ.get("CROSSHOST_LAB") or "0"))
    keys = sorted(pki.glob("*.key"))
    assert len(keys) >= 3, keys        # CA, flannel client, members
    for key in keys:
        secret = secret_lines(key)
        assert secret, key
        leaked = [line for line in secret if line in log]
        assert not leaked, "%d line(s) of %s appear in %s" % (len(leaked), key, log_path)


LOCAL_TARBALL_HOST = os.environ.get("FLANNEL_TEST_LOCAL_TARBALL_HOST", "")


def logged_results(log, task):
    """{host: [status, ...]} of every run of a task (title after "role : ") in an Ansible log."""
    results = {}
    for block in log.split("| TASK [")[1:]:
        title, body = block.split("]", 1) if "]" in block else (block, "")
        if title.split(" : ")[-1] == task:
            for status, name in re.findall(r"\| (ok|changed|skipping|failed|fatal): \[([^\]]+)\]", body):
                results.setdefault(name, []).append(status)
    return results


@pytest.mark.skipif(not LOCAL_TARBALL_HOST, reason="air-gapped source in flannel-udp only")
def test_air_gapped_host_installed_from_the_controller_copy(host):
    """converge.yml gives LOCAL_TARBALL_HOST flannel_local_tarball: the input check on
    the controller passed for it (it compares the tarball's checksum with
    flannel_checksum and fails on a mismatch or a missing file, as the negative
    scenario proves), that host copied the tarball from the controller and never
    asked the artifact server for it; the others downloaded it and copied nothing.
    Both run the pinned release."""
    name = host.backend.get_hostname()
    hostvars = host.ansible.get_variables()
    log = (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.log").read_text(errors="replace")
    checked = logged_results(log, "Check the flannel inputs (backend, source, network config and capacity, endpoints)")
    copied = logged_results(log, "Copy the release tarball")
    installed = logged_results(log, "Install flanneld from the release tarball (download, unpack, link; each only when needed)")
    downloads = server_requests(hostvars["ansible_host"], hostvars["lab_flannel_tarball"])
    assert installed.get(name, [])[:1] == ["changed"], installed      # unpacked and linked
    assert checked.get(name) and set(checked[name]) == {"ok"}, checked
    if name == LOCAL_TARBALL_HOST:
        assert copied.get(name, [])[:1] == ["changed"], copied      # the first converge copied it
        assert downloads == [], downloads
    else:
        assert set(copied.get(name, [])) == {"skipping"}, copied
        assert len(downloads) == 1, downloads                       # once: the reruns had it
    tarball = host.file("/opt/flannel/%s" % hostvars["lab_flannel_tarball"])
    assert tarball.sha256sum == hostvars["lab_artifact_sha256"][hostvars["lab_flannel_tarball"]]
    assert host.service("flanneld").is_running


def secret_lines(key_path):
    """The base64 lines of a PEM private key that are not also part of its public key.

    An EC key's DER ends with its public point, so its last line can be a substring
    of the public key or certificate, which the logs may rightly show."""
    pem = key_path.read_bytes()
    public = serialization.load_pem_private_key(pem, password=None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    public_b64 = "".join(line for line in public.splitlines() if not line.startswith("-----"))
    body = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    return [line for line in body if line not in public_b64]


@pytest.fixture(scope="session")
def check_mode_run():
    return converge_again("--check", "--diff")


@pytest.mark.skipif(os.environ.get("FLANNEL_TEST_CHECK_MODE") != "1", reason="check-mode run in flannel-vxlan only")
def test_check_diff_on_converged_fabric_changes_nothing(host, check_mode_run):
    out = check_mode_run.stdout
    assert check_mode_run.returncode == 0, out[-3000:]
    name = host.backend.get_hostname()
    changed = [line for line in out.splitlines() if line.startswith("changed: [%s" % name)]
    assert recap_changed(out, name) == 0, "\n".join(changed) + out[-3000:]
