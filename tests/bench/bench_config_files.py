"""Benchmark: writing a role's files with one config_files call versus a template task per file.

On N fresh lab hosts (default 3), the same FILES files (default 4, the docker role's
count) are written once, then both playbooks run ROUNDS times (default 5) on the
unchanged hosts, alternating, so both see the same machine load: one with a
`template` task per file, one with a single `crosshost.network.config_files` task.
Prints the median no-op run of each and the ratio. Records every figure for
`make bench`. Never fails on timing. Runs on its own lab instance (CROSSHOST_LAB=6
unless set) with the Ansible settings the README recommends.

    python tests/bench/bench_config_files.py [--hosts 3] [--files 4] [--rounds 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_converge import BIN, INVENTORY, env, lab  # noqa: E402
from results import record  # noqa: E402

TEMPLATE = "# {{ ansible_managed }}\n[Unit]\nDescription=bench file {{ item }} on {{ inventory_hostname }}\n"


def playbooks(workdir, files):
    """Write the template, the per-file playbook and the one-call playbook into workdir."""
    with open(os.path.join(workdir, "unit.j2"), "w") as handle:
        handle.write(TEMPLATE)
    header = "- hosts: all\n  gather_facts: false\n  tasks:\n"
    per_file = header + "".join(
        "    - name: file %d\n      ansible.builtin.template:\n        src: unit.j2\n"
        "        dest: /etc/crosshost-bench/file%d.conf\n        mode: \"0644\"\n"
        "      vars: {item: %d}\n" % (n, n, n) for n in range(files))
    one_call = header + "    - name: all files\n      crosshost.network.config_files:\n        files:\n" + "".join(
        "          - path: /etc/crosshost-bench/file%d.conf\n"
        "            content: \"{{ lookup('ansible.builtin.template', 'unit.j2', template_vars={'item': %d}) }}\"\n"
        "            mode: \"0644\"\n" % (n, n) for n in range(files))
    setup = header + ("    - name: directory\n      ansible.builtin.file:\n        path: /etc/crosshost-bench\n"
                      "        state: directory\n        mode: \"0755\"\n")
    paths = {}
    for name, text in (("setup", setup), ("per_file", per_file), ("one_call", one_call)):
        paths[name] = os.path.join(workdir, name + ".yml")
        with open(paths[name], "w") as handle:
            handle.write(text)
    return paths


def run(path, expect_changed):
    start = time.perf_counter()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY, path], env=env(),
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (path, proc.stdout[-3000:]))
    if not expect_changed and "changed=0" not in proc.stdout:
        raise SystemExit("%s changed something on a no-op run:\n%s" % (path, proc.stdout[-3000:]))
    return wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lab("down")
    lab("up", "--hosts", str(args.hosts), "--fabric", "flannel")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            paths = playbooks(workdir, args.files)
            run(paths["setup"], True)
            run(paths["per_file"], True)
            times = {"per_file": [], "one_call": []}
            for _round in range(args.rounds):
                for name in ("per_file", "one_call"):
                    times[name].append(run(paths[name], False))
    finally:
        lab("down")
    per_file = statistics.median(times["per_file"])
    one_call = statistics.median(times["one_call"])
    print("no-op run writing %d files on %d hosts, median of %d:" % (args.files, args.hosts, args.rounds))
    print("  a template task per file   %6.2f s" % per_file)
    print("  one config_files call      %6.2f s" % one_call)
    print("  ratio one call / per file  %6.2f" % (one_call / per_file))
    label = "%d files on %d hosts" % (args.files, args.hosts)
    record("files", "no-op, template task per file (%s)" % label, per_file, "s")
    record("files", "no-op, one config_files call (%s)" % label, one_call, "s")
    record("files", "one config_files call / template per file", one_call / per_file, "x", kind="ratio")


if __name__ == "__main__":
    main()
