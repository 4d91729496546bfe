"""Where the lab keeps things, and the fixed names and ranges it uses.

Everything the lab creates on the machine carries the `xhl` prefix, so `down`
and a reader of `ip link` can tell it apart from anything else.
"""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CROSSHOST_CACHE") or Path.home() / ".cache" / "crosshost-network")

# Several labs can run side by side (one per developer task or molecule
# scenario): CROSSHOST_LAB=1..9 picks an instance with its own bridges, subnets,
# state and inventory. Unset (or 0) is the default lab.
INSTANCE = int(os.environ.get("CROSSHOST_LAB") or 0)
if not 0 <= INSTANCE <= 9:
    raise SystemExit(f"CROSSHOST_LAB={INSTANCE}: choose a lab instance from 0 to 9")
_SUFFIX = f"-{INSTANCE}" if INSTANCE else ""

IMAGES = CACHE / "images"          # cached root filesystems, one dir per recipe hash
ARTIFACTS = CACHE / "artifacts"    # what the artifact server serves
BUILD = CACHE / "build"            # intermediate build output (flanneld, pipework)
SSH_DIR = CACHE / "ssh"            # the lab's own root login key pair
RUN = CACHE / f"run{_SUFFIX}"      # state of the running lab; removed by `down`
STATE_FILE = RUN / "state.json"
LOGS = CACHE / f"logs{_SUFFIX}"    # console logs; kept after `down` for post-mortems
LOCK_FILE = CACHE / f"lab{_SUFFIX}.lock"

# Instances share inventories/lab/group_vars (the lab's variable mapping).
INVENTORY = REPO / "inventories" / "lab" / f"hosts{_SUFFIX}.yml"

PREFIX = f"xh{INSTANCE}" if INSTANCE else "xhl"   # bridges, netns and veths start with this
HOST_NAME = "lab{}"                # lab1, lab2, ... (Ansible and machine names)
UNDERLAY_IF = "eth0"               # the underlay interface inside every host

# Segment k uses 192.168.(SUBNET_BASE + k).0/24. The machine holds .254 on every
# lab bridge (SSH from the controller, artifact server on segment 0); with more
# than one segment the router namespace holds .1 and hosts start at .11.
SUBNET_BASE = 150 + 10 * INSTANCE
MACHINE_OCTET = 254
ROUTER_OCTET = 1
FIRST_HOST_OCTET = 11
ARTIFACT_PORT = 18080

# Per-lab ext4 file system for the hosts' /var/lib/docker (overlay2 refuses
# overlayfs as its backing file system). Sparse, so the size costs nothing.
DOCKER_FS_SIZE = "40G"

FLANNEL_VERSION = "v0.28.9"
ETCD_TARBALL_VERSION = "v3.5.1"    # served for etcd_install_method: tarball
DEBIAN_SUITE = "bookworm"

# Seconds for every host to answer SSH after its start.
SSH_TIMEOUT = float(os.environ.get("CROSSHOST_LAB_SSH_TIMEOUT", "60"))

# Fault injection for the lab's own tests: comma-separated host names that boot
# with ssh.service masked, so they never answer SSH.
FAULT_NO_SSH = [n for n in os.environ.get("CROSSHOST_LAB_FAULT_NO_SSH", "").split(",") if n]
