"""Helpers for the fault tests: drive the lab tool, run commands in lab hosts, run
playbooks with a machine-readable report, read etcd and flannel state, wait loops.

A plain module, not conftest.py: test suites importing `conftest` clash in one session.
Every check reads real state from the hosts; waits poll with generous deadlines and
never assert on durations (the machine is shared and noisy).
"""
import base64
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("CROSSHOST_PYTHON") or str(REPO / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():
    PYTHON = sys.executable
BIN = Path(PYTHON).parent
sys.path.insert(0, str(REPO))

from tools.lab import config  # noqa: E402  (honours CROSSHOST_LAB, like the lab tool)

INVENTORY = config.INVENTORY
LOG_DIR = REPO / ".build" / "faults" / (f"lab{config.INSTANCE}" if config.INSTANCE else "lab")
PREFIX = "/coreos.com/network"
HOSTS = ["lab1", "lab2", "lab3"]       # all three are etcd members and flannel hosts
# What the fabric is converged with; every later run passes the same (plus its change).
BASE_VARS = {"flannel_backend": {"type": "vxlan", "vni": 1}, "docker_live_restore": True}
APP = "fault-app"                      # the long-running container each test watches
IMAGE = "crosshost/busybox:lab"        # the name verify.yml uses on the lab (group_vars)


def lab(*args, timeout=600):
    """Run the lab CLI; return the CompletedProcess (never raises on failure)."""
    return subprocess.run([PYTHON, "-m", "tools.lab", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False)


def sh(host, script, check=True, timeout=180):
    """Run a bash script inside a lab host (nsenter through the lab tool: no SSH needed)."""
    proc = lab("exec", host, "--", "bash", "-c", script, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{host}: {script!r} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


def out(host, script, **kwargs):
    return sh(host, script, **kwargs).stdout.strip()


def wait_for(what, probe, timeout=180, interval=2):
    """Poll probe() until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = probe()
        except AssertionError as err:      # a command failing while things come back
            last = err
        if last and not isinstance(last, AssertionError):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last}")
        time.sleep(interval)


# --- Ansible -----------------------------------------------------------------------

class PlaybookRun:
    """One ansible-playbook run, reported by the ansible.posix.json callback."""

    def __init__(self, proc, reports, log):
        self.rc = proc.returncode
        self.log = log
        # The callback prints one report per playbook on the command line: merge them.
        self.report = {"plays": [play for report in reports for play in report.get("plays", [])]}
        self.stats = {}
        for report in reports:
            for host, counts in report.get("stats", {}).items():
                merged = self.stats.setdefault(host, {})
                for key, value in counts.items():
                    merged[key] = merged.get(key, 0) + value

    def changed(self, host):
        return self.stats.get(host, {}).get("changed")

    def results(self, task_name, skipped=True):
        """host -> result of the last run of the task(s) whose name ends with task_name
        (with skipped=False, the last run that was not skipped)."""
        found = {}
        for play in self.report.get("plays", []):
            for task in play.get("tasks", []):
                if task["task"]["name"].endswith(task_name):
                    found.update((host, result) for host, result in task["hosts"].items()
                                 if skipped or not result.get("skipped"))
        return found

    def host_results(self, host):
        """[(task name, result)] of every task run on host, in order (skips included)."""
        return [(task["task"]["name"], task["hosts"][host]) for play in self.report.get("plays", [])
                for task in play.get("tasks", []) if host in task["hosts"]]

    def failures(self):
        """[(host, task name, message)] of every failed task result."""
        failed = []
        for play in self.report.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task["hosts"].items():
                    if result.get("failed") or result.get("unreachable"):
                        text = " ".join(str(result.get(k, "")) for k in ("msg", "cmd", "stderr", "stdout"))
                        failed.append((host, task["task"]["name"], text.strip()))
        return failed

    def changed_tasks(self, host):
        return [task["task"]["name"] for play in self.report.get("plays", []) for task in play.get("tasks", [])
                if task["hosts"].get(host, {}).get("changed")]

    def summary(self):
        lines = [f"rc={self.rc}, stats={json.dumps(self.stats)}, log {self.log}"]
        lines += [f"FAILED {host} [{task}]: {msg[:1500]}" for host, task, msg in self.failures()]
        return "\n".join(lines)


_RUNS = [0]


def reset_logs():
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    _RUNS[0] = 0


def playbook(*names, extra=None, limit=None, check=False, timeout=1200):
    """ansible-playbook on the lab inventory (--check with check=True); the JSON report
    is kept under LOG_DIR."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    _RUNS[0] += 1
    stem = f"{_RUNS[0]:02d}-" + "+".join(Path(n).stem for n in names)
    vars_file = LOG_DIR / f"{stem}.vars.json"
    vars_file.write_text(json.dumps(extra or {}))
    argv = [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "-e", f"@{vars_file}"]
    if limit:
        argv += ["--limit", limit]
    if check:
        argv.append("--check")
    argv += [str(REPO / "playbooks" / n) for n in names]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="0", ANSIBLE_PIPELINING="1",
               ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections")),
               PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    log = LOG_DIR / f"{stem}.json"
    log.write_text(proc.stdout)
    (LOG_DIR / f"{stem}.stderr").write_text(proc.stderr)
    reports, decoder, text, at = [], json.JSONDecoder(), proc.stdout, 0
    try:
        while text[at:].strip():
            at += len(text[at:]) - len(text[at:].lstrip())
            report, at = decoder.raw_decode(text, at)
            reports.append(report)
    except ValueError:
        reports = []
    if len(reports) != len(names):
        raise AssertionError(f"ansible-playbook printed no JSON report per playbook (rc {proc.returncode}), "
                             f"see {log}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return PlaybookRun(proc, reports, log)


def verify_matrix(extra=None):
    """playbooks/verify.yml (fails on any loss); return the run after checking it is green."""
    run = playbook("verify.yml", extra=dict(extra or {}, verify_output_dir=str(LOG_DIR / "verify")))
    assert run.rc == 0, "connectivity matrix not green:\n" + run.summary()
    verdict = run.results("Fail on any loss")["localhost"]
    assert "every pair reachable" in verdict.get("msg", ""), verdict
    return run


# --- etcd --------------------------------------------------------------------------

def etcdctl(host, args, endpoints=None, check=True, timeout=120):
    """etcdctl v3 on an etcd member, with the member's TLS files (/etc/etcd/etcdctl.env)."""
    # etcdctl refuses ETCDCTL_ENDPOINTS (from the env file) beside --endpoints.
    where = f"unset ETCDCTL_ENDPOINTS; etcdctl --endpoints={endpoints}" if endpoints else "etcdctl"
    return sh(host, "set -a; . /etc/etcd/etcdctl.env; set +a; "
                    f"{where} --dial-timeout=3s --command-timeout=5s {args}", check=check, timeout=timeout)


def client_url(inventory, host):
    return f"https://{address(inventory, host)}:2379"


def endpoint_health(host, inventory, members):
    """{url: healthy?} for each member, asked from `host`."""
    urls = [client_url(inventory, m) for m in members]
    proc = etcdctl(host, "endpoint health -w json", endpoints=",".join(urls), check=False)
    try:
        rows = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"etcdctl endpoint health on {host} printed no JSON (rc {proc.returncode}):\n"
                             f"{proc.stdout}{proc.stderr}")
    health = {row["endpoint"]: bool(row.get("health")) for row in rows}
    assert sorted(health) == sorted(urls), (health, urls)
    return health


def cluster_healthy(host, inventory, members):
    health = endpoint_health(host, inventory, members)
    return health if health and all(health.values()) and len(health) == len(members) else None


def member_list(host):
    return json.loads(etcdctl(host, "member list -w json").stdout)["members"]


def etcd_items(host, prefix="", endpoints=None):
    """{key: value} for every key under prefix ("" = the whole key space)."""
    query = f"get {shlex.quote(prefix)} --prefix -w json" if prefix else "get '' --from-key -w json"
    proc = etcdctl(host, query, endpoints=endpoints)
    kvs = json.loads(proc.stdout).get("kvs") or []
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode() for kv in kvs}


def leases(host):
    """{subnet key: parsed lease} under the flannel prefix."""
    items = etcd_items(host, PREFIX + "/subnets/")
    return {key: json.loads(value) for key, value in items.items()}


def lease_of(lease_map, public_ip):
    keys = [key for key, value in lease_map.items() if value.get("PublicIP") == public_ip]
    assert len(keys) == 1, f"expected one lease for {public_ip}, found {keys} in {sorted(lease_map)}"
    return keys[0]


def flannel_config(host):
    return json.loads(etcd_items(host, PREFIX + "/config")[PREFIX + "/config"])


# --- hosts -------------------------------------------------------------------------

def address(inventory, host):
    return inventory["all"]["children"]["lab"]["hosts"][host]["lab_underlay_address"]


def subnet_env(host):
    env = {}
    for line in out(host, "cat /run/flannel/subnet.env").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env


def docker0(host):
    data = json.loads(out(host, "ip -4 -j addr show dev docker0"))
    return [f"{a['local']}/{a['prefixlen']}" for a in data[0]["addr_info"]]


def main_pid(host, unit):
    return int(out(host, f"systemctl show -p MainPID --value {unit}"))


def active(host, *units):
    proc = sh(host, "systemctl is-active " + " ".join(units), check=False)
    return proc.stdout.split() == ["active"] * len(units)


def flannel_links(host):
    links = json.loads(out(host, "ip -j -d link show"))
    return {link["ifname"]: link for link in links
            if link["ifname"] == "flannel0" or link["ifname"].startswith("flannel.")}


def overlay_routes(host, network):
    """Routes to other hosts' flannel subnets (the host's own docker0 route left out)."""
    net = ipaddress.ip_network(network)
    routes = json.loads(out(host, "ip -4 -j route show"))
    return [r for r in routes if r.get("dst", "default") != "default" and r.get("dev") != "docker0"
            and ipaddress.ip_network(r["dst"] if "/" in r["dst"] else r["dst"] + "/32").subnet_of(net)]


def ensure_image(host, inventory):
    url = inventory["all"]["children"]["lab"]["hosts"][host]["lab_artifact_url"]
    sh(host, f"docker image inspect {IMAGE} >/dev/null 2>&1 || "
             f"curl -fsS {url}/busybox-image.tar | docker import - {IMAGE} >/dev/null")


def ensure_app(host, inventory):
    """A running test container named APP on the host; return its inspect data."""
    ensure_image(host, inventory)
    sh(host, f"[ \"$(docker inspect -f '{{{{.State.Running}}}}' {APP} 2>/dev/null)\" = true ] || "
             f"{{ docker rm -f {APP} >/dev/null 2>&1; docker run -d --init --name {APP} {IMAGE} sleep 86400 >/dev/null; }}")
    return app(host)


def app(host):
    data = json.loads(out(host, f"docker inspect {APP}"))[0]
    return {"id": data["Id"], "running": data["State"]["Running"], "pid": data["State"]["Pid"],
            "started": data["State"]["StartedAt"], "ip": data["NetworkSettings"]["IPAddress"]}


def app_pings(host, target_ip):
    proc = sh(host, f"docker exec {APP} ping -c 3 -W 2 {target_ip}", check=False)
    return proc.returncode == 0 and " 0% packet loss" in proc.stdout
