# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and atomically replacing small text files (module side)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile


def read_text(path):
    """The file's text, or None when it cannot be read (missing, a directory, no permission)."""
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_atomic(module, path, text, mode=None):
    """Write `text` to `path` through a temp file in the same directory and atomic_move.

    A file that existed keeps its owner and mode (atomic_move copies them); a new file gets
    `mode` when it is given. Missing parent directories are created (0755).
    """
    directory = os.path.dirname(path) or "."
    existed = os.path.exists(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if not existed and mode is not None:
        os.chmod(path, mode)
