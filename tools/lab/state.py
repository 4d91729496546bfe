"""The running lab's state file, and a lock so two lab commands never overlap."""
import fcntl
import json
from contextlib import contextmanager

from tools.lab import config
from tools.lab.util import write_atomic


def load():
    try:
        return json.loads(config.STATE_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def save(state):
    config.RUN.mkdir(parents=True, exist_ok=True)
    write_atomic(config.STATE_FILE, json.dumps(state, indent=2) + "\n")


def clear():
    config.STATE_FILE.unlink(missing_ok=True)


@contextmanager
def locked():
    config.CACHE.mkdir(parents=True, exist_ok=True)
    with open(config.LOCK_FILE, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
