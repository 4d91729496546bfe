"""Verify step of the fresh-hosts scenarios (flannel in fresh-hosts, OVS GRE in
fresh-hosts-ovs-gre): what installing on a fresh host must leave behind (and must
not), checked on every host with pytest-testinfra."""

import ipaddress


def packages(host):
    out = host.check_output("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'")
    return {line.split()[0] for line in out.splitlines() if line.split()[1:] == ["ii"]}


def groups_of(host):
    variables = host.ansible.get_variables()
    return {name for name, members in variables["groups"].items() if variables["inventory_hostname"] in members}


def test_the_roles_installed_their_packages(host):
    groups = groups_of(host)
    wanted = {"docker.io", "containerd"}
    if "etcd" in groups:
        wanted |= {"etcd-server", "etcd-client"}
    if "ovs_gre" in groups:
        wanted |= {"openvswitch-switch", "ethtool"}
    missing = wanted - packages(host)
    assert not missing, "not installed: %s" % sorted(missing)


def test_the_package_lists_come_from_the_lab_repository(host):
    # The bare image has no lists: the install refreshed them from the only source.
    lists = host.check_output("ls /var/lib/apt/lists").split()
    assert any(name.endswith("_apt_._Packages") for name in lists), lists


def test_no_policy_rc_d_is_left_behind(host):
    assert not host.file("/usr/sbin/policy-rc.d").exists


def test_etcd_never_ran_with_the_packages_default_config(host):
    # Debian's postinst would have started a single-node member in /var/lib/etcd/default.
    assert not host.file("/var/lib/etcd/default").exists
    if "etcd" in groups_of(host):
        assert host.service("etcd").is_running
    else:
        assert "etcd-server" not in packages(host), "etcd installed on a host outside the etcd group"


def test_docker0_holds_the_fabrics_address(host):
    """flannel: docker0 is the lease's gateway; OVS GRE: an address of the shared
    segment. Either way, not the 172.17.0.1/16 of Docker's first start."""
    out = host.check_output("ip -4 -o addr show dev docker0")
    address = ipaddress.ip_interface(out.split()[3])
    if "flannel" in groups_of(host):
        env = dict(line.split("=", 1) for line in
                   host.file("/run/flannel/subnet.env").content_string.split() if "=" in line)
        assert address == ipaddress.ip_interface(env["FLANNEL_SUBNET"]), "docker0 %s, lease %s" % (
            address, env["FLANNEL_SUBNET"])
    else:
        segment = ipaddress.ip_network(host.ansible.get_variables()["ovs_gre_segment"])
        assert address.ip in segment, "docker0 %s outside the OVS segment %s" % (address, segment)
    assert host.service("docker").is_running and host.service("docker").is_enabled


def test_nothing_of_dockers_default_bridge_is_left(host):
    # docker.io's postinst started Docker once with the default 172.17.0.0/16 bridge.
    rules = host.check_output("iptables-save")
    assert "172.17." not in rules, rules
    assert "172.17." not in host.check_output("ip -4 -o addr")
