"""Vagrant (vagrant-libvirt) test hosts: qemu TCG VMs with real kernels.

Run from the repository root as `python -m tools.lab.vagrant <command>` (or through
make: vagrant-box, test-vagrant, vagrant-clean). See docs/vagrant.md.

  box [--force]        build (or reuse) the box and `vagrant box add` it
  collection           build and install community.vagrant from a PyPI wheel
  up [--vms N]         libvirtd + box + artifact server + `vagrant up` with
                       inventories/vagrant/Vagrantfile
  down                 `vagrant destroy` and remove everything (clean)
  molecule SCENARIO..  everything molecule needs, `molecule test -s` each, then clean
  clean [--all]        remove domains, volumes, networks, daemons, iptables chains,
                       the artifact server (--all: also the box and its volume)
  status               what of ours runs or is left over (exit 1 if anything)
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from tools.lab import artifacts, config, hosts, vagrant_box, vagrant_collection
from tools.lab import vagrant_libvirt as libvirt
from tools.lab.util import LabError, log, pids_with_args, run, write_atomic

PROJECT = config.REPO / "inventories" / "vagrant"      # the project Vagrantfile's directory
LOCAL_INVENTORY = PROJECT / "local.yml"                 # artifact vars; written by us, git-ignored
UNDERLAY_HOST = "192.168.56.1"     # the machine on libvirt's crosshost-underlay network
ARTIFACT_PORT = 18090
SERVER_PID = libvirt.VAGRANT_DIR / "artifact-server.pid"
# The whole `vagrant up`: vagrant-libvirt waits for a VM's DHCP lease without a
# limit of its own (boot_timeout only covers SSH), so the tool enforces one.
UP_TIMEOUT = float(os.environ.get("CROSSHOST_VAGRANT_UP_TIMEOUT", "900"))
IP_FREEBIND = 15                   # linux/in.h: bind before libvirt gives the bridge its address

HEADER = """\
# Written by `python -m tools.lab.vagrant` (artifact server for the local box's VMs,
# which have no route out); removed by clean. See docs/vagrant.md.
"""


def console_logs():
    return sorted(libvirt.LOGS.glob("*.console.log"))


def vagrant_env(vms=2):
    """Environment for the project Vagrantfile and molecule: the local box, our logs."""
    return dict(os.environ, CROSSHOST_VAGRANT_BOX=vagrant_box.BOX_NAME, CROSSHOST_VAGRANT_VMS=str(vms),
                CROSSHOST_VAGRANT_LOGS=str(libvirt.LOGS), CROSSHOST_CACHE=str(config.CACHE),
                VAGRANT_CWD=str(PROJECT), VAGRANT_DEFAULT_PROVIDER="libvirt")


# --- the artifact server -------------------------------------------------------

def serve(address, port):
    """Serve the lab's artifacts (foreground). IP_FREEBIND lets it start before the bridge."""
    import functools
    import http.server

    class Server(http.server.ThreadingHTTPServer):
        def server_bind(self):
            self.socket.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            super().server_bind()

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(config.ARTIFACTS))
    Server((address, port), handler).serve_forever()


def start_server():
    stop_server()
    sums = artifacts.build_artifacts()
    libvirt.LOGS.mkdir(parents=True, exist_ok=True)
    with open(libvirt.LOGS / "artifact-server.log", "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tools.lab.vagrant", "serve"], cwd=config.REPO,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    write_atomic(SERVER_PID, f"{proc.pid}\n")
    url = f"http://{UNDERLAY_HOST}:{ARTIFACT_PORT}"
    busybox, flannel = "busybox-image.tar", artifacts.flannel_tarball_name()
    local = {"all": {"vars": {
        "vagrant_artifact_url": url,
        "vagrant_artifact_sha256": sums,
        "flannel_version": config.FLANNEL_VERSION,
        "flannel_download_url": f"{url}/{flannel}",
        "flannel_checksum": f"sha256:{sums[flannel]}",
        "verify_image": "crosshost/busybox:lab",
        "verify_image_tarball_url": f"{url}/{busybox}",
        "verify_image_tarball_checksum": f"sha256:{sums[busybox]}",
    }}}
    write_atomic(LOCAL_INVENTORY, HEADER + yaml.safe_dump(local, sort_keys=False))
    time.sleep(0.3)
    if proc.poll() is not None:
        raise LabError(f"artifact server exited; see {libvirt.LOGS / 'artifact-server.log'}")
    log(f"artifact server {url} (pid {proc.pid}); inventory {LOCAL_INVENTORY}")


def server_pid():
    try:
        pid = int(SERVER_PID.read_text())
    except (OSError, ValueError):
        return None
    return pid if pid in pids_with_args("tools.lab.vagrant", "serve") else None


def stop_server():
    pids = set(pids_with_args("tools.lab.vagrant", "serve")) - {os.getpid()}
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    SERVER_PID.unlink(missing_ok=True)
    LOCAL_INVENTORY.unlink(missing_ok=True)


# --- life cycle ------------------------------------------------------------------

def prepare():
    """Everything a `vagrant up` of the local box needs, in the cheap-first order."""
    vagrant_collection.install()
    vagrant_box.add_box()
    hosts.ssh_key()
    libvirt.start()
    _drop_outdated_box_volume()
    start_server()


def _drop_outdated_box_volume():
    """vagrant-libvirt reuses the box volume by name: after a box rebuild, drop the old one."""
    stamp = libvirt.VAGRANT_DIR / "box-volume"
    digest = vagrant_box.recipe_hash()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    for path in libvirt.POOL_DIR.glob(f"{libvirt.BOX_VOLUME_PREFIX}*"):
        log(f"removing box volume of an older box: {path.name}")
        path.unlink()
    libvirt.virsh("pool-refresh", libvirt.POOL, check=False)
    write_atomic(stamp, digest + "\n")


def clean(keep_box=True):
    """Remove everything of ours; safe to repeat, works after a crash."""
    if (PROJECT / ".vagrant").exists() and libvirt.running():
        run(["vagrant", "destroy", "-f"], env=vagrant_env(), check=False, capture=True, timeout=300)
    stop_server()
    libvirt.teardown(keep_box=keep_box)
    import shutil
    shutil.rmtree(PROJECT / ".vagrant", ignore_errors=True)
    if not keep_box:
        vagrant_box.remove_box()
        libvirt.VAGRANT_DIR.joinpath("box-volume").unlink(missing_ok=True)
    left = libvirt.leftovers()
    if left:
        raise LabError(f"could not remove: {', '.join(left)}")
    log("vagrant lab removed")


def failure_hint():
    logs = [str(p) for p in console_logs()]
    return ("look at the VM console log(s): " + (", ".join(logs) if logs else f"{libvirt.LOGS}/*.console.log")
            + f"; qemu's own log: {libvirt.QEMU_LOGS}/<domain>.log; libvirtd: {libvirt.DAEMON_LOG}")


@contextmanager
def cleaned_up():
    """Run a body, then clean up whatever happens (SIGTERM included)."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            clean()
        finally:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


def up(vms):
    """Boot the project Vagrantfile's VMs on the local box; clean up on failure."""
    try:
        prepare()
        for path in console_logs():
            path.unlink()
        started = time.monotonic()
        code, output = _vagrant_up(vms)
        if code is None:
            raise LabError(f"VM(s) did not answer SSH within {UP_TIMEOUT:.0f} s (vagrant up stopped):\n"
                           f"{output[-1500:]}\n" + failure_hint())
        if code != 0:
            raise LabError(f"vagrant up failed ({code}):\n{output[-2500:]}\n" + failure_hint())
        log(f"{vms} VM(s) up in {time.monotonic() - started:.0f} s; inventory "
            f"{PROJECT / 'hosts.yml'} + {LOCAL_INVENTORY}")
    except BaseException:
        log("up failed; cleaning up")
        clean()
        raise


def _vagrant_up(vms):
    """`vagrant up` with a deadline; returns (exit code or None on timeout, output)."""
    with open(libvirt.LOGS / "vagrant-up.log", "w+") as out:
        proc = subprocess.Popen(["vagrant", "up", "--parallel"], env=vagrant_env(vms), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=UP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)     # vagrant and its ssh children
            proc.wait()
            code = None
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        out.seek(0)
        return code, out.read()


def molecule(scenarios):
    """`molecule test` for each scenario on the local box, everything removed afterwards."""
    molecule_bin = Path(sys.executable).parent / "molecule"
    env = vagrant_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        p for p in [str(vagrant_collection.INSTALL_PATH), os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")] if p)
    env.pop("VAGRANT_CWD")              # molecule writes its own Vagrantfile
    failed = []
    with cleaned_up():
        prepare()
        for scenario in scenarios:
            for path in console_logs():
                path.unlink()
            started = time.monotonic()
            code = subprocess.run([str(molecule_bin), "test", "-s", scenario], cwd=config.REPO, env=env,
                                  check=False).returncode
            took = time.monotonic() - started
            log(f"molecule test -s {scenario}: {'passed' if code == 0 else 'FAILED'} in {took:.0f} s")
            if code != 0:
                failed.append(scenario)
                log(failure_hint())
    if failed:
        raise LabError(f"failed scenario(s): {', '.join(failed)}")


def status():
    left = libvirt.leftovers() + ([f"artifact server pid {server_pid()}"] if server_pid() else [])
    for item in left:
        print(item)
    print("nothing of the vagrant lab runs" if not left else f"{len(left)} item(s); `make vagrant-clean` removes them")
    return 1 if left else 0


# --- command line ----------------------------------------------------------------

def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tools.lab.vagrant", description=(
        "Vagrant (vagrant-libvirt, qemu TCG) test hosts on the local box. See docs/vagrant.md."))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("box", help="build (or reuse) the box and add it to Vagrant").add_argument(
        "--force", action="store_true", help="rebuild even if cached")
    sub.add_parser("collection", help="build and install community.vagrant from a PyPI wheel")
    sub.add_parser("up", help="boot the project Vagrantfile's VMs").add_argument(
        "--vms", type=int, default=2, help="number of VMs (default 2; keep it at most 3 here)")
    sub.add_parser("down", help="destroy the VMs and remove everything (same as clean)")
    mol = sub.add_parser("molecule", help="molecule test each scenario, then clean")
    mol.add_argument("scenarios", nargs="+")
    sub.add_parser("clean", help="remove everything of ours").add_argument(
        "--all", action="store_true", help="also the box (Vagrant's copy and the libvirt volume)")
    sub.add_parser("status", help="what of ours runs or is left over")
    srv = sub.add_parser("serve", help=argparse.SUPPRESS)
    srv.add_argument("--address", default=UNDERLAY_HOST)
    srv.add_argument("--port", type=int, default=ARTIFACT_PORT)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0 and args.command != "status":
        log("needs root (libvirtd, bridges, iptables)")
        return 1
    if args.command != "serve":       # SIGTERM is handled like Ctrl-C: clean up, then leave
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.command == "box":
            vagrant_box.add_box(force=args.force)
        elif args.command == "collection":
            vagrant_collection.install(force=True)
        elif args.command == "up":
            up(args.vms)
        elif args.command in ("down", "clean"):
            clean(keep_box=not getattr(args, "all", False))
        elif args.command == "molecule":
            molecule(args.scenarios)
        elif args.command == "status":
            return status()
        elif args.command == "serve":
            serve(args.address, args.port)
    except LabError as err:
        log(f"error: {err}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
