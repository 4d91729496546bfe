# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the flannel role: flanneld's config rules, on the controller.

The same validation the flannel_config module runs on the host (module_utils
flannel_network), available before anything changes anywhere, so a bad network
or a capacity smaller than the host count stops a whole run at preflight.
The documentation of each filter is in the YAML file named after it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.module_utils.flannel_network import (
    FlannelConfigError, backend_from_options, build_document, capacity, check_capacity, effective_config)


def flannel_network_config(network, subnet_len=None, subnet_min=None, subnet_max=None, backend=None,
                           expected_hosts=None):
    """flanneld's effective config (defaults filled) plus Capacity; fails like the module would."""
    options = dict(backend or {'type': 'vxlan'})
    try:
        backend_type, backend_options = backend_from_options(options)
        effective = effective_config(build_document(network, subnet_len or None, subnet_min or None,
                                                    subnet_max or None, backend_type, backend_options))
        check_capacity(effective, int(expected_hosts or 0))
    except FlannelConfigError as e:
        raise AnsibleFilterError("flannel: %s" % e)
    except (KeyError, TypeError, ValueError) as e:
        raise AnsibleFilterError("flannel: invalid backend %r (%s); give e.g. {type: vxlan, vni: 1}" % (backend, e))
    effective['Capacity'] = capacity(effective)
    return effective


class FilterModule(object):
    """crosshost.network flannel filters."""

    def filters(self):
        return {"flannel_network_config": flannel_network_config}
