"""host_state through real Ansible on this machine: paths and dpkg's package list
(the units need systemd as PID 1; they are read in every lab scenario instead:
site.yml's facts step, and the etcd, flannel and docker roles)."""
import hashlib
import os
import subprocess

from adhoc import run_module


def dpkg_installed():
    out = subprocess.run(["dpkg-query", "--show", "--showformat=${db:Status-Status} ${Package}\\n"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("installed "))


def test_reads_paths_and_the_installed_packages(tmp_path):
    present = tmp_path / "member"
    present.mkdir()
    result = run_module("host_state", {"paths": [str(present), str(tmp_path / "missing")], "packages": True})
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert result["paths"] == {str(present): True, str(tmp_path / "missing"): False}
    assert result["units"] == {}
    assert sorted(result["packages"]) == dpkg_installed()
    assert "etcd-server" in result["packages"]


def test_describes_files_and_links(tmp_path):
    archive = tmp_path / "flannel.tar.gz"
    archive.write_bytes(b"release")
    link = tmp_path / "flanneld"
    os.symlink(str(archive), str(link))
    result = run_module("host_state", {"files": [str(archive), str(link), str(tmp_path / "missing")]})
    assert result.get("failed") is not True, result
    files = result["files"]
    assert files[str(archive)]["type"] == "file"
    assert files[str(archive)]["sha256"] == hashlib.sha256(b"release").hexdigest()
    assert files[str(archive)]["uid"] == 0
    assert files[str(link)] == {"type": "link", "mode": "0777", "uid": 0, "gid": 0, "sha256": None,
                                "link": str(archive)}
    assert files[str(tmp_path / "missing")] is None


def test_gathers_the_facts_setup_gathers():
    subset = ["!all", "!min", "distribution", "platform"]
    ours = run_module("host_state", {"gather_subset": subset, "packages": True})
    setup = run_module("ansible.builtin.setup", {"gather_subset": subset})
    assert ours.get("failed") is not True, ours
    assert ours["ansible_facts"]["ansible_os_family"] == "Debian"
    volatile = {"ansible_date_time", "ansible_uptime_seconds"}
    assert ({k: v for k, v in ours["ansible_facts"].items() if k not in volatile}
            == {k: v for k, v in setup["ansible_facts"].items() if k not in volatile})
    assert ours["packages"], "the package list comes in the same call"


def test_no_subset_gathers_no_facts_and_a_wrong_one_is_named():
    assert run_module("host_state", {"paths": ["/"]})["ansible_facts"] == {}
    wrong = run_module("host_state", {"gather_subset": ["netwrok"]})
    assert wrong["failed"] is True
    assert wrong["msg"].startswith("gather_subset: ") and "netwrok" in wrong["msg"], wrong["msg"]


def test_check_mode_reads_the_same(tmp_path):
    result = run_module("host_state", {"paths": [str(tmp_path)]}, check=True)
    assert result["paths"] == {str(tmp_path): True}
    assert result["packages"] is None


def test_units_are_read_or_the_reason_is_given():
    result = run_module("host_state", {"units": ["etcd.service", "crosshost-nosuch.service"]})
    if os.path.isdir("/run/systemd/system"):
        # systemd is the init system here: a missing unit is inactive with no unit file.
        assert result["units"]["crosshost-nosuch.service"] == {"active_state": "inactive", "unit_file_state": ""}
    else:
        # No systemd as PID 1 (this development machine): systemctl refuses, and the module says why.
        assert result["failed"] is True
        assert "`systemctl show` of etcd.service, crosshost-nosuch.service failed" in result["msg"]
        assert "Is systemd the init system on this host?" in result["msg"]
