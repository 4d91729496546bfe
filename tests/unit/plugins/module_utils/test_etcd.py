"""Pure pieces of the etcd client: key encoding and option checks (no network)."""
import pytest

from ansible_collections.crosshost.network.plugins.module_utils.etcd import (
    EtcdError, EtcdV3, _b64, _prefix_end, _unb64, etcd_argument_spec)


def test_prefix_end_is_the_next_key():
    assert _prefix_end("/coreos.com/network/subnets/") == b"/coreos.com/network/subnets0"


def test_base64_round_trip():
    assert _unb64(_b64("/coreos.com/network/config")) == "/coreos.com/network/config"


def test_password_is_no_log():
    assert etcd_argument_spec()["password"]["no_log"] is True


@pytest.mark.parametrize("options,message", [
    ({"endpoints": []}, "endpoints: empty"),
    ({"endpoints": ["etcd:2379"]}, "is not an http:// or https:// URL"),
    ({"endpoints": ["https://h:2379"], "ca_cert": "/nonexistent"}, "ca_cert: file /nonexistent does not exist"),
    ({"endpoints": ["https://h:2379"], "client_key": "/etc/hostname"}, "give both or neither"),
])
def test_option_errors(options, message):
    with pytest.raises(EtcdError, match=message):
        EtcdV3(**options)
