# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure logic behind crosshost.network.docker_bip."""
import json
import os
import sys
from collections import OrderedDict

import pytest

try:
    from ansible_collections.crosshost.network.plugins.module_utils import docker_daemon as dd
except ImportError:
    # plain `pytest tests/unit` from the checkout: use the link made by `make collection`
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 *([os.pardir] * 4 + [".build", "collections"])))
    from ansible_collections.crosshost.network.plugins.module_utils import docker_daemon as dd

SUBNET_ENV = """FLANNEL_NETWORK=10.100.0.0/16
FLANNEL_SUBNET=10.100.15.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
"""


# --- subnet.env ------------------------------------------------------------

def test_read_subnet_env():
    env = dd.read_subnet_env(SUBNET_ENV, "/run/flannel/subnet.env")
    assert env == {"network": "10.100.0.0/16", "subnet": "10.100.15.1/24", "mtu": 1450,
                   "ipmasq": True}


def test_parse_env_quotes_comments_export():
    env = dd.parse_env_text('# c\nexport A="x y"\nB=\'1\'  # trailing\n\nnot a line\n')
    assert env == OrderedDict([("A", "x y"), ("B", "1")])


def test_subnet_env_missing_subnet():
    with pytest.raises(dd.DockerBipError, match=r"/x/subnet.env has no FLANNEL_SUBNET"):
        dd.read_subnet_env("FLANNEL_MTU=1450\n", "/x/subnet.env")


def test_subnet_env_subnet_outside_network():
    text = "FLANNEL_NETWORK=10.200.0.0/16\nFLANNEL_SUBNET=10.100.15.1/24\n"
    with pytest.raises(dd.DockerBipError, match="not inside FLANNEL_NETWORK"):
        dd.read_subnet_env(text, "f")


def test_subnet_env_bad_mtu_and_bool():
    with pytest.raises(dd.DockerBipError, match="FLANNEL_MTU in f is '9'"):
        dd.read_subnet_env("FLANNEL_SUBNET=10.1.0.1/24\nFLANNEL_MTU=9\n", "f")
    with pytest.raises(dd.DockerBipError, match="FLANNEL_IPMASQ"):
        dd.read_subnet_env("FLANNEL_SUBNET=10.1.0.1/24\nFLANNEL_IPMASQ=maybe\n", "f")


# --- validation ------------------------------------------------------------

@pytest.mark.parametrize("value,needle", [
    ("10.100.15.1", "no prefix length"),
    ("10.100.15.0/24", "network address of 10.100.15.0/24"),
    ("10.100.15.255/24", "broadcast address"),
    ("10.100.15.1/32", "no room for containers"),
    ("fd00::1/64", "IPv6"),
    ("10.300.1.1/24", "not an IPv4 address"),
])
def test_bad_bip(value, needle):
    with pytest.raises(dd.DockerBipError) as err:
        dd.validate_bip(value)
    assert needle in str(err.value)
    assert str(err.value).startswith("bip is %r" % value)


def test_good_bip():
    assert dd.validate_bip(" 192.168.10.1/24 ") == "192.168.10.1/24"
    assert dd.validate_bip("10.0.0.2/30") == "10.0.0.2/30"


def test_network_address_hint():
    with pytest.raises(dd.DockerBipError, match=r"10\.100\.15\.1/24"):
        dd.validate_bip("10.100.15.0/24")


@pytest.mark.parametrize("value,needle", [
    ("10.100.16.0/25", "not inside the bridge network 10.100.15.0/24"),
    ("10.100.15.5/25", "host bits set: use the network address 10.100.15.0/25"),
    ("10.100.15.128", "no prefix length"),
    ("nonsense", "not a network"),
    ("10.100.0.0/16", "not inside"),
])
def test_bad_fixed_cidr(value, needle):
    with pytest.raises(dd.DockerBipError) as err:
        dd.validate_fixed_cidr(value, "10.100.15.1/24")
    assert needle in str(err.value)
    assert "fixed_cidr is %r" % value in str(err.value)


def test_fixed_cidr_ok():
    assert dd.validate_fixed_cidr("10.100.15.128/25", "10.100.15.1/24") == "10.100.15.128/25"
    assert dd.validate_fixed_cidr("10.100.15.0/24", "10.100.15.1/24") == "10.100.15.0/24"
    assert dd.validate_fixed_cidr("10.9.0.0/24", None) == "10.9.0.0/24"


@pytest.mark.parametrize("value", [67, 65536, 0, -1, "abc"])
def test_bad_mtu(value):
    with pytest.raises(dd.DockerBipError, match="mtu is"):
        dd.validate_mtu(value)


def test_mtu_bounds():
    assert dd.validate_mtu(68) == 68
    assert dd.validate_mtu("65535") == 65535


# --- settings ----------------------------------------------------------------

def test_settings_from_subnet_env():
    env = dd.read_subnet_env(SUBNET_ENV, "f")
    settings, sources = dd.compute_settings(subnet=env)
    assert list(settings.items()) == [("bip", "10.100.15.1/24"), ("mtu", 1450), ("ip-masq", False)]
    assert set(sources.values()) == {"subnet_file"}


def test_settings_ipmasq_false_means_docker_masquerades():
    env = dd.read_subnet_env("FLANNEL_SUBNET=10.1.0.1/24\nFLANNEL_IPMASQ=false\n", "f")
    settings, _sources = dd.compute_settings(subnet=env)
    assert settings == OrderedDict([("bip", "10.1.0.1/24"), ("ip-masq", True)])


def test_explicit_options_override_subnet_env():
    env = dd.read_subnet_env(SUBNET_ENV, "f")
    settings, sources = dd.compute_settings(mtu=1400, fixed_cidr="10.100.15.128/25",
                                            iptables=False, subnet=env)
    assert settings["mtu"] == 1400 and sources["mtu"] == "option"
    assert settings["fixed-cidr"] == "10.100.15.128/25"
    assert settings["iptables"] is False
    assert sources["bip"] == "subnet_file"
    assert list(settings) == ["bip", "mtu", "fixed-cidr", "ip-masq", "iptables"]


def test_fixed_cidr_checked_against_subnet_env():
    env = dd.read_subnet_env(SUBNET_ENV, "f")
    with pytest.raises(dd.DockerBipError, match="not inside the bridge network 10.100.15.0/24"):
        dd.compute_settings(fixed_cidr="10.100.16.0/24", subnet=env)


def test_bip_and_subnet_exclusive_and_nothing_to_set():
    env = dd.read_subnet_env(SUBNET_ENV, "f")
    with pytest.raises(dd.DockerBipError, match="mutually exclusive"):
        dd.compute_settings(bip="10.1.0.1/24", subnet=env)
    with pytest.raises(dd.DockerBipError, match="nothing to set"):
        dd.compute_settings()


# --- daemon.json ---------------------------------------------------------------

def test_merge_preserves_order_and_appends():
    text = '{"storage-driver": "vfs", "mtu": 1500, "log-opts": {"b": 1, "a": 2}}'
    existing = dd.load_daemon_json(text, "d.json")
    merged, changes = dd.merge_settings(existing, OrderedDict([("bip", "10.1.0.1/24"),
                                                               ("mtu", 1450)]))
    assert list(merged) == ["storage-driver", "mtu", "log-opts", "bip"]
    assert list(merged["log-opts"]) == ["b", "a"]
    assert changes == [{"key": "bip", "before": None, "after": "10.1.0.1/24"},
                       {"key": "mtu", "before": 1500, "after": 1450}]
    rendered = dd.render_daemon_json(merged)
    assert rendered.endswith("}\n") and '\n  "storage-driver": "vfs",' in rendered
    assert json.loads(rendered) == merged


def test_merge_unchanged_and_type_sensitive():
    existing = dd.load_daemon_json('{"mtu": 1450, "ip-masq": false}', "d")
    assert dd.merge_settings(existing, {"mtu": 1450, "ip-masq": False})[1] == []
    existing = dd.load_daemon_json('{"mtu": "1450", "ip-masq": 0}', "d")
    assert [c["key"] for c in dd.merge_settings(existing, {"mtu": 1450, "ip-masq": False})[1]] \
        == ["mtu", "ip-masq"]


def test_load_daemon_json_errors():
    assert dd.load_daemon_json("", "d") == {}
    assert dd.load_daemon_json(None, "d") == {}
    with pytest.raises(dd.DockerBipError, match=r"/etc/docker/daemon.json is not valid JSON \(Expecting"):
        dd.load_daemon_json('{"bip": ', "/etc/docker/daemon.json")
    with pytest.raises(dd.DockerBipError, match="holds a JSON list, not an object"):
        dd.load_daemon_json("[]", "d")


# --- units ----------------------------------------------------------------------

LIB_UNIT = """[Unit]
Description=Docker
[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS
"""

FLANNEL_DROPIN = """[Service]
EnvironmentFile=/run/flannel/subnet.env
ExecStart=
ExecStart=/usr/sbin/dockerd -H fd:// \\
    --bip=${FLANNEL_SUBNET} --mtu ${FLANNEL_MTU} \\
    --ip-masq=false --log-level=warn
"""


def test_unit_exec_starts_continuations_and_sections():
    text = "[Unit]\nExecStart=/not/service\n[Service]\n# ExecStart=/commented\n" + \
        "ExecStart=\nExecStart=-/a b \\\n  c\n"
    assert dd.unit_exec_starts(text) == [(5, ""), (6, "-/a b c")]


def test_find_and_strip_flags():
    argv = ["/usr/sbin/dockerd", "--bip=10.1.0.1/24", "--mtu", "1450", "--ip-masq",
            "--iptables=false", "--bridge", "br0", "--log-level=warn"]
    found = [(i, n, f, v) for i, n, f, _k, v in dd.find_flags(argv)]
    assert found == [(1, 1, "--bip", "10.1.0.1/24"), (2, 2, "--mtu", "1450"),
                     (4, 1, "--ip-masq", "true"), (5, 1, "--iptables", "false")]
    assert dd.strip_flags(argv, {"bip", "mtu", "ip-masq"}) == [
        "/usr/sbin/dockerd", "--iptables=false", "--bridge", "br0", "--log-level=warn"]


def test_classify_path():
    assert dd.classify_path("/lib/systemd/system/docker.service") == "unit"
    assert dd.classify_path("/etc/systemd/system/docker.service.d/flannel.conf") == "dropin"
    assert dd.classify_path("/etc/default/docker") == "env"


def test_effective_exec_start_dropins_override():
    files = [("/lib/systemd/system/docker.service", LIB_UNIT),
             ("/etc/systemd/system/docker.service.d/flannel.conf", FLANNEL_DROPIN)]
    entries = dd.effective_exec_start(files)
    assert len(entries) == 1
    assert entries[0]["path"].endswith("flannel.conf") and entries[0]["line"] == 4
    conflicts, _entries = dd.detect_conflicts(files, ["bip", "mtu", "ip-masq"])
    assert [(c["flag"], c["value"]) for c in conflicts] == [
        ("--bip", "${FLANNEL_SUBNET}"), ("--mtu", "${FLANNEL_MTU}"), ("--ip-masq", "false")]
    # only keys that daemon.json holds conflict
    assert dd.detect_conflicts(files, ["fixed-cidr"])[0] == []


def test_first_main_unit_wins_and_dropin_names_sort():
    etc_unit = "[Service]\nExecStart=/usr/bin/dockerd\n"
    lib_unit = "[Service]\nExecStart=/usr/bin/dockerd --bip=1.2.3.1/24\n"
    files = [("/etc/systemd/system/docker.service", etc_unit),
             ("/lib/systemd/system/docker.service", lib_unit)]
    assert dd.detect_conflicts(files, ["bip"])[0] == []
    reset = "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd\n"
    files = [("/x/docker.service.d/zz.conf", reset), ("/x/docker.service.d/10.conf", FLANNEL_DROPIN)]
    assert dd.detect_conflicts(files, ["bip"])[0] == []
    # same name: the first listed (/etc) shadows the later one
    files = [("/etc/d.service.d/a.conf", reset), ("/lib/d.service.d/a.conf", FLANNEL_DROPIN)]
    assert dd.detect_conflicts(files, ["bip"])[0] == []


def test_docker_opts_conflicts():
    files = [("/etc/default/docker", 'DOCKER_OPTS="--bip=10.1.0.1/24 --dns 8.8.8.8"\n#DOCKER_OPTS="--mtu=1"\n')]
    conflicts, _entries = dd.detect_conflicts(files, ["bip", "mtu"])
    assert conflicts == [{"path": "/etc/default/docker", "line": 1, "flag": "--bip", "key": "bip",
                          "value": "10.1.0.1/24", "source": "DOCKER_OPTS", "managed": True}]
    msg = dd.conflict_message(conflicts, False, "/etc/docker/daemon.json")
    assert "DOCKER_OPTS by hand" in msg


def test_render_dropin_is_resolving_and_idempotent():
    files = [("/lib/systemd/system/docker.service", LIB_UNIT),
             ("/etc/systemd/system/docker.service.d/flannel.conf", FLANNEL_DROPIN)]
    keys = ["bip", "ip-masq", "mtu"]
    conflicts, entries = dd.detect_conflicts(files, keys)
    text = dd.render_dropin(entries, keys)
    assert text.startswith(dd.DROPIN_MARKER)
    assert "ExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --log-level=warn\n" in text
    files.append(("/etc/systemd/system/docker.service.d/zz-crosshost-docker-bip.conf", text))
    assert dd.detect_conflicts(files, keys)[0] == []
    msg = dd.conflict_message(conflicts, True, "/etc/docker/daemon.json")
    assert "resolve_conflicts: true" in msg and "flannel.conf line 4: --bip=${FLANNEL_SUBNET}" in msg


def test_other_keys_reported_unmanaged():
    unit = "[Service]\nExecStart=/usr/bin/dockerd -H fd:// --log-level warn --storage-opt=x=1 --bip=1.1.1.1/24\n"
    files = [("/lib/systemd/system/docker.service", unit)]
    conflicts, _entries = dd.detect_conflicts(files, ["bip"], ["hosts", "log-level", "storage-opts", "bip", "dns"])
    assert [(c["flag"], c["key"], c["value"], c["managed"]) for c in conflicts] == [
        ("--bip", "bip", "1.1.1.1/24", True), ("-H", "hosts", "fd://", False),
        ("--log-level", "log-level", "warn", False), ("--storage-opt", "storage-opts", "x=1", False)]


def test_systemd_quote():
    assert dd.systemd_quote("--x=1") == "--x=1"
    assert dd.systemd_quote("a b") == '"a b"'
    assert dd.systemd_quote('say "hi"') == '"say \\"hi\\""'
    assert dd.systemd_quote("") == '""'


def test_exec_prefix_kept():
    files = [("/u/docker.service", "[Service]\nExecStart=-/usr/bin/dockerd --mtu=1400 'a b'\n")]
    _conflicts, entries = dd.detect_conflicts(files, ["mtu"])
    assert "ExecStart=-/usr/bin/dockerd \"a b\"\n" in dd.render_dropin(entries, ["mtu"])


# --- bridge ------------------------------------------------------------------------

def test_plan_bridge():
    plan = dd.plan_bridge(["172.17.0.1/16"], 1500, "10.1.0.1/24", 1450)
    assert plan == {"add": "10.1.0.1/24", "delete": ["172.17.0.1/16"], "mtu": 1450}
    plan = dd.plan_bridge(["10.1.0.1/24"], 1450, "10.1.0.1/24", 1450)
    assert dd.plan_is_empty(plan)
    # same address, other prefix: replaced
    plan = dd.plan_bridge(["10.1.0.1/16"], 1450, "10.1.0.1/24", None)
    assert plan == {"add": "10.1.0.1/24", "delete": ["10.1.0.1/16"], "mtu": None}


def test_parse_ip_json_addrs():
    out = json.dumps([{"ifname": "docker0", "mtu": 1500, "addr_info": [
        {"family": "inet", "local": "172.17.0.1", "prefixlen": 16},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64}]}])
    assert dd.parse_ip_json_addrs(out, "docker0") == (["172.17.0.1/16"], 1500)
    with pytest.raises(dd.DockerBipError, match="does not exist"):
        dd.parse_ip_json_addrs("[]", "docker0")


# --- running containers and a moved range ------------------------------------------

def _inspect(*endpoints):
    return json.dumps([{"Name": "bridge", "Containers": {
        "id%d" % index: {"Name": name, "IPv4Address": address, "IPv6Address": ""}
        for index, (name, address) in enumerate(endpoints)}}])


def test_parse_bridge_containers():
    out = _inspect(("web", "192.168.10.70/24"), ("db", "192.168.10.66/24"), ("v6only", ""))
    assert dd.parse_bridge_containers(out) == [{"name": "db", "address": "192.168.10.66"},
                                               {"name": "web", "address": "192.168.10.70"}]
    assert dd.parse_bridge_containers(json.dumps([{"Name": "bridge", "Containers": {}}])) == []
    assert dd.parse_bridge_containers(json.dumps([{"Name": "bridge", "Containers": None}])) == []
    with pytest.raises(dd.DockerBipError, match="docker network inspect bridge"):
        dd.parse_bridge_containers("Error: not json")


@pytest.mark.parametrize("daemon_json, outside", [
    # fixed-cidr shrinks from .64/26 to .32/27: .70 and .66 fall out, .40 stays
    ({"bip": "192.168.10.1/24", "fixed-cidr": "192.168.10.32/27"}, ["db", "web"]),
    # the same slice: nobody outside
    ({"bip": "192.168.10.1/24", "fixed-cidr": "192.168.10.64/26"}, ["edge"]),
    # no fixed-cidr: the whole bip network is handed out; the new bridge address itself is taken
    ({"bip": "192.168.10.40/24"}, ["edge"]),
    # a flannel-style move to another network: all are outside
    ({"bip": "10.100.15.1/24", "mtu": 1450}, ["db", "edge", "web"]),
    # no bip: Docker's own default, nothing to compare with
    ({"mtu": 1450}, []),
])
def test_containers_outside(daemon_json, outside):
    containers = dd.parse_bridge_containers(_inspect(("web", "192.168.10.70/24"),
                                                     ("db", "192.168.10.66/24"),
                                                     ("edge", "192.168.10.40/24")))
    assert [c["name"] for c in dd.containers_outside(containers, daemon_json)] == outside


def test_containers_outside_message_names_containers_range_and_fix():
    outside = [{"name": "web", "address": "192.168.10.70"}]
    settings = {"bip": "192.168.10.1/24", "fixed-cidr": "192.168.10.32/27"}
    refused = dd.containers_outside_message(outside, settings, "/etc/docker/daemon.json", False)
    assert "web (192.168.10.70)" in refused and "fixed-cidr 192.168.10.32/27" in refused
    assert "Nothing was changed" in refused and "docker_bridge_force" in refused
    forced = dd.containers_outside_message(outside, {"bip": "10.1.0.1/24"}, "/d.json", True)
    assert "fixed-cidr (none, bip's network)" in forced and "moved anyway" in forced


def test_kept_fixed_cidr_outside_the_new_bridge_is_refused():
    old = OrderedDict([("bip", "192.168.10.1/24"), ("fixed-cidr", "192.168.10.64/26")])
    lease = OrderedDict([("bip", "10.100.15.1/24"), ("mtu", 1450)])
    merged, _changes = dd.merge_settings(old, lease)
    with pytest.raises(dd.DockerBipError) as err:
        dd.check_kept_fixed_cidr(merged, lease, "/etc/docker/daemon.json")
    assert "keeps fixed-cidr '192.168.10.64/26' from before" in str(err.value)
    assert "not inside the new bridge network 10.100.15.0/24" in str(err.value)
    # inside the new network, given in this call, or no bip: nothing to say
    dd.check_kept_fixed_cidr(dd.merge_settings(old, {"bip": "192.168.10.2/24"})[0],
                             {"bip": "192.168.10.2/24"}, "/d.json")
    given = OrderedDict([("bip", "10.1.0.1/24"), ("fixed-cidr", "10.1.0.0/25")])
    dd.check_kept_fixed_cidr(dd.merge_settings(old, given)[0], given, "/d.json")
    dd.check_kept_fixed_cidr(OrderedDict([("fixed-cidr", "10.1.0.0/25"), ("mtu", 1400)]),
                             {"mtu": 1400}, "/d.json")
