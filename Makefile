# crosshost.network: the one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= $(CURDIR)/.venv
BIN         := $(VENV)/bin
PYTHON      := $(BIN)/python
CACHE_DIR   ?= $(HOME)/.cache/crosshost-network
HOSTS       ?= 3
SEGMENTS    ?= 1
ETCD_MEMBERS ?= 1
FABRIC      ?= flannel
LAB_IMAGE   ?= full
# LAB=1..9 runs another lab beside the default one (own bridges, subnets, inventory
# inventories/lab/hosts-N.yml); empty is the default lab (inventories/lab/hosts.yml).
LAB         ?=
BUILD       := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
COLLECTION  := $(COLLECTIONS)/ansible_collections/crosshost/network
SANITY_TREE := $(BUILD)/sanity/ansible_collections/crosshost/network

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export CROSSHOST_CACHE := $(CACHE_DIR)
export CROSSHOST_PYTHON := $(PYTHON)
export CROSSHOST_LAB := $(LAB)
export CROSSHOST_LAB_SUFFIX := $(if $(filter-out 0,$(LAB)),-$(LAB),)

.PHONY: help deps collection build test test-unit test-sanity test-lint \
        test-integration test-lab test-faults test-molecule bench demo lab-build lab-up lab-down lab-status clean \
        test-vagrant test-vagrant-kernel vagrant-box vagrant-clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

deps: ## install Debian packages and the Python virtualenv (.venv)
	@tools/install-deps.sh

# The collection as Ansible finds it: a link to this checkout, so edits apply at once.
collection: deps
	@mkdir -p $(dir $(COLLECTION))
	@ln -sfn $(CURDIR) $(COLLECTION)
	@# Tools that install the collection under test (ansible-lint, molecule) leave copies
	@# that shadow the checkout; a stale copy of ourselves is always wrong.
	@rm -rf $(CURDIR)/.ansible/collections/ansible_collections/crosshost

build: deps ## build the collection tarball with ansible-galaxy
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD)

test: deps collection build test-unit test-sanity test-lint test-integration test-lab test-faults test-molecule test-vagrant-kernel ## run every test (what CI runs)
	@echo "make test: all suites passed"

test-unit: collection ## unit tests of pure logic (pytest)
	$(PYTHON) -m pytest -q tests/unit

test-sanity: deps ## ansible-test sanity on a clean copy of the tracked tree
	@rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	@git ls-files -co --exclude-standard -z | xargs -0 tar -cf - | tar -xf - -C $(SANITY_TREE)
	@tools/ansible-test-offline.sh $(VENV)
	cd $(SANITY_TREE) && git init -q . && $(BIN)/ansible-test sanity --python 3.11 --color no

test-lint: collection ## ansible-lint, production profile
	$(BIN)/ansible-lint --profile production

test-integration: collection ## modules on real etcd, Open vSwitch and dockerd (needs root)
	$(PYTHON) -m pytest -q tests/integration

test-lab: collection ## lab tool tests: nspawn hosts over SSH (needs root)
	$(PYTHON) -m pytest -q tests/lab

# Every lab scenario, each on its own freshly booted lab.
MOLECULE_SCENARIOS ?= lab-ping negative fresh-hosts fresh-hosts-ovs-gre etcd-cluster flannel-vxlan flannel-host-gw flannel-udp ovs-gre pipework
test-faults: collection ## fault tests on a 3-host lab: etcd member/quorum loss, restarts, reboot, backend change, a reset host rejoining (needs root)
	$(PYTHON) -m pytest -q tests/faults

test-molecule: collection ## molecule scenarios on the nspawn lab (MOLECULE_SCENARIOS=...; needs root)
	tools/run-molecule.sh $(MOLECULE_SCENARIOS)

bench: collection ## benchmarks: figures and side-by-side ratios, then a summary (never fail on timing)
	$(PYTHON) tests/bench/results.py --reset
	$(PYTHON) tests/bench/bench_modules.py
	$(PYTHON) tests/bench/bench_lab.py
	$(PYTHON) tests/bench/bench_config_files.py
	$(PYTHON) tests/bench/bench_converge.py
	$(PYTHON) tests/bench/bench_converge.py --image bare
	$(PYTHON) tests/bench/bench_datapath.py
	$(PYTHON) tests/bench/results.py

demo: collection ## the main job on the local lab
	tools/demo.sh

lab-build: collection ## build (or reuse) the cached lab image and artifacts
	$(PYTHON) -m tools.lab build

lab-up: collection ## boot HOSTS=N lab hosts (SEGMENTS=K, ETCD_MEMBERS=M, FABRIC=flannel|ovs-gre|all, LAB_IMAGE=full|bare, LAB=1..9)
	$(PYTHON) -m tools.lab up --hosts $(HOSTS) --segments $(SEGMENTS) --etcd-members $(ETCD_MEMBERS) --fabric $(FABRIC) --image $(LAB_IMAGE)

lab-down: ## stop the lab and remove everything it created
	$(PYTHON) -m tools.lab down

lab-status: ## show what the lab runs
	$(PYTHON) -m tools.lab status

clean: ## remove build output (keeps the cache and the venv)
	rm -rf $(BUILD) tests/output

# Vagrant tier (docs/vagrant.md): qemu TCG VMs with real kernels via vagrant-libvirt.
# Each scenario boots 2 VMs under software emulation (~15 min here), so `make test`
# runs only the one the nspawn lab cannot cover at all: Open vSwitch's kernel
# datapath with real GRE. `make test-vagrant` runs them all.
VAGRANT_SCENARIOS ?= vagrant-ping vagrant-ovs-gre vagrant-flannel-vxlan
VAGRANT_IN_TEST   ?= vagrant-ovs-gre

vagrant-box: collection ## build (or reuse) the local Vagrant box local/bookworm and add it
	$(PYTHON) -m tools.lab.vagrant box

test-vagrant: collection ## molecule on Vagrant VMs (VAGRANT_SCENARIOS; needs root, slow)
	$(PYTHON) -m tools.lab.vagrant molecule $(VAGRANT_SCENARIOS)

test-vagrant-kernel: collection ## what make test runs of the Vagrant tier: failure paths, then OVS kernel-datapath GRE (needs root)
	$(PYTHON) -m pytest -q tests/vagrant
	$(PYTHON) -m tools.lab.vagrant molecule $(VAGRANT_IN_TEST)

vagrant-clean: ## remove Vagrant VMs, libvirtd, networks, volumes, iptables chains (keeps the box)
	$(PYTHON) -m tools.lab.vagrant clean
