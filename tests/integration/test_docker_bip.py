"""crosshost.network.docker_bip through real Ansible, checked against a real dockerd.

dockerd runs in a network namespace created here (its docker0 and iptables rules stay
in there), with vfs storage and all its state under a temporary directory. The host's
own interfaces, routes and iptables are never touched.
"""
import os
import shlex
import stat
import threading

import sys

import pytest

from dockerd_daemon import DOCKERD, Dockerd, NetNS

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tools.lab.artifacts import write_busybox_image  # noqa: E402  (the lab's probe image, built here)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns, dockerd)")

USER_JSON = '{\n    "storage-driver": "vfs",\n    "log-level": "warn",\n    "mtu": 1500\n}\n'
SUBNET_ENV = ("FLANNEL_NETWORK=10.100.0.0/16\nFLANNEL_SUBNET=10.100.15.1/24\n"
              "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")


@pytest.fixture
def work(tmp_path):
    """tmp dir with daemon.json (user keys), subnet.env and empty unit dirs."""
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "daemon.json").write_text(USER_JSON)
    (tmp_path / "subnet.env").write_text(SUBNET_ENV)
    (tmp_path / "lib").mkdir()
    (tmp_path / "etc" / "docker.service.d").mkdir(parents=True)
    return tmp_path


def base_args(work, **kwargs):
    args = {
        "path": str(work / "docker" / "daemon.json"),
        "unit_paths": [str(work / "etc" / "docker.service"), str(work / "lib" / "docker.service"),
                       str(work / "etc" / "docker.service.d" / "*.conf"),
                       str(work / "default-docker")],
        "dropin_path": str(work / "etc" / "docker.service.d" / "zz-crosshost-docker-bip.conf"),
    }
    args.update(kwargs)
    return args


def snapshot(root):
    """Every file under root with its bytes and mode, to prove nothing changed."""
    files = {}
    for dirpath, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                files[path] = (handle.read(), os.stat(path).st_mode, os.stat(path).st_mtime_ns)
        files[dirpath] = None
    return files


@pytest.fixture
def netns():
    made = []

    def make():
        ns = NetNS()
        made.append(ns)
        return ns
    yield make
    for ns in made:
        ns.delete()


@pytest.fixture
def dockerd(netns):
    started = []

    def make(config_file):
        daemon = Dockerd(netns(), config_file)
        started.append(daemon)
        return daemon
    yield make
    for daemon in started:
        daemon.cleanup()


def test_create_merge_idempotent(work, module_runner):
    path = work / "docker" / "daemon.json"
    os.chmod(str(path), 0o600)
    args = base_args(work, bip="192.168.10.1/24", mtu=1462, fixed_cidr="192.168.10.128/25",
                     ip_masq=False)
    result = module_runner("docker_bip", args)
    assert result["changed"] is True and result["restart_required"] is True, result
    assert result["daemon_reload_required"] is False and result["conflicts"] == []
    assert [c["key"] for c in result["changes"]] == ["bip", "mtu", "fixed-cidr", "ip-masq"]
    text = path.read_text()
    # user keys kept in place (mtu updated in place), new keys appended, indent 2
    assert text == ('{\n  "storage-driver": "vfs",\n  "log-level": "warn",\n  "mtu": 1462,\n'
                    '  "bip": "192.168.10.1/24",\n  "fixed-cidr": "192.168.10.128/25",\n'
                    '  "ip-masq": false\n}\n')
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600  # existing mode kept

    before = snapshot(work)
    again = module_runner("docker_bip", args)
    assert again["changed"] is False and again["restart_required"] is False, again
    assert again["changes"] == []
    assert snapshot(work) == before


def test_missing_file_created_check_and_diff(work, module_runner):
    path = work / "new" / "dir" / "daemon.json"
    args = base_args(work, path=str(path), bip="10.9.0.1/24", iptables=False)
    before = snapshot(work)
    checked = module_runner("docker_bip", args, check=True, diff=True)
    assert checked["changed"] is True and checked["restart_required"] is True, checked
    assert checked["diff"]["before"] == ""
    assert '"bip": "10.9.0.1/24"' in checked["diff"]["after"]
    assert snapshot(work) == before and not (work / "new").exists()

    result = module_runner("docker_bip", args)
    assert result["changed"] is True
    assert path.read_text() == '{\n  "bip": "10.9.0.1/24",\n  "iptables": false\n}\n'
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644

    # check mode on an existing file: diff shows the change, the file stays
    args["bip"] = "10.9.1.1/24"
    before = snapshot(work)
    checked = module_runner("docker_bip", args, check=True, diff=True)
    assert checked["changed"] is True
    assert '"bip": "10.9.0.1/24"' in checked["diff"]["before"]
    assert '"bip": "10.9.1.1/24"' in checked["diff"]["after"]
    assert checked["diff"]["before_header"] == str(path)
    assert snapshot(work) == before
    # check mode without changes: not changed
    args["bip"] = "10.9.0.1/24"
    assert module_runner("docker_bip", args, check=True)["changed"] is False


def test_subnet_env_real_dockerd(work, module_runner, dockerd):
    """Settings from flannel's subnet.env; a real dockerd comes up on that bridge."""
    path = work / "docker" / "daemon.json"
    args = base_args(work, subnet_file=str(work / "subnet.env"))
    result = module_runner("docker_bip", args, diff=True)
    assert result["changed"] is True and result["restart_required"] is True, result
    assert result["settings"] == {"bip": "10.100.15.1/24", "mtu": 1450, "ip-masq": False}
    assert result["sources"] == {"bip": "subnet_file", "mtu": "subnet_file",
                                 "ip-masq": "subnet_file"}
    assert '"mtu": 1500' in result["diff"]["before"] and '"mtu": 1450' in result["diff"]["after"]
    assert module_runner("docker_bip", args)["changed"] is False

    daemon = dockerd(str(path))
    ok, log = daemon.start()
    assert ok, log
    v4, _v6, _mtu = daemon.netns.addrs("docker0")
    assert v4 == ["10.100.15.1/24"]
    net = daemon.bridge_network()
    assert net["IPAM"]["Config"][0]["Subnet"] == "10.100.15.0/24"
    assert net["Options"]["com.docker.network.driver.mtu"] == "1450"
    assert net["Options"]["com.docker.network.bridge.enable_ip_masquerade"] == "false"
    assert daemon.docker("info", "--format", "{{.Driver}}").stdout.strip() == "vfs"
    # ip-masq false: no MASQUERADE rule for the bridge network in the namespace
    nat = daemon.netns.run(["iptables", "-t", "nat", "-S", "POSTROUTING"],
                           capture_output=True, text=True)
    assert nat.returncode == 0, nat.stderr
    assert "10.100.15.0/24" not in nat.stdout
    daemon.stop()
    # the bridge keeps flannel's address after dockerd stopped; the module now sees it
    # as already right (netlink mode, idempotent on docker0)
    again = module_runner("docker_bip", dict(args, apply_to_bridge=True,
                                             netns=daemon.netns.name))
    assert again["bridge"]["addresses_before"] == ["10.100.15.1/24"]
    # docker 20.10 leaves an idle docker0 at MTU 1500: the module sets it
    assert again["bridge"]["commands"] in ([], [["ip", "-n", daemon.netns.name, "link", "set",
                                                 "dev", "docker0", "mtu", "1450"]])
    assert daemon.netns.addrs("docker0")[2] == 1450


def test_range_move_refused_while_containers_hold_addresses_outside(work, module_runner, dockerd):
    """A running container on the old slice of a shared segment: moving fixed-cidr away from it
    fails and changes nothing; a move that keeps it inside passes; force=true moves anyway and
    warns; with Docker down the containers cannot be listed, which is said, not hidden."""
    path = work / "docker" / "daemon.json"
    old = {"bip": "192.168.10.1/24", "fixed_cidr": "192.168.10.64/26", "mtu": 1462}
    args = base_args(work, **old)
    assert module_runner("docker_bip", args)["changed"] is True
    daemon = dockerd(str(path))
    ok, log = daemon.start()
    assert ok, log
    write_busybox_image(work / "busybox.tar")
    daemon.docker("import", str(work / "busybox.tar"), "busybox:ci")
    daemon.docker("run", "-d", "--init", "--name", "app1", "busybox:ci", "sleep", "3600")
    address = daemon.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "app1").stdout.strip()
    assert address.startswith("192.168.10.") and 64 <= int(address.rsplit(".", 1)[1]) < 128, address
    sock = "unix://" + daemon.sock

    # a 4th host halves every slice: this host's moves to .32/27, away from app1
    moved = dict(args, fixed_cidr="192.168.10.32/27", docker_host=sock)
    before = snapshot(work)
    for check in (True, False):
        refused = module_runner("docker_bip", moved, check=check)
        assert refused.get("failed") and refused["changed"] is False, refused
        assert refused["containers_outside"] == [{"name": "app1", "address": address}]
        assert ("app1 (%s)" % address) in refused["msg"] and "fixed-cidr 192.168.10.32/27" in refused["msg"]
        assert "docker_bridge_force" in refused["msg"]
        assert snapshot(work) == before

    # a move that keeps app1 inside the range: no objection
    wider = module_runner("docker_bip", dict(args, fixed_cidr="192.168.10.0/25", docker_host=sock),
                          check=True)
    assert wider["changed"] is True and wider["containers_outside"] == [], wider
    assert not wider.get("warnings")

    forced = module_runner("docker_bip", dict(moved, force=True))
    assert forced["changed"] is True and forced["containers_outside"] == refused["containers_outside"]
    assert any("moved anyway" in warning for warning in forced["warnings"]), forced
    assert '"fixed-cidr": "192.168.10.32/27"' in path.read_text()

    # Docker down: nothing to ask, the change goes ahead with a warning that says so
    daemon.stop()
    back = module_runner("docker_bip", dict(args, docker_host=sock))
    assert back["changed"] is True and back["containers_outside"] == []
    assert any("could not list the containers" in warning for warning in back["warnings"]), back


UNIT = """[Unit]
Description=Docker Application Container Engine (test copy)

[Service]
Type=notify
ExecStart=%s -H fd:// --bip=172.30.0.1/24 \\
    --mtu 1400 --log-driver=json-file
ExecReload=/bin/kill -s HUP $MAINPID
""" % DOCKERD


def test_waits_for_a_lease_written_later_and_returns_it(work, module_runner):
    """A flanneld just started writes subnet.env a moment later: with subnet_file_timeout
    the module waits for it (polling) and returns the lease it read; check mode never
    waits; without the timeout a missing file fails at once, naming the fix."""
    lease = work / "later" / "subnet.env"
    args = base_args(work, subnet_file=str(lease), subnet_file_timeout=30)
    checked = module_runner("docker_bip", args, check=True)
    assert checked.get("failed") is True and "after 30 s" in checked["msg"], checked
    writer = threading.Timer(2.0, lambda: (lease.parent.mkdir(), lease.write_text(SUBNET_ENV)))
    writer.start()
    try:
        result = module_runner("docker_bip", args)
    finally:
        writer.cancel()
    assert result["changed"] is True, result
    assert result["lease"] == {"network": "10.100.0.0/16", "subnet": "10.100.15.1/24", "mtu": 1450,
                               "ipmasq": True}
    assert result["settings"]["bip"] == "10.100.15.1/24"
    lease.unlink()
    failed = module_runner("docker_bip", base_args(work, subnet_file=str(lease)))
    assert failed.get("failed") is True and "start flanneld first" in failed["msg"], failed
    assert "after" not in failed["msg"].split(":")[0]


def test_conflict_detected_resolved_real_dockerd(work, module_runner, dockerd):
    (work / "lib" / "docker.service").write_text(UNIT)
    path = work / "docker" / "daemon.json"
    args = base_args(work, bip="10.50.0.1/24", mtu=1450)
    before = snapshot(work)
    failed = module_runner("docker_bip", args)
    assert failed.get("failed") is True, failed
    assert "dockerd would refuse to start" in failed["msg"]
    assert "docker.service line 6: --bip=172.30.0.1/24" in failed["msg"]
    assert "resolve_conflicts: true" in failed["msg"]
    assert [(c["flag"], c["value"], c["line"]) for c in failed["conflicts"]] == [
        ("--bip", "172.30.0.1/24", 6), ("--mtu", "1400", 6)]
    assert snapshot(work) == before

    result = module_runner("docker_bip", dict(args, resolve_conflicts=True), diff=True)
    assert result["changed"] is True and result["restart_required"] is True, result
    assert result["daemon_reload_required"] is True
    dropin = work / "etc" / "docker.service.d" / "zz-crosshost-docker-bip.conf"
    assert result["dropin"] == str(dropin)
    assert len(result["diff"]) == 2 and result["diff"][1]["before_header"] == str(dropin)
    text = dropin.read_text()
    assert "ExecStart=\nExecStart=%s -H fd:// --log-driver=json-file\n" % DOCKERD in text
    assert (work / "lib" / "docker.service").read_text() == UNIT  # unit never edited

    again = module_runner("docker_bip", dict(args, resolve_conflicts=True))
    assert again["changed"] is False and again["conflicts"] == [], again
    assert again["daemon_reload_required"] is False

    # The conflict is real: dockerd with the unit's flags refuses this daemon.json ...
    def exec_start(text):
        line = [l for l in text.replace("\\\n", " ").splitlines() if l.startswith("ExecStart=")][-1]
        return [w for w in shlex.split(line[len("ExecStart="):]) if w != "-H" and w != "fd://"]
    refused = dockerd(str(path))
    ok, log = refused.start(base=exec_start(UNIT))
    assert not ok, log
    assert "specified both as a flag and in the configuration file" in log
    # ... and starts with the drop-in's command line, on the daemon.json address
    good = dockerd(str(path))
    ok, log = good.start(base=exec_start(text))
    assert ok, log
    assert good.netns.addrs("docker0")[0] == ["10.50.0.1/24"]
    assert good.bridge_network()["Options"]["com.docker.network.driver.mtu"] == "1450"


def test_preexisting_other_conflict_warns(work, module_runner):
    """A user key (log-level) that is also a flag: reported and warned, not ours to fix."""
    (work / "lib" / "docker.service").write_text(
        "[Service]\nExecStart=%s -H fd:// --log-level=info\n" % DOCKERD)
    result = module_runner("docker_bip", base_args(work, bip="10.70.0.1/24"))
    assert result["changed"] is True and result["conflicts"] == [], result
    assert [(c["flag"], c["key"]) for c in result["other_conflicts"]] == [("--log-level", "log-level")]
    assert any("--log-level is also the daemon.json key log-level" in w for w in result["warnings"])


def test_bridge_netlink_modes(work, module_runner, netns):
    ns = netns()
    ns.ip("link", "add", "dkbr0", "type", "bridge")
    ns.ip("addr", "add", "172.17.0.1/16", "dev", "dkbr0")
    ns.ip("addr", "add", "fd00:dd::1/64", "dev", "dkbr0", "nodad")
    args = base_args(work, bip="10.60.0.1/24", mtu=1450, apply_to_bridge=True, bridge="dkbr0",
                     netns=ns.name, netlink_backend="pyroute2")

    checked = module_runner("docker_bip", args, check=True)
    assert checked["changed"] is True and checked["bridge"]["changed"] is True
    assert ns.addrs("dkbr0") == (["172.17.0.1/16"], ["fd00:dd::1/64"], 1500)

    result = module_runner("docker_bip", args)
    assert result["changed"] is True and result["bridge"]["method"] == "pyroute2", result
    assert result["bridge"]["addresses_before"] == ["172.17.0.1/16"]
    assert result["bridge"]["commands"] == [
        ["ip", "-n", ns.name, "addr", "replace", "10.60.0.1/24", "dev", "dkbr0"],
        ["ip", "-n", ns.name, "addr", "del", "172.17.0.1/16", "dev", "dkbr0"],
        ["ip", "-n", ns.name, "link", "set", "dev", "dkbr0", "mtu", "1450"]]
    assert ns.addrs("dkbr0") == (["10.60.0.1/24"], ["fd00:dd::1/64"], 1450)
    again = module_runner("docker_bip", args)
    assert again["changed"] is False and again["bridge"]["commands"] == [], again

    # the iproute2 fallback: re-address, then idempotent
    args.update(bip="10.60.1.1/24", mtu=1400, netlink_backend="iproute2")
    result = module_runner("docker_bip", args)
    assert result["changed"] is True and result["bridge"]["method"] == "iproute2", result
    assert ns.addrs("dkbr0") == (["10.60.1.1/24"], ["fd00:dd::1/64"], 1400)
    again = module_runner("docker_bip", args)
    assert again["changed"] is False and again["bridge"]["changed"] is False, again


def _write(work, name, text):
    target = work / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


BAD_INPUTS = [
    # (id, files to write, module args, expected text in msg)
    ("unparseable-json", {"docker/daemon.json": '{"storage-driver": "vfs",\n'}, {"bip": "10.1.0.1/24"},
     "daemon.json is not valid JSON (Expecting"),
    ("json-not-object", {"docker/daemon.json": '["bip"]\n'}, {"bip": "10.1.0.1/24"},
     "holds a JSON list, not an object"),
    ("bip-no-prefix", {}, {"bip": "10.1.0.1"},
     "bip is '10.1.0.1', which has no prefix length: Docker needs the bridge address with its "
     "prefix, for example 10.1.0.1/24"),
    ("bip-network-address", {}, {"bip": "10.1.0.0/24"},
     "bip is '10.1.0.0/24', the network address of 10.1.0.0/24, not a usable interface address: "
     "use the first host address instead, 10.1.0.1/24"),
    ("fixed-cidr-outside", {}, {"bip": "10.1.0.1/24", "fixed_cidr": "10.2.0.0/25"},
     "fixed_cidr is '10.2.0.0/25', which is not inside the bridge network 10.1.0.0/24"),
    ("fixed-cidr-host-bits", {}, {"bip": "10.1.0.1/24", "fixed_cidr": "10.1.0.5/25"},
     "host bits set: use the network address 10.1.0.0/25"),
    ("mtu-out-of-range", {}, {"bip": "10.1.0.1/24", "mtu": 70000},
     "mtu is 70000, outside 68..65535"),
    ("missing-subnet-file", {}, {"subnet_file": "{work}/nope/subnet.env"},
     "subnet_file {work}/nope/subnet.env does not exist or cannot be read: flanneld writes it"),
    ("subnet-file-no-subnet", {"flannel.env": "FLANNEL_NETWORK=10.100.0.0/16\nFLANNEL_MTU=1450\n"},
     {"subnet_file": "{work}/flannel.env"}, "{work}/flannel.env has no FLANNEL_SUBNET line"),
    ("bip-and-subnet-file", {}, {"bip": "10.1.0.1/24", "subnet_file": "{work}/subnet.env"},
     "parameters are mutually exclusive: bip|subnet_file"),
    ("conflicting-flag-in-unit",
     {"etc/docker.service.d/flannel.conf":
      "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd --mtu=${FLANNEL_MTU}\n"},
     {"bip": "10.1.0.1/24", "mtu": 1450},
     "flannel.conf line 3: --mtu=${FLANNEL_MTU} (daemon.json key mtu)"),
    ("docker-opts-not-resolvable", {"default-docker": 'DOCKER_OPTS="--bip=10.1.0.1/24"\n'},
     {"bip": "10.1.0.1/24", "resolve_conflicts": True},
     "Remove them from DOCKER_OPTS by hand"),
    ("bridge-missing", {}, {"bip": "10.1.0.1/24", "apply_to_bridge": True, "bridge": "dkbip-none"},
     "bridge dkbip-none does not exist"),
    # a host moved from a static range (OVS GRE) to flannel without reset.yml
    ("kept-fixed-cidr-outside-lease",
     {"docker/daemon.json": '{"bip": "192.168.10.1/24", "fixed-cidr": "192.168.10.64/26"}\n'},
     {"subnet_file": "{work}/subnet.env"},
     "keeps fixed-cidr '192.168.10.64/26' from before, which is not inside the new bridge network "
     "10.100.15.0/24"),
]


@pytest.mark.parametrize("files,extra,needle", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_and_changes_nothing(work, module_runner, files, extra, needle):
    for name, text in files.items():
        _write(work, name, text)
    extra = {key: (value.replace("{work}", str(work)) if isinstance(value, str) else value)
             for key, value in extra.items()}
    needle = needle.replace("{work}", str(work))
    before = snapshot(work)
    result = module_runner("docker_bip", base_args(work, **extra))
    assert result.get("failed") is True, result
    assert needle in result["msg"], result["msg"]
    assert snapshot(work) == before


def test_check_bridge_names_a_bridge_left_on_another_subnet(work, module_runner, netns):
    """daemon.json already has bip, so nothing is written: check_bridge then compares the
    running bridge. One left on another subnet (what Docker does for containers that outlived
    its stop) fails with the fix; the right address, or no bridge yet, passes."""
    ns = netns()
    args = base_args(work, bip="10.100.99.1/24", check_bridge=True, bridge="dkbr0", netns=ns.name)
    assert module_runner("docker_bip", args)["changed"] is True          # writes bip; no check then
    assert module_runner("docker_bip", args)["changed"] is False         # no bridge: nothing to check
    ns.ip("link", "add", "dkbr0", "type", "bridge")
    ns.ip("addr", "add", "10.100.9.1/24", "dev", "dkbr0")
    before = snapshot(work)
    stale = module_runner("docker_bip", args)
    assert stale["failed"] is True
    assert stale["msg"].startswith("dkbr0 has 10.100.9.1/24, not bip 10.100.99.1/24 from "), stale["msg"]
    assert "Stop those containers, restart Docker" in stale["msg"]
    assert snapshot(work) == before
    assert module_runner("docker_bip", args, check=True)["failed"] is True
    ns.ip("addr", "replace", "10.100.99.1/24", "dev", "dkbr0")
    assert module_runner("docker_bip", args).get("failed") is not True
