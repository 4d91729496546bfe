"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates a virtualenv per sanity test and installs pip into it by
running get-pip-<version>.py fetched from a host that is not reachable here.
This script does the same job from a pip wheel that `make test-sanity`
downloads from PyPI: it runs pip straight from the wheel to install the
requested packages into the interpreter running it.

Installed by tools/ansible-test-offline.sh as ~/.ansible/test/cache/get_pip_X_Y.py.
"""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# get-pip options ansible-test passes that plain `pip install` does not know.
GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")


def main():
    wheels = sorted(glob.glob(os.path.join(HERE, "pip-*.whl")))
    if not wheels:
        sys.exit("no pip wheel next to %s; run `make test-sanity` to fetch it" % __file__)
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-error
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    sys.exit(pip_main(["install", "--no-cache-dir"] + args))


if __name__ == "__main__":
    main()
