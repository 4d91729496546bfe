"""Benchmark of the local lab: boot time to SSH and memory per host, N = 2, 4, 8.

Prints figures; it is not a test and never fails on timing. Needs root and the
cached image (`make lab-build`). Takes the lab down before and after each size, so
do not run it while you use the lab.

    python tests/bench/bench_lab.py [--sizes 2 4 8] [--no-services]

Memory is measured two ways per host: the PSS of every process inside the host
(its network namespace), and the drop of the machine's MemAvailable divided by N
(which also counts each host's tmpfs and kernel memory). "services" starts what
the roles will run: containerd, dockerd and Open vSwitch.
"""
import argparse
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from tools.lab import hosts, lifecycle, network, state  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results import record  # noqa: E402

PYTHON = os.environ.get("CROSSHOST_PYTHON", sys.executable)
SERVICES = "systemctl start containerd docker openvswitch-switch"


def lab(*args):
    return subprocess.run([PYTHON, "-m", "tools.lab", *args], cwd=REPO, capture_output=True, text=True,
                          check=False)


def mem_available_kib():
    with open("/proc/meminfo") as handle:
        return int(re.search(r"MemAvailable:\s+(\d+)", handle.read()).group(1))


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            return int(re.search(r"^Pss:\s+(\d+)", handle.read(), re.M).group(1))
    except (OSError, AttributeError):
        return 0


def host_pss_mib(host):
    return sum(pss_kib(pid) for pid in network.netns_pids(host["netns"])) / 1024


def settle(seconds=3.0):
    time.sleep(seconds)


def measure(count, services):
    assert lab("down").returncode == 0
    settle(1.0)
    before = mem_available_kib()
    started = time.monotonic()
    proc = lab("up", "--hosts", str(count))
    wall = time.monotonic() - started
    if proc.returncode != 0:
        print(f"N={count}: up failed:\n{proc.stderr}")
        return None
    boot = float(re.search(r"answer SSH ([\d.]+) s after start", proc.stderr).group(1))
    settle()
    lab_hosts = state.load()["hosts"]
    row = {"n": count, "boot_s": boot, "up_wall_s": wall,
           "pss_mib": sum(host_pss_mib(h) for h in lab_hosts) / count,
           "avail_mib": (before - mem_available_kib()) / 1024 / count}
    if services:
        started = time.monotonic()
        starts = [subprocess.Popen(hosts.ssh_argv(h, SERVICES), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) for h in lab_hosts]
        ok = all(p.wait() == 0 for p in starts)
        row["services_s"] = time.monotonic() - started if ok else float("nan")
        settle()
        row["svc_pss_mib"] = sum(host_pss_mib(h) for h in lab_hosts) / count
        row["svc_avail_mib"] = (before - mem_available_kib()) / 1024 / count
    started = time.monotonic()
    lab("down")
    row["down_s"] = time.monotonic() - started
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--no-services", action="store_true", help="only measure idle hosts")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_lab: needs root")
    if lifecycle.is_running(state.load()):
        sys.exit("bench_lab: a lab is running; `make lab-down` first")
    built = lab("build")
    if built.returncode != 0:
        sys.exit(built.stderr)
    rows = [r for r in (measure(n, not args.no_services) for n in args.sizes) if r]
    print(f"lab benchmark on {os.cpu_count()} cores "
          f"(MiB per host; 'svc' = containerd + dockerd + OVS running)")
    header = f"{'N':>3} {'boot→SSH s':>10} {'up wall s':>9} {'PSS':>7} {'MemAvail':>8}"
    if not args.no_services:
        header += f" {'svc start s':>11} {'svc PSS':>8} {'svc MemAvail':>12}"
    print(header + f" {'down s':>7}")
    for r in rows:
        line = f"{r['n']:>3} {r['boot_s']:>10.1f} {r['up_wall_s']:>9.1f} {r['pss_mib']:>7.0f} {r['avail_mib']:>8.0f}"
        if not args.no_services:
            line += f" {r['services_s']:>11.1f} {r['svc_pss_mib']:>8.0f} {r['svc_avail_mib']:>12.0f}"
        print(line + f" {r['down_s']:>7.1f}")
        record("lab", f"N={r['n']} boot to SSH", r["boot_s"], "s")
        record("lab", f"N={r['n']} memory per host (PSS, idle)", r["pss_mib"], "MiB")
        if not args.no_services:
            record("lab", f"N={r['n']} memory per host (PSS, dockerd+OVS)", r["svc_pss_mib"], "MiB")


if __name__ == "__main__":
    main()
