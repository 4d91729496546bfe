"""flannel_lease against a real etcd (Debian etcd-server 3.4) through real Ansible."""
import json

import pytest

from adhoc import run_module

PREFIX = "/coreos.com/network"
LEAVING, STAYING = "192.168.122.13", "192.168.122.11"


@pytest.fixture
def leases(etcd):
    """Two leases as flanneld writes them, a sentinel key beside them, and the config."""
    etcd.ctl("del", "/", "--prefix")
    for subnet, address in (("10.100.15.0-24", LEAVING), ("10.100.16.0-24", STAYING)):
        etcd.put(f"{PREFIX}/subnets/{subnet}", json.dumps({"PublicIP": address, "BackendType": "vxlan"}))
    etcd.put(f"{PREFIX}/config", json.dumps({"Network": "10.100.0.0/16", "Backend": {"Type": "vxlan"}}))
    etcd.put("/sentinel", "kept")
    yield etcd
    etcd.ctl("del", "/", "--prefix")


def keys(etcd):
    return sorted(etcd.ctl("get", "/", "--prefix", "--keys-only").stdout.split())


def release(etcd, check=False, diff=False, **args):
    args.setdefault("endpoints", [etcd.url])
    return run_module("flannel_lease", args, check=check, diff=diff)


def test_check_mode_reports_and_keeps_then_release_deletes_only_that_host(leases):
    before = keys(leases)
    preview = release(leases, check=True, diff=True, public_ips=[LEAVING])
    assert preview["changed"] is True, preview
    assert [lease["subnet"] for lease in preview["released"]] == ["10.100.15.0/24"]
    assert preview["diff"]["before"] == f"10.100.15.0/24 {LEAVING}\n10.100.16.0/24 {STAYING}\n"
    assert preview["diff"]["after"] == f"10.100.16.0/24 {STAYING}\n"
    assert keys(leases) == before

    done = release(leases, public_ips=[LEAVING])
    assert done["changed"] is True and done["endpoint"] == leases.url, done
    assert keys(leases) == sorted(k for k in before if not k.endswith("10.100.15.0-24"))
    assert release(leases, public_ips=[LEAVING])["changed"] is False


def test_an_address_without_a_lease_changes_nothing(leases):
    before = keys(leases)
    result = release(leases, public_ips=["192.168.122.99"])
    assert result["changed"] is False and result["released"] == []
    assert len(result["leases"]) == 2
    assert keys(leases) == before


@pytest.mark.parametrize("args, message", [
    ({"public_ips": []}, "public_ips: give the host's address"),
    ({"public_ips": [LEAVING], "prefix": "coreos.com/network/"}, "prefix: 'coreos.com/network/' is not an etcd key prefix"),
    ({"public_ips": [LEAVING], "endpoints": ["http://127.0.0.1:1"]}, "127.0.0.1:1"),
])
def test_bad_input_and_unreachable_etcd_fail_clearly_and_change_nothing(leases, args, message):
    before = keys(leases)
    result = release(leases, **args)
    assert result["failed"] is True
    assert message in result["msg"], result["msg"]
    assert keys(leases) == before
