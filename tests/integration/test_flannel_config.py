"""flannel_config against a real etcd (Debian etcd-server 3.4) through real Ansible."""
import glob
import json
import os
import tempfile

import pytest

from adhoc import run_module
from etcd_server import EtcdServer, free_port

KEY = "/coreos.com/network/config"


@pytest.fixture
def clean(etcd):
    etcd.ctl("del", "/", "--prefix")
    yield etcd
    etcd.ctl("del", "/", "--prefix")


def apply(etcd, check=False, diff=False, **args):
    args.setdefault("endpoints", [etcd.url])
    return run_module("flannel_config", args, check=check, diff=diff)


def stored(etcd, key=KEY):
    value = etcd.get(key)
    return json.loads(value) if value is not None else None


def test_create_then_unchanged(clean):
    first = apply(clean, network="10.100.0.0/16", backend={"type": "vxlan", "vni": 1})
    assert first["changed"] is True, first
    assert stored(clean) == {"Network": "10.100.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1}}
    assert first["config"]["SubnetLen"] == 24
    assert first["config"]["SubnetMin"] == "10.100.1.0"
    assert first["config"]["SubnetMax"] == "10.100.255.0"
    assert first["capacity"] == 255
    assert first["endpoint"] == clean.url

    assert first["in_sync"] is False
    second = apply(clean, network="10.100.0.0/16", backend={"type": "vxlan", "vni": 1})
    assert second["changed"] is False, second
    assert second["in_sync"] is True


def test_backend_type_is_always_written(clean):
    apply(clean, network="10.100.0.0/16")
    assert stored(clean)["Backend"] == {"Type": "vxlan"}


def test_semantic_comparison_ignores_case_order_whitespace_and_defaults(clean):
    # What an operator typed by hand with etcdctl: other key case, order,
    # whitespace, and flanneld's default values spelled out.
    clean.put(KEY, '{ "backend": {"vni": 1, "type": "vxlan"},\n  "subnetlen": 24, "network":"10.100.0.0/16",'
                   ' "SubnetMin": "10.100.1.0" }')
    result = apply(clean, network="10.100.0.0/16", backend={"type": "vxlan"})
    assert result["changed"] is False, result


def test_check_mode_changes_nothing_and_diff_shows_json(clean):
    apply(clean, network="10.100.0.0/16")
    before = clean.dump()
    result = apply(clean, check=True, diff=True, network="10.100.0.0/16",
                   backend={"type": "vxlan", "vni": 7})
    assert result["changed"] is True and result["in_sync"] is False
    assert clean.dump() == before
    assert '"Type": "vxlan"' in result["diff"]["before"]
    assert json.loads(result["diff"]["after"]) == {"Network": "10.100.0.0/16",
                                                   "Backend": {"Type": "vxlan", "VNI": 7}}


def test_drift_is_corrected(clean):
    apply(clean, network="10.100.0.0/16", backend={"type": "host-gw"})
    clean.put(KEY, '{"Network": "10.200.0.0/16"}')  # someone edited it by hand
    result = apply(clean, network="10.100.0.0/16", backend={"type": "host-gw"})
    assert result["changed"] is True
    assert stored(clean)["Network"] == "10.100.0.0/16"


def test_leases_are_returned_and_protected(clean):
    apply(clean, network="10.100.0.0/16", backend={"type": "vxlan"})
    lease = clean.grant_lease()
    clean.put("/coreos.com/network/subnets/10.100.15.0-24",
              '{"PublicIP":"203.0.113.11","BackendType":"vxlan","BackendData":{"VNI":1}}', lease=lease)
    clean.put("/coreos.com/network/subnets/10.100.16.0-24",
              '{"PublicIP":"203.0.113.12","BackendType":"vxlan","BackendData":{"VNI":1}}', lease=lease)

    same = apply(clean, network="10.100.0.0/16", backend={"type": "vxlan"})
    assert same["changed"] is False
    assert [lease["subnet"] for lease in same["leases"]] == ["10.100.15.0/24", "10.100.16.0/24"]
    assert same["leases"][0]["public_ip"] == "203.0.113.11"

    before = clean.dump()
    refused = apply(clean, network="10.100.0.0/16", backend={"type": "host-gw"})
    assert refused.get("failed") is True
    assert "refusing to change Backend.Type vxlan -> host-gw" in refused["msg"]
    assert "force: true" in refused["msg"]
    assert clean.dump() == before

    # A change that keeps the leases valid is allowed.
    vni = apply(clean, network="10.100.0.0/16", backend={"type": "vxlan", "vni": 2})
    assert vni["changed"] is True
    assert "stale flannel.1" in " ".join(vni.get("warnings", []))

    forced = apply(clean, network="10.100.0.0/16", backend={"type": "host-gw"}, force=True)
    assert forced["changed"] is True
    assert forced["lease_breaking_changes"] == [{"field": "Backend.Type", "before": "vxlan", "after": "host-gw"}]
    assert stored(clean)["Backend"]["Type"] == "host-gw"
    # The leases themselves are flanneld's: the module never deletes them.
    assert clean.get("/coreos.com/network/subnets/10.100.15.0-24") is not None


def test_state_absent(clean):
    apply(clean, network="10.100.0.0/16")
    lease = clean.grant_lease()
    clean.put("/coreos.com/network/subnets/10.100.15.0-24", '{"PublicIP":"203.0.113.11"}', lease=lease)
    refused = apply(clean, state="absent")
    assert refused.get("failed") is True and "refusing to delete" in refused["msg"]
    assert stored(clean) is not None
    removed = apply(clean, state="absent", force=True)
    assert removed["changed"] is True and stored(clean) is None
    assert removed["in_sync"] is False
    again = apply(clean, state="absent", force=True)
    assert again["changed"] is False and again["in_sync"] is True


def test_custom_prefix(clean):
    result = apply(clean, network="10.50.0.0/16", prefix="/atomic.io/network")
    assert result["changed"] is True and result["key"] == "/atomic.io/network/config"
    assert stored(clean, "/atomic.io/network/config")["Network"] == "10.50.0.0/16"
    assert stored(clean) is None


def test_dead_endpoint_fails_over(clean):
    dead = "http://127.0.0.1:%d" % free_port()
    result = apply(clean, endpoints=[dead, clean.url], network="10.100.0.0/16", timeout=2)
    assert result["changed"] is True, result
    assert result["endpoint"] == clean.url


def test_expected_hosts_fits(clean):
    result = apply(clean, network="10.100.0.0/24", subnet_len=28, expected_hosts=15)
    assert result["changed"] is True and result["capacity"] == 15


@pytest.fixture(scope="module")
def etcd_tls():
    server = EtcdServer(tls=True)
    yield server
    server.stop()


def test_tls_with_client_certificate(etcd_tls):
    pki = etcd_tls.pki
    args = dict(endpoints=[etcd_tls.url], ca_cert=pki["ca"], client_cert=pki["client"],
                client_key=pki["client_key"], network="10.100.0.0/16")
    assert apply(etcd_tls, **args)["changed"] is True
    assert apply(etcd_tls, **args)["changed"] is False
    assert stored(etcd_tls)["Network"] == "10.100.0.0/16"


def test_tls_files_given_as_text(etcd_tls):
    """*_content: the role's dry run passes the controller's files as text (the host has
    none yet); the key never shows in the result and no scratch copy is left behind."""
    pki = etcd_tls.pki
    texts = {}
    for option, name in (("ca_cert_content", "ca"), ("client_cert_content", "client"),
                         ("client_key_content", "client_key")):
        with open(pki[name], encoding="utf-8") as handle:
            texts[option] = handle.read()
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "crosshost-etcd-tls-*")))
    args = dict(texts, endpoints=[etcd_tls.url], network="10.101.0.0/16")
    first = apply(etcd_tls, **args)
    assert first["changed"] is True, first
    assert apply(etcd_tls, **args)["changed"] is False
    assert stored(etcd_tls)["Network"] == "10.101.0.0/16"
    key_lines = [line for line in texts["client_key_content"].splitlines() if line and "-----" not in line]
    assert key_lines and not any(line in json.dumps(first) for line in key_lines)
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "crosshost-etcd-tls-*"))) == before

    both = apply(etcd_tls, **dict(args, ca_cert=pki["ca"]))
    assert both.get("failed") is True
    assert "ca_cert and ca_cert_content" in both["msg"]


def test_tls_without_client_certificate_is_refused(etcd_tls):
    result = apply(etcd_tls, endpoints=[etcd_tls.url], ca_cert=etcd_tls.pki["ca"], network="10.9.0.0/16")
    assert result.get("failed") is True
    assert "no etcd endpoint answered" in result["msg"]
    assert stored(etcd_tls) is None or stored(etcd_tls)["Network"] != "10.9.0.0/16"


def test_tls_without_ca_fails_verification(etcd_tls):
    pki = etcd_tls.pki
    result = apply(etcd_tls, endpoints=[etcd_tls.url], client_cert=pki["client"],
                   client_key=pki["client_key"], network="10.9.0.0/16")
    assert result.get("failed") is True
    assert "CERTIFICATE_VERIFY_FAILED" in result["msg"] or "certificate" in result["msg"].lower()


@pytest.fixture(scope="module")
def etcd_v2():
    server = EtcdServer(enable_v2=True)
    yield server
    server.stop()


def test_v2_api_for_old_flanneld(etcd_v2):
    args = dict(endpoints=[etcd_v2.url], api_version="v2", network="10.100.0.0/16",
                backend={"type": "udp"})
    assert apply(etcd_v2, **args)["changed"] is True
    assert json.loads(etcd_v2.get_v2(KEY)) == {"Network": "10.100.0.0/16", "Backend": {"Type": "udp"}}
    assert apply(etcd_v2, **args)["changed"] is False
    # The v2 and v3 key spaces are separate: modern flanneld would not see this.
    assert etcd_v2.get(KEY) is None
    removed = apply(etcd_v2, endpoints=[etcd_v2.url], api_version="v2", state="absent")
    assert removed["changed"] is True and etcd_v2.get_v2(KEY) is None


def test_v2_requested_but_disabled(clean):
    result = apply(clean, api_version="v2", network="10.100.0.0/16")
    assert result.get("failed") is True
    assert "--enable-v2" in result["msg"]


# Bad input: each fails before writing, with a message naming the field and the fix.
BAD_INPUTS = [
    ({"network": "10.100.0.0"}, "network: '10.100.0.0' has no prefix length"),
    ({"network": "10.300.0.0/16"}, "network: '10.300.0.0/16' is not a valid CIDR"),
    ({"network": "banana"}, "network: 'banana' is not a valid CIDR"),
    ({"network": "10.100.1.0/16"}, "has host bits set; use the network address 10.100.0.0/16"),
    ({"network": "fd00::/64"}, "is IPv6"),
    ({"network": "10.100.0.0/30"}, "the smallest useful network is a /28"),
    ({"network": "10.100.0.0/16", "subnet_len": 31}, "subnet_len: 31 is out of range"),
    ({"network": "10.100.0.0/16", "subnet_len": 17}, "fewer than four subnets in 10.100.0.0/16; use 18"),
    ({"network": "10.100.0.0/16", "subnet_min": "10.101.0.0"}, "subnet_min: 10.101.0.0 is outside network"),
    ({"network": "10.100.0.0/16", "subnet_max": "10.99.255.0"}, "subnet_max: 10.99.255.0 is outside network"),
    ({"network": "10.100.0.0/16", "subnet_min": "10.100.1.128"}, "not on a /24 boundary; use 10.100.1.0"),
    ({"network": "10.100.0.0/16", "subnet_min": "10.100.9.0", "subnet_max": "10.100.8.0"},
     "subnet_min: 10.100.9.0 is above subnet_max"),
    ({"network": "10.100.0.0/16", "subnet_min": "nope"}, "subnet_min: 'nope' is not an IPv4 address"),
    ({"network": "10.100.0.0/24", "subnet_len": 28, "expected_hosts": 16},
     "expected_hosts: 16 hosts need 16 subnets but 10.100.0.16..10.100.0.240 holds only 15"),
    ({"network": "10.100.0.0/16", "backend": {"type": "vxlan", "vni": 0}}, "backend.vni: 0 is out of range"),
    ({"network": "10.100.0.0/16", "backend": {"type": "vxlan", "vni": 16777216}},
     "backend.vni: 16777216 is out of range"),
    ({"network": "10.100.0.0/16", "backend": {"type": "udp", "port": 70000}}, "backend.port: 70000 is out of range"),
    ({"network": "10.100.0.0/16", "backend": {"type": "host-gw", "vni": 2}},
     "backend.vni: not used by the host-gw backend"),
    ({"network": "10.100.0.0/16", "backend": {"type": "vxlan", "mtu": 20}}, "backend.mtu: 20 is out of range"),
    ({"network": "10.100.0.0/16", "backend": {"type": "gre"}}, "value of type must be one of"),
    ({"network": "10.100.0.0/16", "prefix": "coreos.com/network"}, "prefix: 'coreos.com/network' is not an etcd"),
    ({"network": "10.100.0.0/16", "prefix": "/coreos.com/network/"}, "no trailing slash"),
    ({"network": "10.100.0.0/16", "expected_hosts": 0}, "expected_hosts: 0 is not a host count"),
    ({"network": "10.100.0.0/16", "ca_cert": "/nonexistent/ca.crt"},
     "ca_cert: file /nonexistent/ca.crt does not exist on this host"),
    ({"network": "10.100.0.0/16", "client_cert": "/etc/hostname"}, "client_cert and client_key: give both"),
    ({"network": "10.100.0.0/16", "endpoints": ["127.0.0.1:2379"]}, "is not an http:// or https:// URL"),
    ({"state": "present"}, "state is present but all of the following are missing: network"),
    ({"network": "10.100.0.0/16", "endpoints": ["https://127.0.0.1:2379"], "client_cert": "/etc/hostname",
      "client_key": "/etc/hostname"}, "cannot load the TLS files"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS, ids=[case[1][:40] for case in BAD_INPUTS])
def test_bad_input_fails_early_and_changes_nothing(clean, args, message):
    clean.put(KEY, '{"Network": "10.1.0.0/16", "Backend": {"Type": "vxlan"}}')
    before = clean.dump()
    result = apply(clean, **args)
    assert result.get("failed") is True, result
    assert message in result["msg"], result["msg"]
    assert clean.dump() == before


def test_unreachable_etcd_names_every_endpoint(clean):
    dead = ["http://127.0.0.1:%d" % free_port(), "http://127.0.0.1:%d" % free_port()]
    result = apply(clean, endpoints=dead, network="10.100.0.0/16", timeout=2)
    assert result.get("failed") is True
    assert "no etcd endpoint answered" in result["msg"]
    assert all(url in result["msg"] for url in dead)
    assert "fix `endpoints`" in result["msg"]
