"""After the refused runs, every host is as the lab booted it: nothing installed or started."""
import pytest


@pytest.mark.parametrize("service", ["etcd", "flanneld", "docker"])
def test_services_not_running(host, service):
    assert not host.service(service).is_running


@pytest.mark.parametrize("path", ["/usr/local/bin/flanneld", "/etc/systemd/system/flanneld.service",
                                  "/etc/systemd/system/etcd.service", "/etc/etcd", "/etc/flannel",
                                  "/run/flannel/subnet.env", "/etc/docker/daemon.json",
                                  "/etc/systemd/system/docker.service.d", "/usr/local/bin/pipework"])
def test_nothing_installed(host, path):
    assert not host.file(path).exists


def test_no_flannel_interfaces(host):
    links = host.check_output("ip -o link show")
    assert "flannel" not in links
