"""A local community.vagrant collection, built at test time from a PyPI wheel.

molecule-plugins' vagrant driver calls the `community.vagrant.vagrant` module, and
that collection is only on Ansible Galaxy, which this machine cannot reach. The same
module ships inside PyPI's molecule-plugins 23.5.3 wheel
(molecule_plugins/vagrant/modules/vagrant.py): download that wheel into the cache,
wrap the module in a minimal collection, build it and install it offline into
.build/collections (ANSIBLE_COLLECTIONS_PATH). Nothing of it is ever committed.
"""
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from tools.lab import config
from tools.lab.util import LabError, log, run, write_atomic

WHEEL_SPEC = "molecule-plugins==23.5.3"
MODULE_IN_WHEEL = "molecule_plugins/vagrant/modules/vagrant.py"
VERSION = "1.0.1"                # what molecule-plugins 26 asks for
WHEELS = config.CACHE / "vagrant" / "wheels"
INSTALL_PATH = config.REPO / ".build" / "collections"
INSTALLED = INSTALL_PATH / "ansible_collections" / "community" / "vagrant"

GALAXY_YML = f"""\
# Built by tools/lab/vagrant_collection.py from PyPI's {WHEEL_SPEC} (not from Galaxy).
namespace: community
name: vagrant
version: {VERSION}
readme: README.md
authors: [molecule-plugins authors]
description: community.vagrant.vagrant, taken from the {WHEEL_SPEC} wheel for offline use
license: [MIT]
"""
RUNTIME_YML = "---\nrequires_ansible: '>=2.15.0'\n"


def _wheel():
    found = sorted(WHEELS.glob("molecule_plugins-23.5.3-*.whl"))
    if found:
        return found[-1]
    WHEELS.mkdir(parents=True, exist_ok=True)
    log(f"pip download {WHEEL_SPEC} (for the community.vagrant module)")
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
         "-d", WHEELS, WHEEL_SPEC])
    found = sorted(WHEELS.glob("molecule_plugins-23.5.3-*.whl"))
    if not found:
        raise LabError(f"pip download {WHEEL_SPEC} gave no wheel in {WHEELS}")
    return found[-1]


def install(force=False):
    """Install community.vagrant into .build/collections unless it is there already."""
    if (INSTALLED / "MANIFEST.json").exists() and not force:
        return INSTALLED
    wheel = _wheel()
    bindir = Path(sys.executable).parent
    galaxy = str(bindir / "ansible-galaxy") if (bindir / "ansible-galaxy").exists() else "ansible-galaxy"
    with tempfile.TemporaryDirectory(prefix="community-vagrant-") as tmp:
        src = Path(tmp) / "src"
        (src / "plugins" / "modules").mkdir(parents=True)
        (src / "meta").mkdir()
        with zipfile.ZipFile(wheel) as whl:
            (src / "plugins" / "modules" / "vagrant.py").write_bytes(whl.read(MODULE_IN_WHEEL))
        write_atomic(src / "galaxy.yml", GALAXY_YML)
        write_atomic(src / "meta" / "runtime.yml", RUNTIME_YML)
        write_atomic(src / "README.md", f"community.vagrant built from {wheel.name}\n")
        run([galaxy, "collection", "build", "--force", "--output-path", tmp, src])
        tarball = Path(tmp) / f"community-vagrant-{VERSION}.tar.gz"
        if INSTALLED.exists():
            shutil.rmtree(INSTALLED)
        run([galaxy, "collection", "install", "--offline", "--force", "-p", INSTALL_PATH, tarball])
    log(f"community.vagrant {VERSION} installed in {INSTALL_PATH} (from {wheel.name})")
    return INSTALLED
