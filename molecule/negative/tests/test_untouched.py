"""After the refused runs, nothing of flannel exists and Docker is as prepare left it."""
import pytest


def test_flanneld_not_running(host):
    assert not host.service("flanneld").is_running


@pytest.mark.parametrize("path", ["/usr/local/bin/flanneld", "/etc/systemd/system/flanneld.service",
                                  "/etc/flannel", "/run/flannel/subnet.env", "/etc/docker/daemon.json",
                                  "/etc/systemd/system/docker.service.d", "/usr/local/bin/pipework"])
def test_nothing_installed(host, path):
    assert not host.file(path).exists


def test_no_flannel_interfaces(host):
    assert "flannel" not in host.check_output("ip -o link show")


def test_etcd_only_where_prepare_put_it(host):
    hostname = host.backend.get_hostname()
    assert host.service("etcd").is_running == (hostname == "lab1")


def test_docker_still_on_its_default_bridge_where_it_ran(host):
    hostname = host.backend.get_hostname()
    if hostname == "lab3":
        assert host.service("docker").is_running
        assert "172.17.0.1/16" in host.check_output("ip -o -4 addr show dev docker0")
    else:
        assert not host.service("docker").is_running
