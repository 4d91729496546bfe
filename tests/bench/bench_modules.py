"""Benchmark: the cost of a no-op call of each module, against real daemons.

- flannel_config against a real etcd (Debian etcd-server on loopback), side by
  side with community.general.etcd3 doing the equivalent put of the same value
  (both find nothing to change: ours reads the config and the leases, etcd3
  reads the key and compares);
- ovs_tunnel against a private ovsdb-server/ovs-vswitchd (3 tunnels in place);
- docker_bip against a daemon.json that already holds its settings.

Two figures per module:
- module: the module process alone, run the way Ansible runs it on a host
  (python MODULE ARGS_FILE), median of N calls;
- ansible: one playbook task per call (a loop of N), wall time / N
  (flannel_config and etcd3 only).

Prints the figures and the ratio ours/etcd3 and records them for `make bench`.
Never fails on timing. The etcd3 module needs the `etcd3` Python package (gRPC)
on the managed host; it goes into its own virtualenv under .build/.
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
sys.path.insert(0, HERE)
from etcd_server import EtcdServer  # noqa: E402
from ovs_daemons import OvsDaemons  # noqa: E402
from results import record  # noqa: E402

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


def our_module(name):
    return os.path.join(REPO, "plugins", "modules", name + ".py")


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


def bench_flannel_config(python):
    etcd = EtcdServer()
    try:
        etcd.put("/coreos.com/network/config", NETWORK_CONFIG)
        ours_args = {"network": "10.100.0.0/16", "backend": {"type": "vxlan"}, "endpoints": [etcd.url]}
        theirs_args = {"key": "/coreos.com/network/config", "value": NETWORK_CONFIG,
                       "host": "127.0.0.1", "port": int(etcd.url.rsplit(":", 1)[1]), "state": "present"}
        module = (module_median(python, our_module("flannel_config"), ours_args),
                  module_median(python, find_etcd3_module(), theirs_args))
        playbook = (playbook_per_call(python, {"crosshost.network.flannel_config": ours_args}),
                    playbook_per_call(python, {"community.general.etcd3": theirs_args}))
    finally:
        etcd.stop()
    return module, playbook


def bench_ovs_tunnel(python):
    ovs = OvsDaemons().start()
    try:
        args = {"bridge": "br0", "bridge_create": True, "datapath_type": "netdev",
                "remote_ips": ["203.0.113.11", "203.0.113.12", "203.0.113.13"], "db": ovs.db}
        first = subprocess.run([python, "-P", our_module("ovs_tunnel"), _args_file(args)], check=False,
                               env=dict(os.environ, PYTHONPATH=COLLECTIONS), capture_output=True, text=True)
        if '"changed": true' not in first.stdout:
            raise SystemExit("ovs_tunnel setup failed: %s %s" % (first.stdout, first.stderr))
        return module_median(python, our_module("ovs_tunnel"), args)
    finally:
        ovs.stop()


def bench_docker_bip(python):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "daemon.json")
        with open(path, "w") as handle:
            json.dump({"storage-driver": "overlay2", "bip": "10.100.15.1/24", "mtu": 1450}, handle)
        args = {"bip": "10.100.15.1/24", "mtu": 1450, "path": path, "unit_paths": []}
        return module_median(python, our_module("docker_bip"), args)


def bench_config_files(python):
    """Four unchanged files (the docker role's count) in one call."""
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for number in range(4):
            path = os.path.join(tmp, "file%d.conf" % number)
            content = "[Unit]\nDescription=bench file %d\n" % number
            with open(path, "w") as handle:
                handle.write(content)
            os.chmod(path, 0o644)
            files.append({"path": path, "content": content, "mode": "0644"})
        return module_median(python, our_module("config_files"), {"directories": [{"path": tmp, "mode": "0700"}],
                                                                  "files": files})


def _args_file(args):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    return f.name


def main():
    python = bench_venv()
    (ours, theirs), (ours_pb, theirs_pb) = bench_flannel_config(python)
    ovs = bench_ovs_tunnel(python)
    docker = bench_docker_bip(python)
    files = bench_config_files(python)

    print("no-op module calls, median of %d (module process as Ansible runs it on a host)" % CALLS)
    print("%-46s %10s" % ("call", "ms"))
    rows = [("flannel_config (real etcd 3.4)", ours), ("community.general.etcd3, same key and value", theirs),
            ("ovs_tunnel (3 tunnels, real OVSDB)", ovs), ("docker_bip (daemon.json in place)", docker),
            ("config_files (a directory and 4 files)", files),
            ("flannel_config via ansible-playbook, per task", ours_pb),
            ("community.general.etcd3 via ansible-playbook, per task", theirs_pb)]
    for name, seconds in rows:
        print("%-46s %10.1f" % (name, seconds * 1000))
        record("modules", name + " no-op", seconds * 1000, "ms")
    for name, a, b in (("flannel_config / etcd3, module process", ours, theirs),
                       ("flannel_config / etcd3, per playbook task", ours_pb, theirs_pb)):
        print("ratio %-40s %10.2f" % (name, a / b))
        record("modules", name, a / b, "x", kind="ratio")
    print("ratio below 1.00: ours is faster")


if __name__ == "__main__":
    main()
