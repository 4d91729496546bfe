#!/usr/bin/env bash
# Lets `ansible-test sanity` build its per-test virtualenvs without the
# download host it normally uses for pip's bootstrap script (unreachable here;
# PyPI is reachable). Idempotent.
set -euo pipefail
venv=${1:?usage: ansible-test-offline.sh VENV}
here=$(cd "$(dirname "$0")" && pwd)
cache=$HOME/.ansible/test/cache
# The pip version ansible-test bootstraps, as its own code pins it.
pip_version=$("$venv/bin/python" -c '
import re, ansible_test._internal.python_requirements as r, inspect
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r.get_venv_packages)).group(1))')
mkdir -p "$cache"
if ! compgen -G "$cache/pip-$pip_version-*.whl" >/dev/null; then
  "$venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
fi
cp "$here/ansible_test_pip_bootstrap.py" "$cache/get_pip_${pip_version//./_}.py"
