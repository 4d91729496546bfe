"""Small helpers shared by the lab modules: commands, hashing, logging."""
import hashlib
import subprocess
import sys
from pathlib import Path


class LabError(Exception):
    """A failure with a message meant for the person running the lab."""


def log(msg):
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def run(argv, check=True, capture=False, **kwargs):
    """Run argv (a list, never a shell string); raise LabError with its output on failure."""
    argv = [str(a) for a in argv]
    proc = subprocess.run(argv, text=True, capture_output=capture or check, check=False, **kwargs)
    if check and proc.returncode != 0:
        out = ((proc.stdout or "") + (proc.stderr or "")).strip()
        raise LabError(f"command failed ({proc.returncode}): {' '.join(argv)}\n{out[-3000:]}")
    return proc


def quiet(argv):
    """Run a clean-up command whose failure only means 'already gone'."""
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False).returncode == 0


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path, text, mode=0o644):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def pids_with_args(*needles):
    """PIDs whose command line contains every needle (to find our own strays after a crash)."""
    import os
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [a.decode(errors="replace") for a in args]
        if all(any(n in a for a in text) for n in needles):
            found.append(int(entry))
    return found


def mounts_under(directory):
    """Mount points below directory, deepest first (so nested ones are unmounted first)."""
    prefix = str(directory).rstrip("/") + "/"
    points = []
    with open("/proc/self/mounts") as handle:
        for line in handle:
            point = line.split()[1].replace("\\040", " ")
            if point.startswith(prefix):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)
