#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: docker_bip
short_description: Ensure Docker's bridge settings (bip, mtu, fixed-cidr, ip-masq) in daemon.json
description:
  - Ensures the Docker daemon's default bridge settings C(bip), C(mtu), C(fixed-cidr),
    C(ip-masq) and optionally C(iptables) in C(/etc/docker/daemon.json), either from explicit
    options or from flannel's lease file C(/run/flannel/subnet.env).
  - Merges into the existing file. Other keys and their order are kept, existing keys are
    updated in place and new keys are appended. An existing file that is not valid JSON is an
    error, never overwritten. A missing file (and its directory) is created with mode C(0644).
  - Detects the conflicting channel. dockerd refuses to start when a setting is given both as a
    flag (C(--bip), C(--mtu), C(--fixed-cidr), C(--ip-masq), C(--iptables)) and in daemon.json.
    The module reads the effective C(ExecStart) of the docker unit and its drop-ins (and
    C(DOCKER_OPTS) in C(/etc/default/docker)), reports such conflicts and fails, unless
    O(resolve_conflicts=true).
  - Never restarts Docker. RV(restart_required) tells whether dockerd must be restarted and
    RV(daemon_reload_required) whether systemd must reload its units first.
  - With O(apply_to_bridge=true), also puts the address and MTU on the running bridge through
    netlink (pyroute2 when importable, else the C(ip) command).
  - Refuses to move C(bip) or C(fixed-cidr) while running containers on Docker's default bridge
    hold addresses outside the new range, unless O(force=true). See O(force).
  - Refuses a C(fixed-cidr) kept in the file (not given now) that lies outside the new C(bip)'s
    network. dockerd would start with it but give containers no address.
version_added: 0.1.0
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows daemon.json (and the systemd drop-in, when one is written) before and after.
  platform:
    platforms: posix
requirements:
  - The C(ip) command (iproute2) or the Python library pyroute2, only for O(apply_to_bridge=true).
  - The C(docker) CLI, only to list running containers when C(bip) or C(fixed-cidr) changes.
    Without it (Docker not installed) there are no containers to check.
options:
  path:
    description:
      - The Docker daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  subnet_file:
    description:
      - Flannel's lease file. C(bip) is set to C(FLANNEL_SUBNET) (required in the file) and
        C(mtu) to C(FLANNEL_MTU). When C(FLANNEL_IPMASQ=true), flannel masquerades and Docker's
        C(ip-masq) is set to V(false); when C(FLANNEL_IPMASQ=false) it is set to V(true).
      - Precedence, explicit O(mtu), O(fixed_cidr), O(ip_masq) and O(iptables) override or
        complement the values from this file. O(bip) and O(subnet_file) are mutually exclusive,
        because the bridge address must be flannel's lease.
      - A missing file is an error (flanneld writes it once it holds a lease), after
        O(subnet_file_timeout) seconds of waiting for it.
    type: path
  subnet_file_timeout:
    description:
      - Seconds to wait for O(subnet_file) to appear, for a flanneld that was just started.
        Check mode never waits.
    type: int
    default: 0
  bip:
    description:
      - The bridge's address with its prefix length, for example V(10.100.15.1/24). A network
        address (V(10.100.15.0/24)) or an address without prefix is rejected.
    type: str
  mtu:
    description:
      - MTU of the bridge and containers' interfaces, 68 to 65535.
    type: int
  fixed_cidr:
    description:
      - Range from which Docker hands out container addresses, a network inside the bridge
        network, for example V(10.100.15.128/25).
    type: str
  ip_masq:
    description:
      - Whether Docker masquerades traffic leaving the bridge network.
    type: bool
  iptables:
    description:
      - Whether Docker manages iptables rules. Only written when given.
    type: bool
  unit_paths:
    description:
      - Files scanned for the same settings given as dockerd flags. Shell globs are expanded.
      - Files ending in C(.service) are main units, the first existing one wins (list C(/etc)
        before C(/lib)). Files ending in C(.conf) inside a C(*.d) directory are drop-ins,
        applied in file-name order. Other files are shell environment files whose
        C(DOCKER_OPTS) is scanned.
      - O(dropin_path) is always scanned as a drop-in when it exists.
    type: list
    elements: path
    default:
      - /etc/systemd/system/docker.service
      - /run/systemd/system/docker.service
      - /lib/systemd/system/docker.service
      - /usr/lib/systemd/system/docker.service
      - /etc/systemd/system/docker.service.d/*.conf
      - /run/systemd/system/docker.service.d/*.conf
      - /lib/systemd/system/docker.service.d/*.conf
      - /usr/lib/systemd/system/docker.service.d/*.conf
      - /etc/default/docker
  force:
    description:
      - When C(bip) or C(fixed-cidr) changes, the module lists the containers attached to Docker's
        default bridge (C(docker network inspect bridge)). A container whose address lies outside
        the new range (C(fixed-cidr), else the network of C(bip)), or is the new bridge address,
        would keep that address after Docker's restart with C(live-restore), or lose it when the
        restart stops it. Docker may then hand that address out again, here or on another host of
        a shared segment (the OVS GRE fabric), which is an address conflict.
      - When V(false), such containers fail the task and nothing is changed. The message names them.
      - When V(true), the range moves anyway, with a warning that names them. Restart them after
        Docker's restart so that they take addresses from the new range.
      - When Docker does not answer (not running), the containers cannot be listed. A warning
        says so and the range moves.
    type: bool
    default: false
  docker_host:
    description:
      - Docker daemon socket passed to C(docker -H) when listing containers, for example
        V(unix:///run/docker.sock). Default is the CLI's.
    type: str
  resolve_conflicts:
    description:
      - When V(false), a conflict fails the task and nothing is changed.
      - When V(true), the module writes O(dropin_path), a drop-in that resets C(ExecStart) and
        sets it again to the effective command line without the conflicting flags. Units and
        other drop-ins are never edited. The drop-in pins that command line, so review it after
        a Docker package upgrade. Conflicts in C(DOCKER_OPTS) cannot be resolved this way and
        still fail.
      - Run C(systemctl daemon-reload) afterwards, see RV(daemon_reload_required).
    type: bool
    default: false
  dropin_path:
    description:
      - The drop-in written by O(resolve_conflicts=true). Its name sorts after common drop-in
        names so that its C(ExecStart) wins.
    type: path
    default: /etc/systemd/system/docker.service.d/zz-crosshost-docker-bip.conf
  apply_to_bridge:
    description:
      - Also set the bridge's IPv4 address to C(bip) and its MTU to C(mtu) right now, through
        netlink. Other IPv4 addresses on that bridge are removed, IPv6 addresses are kept.
      - Nothing is changed when the address and MTU are already exactly there. Docker is not
        restarted. The bridge must exist.
    type: bool
    default: false
  check_bridge:
    description:
      - When daemon.json needs no change, fail if O(bridge) exists but does not carry C(bip).
        Docker applies C(bip) only at a start that finds no live-restored container on its
        default bridge; containers that outlived a Docker stop keep docker0 on its old subnet,
        which after a lease change belongs to no lease of this host. The message names the fix.
      - Reads the bridge with the C(ip) command; a missing bridge (Docker not started) passes.
    type: bool
    default: false
  bridge:
    description:
      - The bridge interface for O(apply_to_bridge) and O(check_bridge).
    type: str
    default: docker0
  netns:
    description:
      - Name of the network namespace (under C(/run/netns)) holding O(bridge). Default is the
        module's own namespace.
    type: str
  netlink_backend:
    description:
      - How O(apply_to_bridge) talks to the kernel. V(auto) uses pyroute2 when importable on the
        managed host, else the C(ip) command.
    type: str
    choices: [auto, pyroute2, iproute2]
    default: auto
notes:
  - dockerd reads daemon.json only when it starts; restart it (after flanneld) when
    RV(restart_required) is true.
seealso:
  - name: Docker daemon configuration file
    description: The keys of daemon.json.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
"""

EXAMPLES = r"""
- name: Docker follows flannel's lease
  crosshost.network.docker_bip:
    subnet_file: /run/flannel/subnet.env
  register: docker_bip
  notify: Restart docker

- name: Explicit settings, container addresses from the upper half only
  crosshost.network.docker_bip:
    bip: 192.168.10.1/24
    fixed_cidr: 192.168.10.128/25
    mtu: 1462
    ip_masq: false

- name: Remove --bip/--mtu flags from ExecStart with a drop-in, then reload systemd
  crosshost.network.docker_bip:
    subnet_file: /run/flannel/subnet.env
    resolve_conflicts: true
  register: docker_bip

- name: Reload systemd when the module wrote a drop-in
  ansible.builtin.systemd_service:
    daemon_reload: true
  when: docker_bip.daemon_reload_required

- name: Re-address the running docker0 without restarting Docker
  crosshost.network.docker_bip:
    bip: 192.168.10.1/24
    mtu: 1462
    apply_to_bridge: true
"""

RETURN = r"""
settings:
  description: The daemon.json keys this module manages and their wanted values.
  returned: success
  type: dict
  sample: {"bip": "10.100.15.1/24", "mtu": 1450, "ip-masq": false}
lease:
  description:
    - Flannel's lease as read from O(subnet_file) (C(FLANNEL_NETWORK), C(FLANNEL_SUBNET),
      C(FLANNEL_MTU), C(FLANNEL_IPMASQ)); a value the file lacks is V(null).
  returned: success, when O(subnet_file) is given
  type: dict
  sample: {"network": "10.100.0.0/16", "subnet": "10.100.15.1/24", "mtu": 1450, "ipmasq": true}
sources:
  description: Where each setting came from, V(option) or V(subnet_file).
  returned: success
  type: dict
  sample: {"bip": "subnet_file", "mtu": "subnet_file", "ip-masq": "subnet_file"}
changes:
  description: The daemon.json keys whose value changed.
  returned: success
  type: list
  elements: dict
  sample: [{"key": "bip", "before": null, "after": "10.100.15.1/24"}]
daemon_json:
  description: The full daemon.json content after the task (or as it would be in check mode).
  returned: success
  type: dict
  sample: {"storage-driver": "overlay2", "bip": "10.100.15.1/24"}
restart_required:
  description: Whether dockerd must be restarted to apply the changes (daemon.json or
    ExecStart changed).
  returned: always
  type: bool
  sample: true
daemon_reload_required:
  description: Whether a systemd drop-in was written, so C(systemctl daemon-reload) is needed
    before restarting Docker.
  returned: always
  type: bool
  sample: false
containers_outside:
  description:
    - Running containers on the default bridge whose address lies outside the new range (see
      O(force)). Empty when C(bip) and C(fixed-cidr) do not change.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "web", "address": "192.168.10.70"}]
conflicts:
  description: Settings also given as dockerd flags in the effective command line.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/lib/systemd/system/docker.service", "line": 12, "flag": "--bip",
            "key": "bip", "value": "${FLANNEL_SUBNET}", "source": "ExecStart"}]
other_conflicts:
  description:
    - Other daemon.json keys (not managed here) also given as dockerd flags. dockerd refuses to
      start with them too. They cause a warning, never a failure, and are never resolved.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/lib/systemd/system/docker.service", "line": 12, "flag": "--log-level",
            "key": "log-level", "value": "warn", "source": "ExecStart"}]
dropin:
  description: Path of the drop-in written (or that would be written) to resolve conflicts.
  returned: when a drop-in was needed
  type: str
  sample: /etc/systemd/system/docker.service.d/zz-crosshost-docker-bip.conf
bridge:
  description: What O(apply_to_bridge) found and did.
  returned: when O(apply_to_bridge=true)
  type: dict
  contains:
    name:
      description: The bridge.
      type: str
      returned: always
    method:
      description: V(pyroute2) or V(iproute2).
      type: str
      returned: always
    addresses_before:
      description: IPv4 addresses on the bridge before the task.
      type: list
      elements: str
      returned: always
    mtu_before:
      description: MTU before the task.
      type: int
      returned: always
    changed:
      description: Whether the bridge changed.
      type: bool
      returned: always
    commands:
      description: The operations run (C(ip) argv, or their equivalent for pyroute2).
      type: list
      elements: list
      returned: always
"""

import glob
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.crosshost.network.plugins.module_utils.docker_daemon import (
    RANGE_KEYS,
    DockerBipError,
    check_kept_fixed_cidr,
    compute_settings,
    conflict_message,
    containers_outside,
    containers_outside_message,
    detect_conflicts,
    load_daemon_json,
    merge_settings,
    parse_bridge_containers,
    parse_ip_json_addrs,
    plan_bridge,
    plan_is_empty,
    read_subnet_env,
    render_daemon_json,
    render_dropin,
    stale_bridge_message,
)
from ansible_collections.crosshost.network.plugins.module_utils.files import read_text, write_atomic


def import_pyroute2():
    """(IPRoute, NetNS), or None when pyroute2 is not importable.

    Imported only when a bridge is changed: the import alone costs ~0.45 s on a small
    host, which every call that only merges daemon.json would pay."""
    try:
        from pyroute2 import IPRoute, NetNS
    except ImportError:
        return None
    return IPRoute, NetNS


def wait_for_text(path, timeout):
    """The file's text, polled once a second for up to `timeout` s; None if it never came."""
    deadline = time.time() + max(timeout, 0)
    while True:
        text = read_text(path)
        if text is not None or time.time() >= deadline:
            return text
        time.sleep(1)


def scan_files(patterns, dropin_path):
    files = []
    seen = set()
    for pattern in list(patterns) + [dropin_path]:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for path in matches:
            if path in seen or not os.path.isfile(path):
                continue
            text = read_text(path)
            if text is None:
                continue
            seen.add(path)
            files.append((path, text))
    return files


def bridge_containers(module):
    """The containers on Docker's default bridge, [] without a docker CLI (no Docker, no
    containers), or None (with a warning) when Docker does not answer."""
    docker = module.get_bin_path("docker")
    if not docker:
        return []
    argv = [docker] + (["-H", module.params["docker_host"]] if module.params["docker_host"] else [])
    argv += ["network", "inspect", "bridge"]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.warn("could not list the containers on Docker's default bridge (%s: %s): running "
                    "containers were not checked against the new range"
                    % (" ".join(argv[1:]), err.strip() or "rc %d" % rc))
        return None
    return parse_bridge_containers(out)


class Bridge(object):
    """Read and change one bridge's IPv4 addresses and MTU, via pyroute2 or ip."""

    def __init__(self, module, name, netns, backend):
        self.module = module
        self.name = name
        self.netns = netns
        self.pyroute2 = import_pyroute2() if backend in ("auto", "pyroute2") else None
        if backend == "auto":
            backend = "pyroute2" if self.pyroute2 else "iproute2"
        if backend == "pyroute2" and not self.pyroute2:
            module.fail_json(msg="netlink_backend=pyroute2 but pyroute2 is not importable on the "
                                 "managed host: install python3-pyroute2 or use "
                                 "netlink_backend=auto (falls back to the ip command)")
        if netns and not os.path.exists(os.path.join("/run/netns", netns)):
            module.fail_json(msg="netns %s does not exist (no /run/netns/%s): create it or drop the "
                                 "netns option" % (netns, netns))
        self.method = backend
        self.commands = []
        self.ip = "ip"
        if backend == "iproute2":
            self.ip = module.get_bin_path("ip", required=True)

    def _ip_argv(self, *args):
        argv = [self.ip]
        if self.netns:
            argv += ["-n", self.netns]
        return argv + list(args)

    def _ipr(self):
        ip_route, net_ns = self.pyroute2
        return net_ns(self.netns) if self.netns else ip_route()

    def _missing(self):
        self.module.fail_json(
            msg="bridge %s does not exist%s: start dockerd once (it creates the bridge) or set "
                "apply_to_bridge: false" % (self.name, " in netns " + self.netns if self.netns else ""))

    def read(self, missing_ok=False):
        """(IPv4 addresses, MTU) of the bridge; a missing bridge fails, or gives None with missing_ok."""
        if self.method == "iproute2":
            argv = self._ip_argv("-json", "addr", "show", "dev", self.name)
            rc, out, err = self.module.run_command(argv)
            if rc != 0:
                if "does not exist" in err or "Cannot find device" in err:
                    return None if missing_ok else self._missing()
                self.module.fail_json(msg="%s failed: %s" % (" ".join(argv), err.strip()))
            try:
                return parse_ip_json_addrs(out, self.name)
            except DockerBipError:
                return None if missing_ok else self._missing()
        with self._ipr() as ipr:
            found = ipr.link_lookup(ifname=self.name)
            if not found:
                return None if missing_ok else self._missing()
            index = found[0]
            mtu = ipr.get_links(index)[0].get_attr("IFLA_MTU")
            addrs = ["%s/%d" % (a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                     for a in ipr.get_addr(index=index, family=2)]
        return addrs, mtu

    def apply(self, plan, check_mode):
        ops = []
        if plan["add"]:
            ops.append(("addr", "replace", plan["add"]))
        for addr in plan["delete"]:
            ops.append(("addr", "del", addr))
        if plan["mtu"] is not None:
            ops.append(("link", "mtu", plan["mtu"]))
        for kind, verb, value in ops:
            if kind == "addr":
                argv = self._ip_argv("addr", verb, value, "dev", self.name)
            else:
                argv = self._ip_argv("link", "set", "dev", self.name, "mtu", str(value))
            self.commands.append(["ip"] + argv[1:])
        if check_mode or not ops:
            return
        if self.method == "iproute2":
            for kind, verb, value in ops:
                if kind == "addr":
                    argv = self._ip_argv("addr", verb, value, "dev", self.name)
                else:
                    argv = self._ip_argv("link", "set", "dev", self.name, "mtu", str(value))
                rc, out, err = self.module.run_command(argv)
                if rc != 0:
                    self.module.fail_json(msg="%s failed: %s" % (" ".join(argv), err.strip()),
                                          commands=self.commands)
            return
        try:
            with self._ipr() as ipr:
                index = ipr.link_lookup(ifname=self.name)[0]
                for kind, verb, value in ops:
                    if kind == "addr":
                        address, prefix = value.split("/")
                        ipr.addr(verb, index=index, address=address, prefixlen=int(prefix))
                    else:
                        ipr.link("set", index=index, mtu=value)
        except Exception as exc:  # pyroute2 raises NetlinkError and friends
            self.module.fail_json(msg="netlink change on %s failed: %s" % (self.name, to_native(exc)),
                                  commands=self.commands)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            subnet_file=dict(type="path"),
            subnet_file_timeout=dict(type="int", default=0),
            bip=dict(type="str"),
            mtu=dict(type="int"),
            fixed_cidr=dict(type="str"),
            ip_masq=dict(type="bool"),
            iptables=dict(type="bool"),
            unit_paths=dict(type="list", elements="path", default=[
                "/etc/systemd/system/docker.service",
                "/run/systemd/system/docker.service",
                "/lib/systemd/system/docker.service",
                "/usr/lib/systemd/system/docker.service",
                "/etc/systemd/system/docker.service.d/*.conf",
                "/run/systemd/system/docker.service.d/*.conf",
                "/lib/systemd/system/docker.service.d/*.conf",
                "/usr/lib/systemd/system/docker.service.d/*.conf",
                "/etc/default/docker",
            ]),
            force=dict(type="bool", default=False),
            docker_host=dict(type="str"),
            resolve_conflicts=dict(type="bool", default=False),
            dropin_path=dict(type="path",
                             default="/etc/systemd/system/docker.service.d/zz-crosshost-docker-bip.conf"),
            apply_to_bridge=dict(type="bool", default=False),
            check_bridge=dict(type="bool", default=False),
            bridge=dict(type="str", default="docker0"),
            netns=dict(type="str"),
            netlink_backend=dict(type="str", default="auto", choices=["auto", "pyroute2", "iproute2"]),
        ),
        mutually_exclusive=[("bip", "subnet_file")],
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    result = dict(changed=False, restart_required=False, daemon_reload_required=False,
                  conflicts=[], other_conflicts=[], containers_outside=[])

    try:
        subnet = None
        if p["subnet_file"]:
            text = wait_for_text(p["subnet_file"], 0 if module.check_mode else p["subnet_file_timeout"])
            if text is None:
                raise DockerBipError(
                    "subnet_file %s does not exist or cannot be read%s: flanneld writes it once it "
                    "holds a lease, so start flanneld first, or give bip and mtu explicitly"
                    % (p["subnet_file"], " after %d s" % p["subnet_file_timeout"] if p["subnet_file_timeout"] else ""))
            subnet = read_subnet_env(text, p["subnet_file"])
            result["lease"] = subnet
        settings, sources = compute_settings(bip=p["bip"], mtu=p["mtu"], fixed_cidr=p["fixed_cidr"],
                                             ip_masq=p["ip_masq"], iptables=p["iptables"],
                                             subnet=subnet)
        if os.path.isdir(path):
            raise DockerBipError("path %s is a directory: give the daemon.json file path" % path)
        before_text = read_text(path) if os.path.exists(path) else None
        if os.path.exists(path) and before_text is None:
            raise DockerBipError("path %s exists but cannot be read" % path)
        existing = load_daemon_json(before_text, path)
        merged, changes = merge_settings(existing, settings)
        check_kept_fixed_cidr(merged, settings, path)
    except DockerBipError as exc:
        module.fail_json(msg=to_native(exc), **result)

    if subnet is not None and subnet.get("ipmasq") and p["ip_masq"]:
        module.warn("ip_masq=true while flannel masquerades (FLANNEL_IPMASQ=true): container "
                    "traffic will be masqueraded twice")

    if any(change["key"] in RANGE_KEYS for change in changes):
        try:
            containers = bridge_containers(module)
        except DockerBipError as exc:
            module.fail_json(msg=to_native(exc), **result)
        result["containers_outside"] = containers_outside(containers or [], merged)
        if result["containers_outside"]:
            message = containers_outside_message(result["containers_outside"], merged, path,
                                                 p["force"])
            if not p["force"]:
                module.fail_json(msg=message, **result)
            module.warn(message)

    after_text = render_daemon_json(merged) if changes else before_text
    result.update(settings=dict(settings), sources=dict(sources), changes=changes,
                  daemon_json=merged)

    # the conflicting channel: the same keys as dockerd flags
    managed = [key for key in ("bip", "mtu", "fixed-cidr", "ip-masq", "iptables") if key in merged]
    files = scan_files(p["unit_paths"], p["dropin_path"])
    found, entries = detect_conflicts(files, managed, [key for key in merged if key not in managed])
    conflicts = [c for c in found if c["managed"]]
    result["conflicts"] = conflicts
    result["other_conflicts"] = [c for c in found if not c["managed"]]
    if result["other_conflicts"]:
        module.warn("pre-existing conflict, not managed by this module: " + "; ".join(
            "%s line %d: %s is also the daemon.json key %s" % (c["path"], c["line"], c["flag"], c["key"])
            for c in result["other_conflicts"]) + " (dockerd refuses to start until one of them goes)")
    dropin_text = None
    dropin_before = None
    if conflicts:
        resolvable = all(c["source"] == "ExecStart" for c in conflicts)
        if not p["resolve_conflicts"] or not resolvable:
            module.fail_json(msg=conflict_message(conflicts, resolvable, path), **result)
        keys = sorted(set(c["key"] for c in conflicts))
        dropin_text = render_dropin(entries, keys)
        dropin_before = read_text(p["dropin_path"]) or ""
        result["dropin"] = p["dropin_path"]

    diffs = []
    if changes:
        diffs.append(dict(before=before_text or "", after=after_text,
                          before_header=path, after_header=path))
    if dropin_text is not None and dropin_text != dropin_before:
        diffs.append(dict(before=dropin_before, after=dropin_text,
                          before_header=p["dropin_path"], after_header=p["dropin_path"]))
        result["daemon_reload_required"] = True

    # the running bridge
    bridge = None
    plan = None
    if p["apply_to_bridge"]:
        if "bip" not in merged:
            module.fail_json(msg="apply_to_bridge needs a bridge address: give bip or subnet_file "
                                 "(or have bip in %s)" % path, **result)
        bridge = Bridge(module, p["bridge"], p["netns"], p["netlink_backend"])
        addrs, mtu = bridge.read()
        plan = plan_bridge(addrs, mtu, merged["bip"], merged.get("mtu"))
        result["bridge"] = dict(name=p["bridge"], method=bridge.method, addresses_before=addrs,
                                mtu_before=mtu, changed=not plan_is_empty(plan), commands=[])

    result["restart_required"] = bool(changes) or result["daemon_reload_required"]
    if p["check_bridge"] and not result["restart_required"] and bridge is None and "bip" in merged:
        # The ip command: no pyroute2 import for a read on every run.
        found = Bridge(module, p["bridge"], p["netns"], "iproute2").read(missing_ok=True)
        if found is not None and merged["bip"] not in found[0]:
            module.fail_json(msg=stale_bridge_message(p["bridge"], found[0], merged["bip"], path), **result)
    result["changed"] = result["restart_required"] or bool(bridge and not plan_is_empty(plan))
    if module._diff and diffs:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]

    if not module.check_mode:
        try:
            if changes:
                write_atomic(module, path, after_text, 0o644)
            if result["daemon_reload_required"]:
                write_atomic(module, p["dropin_path"], dropin_text, 0o644)
        except (IOError, OSError) as exc:
            module.fail_json(msg="could not write %s: %s" % (exc.filename or path, to_native(exc)),
                             **result)
    if bridge is not None:
        bridge.apply(plan, module.check_mode)
        result["bridge"]["commands"] = bridge.commands

    module.exit_json(**result)


if __name__ == "__main__":
    main()
