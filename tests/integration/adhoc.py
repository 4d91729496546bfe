"""Run crosshost.network modules through real Ansible, ad hoc, and return their results."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.environ.get("CROSSHOST_PYTHON", sys.executable)
ANSIBLE = os.path.join(os.path.dirname(PYTHON), "ansible")


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, ".build", "collections"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "ANSIBLE_NOCOLOR": "1",
    })
    env.update(extra or {})
    return env


def run_module(module, args, check=False, diff=False, env=None):
    """Run crosshost.network.<module> ad hoc on localhost; return its result dict.

    `args` is a dict, passed as JSON so lists and nested options survive.
    """
    name = module if "." in module else "crosshost.network." + module
    cmd = [ANSIBLE, "localhost", "-c", "local", "-i", "localhost,",
           "-e", "ansible_python_interpreter=" + PYTHON,
           "-m", name, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, env=ansible_env(env), capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
        result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible did not report a result:\nstdout:\n%s\nstderr:\n%s"
                             % (proc.stdout, proc.stderr))
    return result
