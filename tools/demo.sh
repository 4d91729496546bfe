#!/usr/bin/env bash
# `make demo`: the main job on the local lab, from a fresh machine.
# Boots 3 lab hosts, provisions the whole flannel vxlan fabric with site.yml
# (etcd with TLS, flanneld, Docker on the flannel lease), proves it with
# verify.yml (host x host ping matrix and a topology picture), and tears the lab
# down again. KEEP=1 leaves the lab running.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${HOSTS:-3}
suffix=${CROSSHOST_LAB_SUFFIX:-}
inventory=inventories/lab/hosts${suffix}.yml
out=${DEMO_OUTPUT:-$PWD/.build/demo}
bin=${CROSSHOST_PYTHON:-.venv/bin/python}
bin=$(dirname "$bin")

cleanup() {
  if [[ ${KEEP:-0} != 1 ]]; then
    "$bin/python" -m tools.lab down >/dev/null || true
  else
    echo "demo: lab left running (make lab-down${CROSSHOST_LAB:+ LAB=$CROSSHOST_LAB} removes it)"
  fi
}
trap cleanup EXIT

start=$(date +%s)
"$bin/python" -m tools.lab up --hosts "$hosts" --fabric flannel
"$bin/ansible-playbook" -i "$inventory" playbooks/site.yml
"$bin/ansible-playbook" -i "$inventory" playbooks/verify.yml \
  -e verify_topology=true -e "verify_output_dir=$out"
echo
cat "$out/matrix.txt"
echo "demo: topology picture: $out/topology.svg"
echo "demo: done in $(( $(date +%s) - start )) s"
