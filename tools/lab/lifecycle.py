"""up, down and status: the lab's life cycle, safe to repeat and to interrupt.

The state file is written before each resource is made, and `down` also sweeps
everything carrying the lab's names (links, namespaces, mounts under the run dir,
our nspawn and server processes), so it cleans up after a crash too.
"""
import os
import shutil
import signal
import socket
import time

from tools.lab import artifacts, config, hosts, image, inventory, network, state
from tools.lab.util import LabError, log, pids_with_args


class Interrupted(BaseException):
    """SIGTERM, handled like Ctrl-C: clean up, then leave."""


def _raise_interrupted(signum, frame):
    raise Interrupted()


def is_running(st):
    return bool(st.get("hosts")) and st.get("phase") == "running" and \
        all(hosts.alive(h.get("pid")) for h in st["hosts"])


def leftovers():
    return (network.lab_links() + network.lab_netns() + hosts.lab_mounts()
            + [f"pid {p}" for p in stray_pids()])


def stray_pids():
    return (pids_with_args("systemd-nspawn", f"--directory={config.RUN}/hosts/")
            + artifact_server_pids())


def artifact_server_pids():
    """This lab's artifact servers: they serve the shared artifacts dir, so tell them
    apart from other instances' servers by the address they bind (this lab's subnets)."""
    own = {str(network.address(k, config.MACHINE_OCTET)) for k in range(10)}
    return [pid for address in own for pid in pids_with_args("http.server", str(config.ARTIFACTS), address)
            if _bind_address(pid) == address]


def _bind_address(pid):
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace").split("\0")
    except OSError:
        return None
    return args[args.index("--bind") + 1] if "--bind" in args[:-1] else None


def plan_hosts(count, segments):
    """Hosts spread round-robin over segments; the last octet is unique lab-wide."""
    return [{"name": config.HOST_NAME.format(i + 1), "segment": i % segments,
             "address": network.address(i % segments, config.FIRST_HOST_OCTET + i)}
            for i in range(count)]


def up(count, segments=1, etcd_members=1, fabric="all", image_kind="full"):
    if not 1 <= count <= 40 or not 1 <= segments <= 8:
        raise LabError("use 1-40 hosts and 1-8 segments")
    with state.locked():
        st = state.load()
        if is_running(st):
            running = [h["name"] for h in st["hosts"]]
            if len(running) != count or st["segments"] != segments or \
                    st.get("image_kind", "full") != image_kind:
                raise LabError(f"the lab already runs {len(running)} hosts on {st['segments']} "
                               f"segment(s) ({', '.join(running)}) from the {st.get('image_kind', 'full')} "
                               "image; run `make lab-down` first to change it")
            st["etcd_members"] = etcd_members
            st["fabric"] = fabric
            inventory.write(st)
            log(f"lab already running: {', '.join(running)}; nothing started. "
                f"Inventory: {config.INVENTORY}")
            return st
        if st or leftovers():
            log("removing what a previous lab left behind")
            _teardown(st, grace=2.0)

        img = image.build_image()
        if image_kind == "bare":
            img = image.bare_image_path()
        artifacts.build_artifacts()
        artifacts.link_apt_repo(image.apt_repo_path())
        hosts.ssh_key()
        network.check_free(segments)

        started = time.monotonic()
        st = {"phase": "starting", "image": str(img), "image_kind": image_kind, "segments": segments,
              "etcd_members": etcd_members, "fabric": fabric, "hosts": [], "servers": []}
        state.save(st)
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
        try:
            _boot(st, img, count, segments)
        except (Exception, KeyboardInterrupt, Interrupted) as err:
            reason = "interrupted" if isinstance(err, (KeyboardInterrupt, Interrupted)) else "failed"
            log(f"up {reason}; cleaning up")
            # Hosts still booting may not have signal handlers yet: do not wait long.
            _teardown(state.load(), grace=2.0)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
        log(f"{count} host(s) answer SSH {time.monotonic() - started:.1f} s after start; "
            f"inventory: {config.INVENTORY}")
        return st


def _boot(st, img, count, segments):
    for segment in range(segments):
        network.create_bridge(segment)
    if segments > 1:
        network.create_router(segments)
    hosts.mount_docker_fs()
    planned = plan_hosts(count, segments)
    for host in planned:
        host["netns"] = network.host_netns(host["name"])
        st["hosts"].append(host)
        state.save(st)
        network.create_host_link(host["name"], host["segment"], host["address"], segments)
        apt_repo_url = artifacts.apt_repo_url(network.address(host["segment"], config.MACHINE_OCTET))
        host.update(hosts.prepare_root(img, host["name"], planned, apt_repo_url))
        host["pid"] = hosts.start(host)
        state.save(st)
    for segment in range(segments):
        st["servers"].append(artifacts.start_server(network.address(segment, config.MACHINE_OCTET)))
        state.save(st)
    hosts.wait_for_ssh(st["hosts"])
    for host in st["hosts"]:
        host["leader"] = hosts.leader_pid(host["pid"])
    st["phase"] = "running"
    state.save(st)
    inventory.write(st)


def restart(name, grace=30.0):
    """Reboot one host as a power cycle would: power it off (systemd shuts down inside),
    give it a fresh network namespace (links, addresses, routes and iptables rules
    made at run time are gone, as after a real reboot; eth0 and the lab routes come
    back), boot it again on the same root and /var/lib/docker, wait for SSH.
    /run inside is a tmpfs, so it starts empty; files on disk are kept."""
    with state.locked():
        st = state.load()
        host = next((h for h in st.get("hosts", []) if h["name"] == name), None)
        if host is None or st.get("phase") != "running":
            raise LabError(f"no running lab host named {name!r}; running: "
                           f"{', '.join(h['name'] for h in st.get('hosts', [])) or 'none'}")
        started = time.monotonic()
        hosts.stop_all([host], timeout=grace)
        hosts.kill_netns_processes(host["netns"])
        network.delete_host_link(host["name"])
        network.create_host_link(host["name"], host["segment"], host["address"], st["segments"])
        host["pid"] = hosts.start(host)
        host["leader"] = None
        state.save(st)
        hosts.wait_for_ssh([host])
        host["leader"] = hosts.leader_pid(host["pid"])
        state.save(st)
        log(f"{name} restarted; answers SSH {time.monotonic() - started:.1f} s after the power-off began")
        return host


def down():
    with state.locked():
        st = state.load()
        if not st and not leftovers():
            log("no lab running; nothing to remove")
            return
        _teardown(st)
        log("lab removed")


def _kill(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _teardown(st, grace=8.0):
    """Remove everything; hosts get `grace` seconds to power off before they are killed."""
    host_list = st.get("hosts", [])
    hosts.stop_all(host_list, timeout=grace)
    strays = pids_with_args("systemd-nspawn", f"--directory={config.RUN}/hosts/")
    if strays:      # nspawn processes the state file does not know (a crash mid-up)
        hosts.stop_all([{"pid": pid, "leader": hosts.leader_pid(pid)} for pid in strays], timeout=grace)
    _kill([pid for pid in st.get("servers", []) if hosts.alive(pid)] + artifact_server_pids())
    for netns in network.lab_netns():
        hosts.kill_netns_processes(netns)
    hosts.unmount_all()
    network.destroy_all()
    shutil.rmtree(config.RUN, ignore_errors=True)
    inventory.remove()
    state.clear()


def status():
    """Print what runs; return 1 when something is wrong (a host down, leftovers), else 0."""
    st = state.load()
    if not st:
        left = leftovers()
        print("no lab running" + (f"; leftovers (run `make lab-down`): {', '.join(left)}" if left else ""))
        return 1 if left else 0
    print(f"lab: {len(st['hosts'])} host(s), {st['segments']} segment(s), phase {st.get('phase')}")
    print(f"image: {st.get('image')}")
    healthy = True
    for host in st["hosts"]:
        up_now = hosts.alive(host.get("pid"))
        ssh = "-"
        if up_now:
            try:
                socket.create_connection((host["address"], 22), timeout=0.5).close()
                ssh = "ssh ok"
            except OSError:
                ssh = "no ssh"
        healthy &= up_now and ssh == "ssh ok"
        print(f"  {host['name']:<6} {host['address']:<16} segment {host['segment']}  "
              f"{'running' if up_now else 'STOPPED':<8} {ssh:<7} console {host.get('console', '-')}")
    for segment, pid in enumerate(st.get("servers", [])):
        url = artifacts.base_url(network.address(segment, config.MACHINE_OCTET))
        print(f"  artifacts {url} ({'running' if hosts.alive(pid) else 'STOPPED'})")
    print(f"inventory: {config.INVENTORY if config.INVENTORY.exists() else '(not written)'}")
    return 0 if healthy and st.get("phase") == "running" else 1


def find_host(name):
    st = state.load()
    for host in st.get("hosts", []):
        if host["name"] == name:
            if not hosts.alive(host.get("pid")):
                raise LabError(f"host {name} is not running")
            return host
    raise LabError(f"no lab host named {name!r}; running: "
                   f"{', '.join(h['name'] for h in st.get('hosts', [])) or 'none'}")
