"""Benchmark: no-op flannel_config calls against community.general.etcd3.

Both modules talk to the same real etcd (Debian etcd-server on loopback) and
both find nothing to change: flannel_config reads the config and the leases,
etcd3 reads the key and compares. Two figures per module:

- module: the module process alone, run the way Ansible runs it on a host
  (python MODULE ARGS_FILE), median of N calls;
- ansible: one playbook task per call (a loop of N), wall time / N.

Prints the figures and the ratio ours/etcd3. Never fails on timing.
The etcd3 module needs the `etcd3` Python package (gRPC) on the managed host;
it goes into its own virtualenv under .build/, never into the project venv.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from etcd_server import EtcdServer  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "50"))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
PROJECT_BIN = os.path.dirname(os.environ.get("CROSSHOST_PYTHON", sys.executable))
BENCH_VENV = os.path.join(REPO, ".build", "bench-venv")
NETWORK_CONFIG = '{"Network": "10.100.0.0/16", "Backend": {"Type": "vxlan"}}'


def bench_venv():
    """A venv with ansible-core and etcd3 (protobuf < 4 is what etcd3 0.12 can load)."""
    python = os.path.join(BENCH_VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", BENCH_VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "ansible-core>=2.19,<2.20",
                        "etcd3==0.12.0", "protobuf<4"], check=True)
    return python


def find_etcd3_module():
    """community.general's etcd3 module, from PyPI's ansible package in the project venv."""
    from ansible_collections.community import general  # a namespace package
    return os.path.join(list(general.__path__)[0], "plugins", "modules", "etcd3.py")


def general_collection_root():
    """A path entry holding only community.general, so its module_utils import on the host
    Python without pulling in the project venv's own ansible."""
    root = os.path.join(REPO, ".build", "bench-collections")
    link = os.path.join(root, "ansible_collections", "community", "general")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.dirname(os.path.dirname(os.path.dirname(find_etcd3_module()))), link)
    return root


def module_median(python, module_path, args):
    """Median seconds of one module process, as Ansible runs it on the host."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, general_collection_root()]))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    times = []
    for _call in range(CALLS):
        start = time.perf_counter()
        # -P: do not put the module's folder first on sys.path (community.general has
        # a module named pkgutil.py that would shadow the standard library).
        out = subprocess.run([python, "-P", module_path, f.name], env=env, capture_output=True, text=True,
                             check=False)
        times.append(time.perf_counter() - start)
        result = json.loads(out.stdout)
        if result.get("failed") or result.get("changed"):
            raise SystemExit("%s was not a no-op: %s" % (module_path, result))
    os.unlink(f.name)
    return statistics.median(times)


def playbook_per_call(python, task):
    play = [{"hosts": "localhost", "gather_facts": False,
             "vars": {"ansible_python_interpreter": python},
             "tasks": [dict(task, loop=list(range(CALLS)))]}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(play, f)  # JSON is YAML
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    start = time.perf_counter()
    subprocess.run([os.path.join(PROJECT_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", f.name],
                   env=env, check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    os.unlink(f.name)
    return elapsed / CALLS


def main():
    python = bench_venv()
    etcd = EtcdServer()
    try:
        etcd.put("/coreos.com/network/config", NETWORK_CONFIG)
        port = etcd.url.rsplit(":", 1)[1]
        ours_args = {"network": "10.100.0.0/16", "backend": {"type": "vxlan"}, "endpoints": [etcd.url]}
        theirs_args = {"key": "/coreos.com/network/config", "value": NETWORK_CONFIG,
                       "host": "127.0.0.1", "port": int(port), "state": "present"}
        ours_module = os.path.join(REPO, "plugins", "modules", "flannel_config.py")

        rows = []
        ours = module_median(python, ours_module, ours_args)
        theirs = module_median(python, find_etcd3_module(), theirs_args)
        rows.append(("module process, median of %d" % CALLS, ours, theirs))
        ours_pb = playbook_per_call(python, {"crosshost.network.flannel_config": ours_args})
        theirs_pb = playbook_per_call(python, {"community.general.etcd3": theirs_args})
        rows.append(("through ansible-playbook, mean of %d" % CALLS, ours_pb, theirs_pb))
    finally:
        etcd.stop()

    print("no-op call cost, flannel_config vs community.general.etcd3 (same etcd %s)" % etcd.url)
    print("%-40s %12s %12s %8s" % ("measure", "flannel_cfg", "etcd3", "ratio"))
    for name, ours, theirs in rows:
        print("%-40s %10.1fms %10.1fms %8.2f" % (name, ours * 1000, theirs * 1000, ours / theirs))
    print("ratio = flannel_config / etcd3 (below 1.00: ours is faster)")


if __name__ == "__main__":
    main()
