"""The Ansible inventory for the running lab (inventories/lab/hosts.yml)."""
import yaml

from tools.lab import artifacts, config, hosts, network
from tools.lab.util import write_atomic

HEADER = """\
# Written by `python -m tools.lab up` (make lab-up); rewritten on every up, removed by down.
# Hosts: Debian 12 systemd-nspawn containers on the lab underlay; see docs/lab.md.
"""


# Which role groups the hosts join. One host cannot serve a flannel fabric and an
# OVS GRE fabric at once (both own docker0), so a lab for site.yml picks one.
FABRIC_GROUPS = {
    "all": ("etcd", "flannel", "docker", "ovs_gre", "pipework"),
    "flannel": ("etcd", "flannel", "docker", "pipework"),
    "ovs-gre": ("ovs_gre", "docker", "pipework"),
}


def build(state):
    key = hosts.ssh_key()
    sums = artifacts.checksums()
    host_vars = {}
    for host in state["hosts"]:
        segment = host["segment"]
        host_vars[host["name"]] = {
            "ansible_host": host["address"],
            "lab_segment": segment,
            "lab_underlay_interface": config.UNDERLAY_IF,
            "lab_underlay_address": host["address"],
            "lab_underlay_prefix": 24,
            "lab_underlay_subnet": str(network.subnet(segment)),
            # Each segment has its own server address (the machine's on that bridge).
            "lab_artifact_url": artifacts.base_url(network.address(segment, config.MACHINE_OCTET)),
        }
    names = [h["name"] for h in state["hosts"]]

    def group(members):
        return {"hosts": {name: None for name in members}}

    children = {"lab": {"hosts": host_vars}}
    etcd_members = names[:state.get("etcd_members", 1)]
    for role_group in FABRIC_GROUPS[state.get("fabric", "all")]:
        children[role_group] = group(etcd_members if role_group == "etcd" else names)
    for segment in range(state["segments"]):
        children[f"segment_{segment}"] = group(
            [h["name"] for h in state["hosts"] if h["segment"] == segment])
    return {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                       "-o LogLevel=ERROR",
            "ansible_python_interpreter": "/usr/bin/python3",
            "lab_underlay_interface": config.UNDERLAY_IF,
            "lab_segments": [{"segment": k, "subnet": str(network.subnet(k)),
                              "bridge": network.bridge_name(k),
                              "router": network.address(k, config.ROUTER_OCTET) if state["segments"] > 1 else None}
                             for k in range(state["segments"])],
            "lab_flannel_version": config.FLANNEL_VERSION,
            "lab_flannel_tarball": artifacts.flannel_tarball_name(),
            "lab_etcd_version": config.ETCD_TARBALL_VERSION,
            "lab_etcd_tarball": artifacts.etcd_tarball_name(),
            "lab_pipework_file": "pipework",
            "lab_busybox_image_file": "busybox-image.tar",
            "lab_artifact_sha256": sums,
            # The same artifacts on the controller, for the air-gapped paths the
            # scenarios test (flannel_local_tarball, etcd_local_tarball, pipework_local_file).
            "lab_artifacts_dir": str(config.ARTIFACTS),
        },
        "children": children,
    }}


def write(state):
    config.INVENTORY.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER + yaml.safe_dump(build(state), sort_keys=False, default_flow_style=False)
    write_atomic(config.INVENTORY, text.replace(": null\n", ":\n"))
    return config.INVENTORY


def remove():
    config.INVENTORY.unlink(missing_ok=True)
