#!/usr/bin/env bash
# Installs everything the tests, the lab and the demo need on a fresh Debian 12
# machine: Debian packages (apt-get) and a Python virtualenv from PyPI.
# Idempotent: a second run only checks.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}

apt_packages=(
  etcd-server etcd-client            # real etcd 3.4 for flannel_config tests
  openvswitch-switch python3-openvswitch
  docker.io                          # real dockerd for docker_bip tests
  debootstrap systemd-container      # lab hosts (systemd-nspawn)
  iproute2 iptables openssh-client openssl busybox-static e2fsprogs
  iperf3 graphviz
  shellcheck                         # ansible-test sanity skips its shellcheck test without it
  vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients   # Vagrant tier (docs/vagrant.md)
  dnsmasq-base qemu-system-x86 qemu-utils
)

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The dockerd and OVS daemons are started by the tests themselves, in their own
# namespaces; never leave the machine-wide ones running from the package install.

stamp=$venv/.requirements.sha256
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "install-deps: creating virtualenv $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
