"""Verify step of the fresh-hosts scenario: what installing on a fresh host must leave
behind (and must not), checked on every host with pytest-testinfra."""

import ipaddress


def packages(host):
    out = host.check_output("dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'")
    return {line.split()[0] for line in out.splitlines() if line.split()[1:] == ["ii"]}


def in_group(host, group):
    return host.ansible.get_variables()["inventory_hostname"] in \
        host.ansible.get_variables()["groups"].get(group, [])


def test_the_roles_installed_their_packages(host):
    wanted = {"docker.io", "containerd"}
    if in_group(host, "etcd"):
        wanted |= {"etcd-server", "etcd-client"}
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
    if in_group(host, "etcd"):
        assert host.service("etcd").is_running
    else:
        assert "etcd-server" not in packages(host), "etcd installed on a host outside the etcd group"


def test_docker_runs_on_the_flannel_lease(host):
    env = dict(line.split("=", 1) for line in
               host.file("/run/flannel/subnet.env").content_string.split() if "=" in line)
    lease = ipaddress.ip_interface(env["FLANNEL_SUBNET"])
    out = host.check_output("ip -4 -o addr show dev docker0")
    address = ipaddress.ip_interface(out.split()[3])
    assert address == lease, "docker0 %s, lease %s" % (address, lease)
    assert host.service("docker").is_running and host.service("docker").is_enabled


def test_nothing_of_dockers_default_bridge_is_left(host):
    # docker.io's postinst started Docker once with the default 172.17.0.0/16 bridge.
    rules = host.check_output("iptables-save")
    assert "172.17." not in rules, rules
    assert "172.17." not in host.check_output("ip -4 -o addr")
