"""Benchmark: the cost of converging a flannel vxlan fabric on the lab.

For each lab size N (default 3, 6, 12): boot N fresh hosts, run playbooks/site.yml
(first converge), run it again (the no-op rerun), take the lab down; then the same
with tests/bench/handwritten_flannel.yml (the same steps as plain command/copy
tasks) on fresh hosts. With --image bare the hosts are fresh Debian hosts without the
packages, which both playbooks then install from the lab's apt repository (a first
converge as on new machines); the default, full, has every package in place. Prints wall times, task results per second, the ratios
rerun/first and ours/hand-written, and the slope of the first converge over N
(a least-squares line: seconds per extra host). Records every figure for
`make bench`. Never fails on timing.

Runs on its own lab instance (CROSSHOST_LAB=6 unless set), with etcd over plain
HTTP on both sides so the comparison is like for like (TLS adds PKI work that the
hand-written playbook does not do), and with the Ansible settings the README
recommends (pipelining, SSH ControlPersist, forks).

With --tls, site.yml runs as production inventories configure it (etcd and flanneld
over TLS, the PKI generated on the controller and installed on the hosts) and the
hand-written playbook, which has no TLS, is not run: it prints site.yml's figures and
rerun/first only.

    python tests/bench/bench_converge.py [--sizes 3 6 12] [--image full|bare] [--tls]
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from results import record  # noqa: E402

PYTHON = os.environ.get("CROSSHOST_PYTHON", sys.executable)
BIN = os.path.dirname(PYTHON)
LAB = os.environ.get("CROSSHOST_LAB") or "6"
INVENTORY = os.path.join(REPO, "inventories", "lab", "hosts-%s.yml" % LAB)
PLAIN_HTTP = ["-e", "etcd_tls=false", "-e", "flannel_etcd_tls=false"]
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)",
                   re.MULTILINE)


def env():
    return dict(os.environ, CROSSHOST_LAB=LAB, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                ANSIBLE_PIPELINING="1", ANSIBLE_FORKS="20", ANSIBLE_HOST_KEY_CHECKING="0",
                ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=60s",
                ANSIBLE_NOCOLOR="1")


def lab(*args):
    proc = subprocess.run([PYTHON, "-m", "tools.lab", *args], cwd=REPO, env=env(), capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("lab %s failed:\n%s" % (" ".join(args), proc.stderr[-3000:]))


def playbook(path, extra):
    start = time.perf_counter()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY, path] + extra,
                          cwd=REPO, env=env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    recap = RECAP.findall(proc.stdout)
    if proc.returncode != 0 or not recap:
        raise SystemExit("%s failed (rc %d):\n%s" % (path, proc.returncode, proc.stdout[-4000:]))
    results = sum(int(ok) + int(failed) + int(skipped) for _h, ok, _c, _u, failed, skipped in recap)
    changed = sum(int(c) for _h, _o, c, _u, _f, _s in recap)
    return {"wall": wall, "results": results, "changed": changed}


def converge_twice(path, extra, hosts, image):
    lab("up", "--hosts", str(hosts), "--fabric", "flannel", "--image", image)
    try:
        return playbook(path, extra), playbook(path, extra)
    finally:
        lab("down")


def slope(points):
    """Least-squares seconds per extra host."""
    n = len(points)
    xs = [point[0] for point in points]
    mean_x = sum(xs) / n
    mean_y = sum(point[1] for point in points) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 6, 12])
    parser.add_argument("--image", choices=["full", "bare"], default="full",
                        help="full: packages in place (default); bare: both playbooks install them")
    parser.add_argument("--tls", action="store_true",
                        help="site.yml only, with etcd and flanneld over TLS (the production setting)")
    args = parser.parse_args()
    label = ("" if args.image == "full" else " (bare hosts)") + (" (TLS)" if args.tls else "")
    lab("down")
    rows = []
    for hosts in args.sizes:
        ours = converge_twice("playbooks/site.yml", [] if args.tls else PLAIN_HTTP, hosts, args.image)
        hand = None if args.tls else converge_twice("tests/bench/handwritten_flannel.yml", [], hosts, args.image)
        rows.append((hosts, ours, hand))
        print("N=%d done" % hosts, flush=True)

    print("\nconverge of a flannel vxlan fabric on the lab%s (%s etcd, pipelining, forks 20)"
          % ("" if args.image == "full" else " (bare hosts)", "TLS" if args.tls else "plain-HTTP"))
    header = ("N", "playbook", "first s", "rerun s", "tasks/s", "rerun chg", "rerun/first")
    print("%3s %-13s %9s %9s %9s %8s %12s" % header)
    for hosts, ours, hand in rows:
        for name, (first, rerun) in (("site.yml", ours), ("hand-written", hand)) if hand else (("site.yml", ours),):
            rate = first["results"] / first["wall"]
            print("%3d %-13s %9.1f %9.1f %9.1f %8d %12.2f" % (
                hosts, name, first["wall"], rerun["wall"], rate, rerun["changed"], rerun["wall"] / first["wall"]))
            record("converge", "N=%d %s first converge" % (hosts, name) + label, first["wall"], "s")
            record("converge", "N=%d %s no-op rerun" % (hosts, name) + label, rerun["wall"], "s")
            record("converge", "N=%d %s task results per second" % (hosts, name) + label, rate, "1/s")
            record("converge", "N=%d %s no-op rerun / first" % (hosts, name) + label, rerun["wall"] / first["wall"], "x",
                   kind="ratio")
        if not hand:
            continue
        ratio = ours[0]["wall"] / hand[0]["wall"]
        print("    ratio site.yml / hand-written, first converge: %.2f" % ratio)
        record("converge", "N=%d site.yml / hand-written, first converge" % hosts + label, ratio, "x", kind="ratio")
    for name, index in (("site.yml", 1), ("hand-written", 2))[:1 if args.tls else 2]:
        per_host = slope([(r[0], r[index][0]["wall"]) for r in rows])
        print("slope of the first converge, %s: %.2f s per extra host" % (name, per_host))
        record("converge", "%s first converge slope" % name + label, per_host, "s/host")


if __name__ == "__main__":
    main()
