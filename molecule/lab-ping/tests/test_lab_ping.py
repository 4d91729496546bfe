"""Verify step of molecule/lab-ping, run by pytest-testinfra against the lab inventory."""


def test_marker_written_by_converge(host):
    marker = host.file("/etc/lab-ping")
    assert marker.exists
    assert marker.content_string.strip() == host.backend.get_hostname()


def test_sshd_runs_and_roles_services_wait(host):
    assert host.service("ssh").is_running
    assert not host.service("docker").is_enabled


def test_underlay_address_matches_inventory(host):
    hostvars = host.ansible.get_variables()
    addresses = host.interface(hostvars["lab_underlay_interface"]).addresses
    assert hostvars["lab_underlay_address"] in addresses


def test_artifact_server_reachable_from_host(host):
    url = host.ansible.get_variables()["lab_artifact_url"]
    sums = host.check_output(f"curl -fsS {url}/SHA256SUMS")
    assert "flannel-v0.28.9-linux-amd64.tar.gz" in sums
