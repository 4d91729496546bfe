"""The lab underlay: bridges on the machine, a network namespace per host, a router.

Segment k is bridge xhl-br<k> holding 192.168.(150+k).254/24 on the machine side,
so the controller reaches every host directly and the artifact server has an
address on the lab only. Hosts have no default route; with several segments a
router namespace (its own ip_forward) links them, and hosts get routes to the other
lab subnets only. The machine's ip_forward, iptables and default route are never
touched; forwarding is also switched off on the lab bridges themselves so the
machine can never route lab traffic elsewhere.
"""
import ipaddress
import json
import os

from tools.lab import config
from tools.lab.util import LabError, log, quiet, run

ROUTER_NS = f"{config.PREFIX}-router"


def subnet(segment):
    return ipaddress.ip_network(f"192.168.{config.SUBNET_BASE + segment}.0/24")


def address(segment, octet):
    return str(subnet(segment).network_address + octet)


def bridge_name(segment):
    return f"{config.PREFIX}-br{segment}"


def host_netns(name):
    return f"{config.PREFIX}-{name}"


def netns_path(name):
    return f"/run/netns/{name}"


def sysctl(key, value, netns=None):
    """Write a sysctl, in a lab namespace when netns is given (never a machine-wide one)."""
    path = "/proc/sys/" + key.replace(".", "/")
    if netns is None:
        with open(path, "w") as handle:
            handle.write(str(value))
    else:
        run(["nsenter", f"--net={netns_path(netns)}", "sysctl", "-q", "-w", f"{key}={value}"])


def check_free(segments):
    """Refuse subnets that the machine already routes (ours excepted)."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"], capture=True).stdout or "[]")
    ours = {bridge_name(k) for k in range(segments)}
    for segment in range(segments):
        net = subnet(segment)
        for route in routes:
            dst = route.get("dst", "")
            if dst in ("default", "") or route.get("dev") in ours or route.get("type") in ("local", "broadcast"):
                continue
            try:
                other = ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False)
            except ValueError:
                continue
            if net.overlaps(other):
                raise LabError(f"lab subnet {net} collides with route '{dst} dev {route.get('dev')}' "
                               f"on this machine; change SUBNET_BASE in tools/lab/config.py")


def create_bridge(segment):
    name = bridge_name(segment)
    run(["ip", "link", "add", name, "type", "bridge"])
    sysctl(f"net.ipv4.conf.{name}.forwarding", 0)
    sysctl(f"net.ipv6.conf.{name}.disable_ipv6", 1)
    run(["ip", "addr", "add", f"{address(segment, config.MACHINE_OCTET)}/24", "dev", name])
    run(["ip", "link", "set", name, "up"])


def create_router(segments):
    """A namespace that routes between the lab segments (and nowhere else)."""
    run(["ip", "netns", "add", ROUTER_NS])
    run(["ip", "-n", ROUTER_NS, "link", "set", "lo", "up"])
    sysctl("net.ipv4.ip_forward", 1, netns=ROUTER_NS)
    for segment in range(segments):
        outside = f"{config.PREFIX}-r{segment}"
        inside = f"seg{segment}"
        run(["ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ROUTER_NS])
        sysctl(f"net.ipv6.conf.{outside}.disable_ipv6", 1)
        run(["ip", "link", "set", outside, "master", bridge_name(segment), "up"])
        run(["ip", "-n", ROUTER_NS, "addr", "add", f"{address(segment, config.ROUTER_OCTET)}/24", "dev", inside])
        run(["ip", "-n", ROUTER_NS, "link", "set", inside, "up"])


def create_host_link(name, segment, host_address, segments):
    """Netns for one host with the underlay NIC (eth0) on its segment's bridge."""
    netns = host_netns(name)
    outside = netns
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", outside, "type", "veth", "peer", "name", config.UNDERLAY_IF, "netns", netns])
    sysctl(f"net.ipv6.conf.{outside}.disable_ipv6", 1)
    run(["ip", "link", "set", outside, "master", bridge_name(segment), "up"])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])
    run(["ip", "-n", netns, "addr", "add", f"{host_address}/24", "dev", config.UNDERLAY_IF])
    run(["ip", "-n", netns, "link", "set", config.UNDERLAY_IF, "up"])
    for other in range(segments):
        if other != segment:
            run(["ip", "-n", netns, "route", "add", str(subnet(other)),
                 "via", address(segment, config.ROUTER_OCTET)])
    return netns


def delete_host_link(name):
    """Remove a host's underlay veth and namespace (with every link made inside it).
    The veth goes first and explicitly: a namespace is torn down asynchronously, and
    its veth's outside name must be free again for create_host_link."""
    quiet(["ip", "link", "delete", host_netns(name)])
    quiet(["ip", "netns", "delete", host_netns(name)])


def lab_links():
    """Every link on the machine that carries the lab prefix."""
    links = json.loads(run(["ip", "-j", "link", "show"], capture=True).stdout or "[]")
    return [link["ifname"] for link in links if link["ifname"].startswith(config.PREFIX + "-")]


def lab_netns():
    try:
        return sorted(n for n in os.listdir("/run/netns") if n.startswith(config.PREFIX + "-"))
    except FileNotFoundError:
        return []


def netns_pids(netns):
    proc = run(["ip", "netns", "pids", netns], check=False, capture=True)
    return [int(p) for p in proc.stdout.split()] if proc.returncode == 0 else []


def destroy_all():
    """Delete every lab link and namespace, whatever the state file says."""
    for netns in lab_netns():
        quiet(["ip", "netns", "delete", netns])   # also deletes the veth ends inside
    for name in lab_links():
        if not name.startswith(f"{config.PREFIX}-br"):
            quiet(["ip", "link", "delete", name])
    for name in lab_links():
        quiet(["ip", "link", "delete", name])
    left = lab_links() + lab_netns()
    if left:
        raise LabError(f"could not remove: {', '.join(left)}")
    log("network removed")
