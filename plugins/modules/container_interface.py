#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: container_interface
short_description: Attach a running container to a Linux or Open vSwitch bridge with a static address (pipework, idempotent)
description:
  - Does the job of C(pipework <bridge> <container> <ip>/<len>[@gateway] [mac]) natively through netlink, and
    idempotently. A veth pair is created, one end is moved into the container's network namespace and renamed
    to O(interface) (default C(eth1)) with the given address, MAC and MTU; the other end joins O(bridge).
  - A re-run with the interface already right changes nothing. A wrong address, MAC, MTU, default route or
    bridge is corrected. After the container restarts (new network namespace, the old veth pair is gone),
    a re-run recreates the interface.
  - The host end has a deterministic name, C(ci) plus 13 hex digits of a hash of the container ID and
    O(interface), so the same container and interface always use the same host interface (and Open vSwitch
    keeps its port record across container restarts).
  - The bridge is created when missing (O(create_bridge)). Linux bridges through netlink, Open vSwitch bridges
    and ports with C(ovs-vsctl --may-exist).
  - An existing interface of the same name in the container that this module did not create (not paired with
    its host end, for example one made by the pipework script) is never touched; the module fails instead.
  - The container is found with C(docker inspect) (O(container)), or its namespace is given directly with
    O(netns_pid) or O(netns_path) (any process or named network namespace, for example C(ip netns add)).
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
    details: Shows the container interface (address, MAC, MTU, gateway, bridge, host end) before and after.
  platform:
    platforms: posix
    details: Linux only (network namespaces, netlink).
requirements:
  - The Python library pyroute2 on the managed host (Debian/Ubuntu package C(python3-pyroute2)).
  - The C(docker) CLI for O(container); C(ovs-vsctl) for Open vSwitch bridges.
  - Root (CAP_SYS_ADMIN and CAP_NET_ADMIN) on the managed host.
options:
  container:
    description:
      - Name or ID of a running Docker container. Its network namespace is C(/proc/<pid>/ns/net) with the PID
        from C(docker inspect).
      - Exactly one of O(container), O(netns_pid) and O(netns_path) is required.
    type: str
  netns_pid:
    description:
      - PID of a process whose network namespace receives the interface (C(/proc/<pid>/ns/net)).
    type: int
  netns_path:
    description:
      - Path of a network namespace file (for example C(/run/netns/blue)), or a bare name that is looked up
        under C(/run/netns).
    type: str
  bridge:
    description:
      - The bridge the host end joins (created when missing and O(create_bridge=true)).
    type: str
    required: true
  bridge_type:
    description:
      - V(linux) for a Linux bridge, V(ovs) for an Open vSwitch bridge. V(auto) follows pipework's rule, names
        starting with C(ovs) are Open vSwitch bridges, others Linux bridges.
    type: str
    choices: [auto, linux, ovs]
    default: auto
  create_bridge:
    description:
      - Create the bridge when it does not exist (and set it up). With V(false), a missing bridge is an error.
    type: bool
    default: true
  ovs_datapath_type:
    description:
      - C(datapath_type) of an Open vSwitch bridge this module creates, for example V(netdev) for the userspace
        datapath. Applied on creation only. Default is Open vSwitch's own (the kernel datapath).
    type: str
  address:
    description:
      - IPv4 address with prefix length of the interface in the container, for example V(192.168.10.5/24).
        Other IPv4 addresses on that interface are removed.
      - Required with O(state=present).
    type: str
  gateway:
    description:
      - Default route of the container via this address on O(interface) (replaces the existing default route,
        as pipework's C(@gateway) does). Must be inside the subnet of O(address). Without it, routes are left
        alone.
    type: str
  mac:
    description:
      - MAC address of the interface in the container (unicast, like V(02:42:c0:a8:0a:05)). Without it, the
        kernel's random address is kept.
    type: str
  interface:
    description:
      - Name of the interface inside the container (at most 15 characters).
    type: str
    default: eth1
  mtu:
    description:
      - MTU of both veth ends. Default is the bridge's MTU (so a bridge lowered for a GRE or VXLAN overlay
        carries its MTU to the container), or 1500 when the bridge does not exist yet.
    type: int
  state:
    description:
      - V(present) ensures the interface, V(absent) removes the veth pair (and the Open vSwitch port) this
        module created. The bridge is never removed.
    type: str
    choices: [present, absent]
    default: present
  host_netns:
    description:
      - Network namespace (path, or name under C(/run/netns)) that holds the bridge and the host end. Default is
        the module's own namespace (the host's). Useful when the "host" is itself a namespace (tests, nested
        setups).
    type: str
  docker_host:
    description:
      - Docker daemon socket passed to C(docker -H), for example V(unix:///run/docker.sock). Default is the CLI's.
    type: str
  docker_bin:
    description:
      - Path or name of the C(docker) CLI.
    type: str
    default: docker
  ovs_vsctl_bin:
    description:
      - Path or name of C(ovs-vsctl).
    type: str
    default: ovs-vsctl
notes:
  - IPv4 only. The module never touches the host's routes, iptables or sysctls.
  - A container started with C(--network host) shares the host's namespace; the module refuses it.
seealso:
  - name: pipework
    description: The shell script whose job this module does.
    link: https://github.com/jpetazzo/pipework
"""

EXAMPLES = r"""
- name: Attach web1 to br1 with a static address, like `pipework br1 web1 192.168.10.5/24@192.168.10.1`
  crosshost.network.container_interface:
    container: web1
    bridge: br1
    address: 192.168.10.5/24
    gateway: 192.168.10.1

- name: Same on an Open vSwitch bridge (userspace datapath), fixed MAC, interface name eth2
  crosshost.network.container_interface:
    container: web1
    bridge: ovsbr0
    ovs_datapath_type: netdev
    address: 192.168.20.5/24
    mac: "02:42:c0:a8:14:05"
    interface: eth2

- name: A plain network namespace instead of a container
  crosshost.network.container_interface:
    netns_path: blue
    bridge: br-test
    address: 10.20.0.2/24

- name: Remove the interface again
  crosshost.network.container_interface:
    container: web1
    bridge: br1
    state: absent
"""

RETURN = r"""
interface:
  description: Name of the interface inside the container.
  returned: always
  type: str
  sample: eth1
host_interface:
  description: Name of the host end of the veth pair.
  returned: always
  type: str
  sample: ci3f6b0a9c1d2e4
bridge:
  description: The bridge and its resolved type.
  returned: always
  type: dict
  sample: {name: br1, type: linux}
netns:
  description: The container's network namespace path used.
  returned: when the namespace was found
  type: str
  sample: /proc/4242/ns/net
container_id:
  description: Full ID of the container (with O(container)).
  returned: when O(container) is given and the container exists
  type: str
state:
  description: The interface after the run (in check mode, as it would be).
  returned: always
  type: dict
  sample: {interface: eth1, address: 192.168.10.5/24, mac: "02:42:c0:a8:0a:05", mtu: 1500,
           gateway: 192.168.10.1, bridge: br1, host_interface: ci3f6b0a9c1d2e4}
commands:
  description: The changes made (or, in check mode, that would be made), as equivalent C(ip) and C(ovs-vsctl)
    command lines. C((container)) marks those run inside the container's namespace.
  returned: always
  type: list
  elements: str
  sample: ["ip link add ci3f6b0a9c1d2e4 type veth peer name ct3f6b0a9c1d2e4; move ct3f6b0a9c1d2e4 into the container as eth1",
           "(container) ip addr add 192.168.10.5/24 dev eth1"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.crosshost.network.plugins.module_utils.container_net import (
    ContainerNetError,
    default_route,
    describe_action,
    entered_netns,
    find_link,
    host_veth_name,
    ipv4_addresses,
    netns_path,
    plan_interface,
    same_netns,
    switch_netns,
    temp_peer_name,
    validate_params,
)

try:
    from pyroute2 import IPRoute
    HAS_PYROUTE2 = True
except ImportError:
    HAS_PYROUTE2 = False


class Runner(object):
    def __init__(self, module):
        self.module = module

    def run(self, argv, what):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            raise ContainerNetError("%s failed (rc %d): %s" % (what, rc, (err or out).strip()))
        return out


def docker_netns(module, want):
    """(netns path, key, container id) of the container; None when it does not exist."""
    p = module.params
    docker = p["docker_bin"] if "/" in p["docker_bin"] else module.get_bin_path(p["docker_bin"])
    if not docker:
        raise ContainerNetError("the docker CLI (%s) is not installed: install docker, or give netns_pid or "
                                "netns_path" % p["docker_bin"])
    argv = [docker]
    if p["docker_host"]:
        argv += ["-H", p["docker_host"]]
    argv += ["inspect", "--type", "container", "--format",
             "{{.State.Pid}} {{.State.Running}} {{.Id}}", p["container"]]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        if "No such" in err or "no such" in err:
            return None
        raise ContainerNetError("docker inspect %s failed (rc %d): %s" % (p["container"], rc, err.strip()))
    fields = out.split()
    if len(fields) != 3:
        raise ContainerNetError("unexpected docker inspect output: %r" % out)
    pid, running, cid = int(fields[0]), fields[1] == "true", fields[2]
    if not running or pid <= 0:
        if want["state"] == "absent":
            return "", cid, cid
        raise ContainerNetError("container %s is not running: start it first (its interfaces live in its "
                                "network namespace, which exists only while it runs)" % p["container"])
    return "/proc/%d/ns/net" % pid, cid, cid


def vsctl(module, runner):
    name = module.params["ovs_vsctl_bin"]
    path = name if "/" in name else module.get_bin_path(name)
    if not path:
        raise ContainerNetError("ovs-vsctl is not installed: install openvswitch-switch for Open vSwitch "
                                "bridges, or use a Linux bridge (bridge_type=linux)")
    return path


def observe(module, want, ns_path, runner):
    have = {}
    ovs = want["bridge_type"] == "ovs"
    with IPRoute() as ipr:
        bridge = find_link(ipr, want["bridge"])
        if ovs:
            rc, _out, _err = module.run_command([vsctl(module, runner), "br-exists", want["bridge"]])
            if rc not in (0, 2):
                raise ContainerNetError("ovs-vsctl br-exists %s failed (rc %d): %s; is ovs-vswitchd running?"
                                        % (want["bridge"], rc, _err.strip()))
            have["bridge_exists"] = rc == 0
        else:
            if bridge is not None and bridge["kind"] != "bridge":
                raise ContainerNetError("%s exists but is a %s interface, not a Linux bridge: use bridge_type=ovs "
                                        "for an Open vSwitch bridge, or another name"
                                        % (want["bridge"], bridge["kind"] or "plain"))
            have["bridge_exists"] = bridge is not None
        have["bridge_mtu"] = bridge["mtu"] if bridge else None
        host = find_link(ipr, want["host_veth"])
        have["host_veth"] = host
        have["temp_peer_exists"] = find_link(ipr, want["temp_peer"]) is not None
        have["host_port_bridge"] = None
        if host and not ovs and host["master_index"]:
            master = ipr.get_links(host["master_index"])
            have["host_port_bridge"] = master[0].get_attr("IFLA_IFNAME") if master else None
    if ovs:
        rc, out, _err = module.run_command([vsctl(module, runner), "port-to-br", want["host_veth"]])
        have["host_port_bridge"] = out.strip() if rc == 0 and out.strip() else None
    have["container_if"] = None
    have["default_route"] = None
    if ns_path:
        with entered_netns(ns_path):
            with IPRoute() as ipr:
                cont = find_link(ipr, want["interface"])
                if cont:
                    cont["addresses"] = ipv4_addresses(ipr, cont["index"])
                have["container_if"] = cont
                have["default_route"] = default_route(ipr)
    return have


def apply(module, want, ns_path, actions, runner):
    names = [a[0] for a in actions]
    ovs = want["bridge_type"] == "ovs"
    with IPRoute() as ipr:
        for action in actions:
            step = action[0]
            if step == "create_bridge":
                if ovs:
                    argv = [vsctl(module, runner), "--may-exist", "add-br", want["bridge"]]
                    if want.get("ovs_datapath_type"):
                        argv += ["--", "set", "bridge", want["bridge"],
                                 "datapath_type=%s" % want["ovs_datapath_type"]]
                    runner.run(argv, "ovs-vsctl add-br %s" % want["bridge"])
                else:
                    ipr.link("add", ifname=want["bridge"], kind="bridge")
                found = ipr.link_lookup(ifname=want["bridge"])
                if found:
                    ipr.link("set", index=found[0], state="up")
            elif step == "delete_host_veth":
                found = ipr.link_lookup(ifname=want["host_veth"])
                if found:
                    ipr.link("del", index=found[0])
            elif step == "delete_temp_peer":
                found = ipr.link_lookup(ifname=want["temp_peer"])
                if found:
                    ipr.link("del", index=found[0])
            elif step == "ovs_del_port":
                runner.run([vsctl(module, runner), "--if-exists", "del-port", action[1], want["host_veth"]],
                           "ovs-vsctl del-port %s %s" % (action[1], want["host_veth"]))
            elif step == "create_veth":
                ipr.link("add", ifname=want["host_veth"], kind="veth", peer=want["temp_peer"])
                peer = ipr.link_lookup(ifname=want["temp_peer"])[0]
                fd = os.open(ns_path, os.O_RDONLY)
                try:
                    ipr.link("set", index=peer, net_ns_fd=fd)
                finally:
                    os.close(fd)
    with entered_netns(ns_path):
        with IPRoute() as ipr:
            if "delete_container_if" in names:
                ipr.link("del", index=ipr.link_lookup(ifname=want["interface"])[0])
            if "create_veth" in names:
                ipr.link("set", index=ipr.link_lookup(ifname=want["temp_peer"])[0], ifname=want["interface"])
            found = ipr.link_lookup(ifname=want["interface"])
            index = found[0] if found else None
            for action in actions:
                step = action[0]
                if step == "set_mac":
                    up = ipr.get_links(index)[0]["flags"] & 1
                    if up:
                        ipr.link("set", index=index, state="down")
                    ipr.link("set", index=index, address=action[1])
                    if up:
                        ipr.link("set", index=index, state="up")
                elif step == "set_mtu":
                    ipr.link("set", index=index, mtu=action[1])
                elif step == "del_addr":
                    address, prefix = action[1].split("/")
                    ipr.addr("del", index=index, address=address, prefixlen=int(prefix))
                elif step == "add_addr":
                    address, prefix = action[1].split("/")
                    ipr.addr("add", index=index, address=address, prefixlen=int(prefix))
                elif step == "link_up":
                    ipr.link("set", index=index, state="up")
                elif step == "set_default_route":
                    ipr.route("replace", dst="0.0.0.0", dst_len=0, gateway=action[1], oif=index)
    if not index and "delete_container_if" not in names:
        raise ContainerNetError("interface %s vanished from the container while it was configured"
                                % want["interface"])
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=want["host_veth"])
        host = found[0] if found else None
        for action in actions:
            step = action[0]
            if step == "set_host_mtu":
                ipr.link("set", index=host, mtu=action[1])
            elif step == "set_master":
                ipr.link("set", index=host, master=ipr.link_lookup(ifname=want["bridge"])[0])
            elif step == "ovs_add_port":
                runner.run([vsctl(module, runner), "--may-exist", "add-port", want["bridge"], want["host_veth"]],
                           "ovs-vsctl add-port %s %s" % (want["bridge"], want["host_veth"]))
            elif step == "host_link_up":
                ipr.link("set", index=host, state="up")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container=dict(type="str"),
            netns_pid=dict(type="int"),
            netns_path=dict(type="str"),
            bridge=dict(type="str", required=True),
            bridge_type=dict(type="str", default="auto", choices=["auto", "linux", "ovs"]),
            create_bridge=dict(type="bool", default=True),
            ovs_datapath_type=dict(type="str"),
            address=dict(type="str"),
            gateway=dict(type="str"),
            mac=dict(type="str"),
            interface=dict(type="str", default="eth1"),
            mtu=dict(type="int"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            host_netns=dict(type="str"),
            docker_host=dict(type="str"),
            docker_bin=dict(type="str", default="docker"),
            ovs_vsctl_bin=dict(type="str", default="ovs-vsctl"),
        ),
        mutually_exclusive=[("container", "netns_pid", "netns_path")],
        required_one_of=[("container", "netns_pid", "netns_path")],
        required_if=[("state", "present", ("address",))],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, interface=p["interface"], commands=[],
                  bridge=dict(name=p["bridge"], type=None), state={})
    runner = Runner(module)
    try:
        want = validate_params(p)
        want["create_bridge"] = p["create_bridge"]
        want["ovs_datapath_type"] = p["ovs_datapath_type"]
        result["bridge"]["type"] = want["bridge_type"]
        if not HAS_PYROUTE2:
            raise ContainerNetError("the Python library pyroute2 is missing on the managed host: install "
                                    "python3-pyroute2 (the crosshost.network.pipework role does)")
        if p["host_netns"]:
            path = netns_path(p["host_netns"])
            if not os.path.exists(path):
                raise ContainerNetError("host_netns %s does not exist (no %s)" % (p["host_netns"], path))
            switch_netns(path)
        if p["container"]:
            found = docker_netns(module, want)
            if found is None:
                if want["state"] == "absent":
                    result["host_interface"] = None
                    module.exit_json(**result)
                raise ContainerNetError("container %s not found (docker inspect): check the name or ID, and "
                                        "start it before attaching interfaces" % p["container"])
            ns_path, key, cid = found
            result["container_id"] = cid
        elif p["netns_pid"] is not None:
            ns_path, key = "/proc/%d/ns/net" % p["netns_pid"], "pid:%d" % p["netns_pid"]
            if not os.path.exists(ns_path):
                raise ContainerNetError("netns_pid=%d: no such process (%s missing)" % (p["netns_pid"], ns_path))
        else:
            ns_path = key = netns_path(p["netns_path"])
            if not os.path.exists(ns_path):
                raise ContainerNetError("netns_path=%s: network namespace %s does not exist"
                                        % (p["netns_path"], ns_path))
        if ns_path:
            result["netns"] = ns_path
            if same_netns(ns_path, "/proc/self/ns/net"):
                raise ContainerNetError("the container shares the host's network namespace (--network host?): "
                                        "it cannot get its own %s" % want["interface"])
        want["host_veth"] = host_veth_name(key, want["interface"])
        want["temp_peer"] = temp_peer_name(key, want["interface"])
        result["host_interface"] = want["host_veth"]
        have = observe(module, want, ns_path, runner)
        actions, before, after = plan_interface(want, have)
        result["commands"] = [describe_action(a, want) for a in actions]
        result["state"] = after
        result["changed"] = bool(actions)
        if module._diff:
            result["diff"] = dict(before=before, after=after)
        if actions and not module.check_mode:
            apply(module, want, ns_path, actions, runner)
    except ContainerNetError as exc:
        module.fail_json(msg=to_native(exc), **result)
    except Exception as exc:  # pyroute2 raises NetlinkError and OSError for kernel refusals
        module.fail_json(msg="netlink change failed: %s" % to_native(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
