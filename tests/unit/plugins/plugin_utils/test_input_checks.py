# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the roles' input checks (plugin_utils/input_checks.py): each rule
fails with its message, in the order the roles check them, and valid inputs pass."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.crosshost.network.plugins.filter import ovs_gre
from ansible_collections.crosshost.network.plugins.plugin_utils import input_checks as checks

SHA = "a" * 64
ETCD = dict(install_method="package", checksum="", local_tarball="", download_url="https://example.invalid/etcd.tgz",
            inventory_group="etcd", client_port=2379, peer_port=2380, tls=True, ca_cert="", ca_key="",
            client_cert_names=["flannel"], pki_local_dir="/pki")
GROUPS = {"etcd": ["lab1", "lab2", "lab3"]}
ADDRESSES = {"lab1": "192.168.122.11", "lab2": "192.168.122.12", "lab3": "fd00::13"}


def etcd(**changes):
    inputs = dict(ETCD, **changes.pop("inputs", {}))
    args = dict(groups=GROUPS, inventory_hostname="lab1", member_addresses=ADDRESSES, local_tarball_sha256="",
                ca_files_exist=(False, False))
    args.update(changes)
    return checks.etcd(inputs, **args)


def test_etcd_valid_inputs_pass():
    assert etcd() is None
    assert etcd(inputs=dict(install_method="tarball", checksum="sha256:" + SHA)) is None
    assert etcd(inputs=dict(install_method="tarball", local_tarball="/t.tgz"), local_tarball_sha256=SHA) is None
    assert etcd(inputs=dict(ca_cert="/ca.crt", ca_key="/ca.key"), ca_files_exist=(True, True)) is None
    # TLS off: the certificate names are not used, so not checked.
    assert etcd(inputs=dict(tls="false", client_cert_names=["ca"])) is None


@pytest.mark.parametrize("changes, message", [
    (dict(inputs=dict(install_method="snap")), "etcd_install_method is 'snap'; set it to 'package'"),
    (dict(inputs=dict(install_method="tarball")), "etcd_install_method is 'tarball' but etcd_checksum is empty"),
    (dict(inputs=dict(install_method="tarball", checksum="sha256:abc")), "etcd_checksum is 'sha256:abc'; expected"),
    (dict(inputs=dict(install_method="tarball", local_tarball="/t.tgz")),
     "etcd_local_tarball is '/t.tgz' but no such file exists on the controller"),
    (dict(inputs=dict(install_method="tarball", local_tarball="/t.tgz", checksum=SHA), local_tarball_sha256="b" * 64),
     "etcd_local_tarball /t.tgz has sha256 " + "b" * 64 + ", but etcd_checksum is " + SHA),
    (dict(inventory_hostname="lab9"), "lab9 runs the etcd role but is not in the inventory group"),
    (dict(groups={"all": ["lab1"]}), "(members: [])"),
    (dict(member_addresses=dict(ADDRESSES, lab2="etcd2.example")), "etcd_address of lab2 is 'etcd2.example'"),
    (dict(member_addresses=dict(ADDRESSES, lab2="192.168.122.300")), "etcd_address of lab2 is '192.168.122.300'"),
    (dict(inputs=dict(client_port=2380)), "etcd_client_port=2380 and etcd_peer_port=2380 must be two different"),
    (dict(inputs=dict(peer_port="http")), "etcd_peer_port=http must be two different TCP ports"),
    (dict(inputs=dict(client_port=65536)), "etcd_client_port=65536"),
    (dict(inputs=dict(ca_cert="/ca.crt")), "etcd_ca_cert='/ca.crt' and etcd_ca_key='' must both name existing files"),
    (dict(inputs=dict(ca_cert="/ca.crt", ca_key="/ca.key"), ca_files_exist=(True, False)), "must both name"),
    (dict(inputs=dict(client_cert_names=["ca"])), "etcd_client_cert_names is ['ca']"),
    (dict(inputs=dict(client_cert_names=["-flannel"])), "use letters, digits, '.', '_' and '-' only"),
    (dict(inputs=dict(client_cert_names="flannel")), "etcd_client_cert_names is flannel"),
])
def test_etcd_bad_inputs_name_the_field(changes, message):
    assert message in etcd(**changes)


def test_etcd_first_problem_wins():
    # A bad install method and a bad port: the install method is checked first.
    assert etcd(inputs=dict(install_method="snap", client_port=0)).startswith("etcd_install_method")


def test_etcd_two_members_warn():
    assert checks.etcd_warnings(ETCD, {"etcd": ["a", "b"]})[0].startswith("the etcd group 'etcd' has 2 members")
    assert checks.etcd_warnings(ETCD, GROUPS) == []


FLANNEL = dict(backend={"type": "vxlan", "vni": 1}, checksum="sha256:" + SHA, local_tarball="",
               download_url="https://example.invalid/flannel.tgz", network="10.100.0.0/16", public_ip="192.168.122.11",
               etcd_endpoints=["https://192.168.122.11:2379"], etcd_tls=True, etcd_group="etcd")


def test_flannel_valid_inputs_pass():
    assert checks.flannel(FLANNEL, "") is None
    assert checks.flannel(dict(FLANNEL, backend={"type": "host-gw"}), "") is None
    assert checks.flannel(dict(FLANNEL, checksum="", local_tarball="/f.tgz"), SHA) is None
    assert checks.flannel_endpoints(FLANNEL) is None
    assert checks.flannel_endpoints(dict(FLANNEL, etcd_tls="no", etcd_endpoints=["http://10.0.0.1:2379"])) is None


@pytest.mark.parametrize("changes, sha256, message", [
    (dict(backend={"type": "wireguard"}), "", "flannel_backend={'type': 'wireguard'} is not supported by this role"),
    (dict(backend="vxlan"), "", "flannel_backend=vxlan is not supported"),
    (dict(backend={"type": "host-gw", "vni": 2}), "", "is not supported by this role"),
    (dict(checksum="sha256:abc"), "", "flannel_checksum='sha256:abc': set it to \"sha256:<64 hex digits>\""),
    (dict(checksum=""), "", "flannel_checksum='': set it to"),
    (dict(local_tarball="/f.tgz"), "", "flannel_local_tarball=/f.tgz is not a file on the controller"),
    (dict(local_tarball="/f.tgz"), "b" * 64, "flannel_local_tarball=/f.tgz has sha256 " + "b" * 64),
    (dict(network="10.100.0.0"), "", "flannel_network='10.100.0.0' must be an IPv4 CIDR"),
    (dict(public_ip="lab1.example"), "", "flannel_public_ip='lab1.example' an IPv4 address"),
])
def test_flannel_bad_inputs_name_the_field(changes, sha256, message):
    assert message in checks.flannel(dict(FLANNEL, **changes), sha256)


@pytest.mark.parametrize("endpoints, tls", [
    ([], True), (["https://a:2379", "http://b:2379"], True), (["a:2379"], False), ("https://a:2379", True)])
def test_flannel_bad_endpoints(endpoints, tls):
    message = checks.flannel_endpoints(dict(FLANNEL, etcd_endpoints=endpoints, etcd_tls=tls))
    assert message.startswith("flannel_etcd_endpoints=") and "group 'etcd'" in message


DOCKER = dict(bridge_source="flannel", bip="", fixed_cidr="", mtu=None, forward_networks=[],
              forward_chain="CROSSHOST-FWD")


def test_docker_valid_inputs_pass():
    assert checks.docker(DOCKER) is None
    assert checks.docker(dict(DOCKER, bridge_source="static", bip="192.168.10.1/24", fixed_cidr="192.168.10.0/25",
                              mtu=1462, forward_networks=["192.168.10.0/24"])) is None
    assert checks.docker(dict(DOCKER, bridge_source="none", bip="192.168.10.1/24")) is None


@pytest.mark.parametrize("changes, message", [
    (dict(bridge_source="dhcp"), "docker_bridge_source='dhcp' must be flannel"),
    (dict(bridge_source="static", bip="192.168.10.1"), "docker_bip='192.168.10.1' must be the bridge address"),
    (dict(bridge_source="static", bip=None), "docker_bip='None' must be the bridge address"),
    (dict(bridge_source="static", bip="192.168.10.1/24", fixed_cidr="x"), "docker_fixed_cidr='x' empty or a CIDR"),
    (dict(bridge_source="static", bip="192.168.10.1/24", mtu=67), "docker_mtu='67' empty or 68..65535"),
    (dict(bip="10.100.7.1/24"), "docker_bip='10.100.7.1/24' is set but docker_bridge_source is flannel"),
    (dict(forward_networks=["10.100.0.0/33x"]), "docker_forward_networks=['10.100.0.0/33x'] must be a list"),
    (dict(forward_networks="10.100.0.0/16"), "docker_forward_networks=10.100.0.0/16 must be a list"),
    (dict(forward_chain="A" * 29), "docker_forward_chain='" + "A" * 29 + "' an iptables chain name"),
])
def test_docker_bad_inputs_name_the_field(changes, message):
    assert message in checks.docker(dict(DOCKER, **changes))


PIPEWORK = dict(install_script=True, checksum="sha256:" + SHA, checksum_pattern="^(sha256|sha512):[0-9a-fA-F]+$",
                local_file="", download_url="https://example.invalid/pipework", install_path="/usr/local/bin/pipework",
                interfaces=[{"container": "web", "bridge": "br1", "address": "192.168.10.5/24"},
                            {"container": "db", "bridge": "ovsbr", "state": "absent", "bridge_type": "ovs"}],
                bridge_type="auto")


def test_pipework_valid_inputs_pass():
    assert checks.pipework(PIPEWORK, "") is None
    assert checks.pipework(dict(PIPEWORK, checksum="", local_file="/p"), SHA) is None
    # No script to install: its source and path are not checked.
    assert checks.pipework(dict(PIPEWORK, install_script="false", checksum="", install_path="bin"), "") is None


@pytest.mark.parametrize("changes, sha, message", [
    (dict(checksum=""), "", "pipework_checksum='' with pipework_download_url="),
    (dict(checksum="md5:abc"), "", "the script needs a pinned checksum"),
    (dict(local_file="/p"), "b" * 64, "pipework_local_file=/p does not match pipework_checksum=sha256:" + SHA),
    (dict(local_file="/p"), "", "(found no such file on the controller)"),
    (dict(install_path="bin/pipework"), "", "pipework_install_path='bin/pipework' must be an absolute path"),
    (dict(interfaces={"container": "web"}), "", "pipework_interfaces must be a list of dicts"),
    (dict(interfaces=[{"container": "web", "bridge": "br1"}]), "", "pipework_interfaces item {'container': 'web'"),
    (dict(interfaces=[{"container": "", "bridge": "br1", "address": "10.0.0.1/24"}]), "", "each item needs"),
    (dict(interfaces=[{"container": "w", "bridge": "b", "address": "10.0.0.1/24", "state": "gone"}]), "", "state is"),
    (dict(interfaces=[{"container": "w", "bridge": "b", "address": "10.0.0.1/24", "bridge_type": "x"}]), "", "linux"),
    (dict(interfaces=["web"]), "", "pipework_interfaces item web:"),
])
def test_pipework_bad_inputs_name_the_field(changes, sha, message):
    assert message in checks.pipework(dict(PIPEWORK, **changes), sha)


# lab1..lab3 on 192.168.10.0/24: gateways .1-.3, Docker ranges .64/26, .128/26, .192/26
SEGMENT_HOSTS = list(ovs_gre.plan(["lab1", "lab2", "lab3"], "192.168.10.0/24").values())


@pytest.mark.parametrize("address, taken", [
    ("192.168.10.130/24", "inside lab2's Docker range 192.168.10.128/26"),
    ("192.168.10.2/24", "in the range of the hosts' bridge addresses"),
    ("192.168.10.255/24", "its network or broadcast address"),
    ("192.168.10.5/24", None),          # the rest of the gateway slice is free
    ("10.88.0.5/24", None),             # another network (a bridge of its own)
])
def test_pipework_address_on_the_ovs_segment(address, taken):
    item = {"container": "web", "bridge": "br0", "address": address}
    message = checks.pipework(dict(PIPEWORK, interfaces=[item], segment_hosts=SEGMENT_HOSTS), "")
    if taken is None:
        assert message is None
    else:
        assert "address %s is on the OVS GRE segment 192.168.10.0/24, %s" % (address, taken) in message
        assert "gateways 192.168.10.1-192.168.10.3" in message
    # an item being removed takes no address; without the segment's plan nothing is known
    assert checks.pipework(dict(PIPEWORK, interfaces=[dict(item, state="absent")],
                                segment_hosts=SEGMENT_HOSTS), "") is None
    assert checks.pipework(dict(PIPEWORK, interfaces=[item]), "") is None
