# -*- coding: utf-8 -*-
# Copyright (c) crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters on controller files: the checksum of an air-gapped artifact, so that a
wrong or missing local tarball or script stops the run at its checks, before a copy
reaches any host. The documentation of each filter is in the YAML file named after it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.network.plugins.module_utils.files import file_digest


def file_checksum(path, algorithm='sha256'):
    """Hex digest of a regular file on the controller; '' when there is no such file."""
    if algorithm not in hashlib.algorithms_guaranteed:
        raise AnsibleFilterError("file_checksum: unknown algorithm %r; use one of %s"
                                 % (algorithm, ', '.join(sorted(hashlib.algorithms_guaranteed))))
    return file_digest(os.path.expanduser(str(path or '')), algorithm) or ''


class FilterModule(object):
    """crosshost.network filters on controller files."""

    def filters(self):
        return {'file_checksum': file_checksum}
