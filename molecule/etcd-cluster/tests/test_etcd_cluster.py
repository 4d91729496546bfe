"""Verify step of molecule/etcd-cluster: a 3-member etcd cluster with TLS, etcd 3.5
from the release tarball (molecule/etcd-cluster/vars/tarball.yml): downloaded by
lab1 and lab3, copied from the controller to lab2 (the air-gapped path).

Run by pytest-testinfra against the etcd hosts of the lab inventory. Client tests
talk to each member's v3 JSON gateway from the controller (the lab underlay is the
lab's own bridge), with and without the flannel client certificate.
"""

import base64
import json
import os
import ssl
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))     # the repo, for tools.lab
from tools.lab.artifacts import server_requests  # noqa: E402  (this scenario's lab: CROSSHOST_LAB)

AIR_GAPPED_HOST = "lab2"     # vars/tarball.yml gives it etcd_local_tarball

# The lab's per-instance PKI dir (inventories/lab/group_vars/all/etcd.yml).
PKI = os.path.expanduser(os.environ.get(
    "ETCD_PKI_LOCAL_DIR", "~/.crosshost/pki/crosshost-lab%s" % (os.environ.get("CROSSHOST_LAB") or "0")))
CTL = "etcdctl --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/member.crt --key=/etc/etcd/pki/member.key"


def _endpoint(host):
    return "https://%s:2379" % host.ansible.get_variables()["ansible_host"]


def _context(with_cert):
    context = ssl.create_default_context(cafile=os.path.join(PKI, "ca.crt"))
    if with_cert:
        context.load_cert_chain(os.path.join(PKI, "flannel.crt"), os.path.join(PKI, "flannel.key"))
    return context


def _call(host, path, body, with_cert=True):
    request = urllib.request.Request(
        _endpoint(host) + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10, context=_context(with_cert)) as response:
        return json.load(response)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def test_service_active_and_enabled(host):
    service = host.service("etcd")
    assert service.is_running
    assert service.is_enabled
    unit = host.file("/etc/systemd/system/etcd.service")
    assert unit.exists and "Type=notify" in unit.content_string


def test_runs_the_release_tarball_binaries(host):
    """etcd_install_method: tarball: the binaries unpacked into /opt/etcd/<version>,
    linked from /usr/local/bin, and the running server is that version (not Debian's 3.4)."""
    version = host.ansible.get_variables()["lab_etcd_version"]
    for name in ("etcd", "etcdctl"):
        link = host.file("/usr/local/bin/" + name)
        assert link.is_symlink and link.linked_to == "/opt/etcd/%s/%s" % (version, name)
    unit = host.file("/etc/systemd/system/etcd.service").content_string
    assert "ExecStart=/usr/local/bin/etcd" in unit
    pid = host.check_output("systemctl show --property=MainPID --value etcd.service")
    assert host.check_output("readlink /proc/%s/exe" % pid) == "/opt/etcd/%s/etcd" % version
    request = urllib.request.Request(_endpoint(host) + "/version")
    with urllib.request.urlopen(request, timeout=10, context=_context(True)) as response:
        assert json.load(response)["etcdserver"] == version.lstrip("v")


def test_air_gapped_member_copied_the_tarball_the_others_downloaded_it(host):
    """The artifact server's log: lab2 (etcd_local_tarball) never asked for the tarball,
    each other member asked once (reruns found its checksum in place); every member
    holds the pinned tarball."""
    hostvars = host.ansible.get_variables()
    tarball = hostvars["lab_etcd_tarball"]
    downloads = server_requests(hostvars["ansible_host"], tarball)
    if host.backend.get_hostname() == AIR_GAPPED_HOST:
        assert downloads == [], downloads
    else:
        assert len(downloads) == 1, downloads
    archive = host.file("/opt/etcd/%s/etcd.tar.gz" % hostvars["lab_etcd_version"])
    assert archive.sha256sum == hostvars["lab_artifact_sha256"][tarball]


def test_member_list_has_three_members_with_https(host):
    members = json.loads(host.check_output(CTL + " --endpoints=https://127.0.0.1:2379 member list -w json"))["members"]
    assert sorted(m["name"] for m in members) == ["lab1", "lab2", "lab3"]
    for member in members:
        assert all(url.startswith("https://") for url in member["peerURLs"])
        assert all(url.startswith("https://") for url in member["clientURLs"])


def test_config_uses_https_and_cert_auth(host):
    env = host.file("/etc/etcd/etcd.env").content_string
    for key in ("ETCD_LISTEN_PEER_URLS", "ETCD_LISTEN_CLIENT_URLS", "ETCD_ADVERTISE_CLIENT_URLS"):
        value = [line.split("=", 1)[1] for line in env.splitlines() if line.startswith(key + "=")][0]
        assert all(url.startswith("https://") for url in value.split(","))
    assert "ETCD_CLIENT_CERT_AUTH=true" in env
    assert "ETCD_PEER_CLIENT_CERT_AUTH=true" in env


@pytest.mark.parametrize("name,mode", [("member.key", 0o600), ("member.crt", 0o644), ("ca.crt", 0o644)])
def test_pki_files_modes_and_owner(host, name, mode):
    pki = host.file("/etc/etcd/pki/" + name)
    assert pki.exists
    assert pki.mode == mode
    assert pki.user == "etcd"


def test_data_dir_private(host):
    data = host.file("/var/lib/etcd/crosshost")
    assert data.is_directory and data.user == "etcd" and data.mode == 0o700
    assert host.file("/var/lib/etcd/crosshost/member").is_directory


def test_client_with_flannel_cert_can_put_and_get(host):
    key = "/crosshost-test/%s" % host.backend.get_hostname()
    _call(host, "/v3/kv/put", {"key": _b64(key), "value": _b64("ok")})
    reply = _call(host, "/v3/kv/range", {"key": _b64(key)})
    assert base64.b64decode(reply["kvs"][0]["value"]).decode() == "ok"


def test_client_without_cert_is_refused(host):
    with pytest.raises((ssl.SSLError, ConnectionResetError, urllib.error.URLError)):
        _call(host, "/v3/kv/range", {"key": _b64("/")}, with_cert=False)


def test_client_without_cert_is_refused_on_the_host(host):
    result = host.run(
        "etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/pki/ca.crt --dial-timeout=2s --command-timeout=3s get /"
    )
    assert result.rc != 0


def test_plain_http_is_not_served(host):
    # python3 (the hosts have it for Ansible), not curl: a fresh host has no curl.
    result = host.run("python3 -c \"import urllib.request; "
                      "print(urllib.request.urlopen('http://127.0.0.1:2379/health', timeout=3).read())\"")
    assert result.rc != 0 and "true" not in result.stdout
    # refused by etcd (TLS only), not a failure to run the probe
    assert "HTTPError" in result.stderr or "Connection" in result.stderr or "RemoteDisconnected" in result.stderr, \
        result.stderr
