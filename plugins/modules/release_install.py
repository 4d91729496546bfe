#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: release_install
short_description: Install binaries from a release tarball into a versioned directory and link them
description:
  - One call does the four steps of an install from an upstream release tarball. It makes the
    versioned directory O(dest), downloads O(url) to O(archive) unless the file there already
    has the pinned O(checksum), unpacks the archive into O(dest) when one of O(binaries) is
    missing there (or the archive was just downloaded), and points each of O(links) at its
    binary.
  - Every step is skipped when its result is already in place, so a call on an installed host
    reads two directories and one checksum and changes nothing.
  - Without O(url) the archive must already be at O(archive), for example copied from the
    controller by M(ansible.builtin.copy) on an air-gapped site; the module then checks it
    against O(checksum) when one is given.
  - A download goes to a temporary file beside O(archive) and replaces it only after its
    checksum matched, so a failed or wrong download never leaves a file that looks installed.
version_added: 0.1.0
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the archive, the directory and the links and reports what would change; downloads nothing.
  diff_mode:
    support: full
    details: The archive's checksum, the binaries present and each link's target, before and after.
  platform:
    platforms: posix
options:
  url:
    description:
      - Where to download the release tarball from (http, https or file). Leave it out when the
        archive is put at O(archive) another way.
    type: str
  checksum:
    description:
      - The archive's pinned checksum, V(sha256:<hex>) (any algorithm of Python's hashlib, such as
        V(sha512:<hex>)); a bare hex string means sha256.
      - Required with O(url).
    type: str
    default: ""
  archive:
    description: Where the tarball is kept on the host (a gzip-compressed tar).
    type: path
    required: true
  dest:
    description:
      - The versioned directory the binaries are unpacked into (made, with its parents, mode
        0755). Name it after the release, so that an upgrade unpacks beside the old one and
        only the links move.
    type: path
    required: true
  binaries:
    description:
      - The files, relative to O(dest), that the release provides. The archive is unpacked when
        one of them is missing, and each must be there afterwards.
    type: list
    elements: str
    required: true
  members:
    description:
      - The archive members to unpack, as tar names them. All of them when empty.
    type: list
    elements: str
    default: []
  strip_components:
    description: Leading path components to strip from member names (the release's top directory).
    type: int
    default: 0
  links:
    description:
      - Symbolic links to make or correct. An existing file or link at O(links[].path) is
        replaced; a directory there is an error.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The link, for example V(/usr/local/bin/flanneld).
        type: path
        required: true
      binary:
        description: The binary it points to, one of O(binaries).
        type: str
        required: true
  timeout:
    description: Seconds the download may wait for the server.
    type: int
    default: 30
  validate_certs:
    description: Whether an https download checks the server's certificate.
    type: bool
    default: true
notes:
  - Files are created by the user the module runs as (root in the roles), the directory
    mode 0755 and the archive mode 0644; the binaries keep the modes the archive gives them
    and are not chowned to the archive's owners.
"""

EXAMPLES = r"""
- name: Install flanneld v0.28.9 (download, unpack, link; each only when needed)
  crosshost.network.release_install:
    url: https://github.com/flannel-io/flannel/releases/download/v0.28.9/flannel-v0.28.9-linux-amd64.tar.gz
    checksum: "sha256:{{ flannel_sha256 }}"
    archive: /opt/flannel/flannel-v0.28.9-linux-amd64.tar.gz
    dest: /opt/flannel/v0.28.9
    members: [flanneld]
    binaries: [flanneld]
    links:
      - {path: /usr/local/bin/flanneld, binary: flanneld}
  notify: Restart flanneld

- name: Install etcd from a tarball copied from the controller
  crosshost.network.release_install:
    checksum: "{{ etcd_checksum }}"
    archive: /opt/etcd/v3.5.1/etcd.tar.gz
    dest: /opt/etcd/v3.5.1
    strip_components: 1
    binaries: [etcd, etcdctl]
    links:
      - {path: /usr/local/bin/etcd, binary: etcd}
      - {path: /usr/local/bin/etcdctl, binary: etcdctl}
"""

RETURN = r"""
downloaded:
  description: Whether the archive was downloaded (or would be, in check mode).
  type: bool
  returned: always
unpacked:
  description: Whether the archive was unpacked into O(dest) (or would be).
  type: bool
  returned: always
changed_links:
  description: The links that were made or corrected (or would be).
  type: list
  elements: str
  returned: always
  sample: [/usr/local/bin/flanneld]
archive_checksum:
  description: The archive's checksum after the call, in the form of O(checksum); empty when it is missing (check mode).
  type: str
  returned: always
  sample: sha256:3f5b0c...
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.crosshost.network.plugins.module_utils.files import file_digest

CHUNK = 1024 * 1024


def parse_checksum(module):
    """(algorithm, lower-case hex) from the checksum option, or (None, None) when empty."""
    text = module.params["checksum"].strip()
    if not text:
        if module.params["url"]:
            module.fail_json(msg="checksum: a download needs a pinned checksum; set it to "
                                 "\"sha256:<hex>\" of the file at %s" % module.params["url"])
        return None, None
    algorithm, _sep, digest = text.rpartition(":")
    algorithm = algorithm.lower() or "sha256"
    if algorithm not in hashlib.algorithms_guaranteed:
        module.fail_json(msg="checksum: unknown algorithm %r; write it as \"sha256:<hex>\"" % algorithm)
    expected_length = hashlib.new(algorithm).digest_size * 2
    digest = digest.lower()
    if len(digest) != expected_length or any(c not in "0123456789abcdef" for c in digest):
        module.fail_json(msg="checksum: %r is not a %s digest (%d hex digits); write it as \"%s:<hex>\""
                             % (text, algorithm, expected_length, algorithm))
    return algorithm, digest


def check_links(module):
    binaries = set(module.params["binaries"])
    for index, link in enumerate(module.params["links"]):
        if link["binary"] not in binaries:
            module.fail_json(msg="links[%d].binary: %r is not one of binaries (%s); add it there or "
                                 "fix the name" % (index, link["binary"], ", ".join(sorted(binaries))))
        if os.path.isdir(link["path"]) and not os.path.islink(link["path"]):
            module.fail_json(msg="links[%d].path: %s is a directory; a link cannot replace it, so choose "
                                 "another path or remove the directory" % (index, link["path"]))


def download(module, algorithm, expected):
    """Fetch url to a temp file beside the archive, check it, then move it into place."""
    url, archive = module.params["url"], module.params["archive"]
    response, info = fetch_url(module, url, timeout=module.params["timeout"])
    if response is None or info.get("status") not in (200, None):
        module.fail_json(msg="url: downloading %s failed (%s %s); check the URL and that the host "
                             "can reach it, or copy the archive to %s and leave url out"
                             % (url, info.get("status"), info.get("msg", ""), archive))
    directory = os.path.dirname(archive) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(archive) + ".")
    digest = hashlib.new(algorithm)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != expected:
            module.fail_json(msg="checksum: the file downloaded from %s has %s:%s, not the pinned %s:%s; "
                                 "fix checksum or url (nothing was installed)"
                             % (url, algorithm, digest.hexdigest(), algorithm, expected))
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, archive)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def unpack(module):
    params = module.params
    argv = ["tar", "-xzf", params["archive"], "-C", params["dest"], "--no-same-owner"]
    if params["strip_components"]:
        argv.append("--strip-components=%d" % params["strip_components"])
    argv.extend(params["members"])
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="archive: tar could not unpack %s into %s (exit %d): %s; check that it is "
                             "the release tarball and that members and strip_components match it"
                             % (params["archive"], params["dest"], rc, (err or out).strip()),
                         rc=rc, stdout=out, stderr=err)
    missing = [name for name in params["binaries"] if not os.path.isfile(os.path.join(params["dest"], name))]
    if missing:
        module.fail_json(msg="binaries: %s not in %s after unpacking %s (strip_components=%d); check "
                             "binaries, members and strip_components against the archive"
                             % (", ".join(missing), params["dest"], params["archive"], params["strip_components"]))


def ensure_link(module, path, target):
    """Point path at target through a temporary link and a rename (never a moment without it)."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, path)


def state_text(archive_checksum, present, links):
    lines = ["archive: %s" % (archive_checksum or "(absent)"),
             "binaries present: %s" % (", ".join(present) or "(none)")]
    lines.extend("link %s -> %s" % (path, target or "(absent)") for path, target in links)
    return "\n".join(lines) + "\n"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str"),
            checksum=dict(type="str", default=""),
            archive=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            binaries=dict(type="list", elements="str", required=True),
            members=dict(type="list", elements="str", default=[]),
            strip_components=dict(type="int", default=0),
            links=dict(type="list", elements="dict", default=[],
                       options=dict(path=dict(type="path", required=True),
                                    binary=dict(type="str", required=True))),
            timeout=dict(type="int", default=30),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not params["binaries"]:
        module.fail_json(msg="binaries: name at least one file the release provides, such as flanneld")
    if params["strip_components"] < 0:
        module.fail_json(msg="strip_components: %d is negative; use 0 or more" % params["strip_components"])
    algorithm, expected = parse_checksum(module)
    check_links(module)

    # What is there now.
    archive, dest = params["archive"], params["dest"]
    actual = file_digest(archive, algorithm or "sha256")
    archive_ok = actual is not None and (expected is None or actual == expected)
    if not archive_ok and not params["url"]:
        if actual is None:
            problem = "is missing"
        else:
            problem = "has %s:%s, not the pinned %s:%s" % (algorithm, actual, algorithm, expected)
        if not (module.check_mode and actual is None):
            module.fail_json(msg="archive: %s %s and no url is given; copy the release tarball there "
                                 "first or set url" % (archive, problem))
    present = [name for name in params["binaries"] if os.path.isfile(os.path.join(dest, name))]
    wanted_links = [(link["path"], os.path.join(dest, link["binary"])) for link in params["links"]]
    links_before = [(path, os.readlink(path) if os.path.islink(path) else None) for path, _target in wanted_links]

    download_needed = not archive_ok and bool(params["url"])
    unpack_needed = download_needed or len(present) < len(params["binaries"])
    changed_links = [path for (path, target), (_path, current) in zip(wanted_links, links_before)
                     if current != target]
    dest_missing = not os.path.isdir(dest)
    prefix = (algorithm or "sha256") + ":"
    before_checksum = prefix + actual if actual else ""
    after_checksum = prefix + expected if download_needed else before_checksum

    if not module.check_mode:
        if dest_missing:
            os.makedirs(dest, 0o755)
        if download_needed:
            download(module, algorithm, expected)
        if unpack_needed:
            unpack(module)
        for path, target in wanted_links:
            if path in changed_links:
                ensure_link(module, path, target)
    diff = dict(before=state_text(before_checksum, present, links_before),
                after=state_text(after_checksum, list(params["binaries"]), wanted_links))
    module.exit_json(changed=dest_missing or download_needed or unpack_needed or bool(changed_links),
                     downloaded=download_needed, unpacked=unpack_needed, changed_links=changed_links,
                     archive_checksum=after_checksum, diff=diff)


if __name__ == "__main__":
    main()
