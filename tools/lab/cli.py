"""Command line: python -m tools.lab build|up|down|restart|status|ssh|exec."""
import argparse
import os
import signal
import sys

from tools.lab import artifacts, config, hosts, image, inventory, lifecycle, state
from tools.lab.util import LabError, log


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tools.lab", description=(
        "Local multi-host lab: Debian 12 hosts in systemd-nspawn on private bridges. "
        f"Cache: {config.CACHE} (CROSSHOST_CACHE). See docs/lab.md."))
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build (or reuse) the cached image and artifacts")
    build.add_argument("--force", action="store_true", help="rebuild the image even if cached")
    up = sub.add_parser("up", help="boot the hosts and write inventories/lab/hosts.yml")
    up.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    up.add_argument("--segments", type=int, default=1,
                    help="underlay segments (bridges in separate subnets, routed by a lab router)")
    up.add_argument("--etcd-members", type=int, default=1, help="hosts in the etcd group (default 1)")
    up.add_argument("--fabric", choices=sorted(inventory.FABRIC_GROUPS), default="flannel",
                    help="which role groups the hosts join: flannel (etcd, flannel, docker, pipework; the default), "
                         "ovs-gre (ovs_gre, docker, pipework) or all (every group, for role development: "
                         "site.yml refuses a host in both fabrics)")
    up.add_argument("--image", choices=["full", "bare"], default="full",
                    help="full: every package the roles install is in place (default); bare: a fresh "
                         "Debian host, so the roles install them from the lab's apt repository")
    sub.add_parser("down", help="stop every host and remove everything the lab made")
    restart = sub.add_parser("restart", help="reboot one host (power off, fresh network namespace, boot, "
                             "wait for SSH); disk contents are kept")
    restart.add_argument("host")
    sub.add_parser("status", help="show what runs")
    ssh = sub.add_parser("ssh", help="log in to a host as root (extra args go to ssh)")
    ssh.add_argument("host")
    ssh.add_argument("args", nargs=argparse.REMAINDER)
    execute = sub.add_parser("exec", help="run a command inside a host (no SSH needed): exec HOST -- CMD")
    execute.add_argument("host")
    execute.add_argument("cmd", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def main(argv=None):
    # A shell starts background jobs with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: Ctrl-C (SIGINT) must always clean up, so take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0 and args.command not in ("status",):
        log("needs root (namespaces, bridges, mounts)")
        return 1
    try:
        if args.command == "build":
            with state.locked():
                image.build_image(force=args.force)
                sums = artifacts.build_artifacts()
                artifacts.link_apt_repo(image.apt_repo_path())
            for name, digest in sums.items():
                print(f"{digest}  {config.ARTIFACTS / name}")
        elif args.command == "up":
            lifecycle.up(args.hosts, args.segments, args.etcd_members, args.fabric, args.image)
            return lifecycle.status()
        elif args.command == "down":
            lifecycle.down()
        elif args.command == "restart":
            lifecycle.restart(args.host)
        elif args.command == "status":
            return lifecycle.status()
        elif args.command == "ssh":
            host = lifecycle.find_host(args.host)
            argv = hosts.ssh_argv(host, *args.args, batch=False)
            os.execvp(argv[0], argv)
        elif args.command == "exec":
            host = lifecycle.find_host(args.host)
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            if not cmd:
                log("usage: python -m tools.lab exec HOST -- CMD [ARGS...]")
                return 2
            # Enter the host's namespaces directly, so this works even when SSH does not.
            argv = ["nsenter", f"--target={host['leader']}", "--mount", "--uts", "--ipc", "--net",
                    "--pid", "--root", "--wd", "--", *cmd]
            os.execvp(argv[0], argv)
    except LabError as err:
        log(f"error: {err}")
        return 1
    except (KeyboardInterrupt, lifecycle.Interrupted):
        log("interrupted")
        return 130
    return 0
