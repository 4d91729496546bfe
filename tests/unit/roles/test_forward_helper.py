"""The docker role's FORWARD helper (templates/crosshost-forward.j2), run by /bin/sh
against a fake iptables that keeps its chains in a JSON file and can be told to
fail its next N changes the way iptables-nft does when another process commits
to the ruleset at the same moment. Real iptables runs in the lab scenarios; this
checks the helper's own logic: exact rules, other chains left alone, retries."""
import fcntl
import json
import os
import subprocess
import sys

import jinja2
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEMPLATE = os.path.join(REPO, "roles", "docker", "templates", "crosshost-forward.j2")
CHAIN = "CROSSHOST-FWD"

FAKE_IPTABLES = r'''
import json, os, sys
state_path = os.environ["FAKE_IPTABLES_STATE"]
with open(state_path) as f:
    state = json.load(f)
args = [a for a in sys.argv[1:] if a != "-w"]
op, chain, rule = args[0], (args[1] if len(args) > 1 else None), args[2:]
chains = state["chains"]
if op in ("-N", "-F", "-A", "-I", "-D", "-X") and state["fail_next"] > 0:
    state["fail_next"] -= 1
    json.dump(state, open(state_path, "w"))
    sys.exit("iptables: Resource temporarily unavailable.")
if chain not in chains and op != "-N":
    sys.exit("iptables: No chain/target/match by that name.")
if op == "-N":
    if chain in chains:
        sys.exit("iptables: Chain already exists.")
    chains[chain] = []
elif op == "-F":
    chains[chain] = []
elif op == "-X":
    del chains[chain]
elif op == "-A":
    chains[chain].append(rule)
elif op == "-I":
    chains[chain].insert(int(rule[0]) - 1, rule[1:])
elif op == "-D":
    if rule not in chains[chain]:
        sys.exit(1)
    chains[chain].remove(rule)
elif op == "-C":
    sys.exit(0 if rule in chains[chain] else 1)
elif op == "-S":
    print("-N " + chain)
    for r in chains[chain]:
        print("-A " + chain + " " + " ".join(r))
json.dump(state, open(state_path, "w"))
'''


@pytest.fixture
def helper(tmp_path):
    """Render the helper for two networks; return a runner and the fake's state file."""
    with open(TEMPLATE, encoding="utf-8") as handle:
        source = handle.read()
    script = jinja2.Template(source).render(ansible_managed="test", docker_forward_chain=CHAIN,
                                            docker__forward_networks=["10.100.0.0/16", "192.168.10.0/24"],
                                            docker__forward_lock=str(tmp_path / "forward.lock"))
    (tmp_path / "crosshost-forward").write_text(script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "iptables").write_text("#!%s\n%s" % (sys.executable, FAKE_IPTABLES))
    (bin_dir / "iptables").chmod(0o755)
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")      # retries without waiting
    (bin_dir / "sleep").chmod(0o755)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"fail_next": 0, "chains": {
        "FORWARD": [["-j", "DOCKER-USER"]],
        "DOCKER-USER": [["-s", "172.20.0.0/16", "-j", "DROP"], ["-j", "RETURN"]]}}))

    env = dict(os.environ, PATH="%s:%s" % (bin_dir, os.environ["PATH"]), FAKE_IPTABLES_STATE=str(state))
    argv = ["/bin/sh", str(tmp_path / "crosshost-forward")]

    def run(action):
        return subprocess.run(argv + [action], env=env, capture_output=True, text=True, check=False)

    def start(action):
        return subprocess.Popen(argv + [action], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def set_state(**changes):
        data = json.loads(state.read_text())
        data.update(changes)
        state.write_text(json.dumps(data))

    def chains():
        return json.loads(state.read_text())["chains"]

    run.set_state, run.chains, run.start, run.lock = set_state, chains, start, tmp_path / "forward.lock"
    return run


WANTED = [["-s", "10.100.0.0/16", "-j", "ACCEPT"], ["-d", "10.100.0.0/16", "-j", "ACCEPT"],
          ["-s", "192.168.10.0/24", "-j", "ACCEPT"], ["-d", "192.168.10.0/24", "-j", "ACCEPT"]]


def test_apply_creates_the_chain_and_one_jump_and_keeps_other_rules(helper):
    assert helper("check").returncode == 1
    result = helper("apply")
    assert result.returncode == 0, result.stderr
    chains = helper.chains()
    assert chains[CHAIN] == WANTED
    assert chains["DOCKER-USER"] == [["-j", CHAIN], ["-s", "172.20.0.0/16", "-j", "DROP"], ["-j", "RETURN"]]
    assert chains["FORWARD"] == [["-j", "DOCKER-USER"]]
    assert helper("check").returncode == 0
    assert helper("apply").returncode == 0
    assert helper.chains() == chains                   # a second apply changes nothing


def test_apply_repairs_a_drifted_chain(helper):
    assert helper("apply").returncode == 0
    chains = helper.chains()
    chains[CHAIN] = WANTED[:1] + [["-s", "10.9.9.0/24", "-j", "ACCEPT"]]
    helper.set_state(chains=chains)
    assert helper("check").returncode == 1
    assert helper("apply").returncode == 0
    assert helper.chains()[CHAIN] == WANTED


def test_apply_retries_when_a_concurrent_change_fails_an_iptables_call(helper):
    helper.set_state(fail_next=2)
    result = helper("apply")
    assert result.returncode == 0, result.stderr
    assert "attempt 1 to apply chain %s failed; retrying" % CHAIN in result.stderr
    assert helper("check").returncode == 0


def test_apply_gives_up_after_five_attempts_with_a_message(helper):
    helper.set_state(fail_next=1000)
    result = helper("apply")
    assert result.returncode == 1
    assert result.stderr.count("failed; retrying") == 5
    assert "could not apply chain %s" % CHAIN in result.stderr


def test_apply_waits_for_a_run_that_holds_the_lock(helper):
    """A Docker start runs the unit while the role may run the helper: one at a time."""
    before = helper.chains()
    with open(helper.lock, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = helper.start("apply")
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=1)
        assert helper.chains() == before               # nothing touched while the lock is held
    stderr = waiting.communicate(timeout=60)[1]
    assert waiting.returncode == 0, stderr
    assert helper.chains()[CHAIN] == WANTED


def test_apply_reports_what_it_found_when_the_chain_stays_wrong(helper):
    """When the last check fails, the chain and DOCKER-USER go to stderr (the unit's journal)."""
    helper.set_state(fail_next=0)
    bin_dir = os.path.dirname(helper.lock) + "/bin"
    # an iptables whose -C never matches: the chain never looks right
    with open(bin_dir + "/iptables", encoding="utf-8") as handle:
        fake = handle.read()
    with open(bin_dir + "/iptables", "w", encoding="utf-8") as handle:
        handle.write(fake.replace('sys.exit(0 if rule in chains[chain] else 1)', 'sys.exit(1)'))
    result = helper("apply")
    assert result.returncode == 1
    assert "is not as wanted after applying" in result.stderr
    assert "-A DOCKER-USER -s 172.20.0.0/16 -j DROP" in result.stderr


def test_remove_deletes_only_its_jump_and_chain(helper):
    assert helper("apply").returncode == 0
    assert helper("remove").returncode == 0
    chains = helper.chains()
    assert CHAIN not in chains
    assert chains["DOCKER-USER"] == [["-s", "172.20.0.0/16", "-j", "DROP"], ["-j", "RETURN"]]
