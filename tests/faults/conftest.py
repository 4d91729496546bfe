"""Fixtures for the fault tests (helpers live in fault_helpers.py).

One lab of 3 hosts (all 3 etcd members, flannel fabric) per module, converged once
with playbooks/site.yml (flannel vxlan, Docker live-restore on), always taken down
at the end, even when a test or the converge fails. CROSSHOST_LAB picks the lab
instance like the lab tool does (unset: the default lab).
"""
import os

import pytest
import yaml

from fault_helpers import BASE_VARS, HOSTS, INVENTORY, LOG_DIR, ensure_image, lab, playbook, reset_logs
from tools.lab import lifecycle, state  # importable once fault_helpers set sys.path

if os.geteuid() != 0:
    pytest.skip("the lab needs root (namespaces, bridges, mounts)", allow_module_level=True)


@pytest.fixture(scope="module")
def fabric():
    if lifecycle.is_running(state.load()):
        pytest.fail("a lab is already running on this instance (CROSSHOST_LAB); take it down first "
                    "or pick another instance")
    lab("down")        # sweeps what a crashed earlier run may have left
    reset_logs()       # playbook reports of this run only, in LOG_DIR
    try:
        up = lab("up", "--hosts", str(len(HOSTS)), "--etcd-members", str(len(HOSTS)), "--fabric", "flannel")
        assert up.returncode == 0, up.stdout + up.stderr
        inventory = yaml.safe_load(INVENTORY.read_text())
        converge = playbook("site.yml", extra=BASE_VARS)
        assert converge.rc == 0, "site.yml did not converge:\n" + converge.summary()
        for host in HOSTS:
            ensure_image(host, inventory)
        yield {"inventory": inventory, "hosts": HOSTS}
    finally:
        down = lab("down")
        print(down.stderr + f"playbook reports: {LOG_DIR}")
