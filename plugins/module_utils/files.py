# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading, checksumming and atomically replacing files (module side; the filters use file_digest too)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
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


def file_digest(path, algorithm="sha256", chunk_size=1024 * 1024):
    """Hex digest of a regular file, or None when there is no such file (or it cannot be read)."""
    if not os.path.isfile(path):
        return None
    digest = hashlib.new(algorithm)
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(chunk_size), b""):
                digest.update(chunk)
    except (IOError, OSError):
        return None
    return digest.hexdigest()
