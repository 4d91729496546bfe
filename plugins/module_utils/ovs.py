# -*- coding: utf-8 -*-
# Copyright (c) crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Open vSwitch tunnel planning for crosshost.network.ovs_tunnel.

Everything here is pure logic (no I/O) so it can be unit tested:

* validation of the wanted tunnels (clear errors naming field, value and fix),
* deterministic port names that fit IFNAMSIZ,
* decoding of the OVSDB JSON that ``ovs-vsctl --format=json list`` prints,
* the plan: one atomic ``ovs-vsctl`` transaction (argv list) that turns the
  current state into the wanted one, never touching ports we do not own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import json
import os
import re

TUNNEL_TYPES = ("gre", "vxlan", "geneve")
DATAPATH_TYPES = ("system", "netdev")
OWNER_KEY = "crosshost-owner"
DEFAULT_OWNER = "crosshost"
IFNAMSIZ_MAX = 15  # IFNAMSIZ is 16 bytes including the trailing NUL
KEY_MAX = {"gre": 2 ** 32 - 1, "vxlan": 2 ** 24 - 1, "geneve": 2 ** 24 - 1}
# Options the module owns through dedicated parameters.
RESERVED_OPTIONS = ("remote_ip", "local_ip", "key", "dst_port")
IPV6_PREFIX = {"gre": "gre6", "vxlan": "vxl6", "geneve": "gnv6"}
OPTION_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
PORT_NAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]+$")

BRIDGE_COLUMNS = ("_uuid", "name", "ports", "datapath_type", "stp_enable", "rstp_enable")
PORT_COLUMNS = ("_uuid", "name", "interfaces", "external_ids")
INTERFACE_COLUMNS = ("_uuid", "name", "type", "options", "error")


class OvsError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""


# ---------------------------------------------------------------------------
# validation and naming
# ---------------------------------------------------------------------------

def normalize_ip(value, field):
    """Return the canonical text of an IPv4/IPv6 address or raise OvsError."""
    text = "" if value is None else str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise OvsError(
            "%s=%r is not an IPv4 or IPv6 address: give a plain address such as "
            "192.0.2.10 or 2001:db8::10 (no prefix length, no host name)" % (field, value))


def port_name(tunnel_type, remote_ip):
    """Deterministic port name for a tunnel, at most 15 characters.

    IPv4: ``<type>-<8 hex digits of the address>``, e.g. 192.168.10.2 over gre
    gives ``gre-c0a80a02``; vxlan gives ``vxlan-c0a80a02``, geneve
    ``geneve-c0a80a02`` (15 characters).
    IPv6: ``gre6-``, ``vxl6-`` or ``gnv6-`` followed by the first 8 hex digits
    of the SHA-256 of the 16 address bytes (an IPv6 address does not fit).
    """
    addr = ipaddress.ip_address(remote_ip)
    if addr.version == 4:
        return "%s-%08x" % (tunnel_type, int(addr))
    digest = hashlib.sha256(addr.packed).hexdigest()[:8]
    return "%s-%s" % (IPV6_PREFIX[tunnel_type], digest)


def check_port_name(name, field):
    if not isinstance(name, str) or not name:
        raise OvsError("%s must be a non-empty port name" % field)
    if len(name) > IFNAMSIZ_MAX:
        raise OvsError(
            "%s=%r is %d characters long: interface names fit in %d characters "
            "(IFNAMSIZ); choose a shorter name or leave it out to get the "
            "generated one" % (field, name, len(name), IFNAMSIZ_MAX))
    if not PORT_NAME_RE.match(name) or name in (".", ".."):
        raise OvsError(
            "%s=%r is not a usable interface name: use letters, digits and - _ . @ + "
            "only" % (field, name))
    return name


def _option_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_key(key, tunnel_type):
    """Return the key as OVS stores it ("flow" or a decimal number), or None."""
    if key is None or key == "":
        return None
    if isinstance(key, bool):
        raise OvsError("key=%r is not a tunnel key: use an integer or 'flow'" % (key,))
    text = str(key).strip()
    if text == "flow":
        return text
    top = KEY_MAX[tunnel_type]
    width = "32-bit GRE key" if tunnel_type == "gre" else "24-bit VNI"
    try:
        number = int(text, 10)
    except ValueError:
        number = None
    if number is None or number < 0 or number > top:
        raise OvsError(
            "key=%r is out of range for type %s: use an integer 0..%d (%s) or "
            "'flow' to set it per flow" % (key, tunnel_type, top, width))
    return str(number)


def check_dst_port(dst_port, tunnel_type):
    if dst_port is None:
        return None
    if tunnel_type == "gre":
        raise OvsError(
            "dst_port=%r is not valid with type gre (GRE has no UDP port): remove "
            "dst_port or use type vxlan or geneve" % (dst_port,))
    try:
        number = int(dst_port)
    except (TypeError, ValueError):
        number = None
    if number is None or number < 1 or number > 65535:
        raise OvsError(
            "dst_port=%r is out of range: use a UDP port 1..65535 (vxlan default "
            "4789, geneve default 6081)" % (dst_port,))
    return str(number)


def build_want(params):
    """Validate module parameters; return the wanted tunnels and bridge settings.

    Raises OvsError with an actionable message on the first bad value.
    """
    tunnel_type = params.get("type") or "gre"
    if tunnel_type not in TUNNEL_TYPES:
        raise OvsError("type=%r is not supported: use one of %s"
                       % (tunnel_type, ", ".join(TUNNEL_TYPES)))
    bridge = params.get("bridge")
    if not bridge:
        raise OvsError("bridge is required: name the OVS bridge, e.g. bridge: br0")
    check_port_name(bridge, "bridge")

    owner = params.get("owner")
    if owner is None or not str(owner).strip():
        raise OvsError("owner must be a non-empty string (default %r): it marks the "
                       "ports this module manages" % DEFAULT_OWNER)
    owner = str(owner)

    remote_ips = params.get("remote_ips")
    tunnels = params.get("tunnels")
    if remote_ips is not None and tunnels is not None:
        raise OvsError("remote_ips and tunnels are mutually exclusive: give the plain "
                       "list of addresses in remote_ips, or {name, remote_ip} "
                       "entries in tunnels")
    if remote_ips is None and tunnels is None:
        raise OvsError("one of remote_ips or tunnels is required (an empty list with "
                       "purge: true removes every tunnel this owner manages)")
    entries = []
    if tunnels is not None:
        for index, item in enumerate(tunnels):
            item = item or {}
            field = "tunnels[%d]" % index
            ip = normalize_ip(item.get("remote_ip"), field + ".remote_ip")
            name = item.get("name")
            if name is not None:
                check_port_name(name, field + ".name")
            entries.append((field + ".remote_ip", ip, name))
    else:
        for index, value in enumerate(remote_ips):
            field = "remote_ips[%d]" % index
            entries.append((field, normalize_ip(value, field), None))

    key = check_key(params.get("key"), tunnel_type)
    dst_port = check_dst_port(params.get("dst_port"), tunnel_type)
    local_ip = None
    if params.get("local_ip") not in (None, ""):
        local_ip = normalize_ip(params.get("local_ip"), "local_ip")

    extra = {}
    for opt_key, opt_value in sorted((params.get("options") or {}).items()):
        if opt_key in RESERVED_OPTIONS:
            raise OvsError(
                "options.%s is set through its own parameter: use %s instead of "
                "options.%s" % (opt_key, "remote_ips/tunnels" if opt_key == "remote_ip"
                                else opt_key, opt_key))
        if not OPTION_KEY_RE.match(str(opt_key)):
            raise OvsError("options key %r is not a valid OVS option name: use letters, "
                           "digits and _ . - only" % (opt_key,))
        if opt_value is None:
            raise OvsError("options.%s has no value: give a value or remove the key"
                           % opt_key)
        extra[str(opt_key)] = _option_text(opt_value)

    seen_ip = {}
    seen_name = {}
    wanted = []
    for field, ip, name in entries:
        if ip in seen_ip:
            raise OvsError("%s=%s duplicates %s: each remote gets one tunnel, list it "
                           "once" % (field, ip, seen_ip[ip]))
        seen_ip[ip] = field
        if local_ip is not None and ip == local_ip:
            raise OvsError("%s=%s is local_ip, this host's own tunnel address: remove it "
                           "from the remotes (a host does not tunnel to itself)"
                           % (field, ip))
        if name is None:
            name = port_name(tunnel_type, ip)
        if name in seen_name:
            raise OvsError("%s gives port name %s, already used by %s: give distinct "
                           "names with tunnels[].name" % (field, name, seen_name[name]))
        if name == bridge:
            raise OvsError("%s gives port name %s, the bridge's own name: choose another "
                           "name with tunnels[].name" % (field, name))
        seen_name[name] = field
        options = dict(extra)
        options["remote_ip"] = ip
        if local_ip is not None:
            options["local_ip"] = local_ip
        if key is not None:
            options["key"] = key
        if dst_port is not None:
            options["dst_port"] = dst_port
        wanted.append({"name": name, "remote_ip": ip, "type": tunnel_type,
                       "options": options})

    stp = params.get("stp")
    rstp = params.get("rstp")
    if stp and rstp:
        raise OvsError("stp and rstp are both true: Open vSwitch runs one spanning tree "
                       "protocol per bridge; set only one of them to true")
    datapath_type = params.get("datapath_type")
    if datapath_type is not None and datapath_type not in DATAPATH_TYPES:
        raise OvsError("datapath_type=%r is not supported: use system (kernel) or "
                       "netdev (userspace)" % (datapath_type,))
    bridge_want = {
        "name": bridge,
        "create": bool(params.get("bridge_create")),
        "datapath_type": datapath_type,
        "stp": stp,
        "rstp": rstp,
    }
    return {"bridge": bridge_want, "owner": owner, "tunnels": wanted,
            "purge": bool(params.get("purge"))}


# ---------------------------------------------------------------------------
# OVSDB JSON decoding and state
# ---------------------------------------------------------------------------

def decode_datum(value):
    """Decode one OVSDB JSON datum to plain Python.

    ``["uuid", u]`` -> u, ``["set", [...]]`` -> list, ``["map", [[k, v]...]]``
    -> dict, atoms unchanged. A single-element set is printed as the bare atom.
    """
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        tag, body = value
        if tag in ("uuid", "named-uuid"):
            return body
        if tag == "set":
            return [decode_datum(item) for item in body]
        if tag == "map":
            return dict((decode_datum(k), decode_datum(v)) for k, v in body)
    return value


def as_list(value):
    """A set column: [] for empty, [x] for a bare atom, the list otherwise."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def parse_list_output(text):
    """Parse the stdout of ``ovs-vsctl --format=json`` with one or more ``list``.

    Each ``list`` prints one JSON object ``{"headings": [...], "data": [...]}``.
    Returns a list of tables, each a list of row dicts.
    """
    decoder = json.JSONDecoder()
    tables = []
    pos = 0
    text = text or ""
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        headings = obj.get("headings", [])
        rows = []
        for raw in obj.get("data", []):
            rows.append(dict((h, decode_datum(v)) for h, v in zip(headings, raw)))
        tables.append(rows)
    return tables


def read_state_args():
    """Arguments (after the global ones) of the single read-only call."""
    return ["--format=json",
            "--", "--columns=" + ",".join(BRIDGE_COLUMNS), "list", "Bridge",
            "--", "--columns=" + ",".join(PORT_COLUMNS), "list", "Port",
            "--", "--columns=" + ",".join(INTERFACE_COLUMNS), "list", "Interface"]


def build_have(tables, bridge, owner):
    """Turn the three decoded tables into the state of one bridge.

    Returns {"bridge": None or {...}, "ports": [...], "port_bridge": {name: br}}
    where each port is {name, owner, marked, interfaces: [{name, type, options,
    error}], type, remote_ip, options}.
    """
    bridges, ports, interfaces = tables
    iface_by_uuid = dict((row["_uuid"], row) for row in interfaces)
    port_by_uuid = dict((row["_uuid"], row) for row in ports)
    port_bridge = {}
    for br in bridges:
        for uuid in as_list(br.get("ports")):
            if uuid in port_by_uuid:
                port_bridge[port_by_uuid[uuid]["name"]] = br["name"]
    found = None
    result_ports = []
    for br in bridges:
        if br["name"] != bridge:
            continue
        found = {
            "name": br["name"],
            "datapath_type": br.get("datapath_type") or "",
            "stp": bool(br.get("stp_enable")),
            "rstp": bool(br.get("rstp_enable")),
        }
        for uuid in as_list(br.get("ports")):
            port = port_by_uuid.get(uuid)
            if port is None:
                continue
            ext = port.get("external_ids") or {}
            ifaces = []
            for iuuid in as_list(port.get("interfaces")):
                iface = iface_by_uuid.get(iuuid)
                if iface is None:
                    continue
                ifaces.append({
                    "name": iface["name"],
                    "type": iface.get("type") or "",
                    "options": dict(iface.get("options") or {}),
                    "error": as_list(iface.get("error")),
                })
            first = ifaces[0] if len(ifaces) == 1 else None
            result_ports.append({
                "name": port["name"],
                "owner": ext.get(OWNER_KEY),
                "owned": ext.get(OWNER_KEY) == owner,
                "interfaces": ifaces,
                "type": first["type"] if first else None,
                "options": first["options"] if first else {},
                "remote_ip": (first["options"].get("remote_ip") if first else None),
            })
    result_ports.sort(key=lambda p: p["name"])
    return {"bridge": found, "ports": result_ports, "port_bridge": port_bridge}


# ---------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------

def _quote(value):
    """An OVSDB string atom as ovs-vsctl parses it (always double-quoted)."""
    return json.dumps(str(value))


def _set_options_args(name, tunnel_type, options):
    args = ["set", "interface", name, "type=" + tunnel_type]
    for key in sorted(options):
        args.append("options:%s=%s" % (key, _quote(options[key])))
    return args


def _same_ip(left, right):
    try:
        return ipaddress.ip_address(left) == ipaddress.ip_address(right)
    except ValueError:
        return left == right


def _tunnel_view(port):
    return {"name": port["name"], "remote_ip": port.get("remote_ip"),
            "type": port.get("type"), "options": dict(port.get("options") or {})}


def plan(want, have):
    """Compute the change. Pure: returns a dict, runs nothing.

    Result keys:
      ops        list of ovs-vsctl commands (each a list of args), to be joined
                 with "--" into ONE transaction (empty: nothing to do)
      actions    human readable list of what changes
      before     {"bridge": ..., "tunnels": [...]} owned tunnels now
      after      the same after the change
      warnings   list of strings
    Raises OvsError when the change would touch a port we do not own, or the
    bridge is missing and creation was not requested.
    """
    bw = want["bridge"]
    owner = want["owner"]
    bridge = bw["name"]
    ops = []
    actions = []
    warnings = []
    cur_bridge = have.get("bridge")
    port_bridge = have.get("port_bridge", {})

    if bridge in port_bridge and cur_bridge is None:
        raise OvsError("bridge=%s is the name of a port on bridge %s: choose the name of "
                       "an OVS bridge" % (bridge, port_bridge[bridge]))

    if cur_bridge is None:
        if not bw["create"]:
            raise OvsError(
                "bridge %s does not exist: set bridge_create: true to create it, or create "
                "it first (ovs-vsctl add-br %s)" % (bridge, bridge))
        ops.append(["add-br", bridge])
        actions.append("create bridge %s" % bridge)
        settings = []
        if bw["datapath_type"]:
            settings.append("datapath_type=" + _quote(bw["datapath_type"]))
        if bw["stp"] is not None:
            settings.append("stp_enable=" + ("true" if bw["stp"] else "false"))
        if bw["rstp"] is not None:
            settings.append("rstp_enable=" + ("true" if bw["rstp"] else "false"))
        if settings:
            ops.append(["set", "bridge", bridge] + settings)
        before_bridge = None
        after_bridge = {
            "name": bridge,
            "datapath_type": bw["datapath_type"] or "",
            "stp": bool(bw["stp"]),
            "rstp": bool(bw["rstp"]),
        }
    else:
        before_bridge = dict(cur_bridge)
        after_bridge = dict(cur_bridge)
        settings = []
        if bw["datapath_type"]:
            cur_dp = cur_bridge["datapath_type"] or "system"
            if cur_dp != bw["datapath_type"]:
                settings.append("datapath_type=" + _quote(bw["datapath_type"]))
                after_bridge["datapath_type"] = bw["datapath_type"]
                actions.append("bridge %s: datapath_type %s -> %s"
                               % (bridge, cur_dp, bw["datapath_type"]))
        for flag, column in (("stp", "stp_enable"), ("rstp", "rstp_enable")):
            if bw[flag] is not None and bool(cur_bridge[flag]) != bool(bw[flag]):
                settings.append("%s=%s" % (column, "true" if bw[flag] else "false"))
                after_bridge[flag] = bool(bw[flag])
                actions.append("bridge %s: %s %s -> %s" % (
                    bridge, column, str(cur_bridge[flag]).lower(), str(bw[flag]).lower()))
        if settings:
            ops.append(["set", "bridge", bridge] + settings)

    ports = have.get("ports", []) if cur_bridge is not None else []
    by_name = dict((p["name"], p) for p in ports)
    owned = [p for p in ports if p["owned"]]
    matched = set()
    deletes = []
    adds = []
    updates = []

    for tun in want["tunnels"]:
        name = tun["name"]
        if name in port_bridge and port_bridge[name] != bridge:
            raise OvsError(
                "port %s (tunnel to %s) already exists on bridge %s: a port name is unique "
                "per switch; remove it there or pick another name with tunnels[].name"
                % (name, tun["remote_ip"], port_bridge[name]))
        cur = by_name.get(name)
        if cur is not None and not cur["owned"]:
            marker = ("owner %r" % cur["owner"]) if cur["owner"] else "no owner marker"
            raise OvsError(
                "port %s on bridge %s is not managed by owner %r (it has %s): this module "
                "never changes ports it does not own; remove or rename that port, pick "
                "another name with tunnels[].name, or adopt it with: ovs-vsctl set port "
                "%s external_ids:%s=%s" % (name, bridge, owner, marker, name, OWNER_KEY,
                                           owner))
        if cur is not None:
            matched.add(name)
            if len(cur["interfaces"]) != 1:
                raise OvsError(
                    "port %s on bridge %s is a bond of %d interfaces, not a tunnel: remove "
                    "it (ovs-vsctl del-port %s %s) or pick another name"
                    % (name, bridge, len(cur["interfaces"]), bridge, name))
            if cur["type"] != tun["type"] or cur["options"] != tun["options"]:
                updates.append((cur, tun))
        else:
            adds.append(tun)
        for port in ports:
            if (not port["owned"] and port["name"] != name and port.get("remote_ip")
                    and _same_ip(port["remote_ip"], tun["remote_ip"])
                    and port.get("type") in TUNNEL_TYPES):
                warnings.append(
                    "port %s on bridge %s (not owned by %r) also tunnels to %s; two "
                    "tunnels to one peer make a loop unless STP is on"
                    % (port["name"], bridge, owner, tun["remote_ip"]))

    # Owned ports that point at a wanted remote under another name (for example
    # after a type change) are replaced, purge or not: one tunnel per peer.
    wanted_ips = [t["remote_ip"] for t in want["tunnels"]]
    for port in owned:
        if port["name"] in matched:
            continue
        same_peer = port.get("remote_ip") and any(
            _same_ip(port["remote_ip"], ip) for ip in wanted_ips)
        if same_peer:
            deletes.append((port, "replaced"))
        elif want["purge"]:
            deletes.append((port, "purged"))

    for port, why in deletes:
        ops.append(["del-port", bridge, port["name"]])
        actions.append("delete port %s (%s, remote_ip %s)" % (port["name"], why,
                                                              port.get("remote_ip")))
    for tun in adds:
        ops.append(["add-port", bridge, tun["name"],
                    "external_ids:%s=%s" % (OWNER_KEY, _quote(owner))])
        ops.append(_set_options_args(tun["name"], tun["type"], tun["options"]))
        actions.append("add %s tunnel %s to %s" % (tun["type"], tun["name"], tun["remote_ip"]))
    for cur, tun in updates:
        if cur["options"] != tun["options"]:
            ops.append(["clear", "interface", cur["name"], "options"])
            ops.append(_set_options_args(tun["name"], tun["type"], tun["options"]))
        else:
            ops.append(["set", "interface", cur["name"], "type=" + tun["type"]])
        actions.append("fix tunnel %s: %s" % (cur["name"], describe_drift(cur, tun)))

    before_tunnels = [_tunnel_view(p) for p in owned]
    deleted = set(item[0]["name"] for item in deletes)
    after_by_name = dict((p["name"], _tunnel_view(p)) for p in owned
                         if p["name"] not in deleted)
    for tun in want["tunnels"]:
        after_by_name[tun["name"]] = {"name": tun["name"], "remote_ip": tun["remote_ip"],
                                      "type": tun["type"], "options": dict(tun["options"])}
    after_tunnels = [after_by_name[n] for n in sorted(after_by_name)]
    return {
        "ops": ops,
        "actions": actions,
        "warnings": sorted(set(warnings)),
        "before": {"bridge": before_bridge, "owner": owner, "tunnels": before_tunnels},
        "after": {"bridge": after_bridge, "owner": owner, "tunnels": after_tunnels},
    }


def describe_drift(cur, tun):
    parts = []
    if cur["type"] != tun["type"]:
        parts.append("type %s -> %s" % (cur["type"] or "(none)", tun["type"]))
    keys = sorted(set(cur["options"]) | set(tun["options"]))
    for key in keys:
        old = cur["options"].get(key)
        new = tun["options"].get(key)
        if old != new:
            parts.append("options:%s %s -> %s" % (
                key, old if old is not None else "(unset)", new if new is not None else "(unset)"))
    return ", ".join(parts)


def transaction(base_argv, ops):
    """Join ops into ONE ovs-vsctl argv: base -- op1 -- op2 ... ([] if no ops)."""
    if not ops:
        return []
    argv = list(base_argv)
    for op in ops:
        argv.append("--")
        argv.extend(op)
    return argv


def base_argv(vsctl, db=None, timeout=None):
    argv = [vsctl]
    if db:
        argv.append("--db=" + db)
    if timeout:
        argv.append("--timeout=%d" % int(timeout))
    return argv


def explain_vsctl_failure(rc, stderr, db):
    """An actionable message for a failed ovs-vsctl call."""
    text = (stderr or "").strip()
    where = db or "the default socket (unix:/var/run/openvswitch/db.sock)"
    lowered = text.lower()
    if ("database connection failed" in lowered or "no such file" in lowered
            or "connection refused" in lowered):
        return ("cannot reach the Open vSwitch database at %s (%s): start Open vSwitch "
                "(systemctl start openvswitch-switch, or ovs-ctl start), or point the db "
                "option at the right socket" % (where, text))
    if rc == 142 or "timeout" in lowered or "alarm" in lowered:
        return ("ovs-vsctl timed out talking to %s (%s): is ovs-vswitchd running? start "
                "openvswitch-switch, or raise vsctl_timeout" % (where, text))
    return "ovs-vsctl failed (rc=%s): %s" % (rc, text)


def missing_vsctl_message():
    return ("ovs-vsctl was not found on the target: install Open vSwitch "
            "(apt-get install openvswitch-switch, or dnf install openvswitch) and start "
            "it (systemctl start openvswitch-switch)")


def interface_errors(tables_after, names):
    """[(name, error)] for interfaces among names whose error column is set."""
    interfaces = tables_after[2] if len(tables_after) > 2 else []
    out = []
    for row in interfaces:
        errors = as_list(row.get("error"))
        if row.get("name") in names and errors:
            out.append((row["name"], "; ".join(str(e) for e in errors)))
    return out


# Open vSwitch 3.1 keeps each port's last spanning-tree state ("disabled") in its
# forwarding cache after the bridge's STP or RSTP is turned off, so broadcasts and
# unknown unicast reach the bridge's own port only: a fabric that went from a mesh
# (RSTP) to a star or two hosts (no spanning tree) went silent. A port-mod round trip
# (no-flood, then flood) makes ovs-vswitchd rebuild that state for the port.
SHOW_PORT = re.compile(r"^\s*(\d+)\((.+)\): addr:")


def spanning_tree_turned_off(before_bridge, after_bridge):
    """True when a bridge that existed had STP or RSTP on and has neither after."""
    if not before_bridge or not after_bridge:
        return False
    was_on = before_bridge.get("stp") or before_bridge.get("rstp")
    return bool(was_on) and not (after_bridge.get("stp") or after_bridge.get("rstp"))


def ofctl_target(db, bridge):
    """What ovs-ofctl talks to: the bridge's management socket beside a unix db socket
    (a private Open vSwitch keeps both in its run directory), else the bridge name."""
    if db and db.startswith("unix:"):
        return "unix:%s/%s.mgmt" % (os.path.dirname(db[len("unix:"):]), bridge)
    return bridge


def flooding_ports(show_output):
    """Names of the OpenFlow ports in `ovs-ofctl show` output that take part in floods
    (not the bridge's LOCAL port, not ports configured NO_FLOOD)."""
    ports = []
    current = None
    for line in show_output.splitlines():
        match = SHOW_PORT.match(line)
        if match:
            current = match.group(2)
            continue
        stripped = line.strip()
        if current and stripped.startswith("config:"):
            if "NO_FLOOD" not in stripped:
                ports.append(current)
            current = None
    return ports
