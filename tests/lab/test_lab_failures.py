"""Failure paths: a host that never answers SSH, Ctrl-C during up, down after a crash."""
import os
import signal
import subprocess
import time

from lab_helpers import PYTHON, REPO, config, lab, leftovers


def test_host_without_ssh_fails_naming_it_with_its_console(no_lab_running):
    proc = lab("up", "--hosts", "2", env={"CROSSHOST_LAB_FAULT_NO_SSH": "lab2",
                                          "CROSSHOST_LAB_SSH_TIMEOUT": "4"})
    assert proc.returncode == 1
    # lab2 is the second host on segment 0 of this lab instance (CROSSHOST_LAB)
    address = f"192.168.{config.SUBNET_BASE}.{config.FIRST_HOST_OCTET + 1}"
    assert f"host lab2 ({address}) did not answer SSH within 4 s" in proc.stderr
    assert "lab2.console.log" in proc.stderr and "Reached target" in proc.stderr
    assert (config.LOGS / "lab2.console.log").exists()      # kept for the post-mortem
    assert leftovers() == []


def _interrupt_up_while_booting(sig):
    up = subprocess.Popen([PYTHON, "-m", "tools.lab", "up", "--hosts", "3"], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (config.RUN / "hosts" / "lab2").exists():
        assert up.poll() is None and time.monotonic() < deadline, up.communicate()
        time.sleep(0.01)
    up.send_signal(sig)
    err = up.communicate(timeout=60)[1]
    return up.returncode, err


def test_ctrl_c_during_up_cleans_up(no_lab_running):
    code, err = _interrupt_up_while_booting(signal.SIGINT)
    assert code == 130 and "interrupted" in err
    assert leftovers() == []


def test_down_cleans_up_after_a_killed_up(no_lab_running):
    code = _interrupt_up_while_booting(signal.SIGKILL)[0]
    assert code == -signal.SIGKILL
    assert leftovers()                      # the crash left things behind ...
    proc = lab("down")
    assert proc.returncode == 0, proc.stderr
    assert leftovers() == []                # ... and down removed them


def test_down_works_without_a_state_file(no_lab_running):
    assert lab("up", "--hosts", "2").returncode == 0
    os.unlink(config.STATE_FILE)            # as if the state were lost
    assert lab("status").returncode == 1
    assert lab("down").returncode == 0
    assert leftovers() == []
