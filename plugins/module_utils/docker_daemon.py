# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind crosshost.network.docker_bip (no I/O, no Ansible).

Everything here takes text or plain values and returns plain values, so it can be
unit-tested without a host: flannel's subnet.env parsing, validation of Docker's
bridge settings, the daemon.json merge (user keys and their order are kept),
detection of the same settings given as dockerd flags in systemd units, the
drop-in that resolves such a conflict, and the plan for re-addressing the bridge.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import os
import re
import shlex
from collections import OrderedDict

# module option name -> daemon.json key (in the order new keys are appended)
DAEMON_KEYS = OrderedDict([
    ("bip", "bip"),
    ("mtu", "mtu"),
    ("fixed_cidr", "fixed-cidr"),
    ("ip_masq", "ip-masq"),
    ("iptables", "iptables"),
])
# dockerd flag -> daemon.json key
FLAG_KEYS = OrderedDict([("--" + key, key) for key in DAEMON_KEYS.values()])
BOOL_FLAGS = frozenset(["--ip-masq", "--iptables"])

MTU_MIN = 68
MTU_MAX = 65535

DROPIN_MARKER = "# Managed by crosshost.network.docker_bip"


class DockerBipError(Exception):
    """A user-facing error: the message names the field, the bad value and the fix."""


# ---------------------------------------------------------------------------
# flannel's subnet.env

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_env_text(text):
    """Parse KEY=VALUE lines (shell-style quotes, comments, optional `export`)."""
    values = OrderedDict()
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            continue
        raw = match.group(2).strip()
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            words = [raw]
        values[match.group(1)] = " ".join(words)
    return values


def _parse_bool(value, field, source):
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off", ""):
        return False
    raise DockerBipError("%s in %s is %r, not a boolean: expected true or false"
                         % (field, source, value))


def read_subnet_env(text, path):
    """Return {'network', 'subnet', 'mtu', 'ipmasq'} from the text of flannel's subnet.env.

    FLANNEL_SUBNET is required; the others are None when absent.
    """
    env = parse_env_text(text)
    subnet = env.get("FLANNEL_SUBNET")
    if not subnet:
        raise DockerBipError(
            "subnet_file %s has no FLANNEL_SUBNET line: it is not a flannel subnet.env, or "
            "flanneld has not obtained a lease yet; check that flanneld runs, or give bip "
            "explicitly instead of subnet_file" % path)
    result = {"network": None, "subnet": None, "mtu": None, "ipmasq": None}
    result["subnet"] = validate_bip(subnet, field="FLANNEL_SUBNET in %s" % path)
    if env.get("FLANNEL_NETWORK"):
        network = _parse_network(env["FLANNEL_NETWORK"], "FLANNEL_NETWORK in %s" % path)
        lease = ipaddress.ip_interface(result["subnet"]).network
        if not _subnet_of(lease, network):
            raise DockerBipError(
                "FLANNEL_SUBNET %s in %s is not inside FLANNEL_NETWORK %s: the file is stale "
                "or corrupt; restart flanneld so it rewrites it"
                % (result["subnet"], path, network))
        result["network"] = str(network)
    if env.get("FLANNEL_MTU"):
        result["mtu"] = validate_mtu(env["FLANNEL_MTU"], field="FLANNEL_MTU in %s" % path)
    if "FLANNEL_IPMASQ" in env:
        result["ipmasq"] = _parse_bool(env["FLANNEL_IPMASQ"], "FLANNEL_IPMASQ", path)
    return result


# ---------------------------------------------------------------------------
# validation

def _subnet_of(inner, outer):
    return (inner.version == outer.version
            and outer.network_address <= inner.network_address
            and inner.broadcast_address <= outer.broadcast_address)


def _parse_network(value, field):
    try:
        return ipaddress.ip_network(str(value).strip(), strict=True)
    except ValueError as exc:
        raise DockerBipError("%s is %r, not a network in CIDR notation (%s)" % (field, value, exc))


def validate_bip(value, field="bip"):
    """Return the bridge address as 'a.b.c.d/len' or raise DockerBipError."""
    text = str(value).strip()
    if "/" not in text:
        raise DockerBipError(
            "%s is %r, which has no prefix length: Docker needs the bridge address with its "
            "prefix, for example %s/24" % (field, value, text or "10.100.15.1"))
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise DockerBipError(
            "%s is %r, not an IPv4 address with prefix (%s); use for example 10.100.15.1/24"
            % (field, value, exc))
    if iface.version != 4:
        raise DockerBipError(
            "%s is %r, an IPv6 address: Docker's bip is IPv4 only (IPv6 uses fixed-cidr-v6); "
            "use an IPv4 address such as 10.100.15.1/24" % (field, value))
    net = iface.network
    if net.prefixlen < 31:
        if iface.ip == net.network_address:
            raise DockerBipError(
                "%s is %r, the network address of %s, not a usable interface address: use the "
                "first host address instead, %s/%d"
                % (field, value, net, net.network_address + 1, net.prefixlen))
        if iface.ip == net.broadcast_address:
            raise DockerBipError(
                "%s is %r, the broadcast address of %s: use a host address such as %s/%d"
                % (field, value, net, net.network_address + 1, net.prefixlen))
    if net.prefixlen > 30:
        raise DockerBipError(
            "%s is %r: a /%d bridge leaves no room for containers; use a prefix of /30 or "
            "shorter, for example /24" % (field, value, net.prefixlen))
    return str(iface)


def validate_fixed_cidr(value, bip):
    """Return fixed-cidr as a network string inside bip's network, or raise."""
    text = str(value).strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise DockerBipError(
            "fixed_cidr is %r, not a network in CIDR notation (%s); use for example "
            "10.100.15.128/25" % (value, exc))
    if "/" not in text:
        raise DockerBipError(
            "fixed_cidr is %r, which has no prefix length; use a network such as %s/25"
            % (value, text))
    if net.version != 4:
        raise DockerBipError("fixed_cidr is %r, an IPv6 network: use fixed-cidr-v6 in "
                             "daemon.json for IPv6; fixed_cidr takes IPv4" % (value,))
    if str(net.network_address) != text.split("/", 1)[0]:
        raise DockerBipError(
            "fixed_cidr is %r, which has host bits set: use the network address %s"
            % (value, net))
    if bip is not None:
        bridge = ipaddress.ip_interface(bip).network
        if not _subnet_of(net, bridge):
            raise DockerBipError(
                "fixed_cidr is %r, which is not inside the bridge network %s (from bip %s): "
                "choose a range inside %s, for example %s"
                % (value, bridge, bip, bridge, bridge))
    return str(net)


def validate_mtu(value, field="mtu"):
    try:
        mtu = int(str(value).strip())
    except ValueError:
        raise DockerBipError("%s is %r, not an integer: give the MTU in bytes between %d and %d"
                             % (field, value, MTU_MIN, MTU_MAX))
    if not MTU_MIN <= mtu <= MTU_MAX:
        raise DockerBipError(
            "%s is %r, outside %d..%d: give the MTU in bytes, for example 1450 under flannel "
            "vxlan or 1500 on a plain network" % (field, value, MTU_MIN, MTU_MAX))
    return mtu


# ---------------------------------------------------------------------------
# settings

def compute_settings(bip=None, mtu=None, fixed_cidr=None, ip_masq=None, iptables=None,
                     subnet=None):
    """Return (settings, sources): daemon.json key -> value, and key -> 'option'|'subnet_file'.

    `subnet` is the dict from read_subnet_env or None. Precedence: explicit options win
    over subnet.env values; bip and subnet_file are mutually exclusive (checked by the
    module's argument spec, and here again for safety).
    """
    if bip is not None and subnet is not None:
        raise DockerBipError("bip and subnet_file are mutually exclusive: the bridge address "
                             "comes from flannel's lease; drop one of them")
    values = OrderedDict()
    sources = OrderedDict()

    def put(option, value, source):
        values[DAEMON_KEYS[option]] = value
        sources[DAEMON_KEYS[option]] = source

    if subnet is not None:
        put("bip", subnet["subnet"], "subnet_file")
        if subnet.get("mtu") is not None:
            put("mtu", subnet["mtu"], "subnet_file")
        if subnet.get("ipmasq") is not None:
            # flannel masquerades itself: Docker must not do it a second time
            put("ip_masq", not subnet["ipmasq"], "subnet_file")
    if bip is not None:
        put("bip", validate_bip(bip), "option")
    if mtu is not None:
        put("mtu", validate_mtu(mtu), "option")
    if fixed_cidr is not None:
        put("fixed_cidr", validate_fixed_cidr(fixed_cidr, values.get("bip")), "option")
    if ip_masq is not None:
        put("ip_masq", bool(ip_masq), "option")
    if iptables is not None:
        put("iptables", bool(iptables), "option")
    if not values:
        raise DockerBipError("nothing to set: give subnet_file, or at least one of bip, mtu, "
                             "fixed_cidr, ip_masq, iptables")
    ordered = OrderedDict((key, values[key]) for key in DAEMON_KEYS.values() if key in values)
    return ordered, OrderedDict((key, sources[key]) for key in ordered)


# ---------------------------------------------------------------------------
# daemon.json

def load_daemon_json(text, path):
    """Parse daemon.json text keeping key order; empty text means {}."""
    if text is None or not text.strip():
        return OrderedDict()
    try:
        data = json.loads(text, object_pairs_hook=OrderedDict)
    except ValueError as exc:
        raise DockerBipError(
            "%s is not valid JSON (%s): fix or remove the file by hand; it is left untouched"
            % (path, exc))
    if not isinstance(data, dict):
        raise DockerBipError(
            "%s holds a JSON %s, not an object: dockerd expects an object such as "
            "{\"bip\": \"10.100.15.1/24\"}; fix the file by hand"
            % (path, type(data).__name__))
    return data


def _same(old, new):
    return type(old) is type(new) and old == new


def merge_settings(existing, settings):
    """Return (merged, changes): existing keys stay in place, new keys are appended.

    `changes` lists {'key', 'before', 'after'} for every key whose value differs
    (a value of another JSON type, such as "1450" for 1450, counts as different).
    """
    merged = OrderedDict(existing)
    changes = []
    for key, value in settings.items():
        if key in merged and _same(merged[key], value):
            continue
        changes.append({"key": key, "before": merged.get(key), "after": value})
        merged[key] = value
    return merged, changes


def check_kept_fixed_cidr(merged, settings, path):
    """Raise when daemon.json keeps a fixed-cidr (not given now) outside the new bip's network.

    dockerd starts with such a pair but hands out no container address (its IPAM range
    lies outside the bridge subnet): the break shows only at the next `docker run`.
    A fixed-cidr left from a static range is the usual cause (a host moved from the OVS
    GRE fabric to flannel without playbooks/reset.yml)."""
    if "fixed-cidr" in settings or not merged.get("bip") or not merged.get("fixed-cidr"):
        return
    bridge = ipaddress.ip_interface(merged["bip"]).network
    try:
        kept = ipaddress.ip_network(str(merged["fixed-cidr"]), strict=False)
    except ValueError:
        kept = None
    if kept is None or not _subnet_of(kept, bridge):
        raise DockerBipError(
            "%s keeps fixed-cidr %r from before, which is not inside the new bridge network %s "
            "(bip %s): dockerd would start but give containers no address. Give fixed_cidr "
            "inside %s, or remove fixed-cidr from %s (playbooks/reset.yml removes it)"
            % (path, merged["fixed-cidr"], bridge, merged["bip"], bridge, path))


def render_daemon_json(data):
    return json.dumps(data, indent=2) + "\n"


# ---------------------------------------------------------------------------
# systemd units and /etc/default/docker

def classify_path(path):
    """'dropin', 'unit' or 'env' (a shell file such as /etc/default/docker)."""
    parent = os.path.basename(os.path.dirname(path))
    if parent.endswith(".d") and path.endswith(".conf"):
        return "dropin"
    if path.endswith(".service"):
        return "unit"
    return "env"


def unit_exec_starts(text):
    """Return [(lineno, value)] for every ExecStart= in the [Service] section.

    Backslash continuation lines are joined; lineno is where the setting starts.
    An empty value (a reset) is returned as ''.
    """
    result = []
    section = None
    pending = None
    start = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if pending is not None:
            piece = line.rstrip()
            if piece.endswith("\\"):
                pending += " " + piece[:-1].strip()
                continue
            pending += " " + piece.strip()
            result.append((start, pending.strip()))
            pending = None
            continue
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        if section != "Service" or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        if key.strip() != "ExecStart":
            continue
        value = value.strip()
        if value.endswith("\\"):
            pending = value[:-1].strip()
            start = lineno
            continue
        result.append((lineno, value))
    if pending is not None:
        result.append((start, pending.strip()))
    return result


def split_exec(value):
    """Split an ExecStart value into (prefix, argv); prefix holds systemd's -@+! marks."""
    match = re.match(r"^([-@:+!]*)\s*(.*)$", value)
    prefix, rest = match.group(1), match.group(2)
    try:
        argv = shlex.split(rest)
    except ValueError:
        argv = rest.split()
    return prefix, argv


def find_flags(argv):
    """Return [(index, count, flag, key, value)] for bridge flags in a dockerd argv.

    count is how many words the flag takes (2 for `--bip 10.0.0.1/24`).
    """
    found = []
    i = 0
    while i < len(argv):
        word = argv[i]
        name, sep, value = word.partition("=")
        if name in FLAG_KEYS:
            if sep:
                found.append((i, 1, name, FLAG_KEYS[name], value))
            elif name in BOOL_FLAGS:
                found.append((i, 1, name, FLAG_KEYS[name], "true"))
            else:
                value = argv[i + 1] if i + 1 < len(argv) else ""
                found.append((i, 2 if i + 1 < len(argv) else 1, name, FLAG_KEYS[name], value))
                i += 1
        i += 1
    return found


def strip_flags(argv, keys):
    """argv without the bridge flags whose daemon.json key is in `keys`."""
    drop = set()
    for index, count, _flag, key, _value in find_flags(argv):
        if key in keys:
            drop.update(range(index, index + count))
    return [word for i, word in enumerate(argv) if i not in drop]


def effective_exec_start(files):
    """Compute the ExecStart lines systemd would use.

    `files` is [(path, text)] in unit_paths order, only files that exist. The main
    unit is the first file of kind 'unit' (list /etc before /lib); drop-ins apply
    in file-name order, and of two drop-ins with the same name the first listed wins.
    Returns [{'path', 'line', 'prefix', 'argv'}]; an empty ExecStart= resets the list.
    """
    main = None
    dropins = OrderedDict()
    for path, text in files:
        kind = classify_path(path)
        if kind == "unit" and main is None:
            main = (path, text)
        elif kind == "dropin":
            dropins.setdefault(os.path.basename(path), (path, text))
    ordered = ([main] if main else []) + [dropins[name] for name in sorted(dropins)]
    entries = []
    for path, text in ordered:
        for lineno, value in unit_exec_starts(text):
            if not value:
                entries = []
                continue
            prefix, argv = split_exec(value)
            entries.append({"path": path, "line": lineno, "prefix": prefix, "argv": argv})
    return entries


def env_file_opts(text):
    """Return [(lineno, argv)] for DOCKER_OPTS assignments in a shell env file."""
    result = []
    for lineno, line in enumerate(text.splitlines(), 1):
        match = _ENV_LINE.match(line)
        if not match or match.group(1) != "DOCKER_OPTS":
            continue
        try:
            words = shlex.split(match.group(2), comments=True)
            argv = shlex.split(" ".join(words))
        except ValueError:
            argv = match.group(2).split()
        result.append((lineno, argv))
    return result


# daemon.json keys whose dockerd flag is not simply "--" + key
FLAG_ALIASES = {
    "hosts": "--host", "labels": "--label", "log-opts": "--log-opt",
    "storage-opts": "--storage-opt", "exec-opts": "--exec-opt", "dns-opts": "--dns-opt",
    "insecure-registries": "--insecure-registry", "registry-mirrors": "--registry-mirror",
    "default-ulimits": "--default-ulimit", "authorization-plugins": "--authorization-plugin",
    "runtimes": "--add-runtime", "allow-nondistributable-artifacts":
    "--allow-nondistributable-artifacts", "node-generic-resources": "--node-generic-resource",
}


def other_flags(argv, keys):
    """[(flag, key, value)] for flags matching the other daemon.json `keys` (report only)."""
    wanted = {}
    for key in keys:
        wanted[FLAG_ALIASES.get(key, "--" + key)] = key
    if "hosts" in keys:
        wanted["-H"] = "hosts"
    found = []
    for i, word in enumerate(argv):
        name, sep, value = word.partition("=")
        if name in wanted:
            if not sep and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value = argv[i + 1]
            found.append((name, wanted[name], value))
    return found


def detect_conflicts(files, keys, other_keys=()):
    """Flags in the effective dockerd command line (or DOCKER_OPTS) for daemon.json keys.

    `keys` are the bridge keys this module manages; `other_keys` are the remaining
    daemon.json keys, reported with managed=False (pre-existing, never resolved here).
    Returns (conflicts, entries): conflicts are dicts {path, line, flag, key, value,
    source: 'ExecStart'|'DOCKER_OPTS', managed}; entries is effective_exec_start(files).
    """
    keys = set(keys)
    other_keys = [key for key in other_keys if key not in keys]
    conflicts = []
    entries = effective_exec_start(files)
    sources = [(entry["path"], entry["line"], entry["argv"], "ExecStart") for entry in entries]
    for path, text in files:
        if classify_path(path) == "env":
            for lineno, argv in env_file_opts(text):
                sources.append((path, lineno, argv, "DOCKER_OPTS"))
    for path, line, argv, source in sources:
        for _index, _count, flag, key, value in find_flags(argv):
            if key in keys:
                conflicts.append({"path": path, "line": line, "flag": flag, "key": key,
                                  "value": value, "source": source, "managed": True})
        for flag, key, value in other_flags(argv, other_keys):
            conflicts.append({"path": path, "line": line, "flag": flag, "key": key,
                              "value": value, "source": source, "managed": False})
    return conflicts, entries


def systemd_quote(word):
    """Quote one argv word for an ExecStart line (systemd's double-quote rules)."""
    if word and not re.search(r"[\s\"'\\;]", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dropin(entries, keys):
    """Drop-in text that resets ExecStart to `entries` minus the conflicting flags."""
    lines = [DROPIN_MARKER,
             "# dockerd refuses to start when a setting is both a flag and a daemon.json key;",
             "# these settings live in daemon.json: %s" % ", ".join(sorted(keys)),
             "[Service]",
             "ExecStart="]
    for entry in entries:
        argv = strip_flags(entry["argv"], keys)
        lines.append("ExecStart=" + entry["prefix"] + " ".join(systemd_quote(w) for w in argv))
    return "\n".join(lines) + "\n"


def conflict_message(conflicts, resolvable, daemon_json):
    where = "; ".join("%s line %d: %s (daemon.json key %s)"
                      % (c["path"], c["line"], c["flag"] + ("=" + c["value"] if c["value"] else ""),
                         c["key"]) for c in conflicts)
    msg = ("dockerd would refuse to start: these settings are given as dockerd flags and in %s: "
           "%s. " % (daemon_json, where))
    if resolvable:
        msg += ("Remove the flags from the unit, or set resolve_conflicts: true to write a "
                "systemd drop-in that resets ExecStart without them (then run "
                "systemctl daemon-reload).")
    else:
        msg += ("Remove them from DOCKER_OPTS by hand (resolve_conflicts only rewrites "
                "ExecStart through a systemd drop-in).")
    return msg


# ---------------------------------------------------------------------------
# the bridge (netlink)

def plan_bridge(current, current_mtu, want, want_mtu):
    """Plan re-addressing a bridge.

    current: list of 'a.b.c.d/len' IPv4 addresses on the bridge now; want: the
    address it must carry. Other IPv4 addresses are removed (IPv6 is never touched).
    Returns {'add': str|None, 'delete': [str], 'mtu': int|None}; empty plan = no change.
    """
    want_if = ipaddress.ip_interface(want)
    have = [ipaddress.ip_interface(a) for a in current]
    plan = {"add": None, "delete": [], "mtu": None}
    if want_if not in have:
        plan["add"] = str(want_if)
    plan["delete"] = [str(a) for a in have if a != want_if]
    if want_mtu is not None and current_mtu != want_mtu:
        plan["mtu"] = want_mtu
    return plan


def plan_is_empty(plan):
    return plan["add"] is None and not plan["delete"] and plan["mtu"] is None


def parse_ip_json_addrs(text, bridge):
    """From `ip -json addr show dev BRIDGE` output return (ipv4 addresses, mtu)."""
    try:
        data = json.loads(text or "[]")
    except ValueError as exc:
        raise DockerBipError("could not parse `ip -json addr show dev %s` output (%s)"
                             % (bridge, exc))
    for link in data:
        if link.get("ifname") != bridge:
            continue
        addrs = ["%s/%s" % (a["local"], a["prefixlen"]) for a in link.get("addr_info", [])
                 if a.get("family") == "inet" and "local" in a]
        return addrs, link.get("mtu")
    raise DockerBipError("bridge %s does not exist" % bridge)


# ---------------------------------------------------------------------------
# running containers and a moved range

# daemon.json keys whose change moves the addresses Docker hands out
RANGE_KEYS = ("bip", "fixed-cidr")


def parse_bridge_containers(text):
    """From `docker network inspect bridge` output return [{'name', 'address'}] (IPv4),
    one per container attached to the default bridge (running containers only: a
    stopped container holds no endpoint), sorted by name."""
    try:
        data = json.loads(text or "[]")
    except ValueError as exc:
        raise DockerBipError("could not parse `docker network inspect bridge` output (%s)" % exc)
    containers = []
    for network in data if isinstance(data, list) else []:
        for endpoint in (network.get("Containers") or {}).values():
            address = (endpoint.get("IPv4Address") or "").split("/")[0]
            if address:
                containers.append({"name": endpoint.get("Name") or "?", "address": address})
    return sorted(containers, key=lambda c: c["name"])


def handed_out_range(daemon_json):
    """The network Docker hands container addresses from with these settings (fixed-cidr,
    else bip's network), or None when daemon.json sets no bip (Docker's own default)."""
    if not daemon_json.get("bip"):
        return None
    if daemon_json.get("fixed-cidr"):
        return ipaddress.ip_network(daemon_json["fixed-cidr"], strict=False)
    return ipaddress.ip_interface(daemon_json["bip"]).network


def containers_outside(containers, daemon_json):
    """The containers whose address lies outside the range of these settings, or is the
    bridge's own new address: after the restart Docker may hand that address to a new
    container (here, or on another host of a shared segment) while the old one keeps it."""
    handed_out = handed_out_range(daemon_json)
    if handed_out is None:
        return []
    gateway = ipaddress.ip_interface(daemon_json["bip"]).ip
    outside = []
    for container in containers:
        address = ipaddress.ip_address(container["address"])
        if address not in handed_out or address == gateway:
            outside.append(dict(container))
    return outside


def containers_outside_message(outside, daemon_json, path, forced):
    listed = ", ".join("%s (%s)" % (c["name"], c["address"]) for c in outside)
    message = ("%s moves Docker's bridge to bip %s, fixed-cidr %s, and running containers hold "
               "addresses outside that range: %s. Docker's restart stops them, or with live-restore "
               "leaves them on those addresses, which Docker may hand out again, here or on another "
               "host of a shared segment (an address conflict). "
               % (path, daemon_json["bip"], daemon_json.get("fixed-cidr") or "(none, bip's network)",
                  listed))
    if forced:
        return message + "force=true: moved anyway; restart those containers after Docker's restart."
    return message + ("Nothing was changed. Stop or remove those containers first, or set force: true "
                      "(the docker role's docker_bridge_force) to move the range anyway, then restart "
                      "them.")


def stale_bridge_message(bridge, addresses, bip, path):
    """Why the bridge is not on bip although daemon.json says so, and the fix."""
    return ("%s has %s, not bip %s from %s: Docker kept its default bridge for containers that "
            "outlived its last stop (live-restore; `docker ps --filter network=bridge` lists them), so "
            "they and new containers get addresses this host may no longer lease. Stop those "
            "containers, restart Docker (systemctl restart docker) and run again; started afterwards, "
            "they get addresses in bip's network."
            % (bridge, ", ".join(addresses) or "no IPv4 address", bip, path))
