"""Benchmark: the data path of each fabric, container to container across two lab hosts.

For each fabric (flannel host-gw, vxlan, udp; Open vSwitch GRE): boot 2 fresh lab
hosts, converge the fabric as its molecule scenario does, start one probe
container per host with playbooks/verify.yml (which also proves every pair
reaches the other), then measure between the two probes and, side by side in the
same lab, between the two hosts' underlay addresses (the lab bridge):

  - TCP throughput with iperf3 (median of --repeat runs of --seconds each; the
    fabric's and the underlay's runs take turns), and the ratio fabric / underlay.
    OVS GRE moves the underlay address onto its own bridge, so its underlay is
    measured before the converge;
  - ping RTT (average of 20 pings);
  - the MTU check: `ping -M do -s <mtu - 28>` (mtu of the container's eth0) must
    come back: no fragmentation needed and no black hole for full-size packets.

For host-gw and vxlan, a third path runs in the same turns: the control, made by
hand with plain `ip` commands and none of our code, with the same hops as the
fabric (a network namespace on a veth into a Linux bridge on each host, routed over
the underlay: plain routes for host-gw, a point-to-point kernel vxlan device for
vxlan). The ratio fabric / control says what the fabric costs beyond the bare
kernel topology it is built from; control / underlay is that topology's own ceiling
on this machine.

Prints every figure, the targets beside them and records them for `make bench`.
Never fails on timing. A fabric that carries pings but not TCP is reported (the
throughput "NOT MEASURED" with the reason, its other figures still taken), not
failed; the MTU check is reported, not enforced. The exit code is non-zero only
when a fabric could not be converged or its probes could not reach each other.

iperf3 is in the lab's host image, not in the busybox probe image, so it runs on
the host inside the probe's network namespace (`nsenter --net=/proc/PID/ns/net`).
The OVS GRE fabric runs on the userspace (netdev) datapath in the lab (no kernel
OVS datapath or GRE module here): its figure is not what the kernel datapath does.
(On that datapath the ovs_gre role turns TX checksum offload off on the docker-side
veth; without it TCP arrived with bad checksums and only pings crossed.)

Runs on its own lab instance (CROSSHOST_LAB=6 unless set) and removes it on exit,
also after a failure, Ctrl-C or SIGTERM. Takes about 8 minutes.

    python tests/bench/bench_datapath.py [--fabrics host-gw vxlan udp ovs-gre] [--seconds 5] [--repeat 3]
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from results import record  # noqa: E402

PYTHON = os.environ.get("CROSSHOST_PYTHON", sys.executable)
BIN = os.path.dirname(PYTHON)
LAB = os.environ.get("CROSSHOST_LAB") or "6"
INVENTORY = os.path.join(REPO, "inventories", "lab", "hosts-%s.yml" % LAB)
# The same per-instance PKI directory as the molecule scenarios, so this lab never
# overwrites another instance's etcd certificates.
PKI_DIR = os.path.join(os.path.expanduser("~"), ".crosshost", "pki", "crosshost-lab%s" % LAB)
PROBE = "crosshost-probe"          # the container verify.yml starts on every host
PING_COUNT = 20
CONVERGE_TIMEOUT = 900

# moves_underlay: the converge changes the host-to-host path itself, so the underlay
# baseline is taken before it (else side by side with the fabric, after it).
# control: the hand-made path measured beside the fabric (None, "routes" or "vxlan").
Fabric = collections.namedtuple("Fabric", "key name lab_fabric playbooks extra verify_group moves_underlay target note "
                                          "control")
FLANNEL_PLAYBOOKS = ["playbooks/etcd.yml", "playbooks/flannel.yml", "playbooks/docker.yml"]
FABRICS = [
    Fabric("host-gw", "flannel host-gw", "flannel", FLANNEL_PLAYBOOKS,
           {"flannel_backend": {"type": "host-gw"}}, "docker", False, 0.95, "kernel routes, no encapsulation",
           "routes"),
    Fabric("vxlan", "flannel vxlan", "flannel", FLANNEL_PLAYBOOKS,
           {"flannel_backend": {"type": "vxlan", "vni": 1}}, "docker", False, 0.85, "kernel vxlan", "vxlan"),
    Fabric("udp", "flannel udp", "flannel", FLANNEL_PLAYBOOKS,
           {"flannel_backend": {"type": "udp"}}, "docker", False, None,
           "expected far lower: flanneld copies every packet through user space (TUN)", None),
    Fabric("ovs-gre", "OVS GRE", "ovs-gre", ["playbooks/ovs_gre.yml"],
           {"ovs_gre_datapath_type": "netdev"}, "ovs_gre", True, None,
           "as measured: userspace (netdev) OVS datapath in the lab, not the kernel datapath", None),
]
PKI_VARS = {"etcd_pki_local_dir": PKI_DIR, "flannel_etcd_pki_local_dir": PKI_DIR}


class Unmeasurable(Exception):
    """A fabric whose figures cannot be taken (converge, connectivity or tool failure)."""


def env():
    return dict(os.environ, CROSSHOST_LAB=LAB, CROSSHOST_LAB_SUFFIX="-%s" % LAB,
                PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
                ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                ANSIBLE_PIPELINING="1", ANSIBLE_FORKS="20", ANSIBLE_HOST_KEY_CHECKING="0",
                ANSIBLE_NOCOLOR="1")


def run(argv, timeout, check=True):
    """Run a command from the repository root; a timeout (and, with check, a failure) raises Unmeasurable."""
    try:
        proc = subprocess.run(argv, cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as err:
        raise Unmeasurable("%s: no answer within %d s" % (" ".join(argv[:6]), timeout)) from err
    if check and proc.returncode != 0:
        output = (proc.stdout + proc.stderr)[-3000:]
        raise Unmeasurable("%s failed (rc %d):\n%s" % (" ".join(argv[:6]), proc.returncode, output))
    return proc


def lab(*args):
    return run([PYTHON, "-m", "tools.lab", *args], timeout=300)


def on_host(host, argv, timeout=60, check=True):
    """A command inside a lab host, entered with nsenter by the lab tool (needs no SSH)."""
    return run([PYTHON, "-m", "tools.lab", "exec", host, "--", *argv], timeout=timeout, check=check)


def playbooks(paths, extra):
    start = time.perf_counter()
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY, *paths, "-e", json.dumps(extra)]
    run(argv, timeout=CONVERGE_TIMEOUT)
    return time.perf_counter() - start


class Endpoint(collections.namedtuple("Endpoint", "host pid address")):
    """One end of a measured path: a lab host, the network namespace to enter (a pid,
    a /run/netns path, or None: the host's own namespace, the underlay) and the
    address the peer dials."""

    def argv(self, *command):
        if self.pid is None:
            return list(command)
        netns = self.pid if isinstance(self.pid, str) else "/proc/%d/ns/net" % self.pid
        return ["nsenter", "--net=%s" % netns, *command]


def underlay_endpoints():
    with open(INVENTORY) as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["lab"]["hosts"]
    return tuple(Endpoint(name, None, hosts[name]["lab_underlay_address"]) for name in ("lab1", "lab2"))


def probe_endpoints():
    fmt = "{{.State.Pid}} {{.NetworkSettings.IPAddress}}"
    endpoints = []
    for host in ("lab1", "lab2"):
        pid, address = on_host(host, ["docker", "inspect", "--format", fmt, PROBE]).stdout.split()
        endpoints.append(Endpoint(host, int(pid), address))
    return tuple(endpoints)


def describe(path):
    client, server = path
    return "%s %s -> %s %s" % (client.host, client.address, server.host, server.address)


def iperf_once(client, server, seconds):
    """One iperf3 run: (Mbit/s received, retransmits). A refused or timed-out connect
    is retried briefly, because a freshly daemonised server may not listen yet."""
    argv = client.argv("iperf3", "--client", server.address, "--time", str(seconds), "--omit", "1",
                       "--connect-timeout", "3000", "--json")
    for attempt in range(3):
        proc = on_host(client.host, argv, timeout=seconds + 30, check=False)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            data = {"error": (proc.stdout + proc.stderr).strip()[-500:]}
        if "error" not in data:
            end = data["end"]
            return end["sum_received"]["bits_per_second"] / 1e6, end["sum_sent"].get("retransmits", 0)
        if "connect" not in data["error"] or attempt == 2:
            raise Unmeasurable("iperf3 %s: %s" % (describe((client, server)), data["error"]))
        time.sleep(0.5)
    raise AssertionError("unreachable")


def pidfile(server):
    name = "host" if server.pid is None else os.path.basename(str(server.pid))
    return "/run/bench-datapath-iperf3-%s.pid" % name


def throughput(paths, seconds, repeat):
    """Per (client, server) path: {mbit: median Mbit/s, retransmits: of every run}.

    The paths take turns run by run, so a load change on the shared machine hits
    both sides of a ratio alike instead of skewing it."""
    servers = [server for _client, server in paths]
    for server in servers:
        on_host(server.host, server.argv("iperf3", "--server", "--daemon", "--pidfile", pidfile(server)))
    try:
        runs = [[iperf_once(client, server, seconds) for client, server in paths] for _run in range(repeat)]
    finally:
        # The daemons would otherwise live on in the hosts (or the probes' namespaces) until down.
        for server in servers:
            on_host(server.host, ["sh", "-c", 'kill "$(cat %s)"; rm -f %s' % (pidfile(server), pidfile(server))],
                    check=False)
    return [{"mbit": statistics.median(run[index][0] for run in runs),
             "retransmits": [run[index][1] for run in runs]} for index in range(len(paths))]


def ping(path, size=None, count=PING_COUNT):
    """(loss %, average RTT ms or None) of `count` pings; size set means that size with DF set."""
    client, server = path
    argv = ["ping", "-q", "-n", "-c", str(count), "-i", "0.2", "-W", "2"]
    if size is not None:
        argv += ["-M", "do", "-s", str(size)]
    out = on_host(client.host, client.argv(*argv, server.address), timeout=count + 30, check=False).stdout
    loss = re.search(r"([0-9.]+)% packet loss", out)
    rtt = re.search(r"= [0-9.]+/([0-9.]+)/", out)
    return (float(loss.group(1)) if loss else 100.0), (float(rtt.group(1)) if rtt else None)


def rtt(path):
    loss, average = ping(path)
    if average is None:
        raise Unmeasurable("ping %s: %s%% loss" % (describe(path), loss))
    return average


def interface_mtu(endpoint, name="eth0"):
    # Read through netlink inside the namespace: /sys shows the host's devices, not the probe's.
    out = on_host(endpoint.host, endpoint.argv("ip", "-json", "link", "show", "dev", name)).stdout
    return json.loads(out)[0]["mtu"]


def mtu_check(path):
    """Full-size pings with DF set across the fabric, sized to the container's MTU."""
    mtu = interface_mtu(path[0])
    size = mtu - 28                  # 20 bytes IPv4 header + 8 bytes ICMP header
    loss, _rtt = ping(path, size=size, count=3)
    return {"mtu": mtu, "size": size, "passed": loss == 0.0}


def tcp_checksum_errors(endpoint):
    """Tcp InCsumErrors in the endpoint's namespace (/proc/net follows the reader's namespace)."""
    out = on_host(endpoint.host, endpoint.argv("cat", "/proc/net/snmp")).stdout
    names, values = [line.split()[1:] for line in out.splitlines() if line.startswith("Tcp:")]
    return int(dict(zip(names, values))["InCsumErrors"])


def why_no_tcp(error, path):
    """The iperf3 error, and the receiver's bad-checksum count when it explains it:
    a path that carries pings but not TCP usually drops segments whose checksum
    was left to an offload nobody completed."""
    bad = tcp_checksum_errors(path[1])
    if not bad:
        return str(error)
    return "%s; the receiving probe dropped %d TCP segments with a bad checksum (Tcp InCsumErrors)" % (error, bad)


def start_probes(fabric):
    """One probe container per host, left running by verify.yml, which fails on any loss."""
    verify_dir = tempfile.mkdtemp(prefix="bench-datapath-verify-")
    try:
        playbooks(["playbooks/verify.yml"], {"verify_keep_probes": True, "verify_group": fabric.verify_group,
                                             "verify_output_dir": verify_dir})
    finally:
        shutil.rmtree(verify_dir, ignore_errors=True)
    return probe_endpoints()


CONTROL_NETNS = "/run/netns/benchctl"
CONTROL_SUBNET = "10.250.{}.0/24"     # host k's control namespace sits in 10.250.k.0/24
CONTROL_VXLAN_NET = "10.251.0.{}/24"  # the control vxlan device's own address on host k


def control_commands(kind, index, peer_index, own_underlay, peer_underlay):
    """The `ip`/`iptables` commands that make host `index`'s end of the control path."""
    bridge_address = "10.250.%d.1" % index
    mtu = "1450" if kind == "vxlan" else "1500"      # as flannel's vxlan lease / host-gw
    commands = [
        ["ip", "netns", "add", "benchctl"],
        ["ip", "link", "add", "benchbr0", "mtu", mtu, "type", "bridge"],
        ["ip", "addr", "add", bridge_address + "/24", "dev", "benchbr0"],
        ["ip", "link", "set", "benchbr0", "up"],
        ["ip", "link", "add", "benchv0", "mtu", mtu, "type", "veth", "peer", "name", "benchv1", "mtu", mtu],
        ["ip", "link", "set", "benchv1", "netns", "benchctl"],
        ["ip", "link", "set", "benchv0", "master", "benchbr0", "up"],
        ["ip", "-n", "benchctl", "addr", "add", "10.250.%d.2/24" % index, "dev", "benchv1"],
        ["ip", "-n", "benchctl", "link", "set", "benchv1", "up"],
        ["ip", "-n", "benchctl", "link", "set", "lo", "up"],
        ["ip", "-n", "benchctl", "route", "add", "default", "via", bridge_address],
        # Docker's FORWARD policy is DROP: let the control subnets through, first.
        ["iptables", "-I", "FORWARD", "1", "-s", "10.250.0.0/16", "-d", "10.250.0.0/16", "-j", "ACCEPT"],
    ]
    peer_subnet = CONTROL_SUBNET.format(peer_index)
    if kind == "routes":
        commands.append(["ip", "route", "add", peer_subnet, "via", peer_underlay, "dev", "eth0"])
    else:
        commands += [
            ["ip", "link", "add", "benchvx", "type", "vxlan", "id", "4242", "local", own_underlay,
             "remote", peer_underlay, "dstport", "4799", "dev", "eth0"],
            ["ip", "addr", "add", CONTROL_VXLAN_NET.format(index), "dev", "benchvx"],
            ["ip", "link", "set", "benchvx", "up"],
            ["ip", "route", "add", peer_subnet, "via", CONTROL_VXLAN_NET.format(peer_index)[:-3], "dev", "benchvx"],
        ]
    return commands


def control_endpoints(kind, underlay_path):
    """Make the hand-made control path on both hosts; return its two endpoints."""
    hosts = [(1, underlay_path[0], underlay_path[1]), (2, underlay_path[1], underlay_path[0])]
    for index, own, peer in hosts:
        for argv in control_commands(kind, index, 3 - index, own.address, peer.address):
            on_host(own.host, argv)
    return tuple(Endpoint(own.host, CONTROL_NETNS, "10.250.%d.2" % index) for index, own, _peer in hosts)


def measure_underlay(path, seconds, repeat):
    return dict(throughput([path], seconds, repeat)[0], rtt=rtt(path), path=describe(path))


def measure_fabric(fabric, seconds, repeat):
    """The fabric's figures, with its underlay's under "underlay"; "why" instead of
    "mbit" when TCP does not get across (the other figures are still taken)."""
    lab("up", "--hosts", "2", "--fabric", fabric.lab_fabric)
    try:
        underlay_path = underlay_endpoints()
        underlay = None
        if fabric.moves_underlay:
            # OVS GRE moves the underlay address onto its userspace bridge (br-phy),
            # which would slow the baseline itself down: take it before the converge.
            underlay = measure_underlay(underlay_path, seconds, repeat)
        print("  converged in %.0f s" % playbooks(fabric.playbooks, dict(PKI_VARS, **fabric.extra)), flush=True)
        probe_path = start_probes(fabric)
        result = {"path": describe(probe_path)}
        control_path = control_endpoints(fabric.control, underlay_path) if fabric.control else None
        try:
            if underlay is None and control_path:
                figures, underlay_figures, control_figures = throughput(
                    [probe_path, underlay_path, control_path], seconds, repeat)
                underlay = dict(underlay_figures, rtt=rtt(underlay_path), path=describe(underlay_path))
                result["control"] = dict(control_figures, rtt=rtt(control_path), path=describe(control_path),
                                         kind=fabric.control)
            elif underlay is None:
                figures, underlay_figures = throughput([probe_path, underlay_path], seconds, repeat)
                underlay = dict(underlay_figures, rtt=rtt(underlay_path), path=describe(underlay_path))
            else:
                figures = throughput([probe_path], seconds, repeat)[0]
            result.update(figures)
        except Unmeasurable as err:
            result["why"] = why_no_tcp(err, probe_path)
        if underlay is None:
            underlay = measure_underlay(underlay_path, seconds, repeat)
        result.update(mtu_check(probe_path), rtt=rtt(probe_path), underlay=underlay)
        return result
    finally:
        lab("down")


def runs_text(result):
    return "retransmits per run %s" % "/".join(str(count) for count in result["retransmits"])


def report(fabric, result):
    """Print and record one fabric's figures."""
    underlay = result["underlay"]
    print("  underlay (%s): %.0f Mbit/s (%s), RTT %.3f ms" % (
        underlay["path"], underlay["mbit"], runs_text(underlay), underlay["rtt"]))
    record("datapath", "underlay in the %s lab, TCP throughput" % fabric.name, underlay["mbit"], "Mbit/s")
    record("datapath", "underlay in the %s lab, ping RTT" % fabric.name, underlay["rtt"], "ms")
    if "mbit" in result:
        ratio = result["mbit"] / underlay["mbit"]
        print("  %s (%s): %.0f Mbit/s (%s), RTT %.3f ms" % (
            fabric.name, result["path"], result["mbit"], runs_text(result), result["rtt"]))
        print("  ratio %s / underlay: %.2f  target: %s" % (fabric.name, ratio, target_text(fabric, ratio)))
        record("datapath", "%s TCP throughput" % fabric.name, result["mbit"], "Mbit/s")
        record("datapath", "%s / underlay TCP throughput" % fabric.name, ratio, "x", kind="ratio")
        if "control" in result:
            report_control(fabric, result, underlay)
    else:
        print("  %s (%s): RTT %.3f ms; TCP throughput NOT MEASURED: %s" % (
            fabric.name, result["path"], result["rtt"], result["why"]))
    print("  MTU check: ping -M do -s %d (container eth0 MTU %d) across hosts: %s" % (
        result["size"], result["mtu"], "PASS" if result["passed"] else "FAIL (fragmentation needed or black hole)"),
        flush=True)
    record("datapath", "%s ping RTT" % fabric.name, result["rtt"], "ms")
    record("datapath", "%s TCP across hosts works" % fabric.name, 1.0 if "mbit" in result else 0.0, "1=pass")
    record("datapath", "%s container MTU" % fabric.name, result["mtu"], "bytes")
    record("datapath", "%s full-MTU DF ping passes" % fabric.name, 1.0 if result["passed"] else 0.0, "1=pass")


def report_control(fabric, result, underlay):
    control = result["control"]
    what = "hand-made routes" if control["kind"] == "routes" else "hand-made vxlan"
    print("  control, %s (%s): %.0f Mbit/s (%s), RTT %.3f ms" % (
        what, control["path"], control["mbit"], runs_text(control), control["rtt"]))
    print("  ratio control / underlay: %.2f (the bare topology's ceiling); ratio %s / control: %.2f" % (
        control["mbit"] / underlay["mbit"], fabric.name, result["mbit"] / control["mbit"]))
    record("datapath", "control (%s) in the %s lab, TCP throughput" % (what, fabric.name), control["mbit"], "Mbit/s")
    record("datapath", "control (%s) / underlay TCP throughput" % what, control["mbit"] / underlay["mbit"], "x",
           kind="ratio")
    record("datapath", "%s / control (%s) TCP throughput" % (fabric.name, what), result["mbit"] / control["mbit"],
           "x", kind="ratio")


def target_text(fabric, ratio):
    if fabric.target is None:
        return fabric.note
    verdict = "met" if ratio >= fabric.target else "missed"
    return ">= %.2f (%s; %s)" % (fabric.target, verdict, fabric.note)


def summary(rows, failures, wall):
    print("\ndata path across 2 lab hosts (iperf3 TCP median, ping RTT average; ratio = fabric / underlay)")
    print("%-19s %9s %9s %6s %8s %8s %5s %5s %8s  %s" % (
        "fabric", "Mbit/s", "underlay", "ratio", "RTT ms", "ulay ms", "MTU", "DF", "/control", "target"))
    for fabric, result in rows:
        underlay = result["underlay"]
        if "mbit" in result:
            ratio = result["mbit"] / underlay["mbit"]
            mbit, ratio_text, target = "%.0f" % result["mbit"], "%.2f" % ratio, target_text(fabric, ratio)
        else:
            mbit, ratio_text, target = "-", "-", "TCP does not get across: " + result["why"]
        control = result.get("control")
        versus_control = "%.2f" % (result["mbit"] / control["mbit"]) if control and "mbit" in result else "-"
        print("%-19s %9s %9.0f %6s %8.3f %8.3f %5d %5s %8s  %s" % (
            fabric.name[:19], mbit, underlay["mbit"], ratio_text, result["rtt"], underlay["rtt"], result["mtu"],
            "pass" if result["passed"] else "FAIL", versus_control, target))
        if control:
            print("%-19s %9.0f %9.0f %6.2f %8.3f %8.3f" % (
                ("  control " + control["kind"])[:19], control["mbit"], underlay["mbit"],
                control["mbit"] / underlay["mbit"], control["rtt"], underlay["rtt"]))
    for fabric, reason in failures:
        print("%-19s not measured: %s" % (fabric.name[:19], reason.splitlines()[0]))
    print("total wall time: %.0f s" % wall)


def _terminate(signum, frame):
    # SIGTERM takes the same way out as Ctrl-C, so the lab is removed either way.
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fabrics", nargs="+", choices=[f.key for f in FABRICS], default=[f.key for f in FABRICS])
    parser.add_argument("--seconds", type=int, default=5, help="seconds per iperf3 run (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="iperf3 runs per path, median taken (default 3)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    start = time.perf_counter()
    # The etcd PKI is generated on the controller for this lab's addresses; a run
    # that made it removes it again, a PKI that was there before is left alone.
    own_pki = not os.path.exists(PKI_DIR)
    rows, failures = [], []
    try:
        lab("down")        # leftovers of an earlier, killed run of this instance
        for fabric in [fabric for fabric in FABRICS if fabric.key in args.fabrics]:
            print("%s:" % fabric.name, flush=True)
            try:
                result = measure_fabric(fabric, args.seconds, args.repeat)
            except Unmeasurable as err:
                print("  %s cannot be measured: %s" % (fabric.name, err), flush=True)
                failures.append((fabric, str(err)))
                continue
            report(fabric, result)
            rows.append((fabric, result))
    except KeyboardInterrupt:
        print("interrupted: removing the lab", file=sys.stderr)
        return 130
    finally:
        # Not interruptible: a second Ctrl-C must not leave hosts, bridges or mounts behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        lab("down")
        if own_pki:
            shutil.rmtree(PKI_DIR, ignore_errors=True)
    summary(rows, failures, time.perf_counter() - start)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
