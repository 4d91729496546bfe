# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container interfaces (pipework's job) through netlink: validation, naming, planning.

The pure part (validate_params, host_veth_name, resolve_bridge_type, plan_interface) has no
side effects and is unit tested. The netlink part (enter_netns, LinkReader/LinkWriter
helpers) uses pyroute2's IPRoute only, and enters namespaces itself with setns(2), so the
same code runs with the pyroute2 of Debian 12 (0.7) and of PyPI (0.9).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ctypes
import errno
import hashlib
import ipaddress
import os
import re
from contextlib import contextmanager

IFNAMSIZ = 15          # interface names: at most 15 bytes (IFNAMSIZ - 1)
CLONE_NEWNET = 0x40000000
IFF_UP = 0x1
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]+$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class ContainerNetError(Exception):
    """A problem with the requested or found state, with a message for the user."""


def _text(value):
    return value if isinstance(value, str) else str(value)


def check_ifname(name, option):
    """Return `name` when it is a valid Linux interface name, else raise with the fix."""
    if not name:
        raise ContainerNetError("%s must not be empty" % option)
    if len(name.encode("utf-8")) > IFNAMSIZ:
        raise ContainerNetError("%s=%s is %d characters long: Linux interface names have at most %d; "
                                "use a shorter name" % (option, name, len(name), IFNAMSIZ))
    if name in (".", "..") or not _IFNAME_RE.match(name):
        raise ContainerNetError("%s=%r is not a valid interface name: use letters, digits and . _ - @ +"
                                % (option, name))
    return name


def normalize_mac(value, option="mac"):
    if not _MAC_RE.match(value or ""):
        raise ContainerNetError("%s=%s is not a MAC address: use six hex pairs like 02:42:c0:a8:0a:05"
                                % (option, value))
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise ContainerNetError("%s=%s is a multicast address (lowest bit of the first octet set): use a "
                                "unicast MAC such as 02:%s" % (option, value, mac[3:]))
    if mac == "00:00:00:00:00:00":
        raise ContainerNetError("%s=%s is the all-zero address: use a real unicast MAC" % (option, value))
    return mac


def validate_params(params):
    """Check and normalise the module options; return the wanted state as a dict.

    `params` holds address, gateway, mac, interface, mtu, bridge, bridge_type, state.
    Raises ContainerNetError naming the option, the bad value and the fix.
    """
    want = {"state": params.get("state") or "present"}
    want["interface"] = check_ifname(params.get("interface") or "eth1", "interface")
    want["bridge"] = check_ifname(params.get("bridge") or "", "bridge")
    want["bridge_type"] = resolve_bridge_type(want["bridge"], params.get("bridge_type") or "auto")
    if want["state"] == "absent":
        return want
    address = params.get("address")
    if not address:
        raise ContainerNetError("address is required with state=present: give an IPv4 address with its "
                                "prefix length, e.g. 192.168.10.5/24")
    if "/" not in address:
        raise ContainerNetError("address=%s has no prefix length: write it in CIDR form, e.g. %s/24"
                                % (address, address))
    try:
        iface = ipaddress.ip_interface(_text(address))
    except ValueError:
        raise ContainerNetError("address=%s is not an IPv4 address in CIDR form (like 192.168.10.5/24)"
                                % address)
    if iface.version != 4:
        raise ContainerNetError("address=%s is IPv6: only IPv4 addresses are supported" % address)
    net = iface.network
    if net.prefixlen < 31 and iface.ip in (net.network_address, net.broadcast_address):
        raise ContainerNetError("address=%s is the %s address of %s: choose a host address inside it"
                                % (address, "network" if iface.ip == net.network_address else "broadcast",
                                   net))
    want["address"] = "%s/%d" % (iface.ip, net.prefixlen)
    gateway = params.get("gateway")
    want["gateway"] = None
    if gateway:
        try:
            gw = ipaddress.ip_address(_text(gateway))
        except ValueError:
            raise ContainerNetError("gateway=%s is not an IPv4 address" % gateway)
        if gw.version != 4 or gw not in net:
            raise ContainerNetError("gateway=%s is outside the subnet %s of address=%s: the gateway must be "
                                    "reachable on the interface; use an address in %s or fix the prefix"
                                    % (gateway, net, address, net))
        if gw == iface.ip:
            raise ContainerNetError("gateway=%s equals the interface address: use the router's address"
                                    % gateway)
        want["gateway"] = str(gw)
    mac = params.get("mac")
    want["mac"] = normalize_mac(mac) if mac else None
    mtu = params.get("mtu")
    if mtu is not None and not 68 <= int(mtu) <= 65535:
        raise ContainerNetError("mtu=%s is out of range: use 68-65535 (IPv4 minimum 68)" % mtu)
    want["mtu"] = int(mtu) if mtu is not None else None
    return want


def resolve_bridge_type(bridge, bridge_type):
    """pipework's rule for V(auto): names starting with C(ovs) are Open vSwitch bridges."""
    if bridge_type == "auto":
        return "ovs" if bridge.startswith("ovs") else "linux"
    if bridge_type not in ("linux", "ovs"):
        raise ContainerNetError("bridge_type=%s: use linux, ovs or auto" % bridge_type)
    return bridge_type


def _digest(key, interface):
    return hashlib.sha1(("%s/%s" % (key, interface)).encode("utf-8")).hexdigest()


def host_veth_name(key, interface):
    """Deterministic host-side veth name (15 chars): the same container and interface always
    map to the same name, so a re-run finds it and OVS keeps its port record across restarts."""
    return "ci" + _digest(key, interface)[:IFNAMSIZ - 2]


def temp_peer_name(key, interface):
    """Name of the container end while it still sits on the host, before it is moved and renamed."""
    return "ct" + _digest(key, interface)[:IFNAMSIZ - 2]


def pair_intact(have):
    """True when the container interface and our host veth are the two ends of one veth pair."""
    host = have.get("host_veth")
    cont = have.get("container_if")
    return bool(host and cont and cont.get("kind") == "veth"
                and host.get("peer_index") == cont["index"] and cont.get("peer_index") == host["index"])


def plan_interface(want, have):
    """Compare wanted and found state; return (actions, before, after).

    `have`: {bridge_exists, bridge_mtu, host_veth: {index, peer_index, master, mtu, up} | None,
    host_port_bridge (bridge the host veth is a port of, Linux or OVS), temp_peer_exists,
    container_if: {index, peer_index, kind, mac, mtu, up, addresses: [a/len]} | None,
    default_route: {gateway, oif} | None}.
    Actions are tuples; the first item names the step. Raises ContainerNetError when the
    container already has an interface of that name that is not ours.
    """
    actions = []
    ours = pair_intact(have)
    cont = have.get("container_if")
    host = have.get("host_veth")
    before = describe(want, have) if ours else {}
    if want["state"] == "absent":
        if cont and not ours:
            raise ContainerNetError(
                "interface %s in the container is not a veth this module created (no pair with %s): "
                "it is left alone; remove it by hand if it should go" % (want["interface"], want["host_veth"]))
        if ours:
            actions.append(("delete_container_if",))
        elif host:
            actions.append(("delete_host_veth",))
        if want["bridge_type"] == "ovs" and have.get("host_port_bridge"):
            actions.append(("ovs_del_port", have["host_port_bridge"]))
        return actions, before, {}

    if cont and not ours:
        raise ContainerNetError(
            "interface %s already exists in the container and is not ours (kind %s, not paired with host "
            "veth %s): choose another interface name or remove it first (for example an eth1 made by the "
            "pipework script)" % (want["interface"], cont.get("kind") or "unknown", want["host_veth"]))
    if not have.get("bridge_exists"):
        if not want.get("create_bridge", True):
            raise ContainerNetError("bridge %s does not exist: create it first or set create_bridge=true"
                                    % want["bridge"])
        actions.append(("create_bridge",))
    mtu = want["mtu"] or have.get("bridge_mtu") or 1500
    created = not ours
    if created:
        if host:
            actions.append(("delete_host_veth",))
        if have.get("temp_peer_exists"):
            actions.append(("delete_temp_peer",))
        actions.append(("create_veth",))
        cont = {"mac": None, "mtu": None, "up": False, "addresses": []}
    if want["mac"] and cont.get("mac") != want["mac"]:
        actions.append(("set_mac", want["mac"]))
    if cont.get("mtu") != mtu:
        actions.append(("set_mtu", mtu))
    stale = [a for a in cont.get("addresses", []) if a != want["address"]]
    for addr in stale:
        actions.append(("del_addr", addr))
    if want["address"] not in cont.get("addresses", []):
        actions.append(("add_addr", want["address"]))
    if not cont.get("up"):
        actions.append(("link_up",))
    if want["gateway"]:
        route = have.get("default_route") if not created else None
        if not route or route.get("gateway") != want["gateway"] or route.get("oif") != want["interface"]:
            actions.append(("set_default_route", want["gateway"]))
    # host side
    host_mtu = None if created else (host or {}).get("mtu")
    if host_mtu != mtu:
        actions.append(("set_host_mtu", mtu))
    port_bridge = have.get("host_port_bridge")
    if want["bridge_type"] == "ovs":
        if port_bridge and port_bridge != want["bridge"]:
            actions.append(("ovs_del_port", port_bridge))
        if port_bridge != want["bridge"]:
            actions.append(("ovs_add_port",))
    elif created or port_bridge != want["bridge"]:
        actions.append(("set_master",))
    if created or not (host or {}).get("up"):
        actions.append(("host_link_up",))
    after = {
        "interface": want["interface"], "address": want["address"],
        "mac": want["mac"] or (None if created else cont.get("mac")),
        "mtu": mtu, "gateway": want["gateway"] or (before.get("gateway") if before else None),
        "bridge": want["bridge"], "host_interface": want["host_veth"],
    }
    if after["mac"] is None:
        after.pop("mac")
    return actions, before, after


def describe(want, have):
    """The found interface as shown in diff mode."""
    cont = have.get("container_if") or {}
    route = have.get("default_route") or {}
    addresses = cont.get("addresses", [])
    return {
        "interface": want["interface"],
        "address": addresses[0] if len(addresses) == 1 else addresses,
        "mac": cont.get("mac"),
        "mtu": cont.get("mtu"),
        "gateway": route.get("gateway") if route.get("oif") == want["interface"] else None,
        "bridge": have.get("host_port_bridge"),
        "host_interface": want["host_veth"],
    }


def describe_action(action, want):
    """One action as a readable command line (returned as `commands`)."""
    name = action[0]
    i, h = want["interface"], want["host_veth"]
    text = {
        "create_bridge": "create %s bridge %s" % (want["bridge_type"], want["bridge"]),
        "delete_host_veth": "ip link del %s" % h,
        "delete_temp_peer": "ip link del %s" % want["temp_peer"],
        "create_veth": "ip link add %s type veth peer name %s; move %s into the container as %s"
                       % (h, want["temp_peer"], want["temp_peer"], i),
        "delete_container_if": "(container) ip link del %s" % i,
        "link_up": "(container) ip link set %s up" % i,
        "host_link_up": "ip link set %s up" % h,
        "set_master": "ip link set %s master %s" % (h, want["bridge"]),
        "ovs_add_port": "ovs-vsctl --may-exist add-port %s %s" % (want["bridge"], h),
    }.get(name)
    if text:
        return text
    arg = action[1]
    return {
        "set_mac": "(container) ip link set %s address %s" % (i, arg),
        "set_mtu": "(container) ip link set %s mtu %s" % (i, arg),
        "del_addr": "(container) ip addr del %s dev %s" % (arg, i),
        "add_addr": "(container) ip addr add %s dev %s" % (arg, i),
        "set_default_route": "(container) ip route replace default via %s dev %s" % (arg, i),
        "set_host_mtu": "ip link set %s mtu %s" % (h, arg),
        "ovs_del_port": "ovs-vsctl --if-exists del-port %s %s" % (arg, h),
    }[name]


# --------------------------------------------------------------------------- namespaces

def netns_path(value):
    """A namespace name (from C(ip netns add)) or a path; return the path."""
    return value if "/" in value else os.path.join("/run/netns", value)


def same_netns(path_a, path_b):
    a, b = os.stat(path_a), os.stat(path_b)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _setns(fd):
    setns = getattr(os, "setns", None)      # Python 3.12+
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))


def switch_netns(path):
    """Move this (single-threaded) process into the namespace at `path` for good."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns(fd)
    finally:
        os.close(fd)


@contextmanager
def entered_netns(path):
    """Run the block inside the network namespace at `path`, then come back.

    Netlink sockets opened inside stay bound to that namespace: open and close them in the
    block. The module is single threaded, so setns(2) on this thread moves the process.
    """
    here = os.open("/proc/thread-self/ns/net" if os.path.exists("/proc/thread-self") else
                   "/proc/self/ns/net", os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
    except OSError as exc:
        os.close(here)
        if exc.errno == errno.ENOENT:
            raise ContainerNetError("network namespace %s does not exist" % path)
        raise
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(here)
    finally:
        os.close(target)
        os.close(here)


def link_info(msg):
    """The parts of an RTM_NEWLINK message we compare."""
    kind = None
    linkinfo = msg.get_attr("IFLA_LINKINFO")
    if linkinfo is not None:
        kind = linkinfo.get_attr("IFLA_INFO_KIND")
    return {
        "index": msg["index"],
        "name": msg.get_attr("IFLA_IFNAME"),
        "kind": kind,
        "mac": (msg.get_attr("IFLA_ADDRESS") or "").lower() or None,
        "mtu": msg.get_attr("IFLA_MTU"),
        "up": bool(msg["flags"] & IFF_UP),
        "peer_index": msg.get_attr("IFLA_LINK"),
        "master_index": msg.get_attr("IFLA_MASTER"),
    }


def find_link(ipr, name):
    found = ipr.link_lookup(ifname=name)
    if not found:
        return None
    return link_info(ipr.get_links(found[0])[0])


def ipv4_addresses(ipr, index):
    return sorted("%s/%d" % (a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                  for a in ipr.get_addr(index=index, family=2))


def default_route(ipr):
    """The main table's IPv4 default route: {gateway, oif (name)} or None."""
    for route in ipr.get_routes(family=2, table=254):
        if route["dst_len"] != 0 or route.get_attr("RTA_DST"):
            continue
        oif = route.get_attr("RTA_OIF")
        name = None
        if oif:
            links = ipr.get_links(oif)
            name = links[0].get_attr("IFLA_IFNAME") if links else None
        return {"gateway": route.get_attr("RTA_GATEWAY"), "oif": name}
    return None
