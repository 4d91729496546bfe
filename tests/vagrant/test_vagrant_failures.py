"""Failure paths of the Vagrant tier: each names what to look at and leaves nothing behind.

Cheap on purpose (seconds, not VM boots): libvirtd with a wrong config, a VM that
never answers SSH within a short boot timeout, and a box build interrupted halfway.
"""
import os
import signal
import subprocess
import time

from vagrant_helpers import PYTHON, REPO, vagrant_box, vagrant_cli, vagrant_libvirt


def test_libvirtd_that_does_not_start_is_reported_and_cleaned_up(clean_machine):
    proc = vagrant_cli("up", "--vms", "1", env={"CROSSHOST_LIBVIRTD_CONFIG": "/nonexistent/libvirtd.conf"})
    assert proc.returncode == 1
    assert "libvirtd did not start" in proc.stderr
    assert str(vagrant_libvirt.DAEMON_LOG) in proc.stderr
    assert "cleaning up" in proc.stderr


def test_vm_that_never_answers_ssh_names_its_console_log(clean_machine):
    # 30 s is far less than a TCG boot (~50 s and more): the tool gives up waiting.
    proc = vagrant_cli("up", "--vms", "1", env={"CROSSHOST_VAGRANT_UP_TIMEOUT": "30"})
    assert proc.returncode == 1, proc.stderr
    console = vagrant_libvirt.LOGS / "vm1.console.log"
    assert "did not answer SSH within 30 s" in proc.stderr
    assert str(console) in proc.stderr
    assert console.exists()                 # kept for the post-mortem


def test_interrupted_box_build_leaves_nothing_and_keeps_the_cached_box(clean_machine):
    box = vagrant_box.box_path()
    had_box = box.exists()
    # A runner started in the background (`cmd &` in a script) passes SIGINT on as
    # ignored, and Python then keeps ignoring it: restore the terminal's default, so the
    # build sees the Ctrl-C this test is about.
    build = subprocess.Popen([PYTHON, "-m", "tools.lab.vagrant", "box", "--force"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".build-") for p in vagrant_box.VAGRANT_DIR.iterdir()):
        assert build.poll() is None and time.monotonic() < deadline, build.communicate()
        time.sleep(0.05)
    time.sleep(1)                            # well inside the build (copying the image)
    os.killpg(build.pid, signal.SIGINT)      # Ctrl-C reaches the whole process group
    err = build.communicate(timeout=120)[1]
    assert build.returncode == 130, err
    assert "box build interrupted; removing the unfinished build" in err
    assert vagrant_box.unfinished_builds() == []
    assert box.exists() == had_box


def test_killed_box_build_is_removed_by_the_next_command(clean_machine):
    build = subprocess.Popen([PYTHON, "-m", "tools.lab.vagrant", "box", "--force"], cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".build-") for p in vagrant_box.VAGRANT_DIR.iterdir()):
        assert build.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1)
    os.killpg(build.pid, signal.SIGKILL)     # no chance to clean up
    build.wait(timeout=30)
    assert vagrant_box.unfinished_builds()
    proc = vagrant_cli("box")                # the cached box is reused, the remains removed
    assert proc.returncode == 0, proc.stderr
    assert "removing unfinished box build" in proc.stderr
    assert vagrant_box.unfinished_builds() == []
