#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ovs_tunnel
short_description: Ensure the exact set of GRE, VXLAN or Geneve tunnel ports on an Open vSwitch bridge
version_added: "0.1.0"
description:
  - Ensures one tunnel port per remote IP on an Open vSwitch bridge, of type C(gre), C(vxlan) or C(geneve),
    with an optional key, UDP destination port and extra interface options.
  - Corrects drift. A tunnel whose C(remote_ip), type or options were changed by hand is set back
    (reported as changed); a missing tunnel is added again.
  - Marks every port it creates with C(external_ids:crosshost-owner=<owner>) on the Port record. It changes
    and removes only ports that carry its own O(owner) marker, so two fabrics (two owners) can share a bridge
    and ports added by hand are never touched.
  - Port names are deterministic. For IPv4 remotes the name is the type, a dash and the 8 hex digits of the
    address, for example C(gre-c0a80a02) for 192.168.10.2 (C(vxlan-c0a80a02), C(geneve-c0a80a02)); this always fits
    the 15 characters of IFNAMSIZ. For IPv6 remotes it is C(gre6-), C(vxl6-) or C(gnv6-) followed by the first 8 hex
    digits of the SHA-256 of the address bytes. Use O(tunnels) to choose names yourself.
  - Reads the database as structured data (C(ovs-vsctl --format=json list)) and applies every change as one atomic
    C(ovs-vsctl) transaction. Returns the commands it ran (or would run in check mode).
  - Can create the bridge and keeps O(datapath_type), O(stp) and O(rstp) as requested on an existing bridge too.
  - When it turns the bridge's STP or RSTP off, it then runs C(ovs-ofctl mod-port <bridge> <port> no-flood) and
    C(flood) on each port that takes part in floods. Open vSwitch 3.1 otherwise keeps the ports' last
    spanning-tree state and stops flooding to them, so broadcasts such as ARP reach no other port.
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the bridge settings and the tunnels of this owner, before and after.
  platform:
    platforms: posix
requirements:
  - Open vSwitch (C(ovs-vsctl)) on the target, with ovsdb-server and ovs-vswitchd running.
options:
  bridge:
    description:
      - Name of the Open vSwitch bridge that holds the tunnel ports.
    type: str
    required: true
  remote_ips:
    description:
      - IPv4 or IPv6 addresses of the peers; one tunnel port per address, named automatically.
      - Mutually exclusive with O(tunnels); one of the two is required. An empty list is allowed (with O(purge=true) it
        removes every tunnel of this owner).
    type: list
    elements: str
  tunnels:
    description:
      - Peers with explicit port names, as an alternative to O(remote_ips).
    type: list
    elements: dict
    suboptions:
      remote_ip:
        description:
          - IPv4 or IPv6 address of the peer.
        type: str
        required: true
      name:
        description:
          - Port and interface name, at most 15 characters. Defaults to the generated name.
        type: str
  type:
    description:
      - Tunnel type of every port.
    type: str
    choices: [gre, vxlan, geneve]
    default: gre
  key:
    description:
      - Tunnel key (GRE key, 0 to 4294967295) or VNI (VXLAN and Geneve, 0 to 16777215), or V(flow) to set it per flow.
      - Written as C(options:key). Not set when omitted. An integer or a string.
    type: raw
  dst_port:
    description:
      - UDP destination port for V(vxlan) or V(geneve) tunnels (1 to 65535). Not valid with V(gre).
    type: int
  local_ip:
    description:
      - This host's tunnel source address, written as C(options:local_ip) on every tunnel. Must not be one of the remotes.
    type: str
  options:
    description:
      - Extra interface options, for example C(ttl=64) or C(df_default=false). Values are written as strings.
      - The keys C(remote_ip), C(local_ip), C(key) and C(dst_port) have their own parameters and are refused here.
      - The options of an owned tunnel are kept exactly as given; any other option set by hand is removed.
    type: dict
    default: {}
  owner:
    description:
      - Ownership marker written to C(external_ids:crosshost-owner) of every port this module creates.
      - Only ports with this marker are changed or purged. Use one owner per fabric to share a bridge.
    type: str
    default: crosshost
  purge:
    description:
      - Remove the tunnel ports of this O(owner) whose peer is no longer wanted.
      - Ports without this owner's marker are never removed.
      - An owned port towards a wanted peer under another name (for example after a type change) is always replaced.
    type: bool
    default: false
  bridge_create:
    description:
      - Create the bridge when it does not exist. Without it a missing bridge is an error.
    type: bool
    default: false
  datapath_type:
    description:
      - Datapath of the bridge, V(system) (kernel) or V(netdev) (userspace, also DPDK). Applied on creation and to an
        existing bridge. Left as it is when omitted.
    type: str
    choices: [system, netdev]
  stp:
    description:
      - Enable (C(true)) or disable (C(false)) the Spanning Tree Protocol on the bridge, also on an existing bridge.
        Left as it is when omitted. Turn it on when the tunnel mesh has loops (more than two hosts).
    type: bool
  rstp:
    description:
      - Enable or disable Rapid Spanning Tree on the bridge, also on an existing bridge. Left as it is when omitted.
        O(stp) and O(rstp) cannot both be true.
    type: bool
  db:
    description:
      - Database connection passed to C(ovs-vsctl --db), for example C(unix:/run/openvswitch/db.sock) or
        C(tcp:127.0.0.1:6640). Defaults to the C(ovs-vsctl) default (which honours E(OVS_RUNDIR)).
    type: str
  vsctl_timeout:
    description:
      - Seconds C(ovs-vsctl) may wait for the database and for ovs-vswitchd to apply a change (C(--timeout)).
    type: int
    default: 30
notes:
  - Without a kernel datapath (containers, some CI machines) use O(datapath_type=netdev). In the userspace datapath a tunnel
    carries traffic only when its underlay address sits on another netdev bridge (for example C(br-phy) holding the uplink
    NIC and the local IP), and the inner MTU must leave room for the tunnel header (1462 or less for GRE over 1500).
  - Interfaces that Open vSwitch reports an error for (column C(error), for example a kernel without GRE) are returned
    as warnings.
seealso:
  - name: Open vSwitch interface options
    description: The C(options) column of the Interface table for gre, vxlan and geneve.
    link: https://www.openvswitch.org/support/dist-docs/ovs-vswitchd.conf.db.5.html
"""

EXAMPLES = r"""
- name: GRE mesh towards the other hosts, created on a userspace bridge
  crosshost.network.ovs_tunnel:
    bridge: br0
    bridge_create: true
    datapath_type: netdev
    stp: true
    remote_ips:
      - 192.0.2.11
      - 192.0.2.12
    purge: true

- name: VXLAN with a VNI and a non-default UDP port, explicit port names
  crosshost.network.ovs_tunnel:
    bridge: br-overlay
    type: vxlan
    key: "5001"
    dst_port: 4790
    local_ip: 198.51.100.1
    tunnels:
      - name: vx-east
        remote_ip: 198.51.100.2
      - name: vx-west
        remote_ip: 198.51.100.3
    options:
      tos: inherit

- name: A second fabric on the same bridge, managed separately
  crosshost.network.ovs_tunnel:
    bridge: br0
    owner: lab-b
    type: geneve
    remote_ips: [198.51.100.20]

- name: Remove every tunnel of the default owner (ports added by hand stay)
  crosshost.network.ovs_tunnel:
    bridge: br0
    remote_ips: []
    purge: true

- name: Talk to an ovsdb-server on a non-default socket
  crosshost.network.ovs_tunnel:
    bridge: br0
    remote_ips: [192.0.2.11]
    db: unix:/run/lab/db.sock
"""

RETURN = r"""
commands:
  description:
    - The C(ovs-vsctl) commands run, as argv lists (in check mode, the ones that would run). Each change is one
      transaction, so the list holds one such entry at most.
    - After a change that turned the spanning tree off, it also holds the C(ovs-ofctl mod-port) commands that
      refreshed the bridge's ports (not in check mode).
  returned: always
  type: list
  elements: list
  sample:
    - ["ovs-vsctl", "--timeout=30", "--", "add-port", "br0", "gre-c000020b", "external_ids:crosshost-owner=\"crosshost\"",
       "--", "set", "interface", "gre-c000020b", "type=gre", "options:remote_ip=\"192.0.2.11\""]
actions:
  description: Human readable list of the changes made (or planned).
  returned: always
  type: list
  elements: str
  sample: ["add gre tunnel gre-c000020b to 192.0.2.11", "fix tunnel gre-c000020c: options:remote_ip 192.0.2.99 -> 192.0.2.12"]
tunnels:
  description: The tunnels of this owner on the bridge after the run (planned state in check mode).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Port and interface name.
      type: str
      sample: gre-c000020b
    remote_ip:
      description: Peer address.
      type: str
      sample: 192.0.2.11
    type:
      description: Tunnel type.
      type: str
      sample: gre
    options:
      description: All interface options.
      type: dict
      sample: {"remote_ip": "192.0.2.11", "key": "5"}
bridge:
  description: Bridge settings after the run (planned state in check mode).
  returned: success
  type: dict
  sample: {"name": "br0", "datapath_type": "netdev", "stp": true, "rstp": false}
owner:
  description: The ownership marker value used.
  returned: success
  type: str
  sample: crosshost
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crosshost.network.plugins.module_utils.ovs import (
    OvsError,
    base_argv,
    build_have,
    build_want,
    explain_vsctl_failure,
    flooding_ports,
    interface_errors,
    missing_vsctl_message,
    ofctl_target,
    parse_list_output,
    plan,
    read_state_args,
    spanning_tree_turned_off,
    transaction,
)


def argument_spec():
    return dict(
        bridge=dict(type="str", required=True),
        remote_ips=dict(type="list", elements="str"),
        tunnels=dict(type="list", elements="dict", options=dict(
            remote_ip=dict(type="str", required=True),
            name=dict(type="str"),
        )),
        type=dict(type="str", default="gre", choices=["gre", "vxlan", "geneve"]),
        key=dict(type="raw", no_log=False),
        dst_port=dict(type="int"),
        local_ip=dict(type="str"),
        options=dict(type="dict", default={}),
        owner=dict(type="str", default="crosshost"),
        purge=dict(type="bool", default=False),
        bridge_create=dict(type="bool", default=False),
        datapath_type=dict(type="str", choices=["system", "netdev"]),
        stp=dict(type="bool"),
        rstp=dict(type="bool"),
        db=dict(type="str"),
        vsctl_timeout=dict(type="int", default=30),
    )


def read_state(module, base):
    rc, out, err = module.run_command(base + read_state_args())
    if rc != 0:
        module.fail_json(msg=explain_vsctl_failure(rc, err, module.params["db"]),
                         rc=rc, stderr=err)
    try:
        tables = parse_list_output(out)
    except ValueError as exc:
        module.fail_json(msg="could not parse ovs-vsctl JSON output (%s): %s" % (exc, out[:200]))
    if len(tables) != 3:
        module.fail_json(msg="ovs-vsctl printed %d tables instead of 3: %s" % (len(tables), out[:200]))
    return tables


def refresh_flooding_ports(module, bridge):
    """After the bridge's spanning tree was turned off: a no-flood/flood port-mod round
    trip on each flooding port, so that Open vSwitch forwards on it again (see
    module_utils/ovs.py). Returns the commands it ran."""
    ofctl = module.get_bin_path("ovs-ofctl")
    if not ofctl:
        module.fail_json(msg="ovs-ofctl was not found on the target: it comes with Open vSwitch "
                             "(openvswitch-common); install it, then run again to refresh the ports of %s" % bridge)
    target = ofctl_target(module.params["db"], bridge)
    commands = []
    rc, out, err = module.run_command([ofctl, "show", target])
    if rc == 0:
        for argv in ([ofctl, "mod-port", target, port, flag]
                     for port in flooding_ports(out) for flag in ("no-flood", "flood")):
            rc, _out, err = module.run_command(argv)
            if rc != 0:
                break
            commands.append(argv)
    if rc != 0:
        module.fail_json(msg="the spanning tree of %s is off, but refreshing its ports failed (%s); run "
                             "`ovs-ofctl mod-port %s <port> no-flood` and then `flood` for each port, or restart "
                             "Open vSwitch: until then the ports may get no broadcasts" % (bridge, err.strip(), bridge),
                         commands=commands)
    return commands


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("remote_ips", "tunnels")],
        required_one_of=[("remote_ips", "tunnels")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        want = build_want(params)
    except OvsError as exc:
        module.fail_json(msg=str(exc))

    vsctl = module.get_bin_path("ovs-vsctl")
    if not vsctl:
        module.fail_json(msg=missing_vsctl_message())
    base = base_argv(vsctl, params["db"], params["vsctl_timeout"])

    tables = read_state(module, base)
    have = build_have(tables, want["bridge"]["name"], want["owner"])
    try:
        result_plan = plan(want, have)
    except OvsError as exc:
        module.fail_json(msg=str(exc))

    for warning in result_plan["warnings"]:
        module.warn(warning)

    argv = transaction(base, result_plan["ops"])
    commands = [argv] if argv else []
    result = dict(
        changed=bool(commands),
        commands=commands,
        actions=result_plan["actions"],
        tunnels=result_plan["after"]["tunnels"],
        bridge=result_plan["after"]["bridge"],
        owner=want["owner"],
    )
    if module._diff:
        result["diff"] = dict(before=result_plan["before"], after=result_plan["after"])

    if commands and not module.check_mode:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg=explain_vsctl_failure(rc, err, params["db"]),
                             rc=rc, stderr=err, commands=commands)
        names = set(t["name"] for t in result_plan["after"]["tunnels"])
        for name, error in interface_errors(read_state(module, base), names):
            module.warn("Open vSwitch reports an error on interface %s: %s" % (name, error))
        if spanning_tree_turned_off(result_plan["before"]["bridge"], result_plan["after"]["bridge"]):
            result["commands"] = commands + refresh_flooding_ports(module, want["bridge"]["name"])

    module.exit_json(**result)


if __name__ == "__main__":
    main()
