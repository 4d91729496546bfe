#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: config_files
short_description: Ensure a set of directories and small text files in one call
description:
  - Ensures that each directory in O(directories) exists and that each file in O(files) holds
    exactly the given content, with the given mode, owner and group. Directories are handled
    first, in order, then files, in order.
  - One call does what one M(ansible.builtin.file) or M(ansible.builtin.template) task per path
    would do. The roles use it for their units, drop-ins and helper scripts, because each task
    costs a round trip to the host and most of a role's run on an unchanged host is spent in
    those round trips. Render templates on the controller with the
    P(ansible.builtin.template#lookup) lookup and pass the text as O(files[].content).
  - A file whose content differs is replaced atomically (a temporary file in the same directory,
    then a rename). A file with the right content is never rewritten; only its mode, owner and
    group are corrected when they differ.
  - Secrets (private keys) go in O(files[].secret_content) instead of O(files[].content). That
    value is masked in the module's output and logs, and its diff names the file without showing
    either side. The roles install their certificates and keys this way, in one call per host.
version_added: 0.1.0
author:
  - crosshost.network maintainers (@crosshost)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change. Like M(ansible.builtin.copy), it does not run O(files[].validate).
  diff_mode:
    support: full
    details: One diff per changed file (content, mode, owner, group) and per created directory.
  platform:
    platforms: posix
options:
  directories:
    description:
      - Directories to create (with missing parents) or to correct. An existing directory is
        never emptied.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      mode: &config_files_mode
        description: Its permissions, as an octal string such as V("0755").
        type: str
        required: true
      owner: &config_files_owner
        description: Its owner. Left as it is when not given.
        type: str
      group: &config_files_group
        description: Its group. Left as it is when not given.
        type: str
  files:
    description:
      - Files to write. The parent directory must exist or be listed in O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file.
        type: path
        required: true
      content:
        description:
          - The whole content of the file, written as given (no newline is added).
          - Exactly one of O(files[].content) and O(files[].secret_content) is required.
        type: str
      secret_content:
        description:
          - Like O(files[].content), for a secret such as a private key. The value is masked
            (C(no_log)) and diff mode does not show it, only that the file changed.
          - Read a controller file with P(ansible.builtin.file#lookup) and its option C(rstrip=false), so that
            the file's last newline is kept.
        type: str
      mode: *config_files_mode
      owner: *config_files_owner
      group: *config_files_group
      validate:
        description:
          - A command that checks new content before it replaces the file. It is split into
            words like a shell command line, but no shell runs it. C(%s) in it is replaced by the
            path of a temporary copy that has the same file name as O(files[].path) (in its own
            temporary directory), so V(systemd-analyze verify %s) accepts a unit file.
          - A non-zero exit fails the module and leaves every file of this call that comes after
            it unchanged (files before it are already written).
        type: str
"""

EXAMPLES = r"""
- name: Install a helper script and the unit that runs it
  crosshost.network.config_files:
    directories:
      - path: /usr/local/lib/crosshost
        mode: "0755"
    files:
      - path: /usr/local/lib/crosshost/hello
        content: "#!/bin/sh\necho hello\n"
        mode: "0755"
      - path: /etc/systemd/system/hello.service
        content: "{{ lookup('ansible.builtin.template', 'hello.service.j2') }}"
        mode: "0644"
        validate: systemd-analyze verify %s
  register: hello_files
  notify: Reload systemd

- name: Restart hello only when its unit changed
  ansible.builtin.systemd_service:
    name: hello.service
    state: restarted
  when: "'/etc/systemd/system/hello.service' in hello_files.changed_paths"
"""

RETURN = r"""
changed_paths:
  description: The directories and files that were created or changed (or would be, in check mode).
  type: list
  elements: str
  returned: always
  sample: [/etc/systemd/system/hello.service]
created_paths:
  description:
    - The directories and files among RV(changed_paths) that did not exist before the call.
    - In check mode they are still missing afterwards. A role can use this to skip starting a
      unit whose file this run would create, which systemd cannot know in check mode.
  type: list
  elements: str
  returned: always
  sample: [/etc/systemd/system/hello.service]
"""

import os
import shlex
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crosshost.network.plugins.module_utils.files import read_text, write_atomic

PATH_SPEC = dict(
    path=dict(type="path", required=True),
    mode=dict(type="str", required=True),
    owner=dict(type="str"),
    group=dict(type="str"),
)


def check_entry(module, field, entry):
    try:
        mode = int(entry["mode"], 8)
    except (TypeError, ValueError):
        mode = -1
    if not 0 <= mode <= 0o7777:
        module.fail_json(msg="%s.mode: %r is not an octal mode; write it as a quoted string such as "
                             "\"0644\"" % (field, entry["mode"]))
    if entry.get("validate") is not None and "%s" not in entry["validate"]:
        module.fail_json(msg="%s.validate: %r has no %%s; put %%s where the file's path goes, for "
                             "example \"systemd-analyze verify %%s\"" % (field, entry["validate"]))


def check_parent(module, field, entry, listed_directories):
    """A file's directory must be there or listed (listed ones are made, parents included,
    before the files); checked up front, so a refused call has made no directory."""
    directory = os.path.dirname(os.path.normpath(entry["path"])) or "."
    if not os.path.isdir(directory) and directory not in listed_directories:
        module.fail_json(msg="%s: the directory %s does not exist; list it under directories "
                             "(they are made before the files)" % (field, directory))


def attributes(module, entry):
    """The argument dict that AnsibleModule.set_fs_attributes_if_different expects."""
    return module.load_file_common_arguments(
        dict(path=entry["path"], mode=entry["mode"], owner=entry["owner"], group=entry["group"]))


def file_text(entry):
    """The content a file entry asks for, secret or not."""
    return entry["content"] if entry["content"] is not None else entry["secret_content"]


def run_validate(module, field, entry):
    """Run the entry's validate command on a same-named temporary copy of the new content."""
    command = entry["validate"]
    workdir = tempfile.mkdtemp(prefix="crosshost-validate-")
    try:
        candidate = os.path.join(workdir, os.path.basename(entry["path"]))
        with open(candidate, "w") as handle:
            handle.write(file_text(entry))
        argv = [word.replace("%s", candidate) for word in shlex.split(command)]
        rc, out, err = module.run_command(argv)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if rc != 0:
        module.fail_json(msg="%s: the new content of %s failed validation (%s exited %d), so the file "
                             "was not replaced: %s" % (field, entry["path"], command, rc,
                                                       (err or out).strip()),
                         rc=rc, stdout=out, stderr=err)


def ensure_directory(module, field, entry, diffs):
    path = entry["path"]
    if os.path.exists(path) and not os.path.isdir(path):
        module.fail_json(msg="%s: %s exists and is not a directory; remove it or choose another path"
                             % (field, path))
    created = not os.path.isdir(path)
    if created:
        diffs.append(dict(before_header=path, after_header=path, before="(absent)\n",
                          after="(directory)\n"))
        if module.check_mode:
            return True
        os.makedirs(path)
    diff = dict(before={"path": path}, after={"path": path})
    changed = module.set_fs_attributes_if_different(attributes(module, entry), created, diff=diff)
    if changed and not created and diff["before"] != diff["after"]:
        diffs.append(diff)
    return changed


def ensure_file(module, field, entry, diffs):
    path = entry["path"]
    if os.path.isdir(path):
        module.fail_json(msg="%s: %s is a directory; a file was expected there" % (field, path))
    exists = os.path.exists(path)
    before = read_text(path) if exists else ""
    if exists and before is None:
        module.fail_json(msg="%s: cannot read %s to compare it; check that it is a readable text file"
                             % (field, path))
    text = file_text(entry)
    content_changed = not exists or before != text
    if content_changed:
        # Like ansible.builtin.copy, check mode does not validate: on a fresh host the
        # unit's binary (which systemd-analyze verify wants) is not installed yet.
        if entry.get("validate") and not module.check_mode:
            run_validate(module, field, entry)
        if entry["secret_content"] is not None:
            diffs.append(dict(before_header=path, after_header=path,
                              before="(secret content, not shown)\n" if exists else "(absent)\n",
                              after="(new secret content, not shown)\n"))
        else:
            diffs.append(dict(before_header=path, after_header=path, before=before, after=text))
        if module.check_mode and not exists:
            return True
        if not module.check_mode:
            write_atomic(module, path, text, int(entry["mode"], 8))
    diff = dict(before={"path": path}, after={"path": path})
    attrs_changed = module.set_fs_attributes_if_different(attributes(module, entry), False, diff=diff)
    if attrs_changed and diff["before"] != diff["after"]:
        diffs.append(diff)
    return content_changed or attrs_changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[], options=PATH_SPEC),
            files=dict(type="list", elements="dict", default=[],
                       options=dict(PATH_SPEC, content=dict(type="str"),
                                    secret_content=dict(type="str", no_log=True),
                                    validate=dict(type="str")),
                       mutually_exclusive=[("content", "secret_content")],
                       required_one_of=[("content", "secret_content")]),
        ),
        supports_check_mode=True,
    )
    entries = [("%s[%d]" % (kind, index), kind, entry)
               for kind in ("directories", "files") for index, entry in enumerate(module.params[kind])]
    # Every entry is checked before the first path is touched.
    listed_directories = set(os.path.normpath(entry["path"]) for entry in module.params["directories"])
    for field, kind, entry in entries:
        check_entry(module, field, entry)
        # Check mode cannot know whether an earlier task makes the directory (another
        # config_files call often does), so there it reports the change instead.
        if kind == "files" and not module.check_mode:
            check_parent(module, field, entry, listed_directories)
    changed_paths = []
    created_paths = []
    diffs = []
    for field, kind, entry in entries:
        ensure = ensure_directory if kind == "directories" else ensure_file
        existed = os.path.lexists(entry["path"])
        if ensure(module, field, entry, diffs):
            changed_paths.append(entry["path"])
            if not existed:
                created_paths.append(entry["path"])
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths, created_paths=created_paths,
                     diff=diffs)


if __name__ == "__main__":
    main()
