"""Faults on a converged flannel vxlan fabric (3 hosts, 3 etcd members, TLS), in order.

Each test breaks one thing the way an operator, a crash or a power cut would, checks
the real state on the hosts (systemd, links, routes, etcd keys, containers) and
leaves the fabric healthy for the next one. Nothing is mocked; waits poll with
generous deadlines and no assertion depends on how long something took.
"""
import contextlib
import ipaddress
import json
import secrets

from fault_helpers import (APP, BASE_VARS, PREFIX, active, address, app, app_pings, client_url, cluster_healthy,
                           docker0, endpoint_health, ensure_app, etcd_items, etcdctl, flannel_config,
                           flannel_links, lab, lease_of, leases, main_pid, member_list, out,
                           overlay_routes, playbook, sh, subnet_env, verify_matrix, wait_for)

SENTINEL_PREFIX = "/crosshost-faults/"


def snapshot(fabric):
    """What must survive a fault: per host the lease, docker0, daemons' PIDs, the app."""
    inventory = fabric["inventory"]
    lease_map = leases("lab3")
    state = {}
    for host in fabric["hosts"]:
        state[host] = {
            "subnet": subnet_env(host)["FLANNEL_SUBNET"],
            "lease_key": lease_of(lease_map, address(inventory, host)),
            "docker0": docker0(host),
            "flanneld_pid": main_pid(host, "flanneld"),
            "dockerd_pid": main_pid(host, "docker"),
        }
    return state


def assert_cluster_heals(fabric, members_before, asked_from="lab3"):
    inventory = fabric["inventory"]
    health = wait_for("all 3 etcd members healthy",
                      lambda: cluster_healthy(asked_from, inventory, fabric["hosts"]), timeout=180)
    assert sorted(health) == sorted(client_url(inventory, h) for h in fabric["hosts"])
    members = member_list(asked_from)
    # The same members (IDs) rejoined: none was removed or re-added.
    assert {(m["ID"], m.get("name")) for m in members} == members_before
    return members


def test_etcd_member_down_site_converges_through_failover(fabric):
    """The first etcd endpoint (lab1, first in every endpoint list) stops. site.yml on
    the hosts whose etcd is up converges with nothing changed, flannel_config fails
    over to the next endpoint, flanneld on lab1 keeps its lease, and the member
    rejoins (same ID, catches up on a write made while it was down) once started."""
    inventory = fabric["inventory"]
    members_before = {(m["ID"], m["name"]) for m in member_list("lab3")}
    before = snapshot(fabric)
    down_url = client_url(inventory, "lab1")
    marker_key, marker = SENTINEL_PREFIX + "written-while-lab1-down", secrets.token_hex(8)

    sh("lab1", "systemctl stop etcd.service")
    try:
        assert not active("lab1", "etcd")
        assert endpoint_health("lab3", inventory, ["lab1"]) == {down_url: False}
        etcdctl("lab3", f"put {marker_key} {marker}")

        # lab1 is the member under maintenance: converge the others (a full site.yml would
        # start lab1's etcd again first - the etcd role heals stopped members, which the
        # molecule etcd-cluster scenario covers - and flannel_config would never fail over).
        run = playbook("site.yml", extra=BASE_VARS, limit="all:!lab1")
        assert run.rc == 0, run.summary()
        assert {h: run.changed(h) for h in ("lab2", "lab3")} == {"lab2": 0, "lab3": 0}, \
            {h: run.changed_tasks(h) for h in ("lab2", "lab3")}
        # The dry run (the write itself is skipped: the dry run found etcd in sync).
        config_results = run.results("Ensure the flannel network config in etcd", skipped=False)
        assert config_results, "flannel_config did not run"
        for result in config_results.values():
            assert result["endpoint"] == client_url(inventory, "lab2"), result
            assert not result.get("changed")
            assert len(result["leases"]) == 3
        # flanneld on lab1 fails over on its own and keeps its lease.
        assert active("lab1", "flanneld", "docker")
        assert subnet_env("lab1")["FLANNEL_SUBNET"] == before["lab1"]["subnet"]
        assert main_pid("lab1", "flanneld") == before["lab1"]["flanneld_pid"]
    finally:
        sh("lab1", "systemctl start etcd.service", check=False)

    assert_cluster_heals(fabric, members_before, asked_from="lab1")
    # lab1 caught up: a serializable read answered by lab1's own copy of the data.
    wait_for("lab1 to hold the key written while it was down",
             lambda: etcdctl("lab1", f"get {marker_key} --print-value-only --consistency=s",
                             endpoints=down_url).stdout.strip() == marker, timeout=60)
    after = snapshot(fabric)
    assert after == before
    etcdctl("lab3", f"del {marker_key}")


def test_etcd_quorum_lost_site_fails_clearly_and_changes_nothing(fabric):
    """Two of three members are cut off (peer port 2380 dropped on lab1 and lab2, both
    ways): etcd runs everywhere but has no quorum, which no restart can fix. site.yml
    stops in the etcd play naming etcd and the unhealthy endpoints, with changed=0 on
    every host; flanneld and Docker keep running on the same leases. Once the cut is
    removed the cluster is healthy again."""
    inventory = fabric["inventory"]
    members_before = {(m["ID"], m["name"]) for m in member_list("lab3")}
    before = snapshot(fabric)
    config_before = flannel_config("lab3")
    rules = ["INPUT -p tcp --dport 2380 -j DROP", "INPUT -p tcp --sport 2380 -j DROP"]
    cut = ["lab1", "lab2"]
    try:
        for host in cut:
            for rule in rules:
                sh(host, f"iptables -I {rule}")
        wait_for("the cluster to lose quorum",
                 lambda: not any(endpoint_health("lab3", inventory, fabric["hosts"]).values()), timeout=120)

        # Fewer health retries than the default 30: the outcome is the same, only sooner.
        run = playbook("site.yml", extra=dict(BASE_VARS, etcd_health_retries=3, etcd_health_delay=2))
        assert run.rc != 0, run.summary()
        failures = run.failures()
        assert failures, run.summary()
        failed_hosts = {host for host, _task, _msg in failures}
        assert failed_hosts == set(fabric["hosts"]), run.summary()
        for host, task, message in failures:
            assert "etcd" in (task + message).lower(), (host, task, message)
            assert "unhealthy" in message, (host, task, message)
            assert client_url(inventory, host) in message, (host, task, message)
        # It stopped in the etcd play: flannel_config and the later roles never ran.
        assert not run.results("Ensure the flannel network config in etcd")
        assert {h: run.changed(h) for h in fabric["hosts"]} == {h: 0 for h in fabric["hosts"]}, \
            {h: run.changed_tasks(h) for h in fabric["hosts"]}
        for host in fabric["hosts"]:
            assert active(host, "etcd", "flanneld", "docker"), host
            assert subnet_env(host)["FLANNEL_SUBNET"] == before[host]["subnet"]
            assert main_pid(host, "flanneld") == before[host]["flanneld_pid"]
            assert main_pid(host, "docker") == before[host]["dockerd_pid"]
    finally:
        for host in cut:
            for rule in rules:
                sh(host, f"while iptables -D {rule} 2>/dev/null; do :; done", check=False)

    assert_cluster_heals(fabric, members_before)
    assert flannel_config("lab3") == config_before
    assert snapshot(fabric) == before


def test_flanneld_restart_keeps_lease_and_containers(fabric):
    """flanneld restarts on lab2: the same subnet (subnet.env and the etcd lease key),
    Docker is not bounced (Wants=, not Requires=), running containers keep their IDs
    and addresses and still reach the other hosts' containers, and the matrix is green."""
    inventory = fabric["inventory"]
    apps = {host: ensure_app(host, inventory) for host in fabric["hosts"]}
    before = snapshot(fabric)
    lease_keys = sorted(leases("lab3"))

    sh("lab2", "systemctl restart flanneld.service")
    wait_for("flanneld active on lab2", lambda: active("lab2", "flanneld"))

    assert main_pid("lab2", "flanneld") != before["lab2"]["flanneld_pid"], "flanneld was not restarted"
    assert subnet_env("lab2")["FLANNEL_SUBNET"] == before["lab2"]["subnet"]
    assert lease_of(leases("lab3"), address(inventory, "lab2")) == before["lab2"]["lease_key"]
    assert sorted(leases("lab3")) == lease_keys
    assert main_pid("lab2", "docker") == before["lab2"]["dockerd_pid"]
    assert docker0("lab2") == before["lab2"]["docker0"]
    assert "flannel.1" in flannel_links("lab2")
    for host in fabric["hosts"]:
        now = app(host)
        assert now["running"] and now["id"] == apps[host]["id"] and now["ip"] == apps[host]["ip"], (host, now)
    for source, target in (("lab2", "lab1"), ("lab2", "lab3"), ("lab1", "lab2")):
        assert wait_for(f"{APP} on {source} to reach {target}'s",
                        lambda: app_pings(source, apps[target]["ip"]), timeout=60)
    verify_matrix()


def test_host_reboot_brings_the_fabric_back_without_ansible(fabric):
    """lab3 is power-cycled (fresh network namespace: no links, routes or rules survive;
    disk kept, /run empty) and nothing else runs: etcd, flanneld and Docker start in
    that order, flanneld gets the same lease back, docker0 comes up on it, the member
    is healthy again and the matrix is green."""
    inventory = fabric["inventory"]
    members_before = {(m["ID"], m["name"]) for m in member_list("lab1")}
    before = snapshot(fabric)
    boot_id = out("lab3", "cat /proc/sys/kernel/random/boot_id")

    restarted = lab("restart", "lab3")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert out("lab3", "cat /proc/sys/kernel/random/boot_id") != boot_id

    wait_for("etcd, flanneld and Docker active on lab3",
             lambda: active("lab3", "etcd", "flanneld", "docker", "crosshost-forward"), timeout=240)
    stamps = {unit: {prop: int(out("lab3", f"systemctl show -p {prop} --value {unit}"))
                     for prop in ("InactiveExitTimestampMonotonic", "ActiveEnterTimestampMonotonic")}
              for unit in ("etcd", "flanneld", "docker")}
    assert all(value > 0 for unit in stamps.values() for value in unit.values()), stamps
    # Ordering, not timing: each starts only once the one before it is up.
    assert stamps["etcd"]["ActiveEnterTimestampMonotonic"] <= stamps["flanneld"]["InactiveExitTimestampMonotonic"], stamps
    assert stamps["flanneld"]["ActiveEnterTimestampMonotonic"] <= stamps["docker"]["InactiveExitTimestampMonotonic"], stamps

    env = subnet_env("lab3")
    assert env["FLANNEL_SUBNET"] == before["lab3"]["subnet"]
    assert lease_of(leases("lab1"), address(inventory, "lab3")) == before["lab3"]["lease_key"]
    assert docker0("lab3") == [env["FLANNEL_SUBNET"]]
    assert json.loads(out("lab3", "cat /etc/docker/daemon.json"))["bip"] == env["FLANNEL_SUBNET"]
    assert sorted(flannel_links("lab3")) == ["flannel.1"]
    sh("lab3", "/usr/local/libexec/crosshost/crosshost-forward check")
    assert_cluster_heals(fabric, members_before, asked_from="lab1")
    verify_matrix()


def test_docker_restart_with_live_restore_keeps_containers(fabric):
    """Docker restarts on lab1 while a container runs: with docker_live_restore: true
    the container survives (same ID, same process, never restarted, same address),
    the lease does not move and the container still reaches the other hosts."""
    inventory = fabric["inventory"]
    daemon = json.loads(out("lab1", "cat /etc/docker/daemon.json"))
    assert daemon.get("live-restore") is True, daemon
    assert out("lab1", "docker info -f '{{.LiveRestoreEnabled}}'") == "true"
    apps = {host: ensure_app(host, inventory) for host in fabric["hosts"]}
    before = snapshot(fabric)

    sh("lab1", "systemctl restart docker.service")
    wait_for("Docker active on lab1", lambda: active("lab1", "docker"))

    assert main_pid("lab1", "docker") != before["lab1"]["dockerd_pid"], "dockerd was not restarted"
    assert app("lab1") == apps["lab1"]          # ID, running, process, StartedAt, address
    env = subnet_env("lab1")
    assert env["FLANNEL_SUBNET"] == before["lab1"]["subnet"]
    assert lease_of(leases("lab3"), address(inventory, "lab1")) == before["lab1"]["lease_key"]
    assert docker0("lab1") == before["lab1"]["docker0"]
    assert main_pid("lab1", "flanneld") == before["lab1"]["flanneld_pid"]
    sh("lab1", "/usr/local/libexec/crosshost/crosshost-forward check")
    for source, target in (("lab1", "lab2"), ("lab1", "lab3"), ("lab2", "lab1")):
        assert wait_for(f"{APP} on {source} to reach {target}'s",
                        lambda: app_pings(source, apps[target]["ip"]), timeout=60)


FAULT_FLAG = "/run/crosshost-fault-once"


@contextlib.contextmanager
def first_start_refused(host, unit):
    """A drop-in on `unit` whose ExecStartPre refuses the first start (and logs why),
    removed afterwards even when the test fails."""
    dropin = f"/etc/systemd/system/{unit}.d/99-fault-once.conf"
    refuse = f"[ -e {FAULT_FLAG} ] || {{ touch {FAULT_FLAG}; echo crosshost-fault: first start refused >&2; exit 1; }}"
    sh(host, f"""set -e
        mkdir -p {dropin.rsplit('/', 1)[0]}
        rm -f {FAULT_FLAG}
        printf '%s\\n' '[Service]' 'ExecStartPre=/bin/sh -c "{refuse}"' > {dropin}
        systemctl daemon-reload""")
    try:
        yield
    finally:
        sh(host, f"rm -f {dropin} {FAULT_FLAG}; systemctl daemon-reload", check=False)


def docker_yml_through_a_refused_start(host, unit, what):
    """docker.yml on `host` while `unit` refuses its first start: the run succeeds, with
    one unit_retry warning that names `what` and carries the refusal from the journal."""
    with first_start_refused(host, unit):
        run = playbook("docker.yml", extra=BASE_VARS, limit=host)
        assert run.rc == 0, f"docker.yml did not recover from the refused start of {unit}:\n" + run.summary()
        warnings = [result.get("msg", "") for name, result in run.host_results(host)
                    if "Warn that the start failed" in name and not result.get("skipped")]
        assert len(warnings) == 1, warnings
        assert what in warnings[0], warnings[0]
        assert "crosshost-fault: first start refused" in warnings[0], warnings[0]
        assert out(host, f"test -e {FAULT_FLAG} && echo refused-once") == "refused-once"


def test_forward_unit_start_failing_once_is_retried_with_its_journal(fabric):
    """The forward unit's start fails once on lab2: the docker role prints the journal
    with the cause, clears the failed state, starts it once more, and the run succeeds
    (the unit_retry role, which Open vSwitch's start uses too)."""
    sh("lab2", "systemctl disable --now crosshost-forward.service")
    try:
        docker_yml_through_a_refused_start("lab2", "crosshost-forward.service", "start of crosshost-forward.service")
        assert out("lab2", "systemctl is-enabled crosshost-forward.service") == "enabled"
        assert active("lab2", "crosshost-forward.service", "docker.service")
        sh("lab2", "/usr/local/libexec/crosshost/crosshost-forward check")
    finally:
        sh("lab2", "systemctl enable --now crosshost-forward.service", check=False)


def test_docker_restart_failing_once_is_retried_with_its_journal(fabric):
    """Docker's restart onto its bridge settings (daemon.json lost its mtu by hand) fails
    once on lab2: the role prints Docker's journal with the cause, tries once more,
    Docker is back on the same lease, and its container still reaches the others."""
    inventory = fabric["inventory"]
    apps = {host: ensure_app(host, inventory) for host in fabric["hosts"]}
    before = snapshot(fabric)
    daemon = json.loads(out("lab2", "cat /etc/docker/daemon.json"))
    sh("lab2", "python3 -c 'import json; p=\"/etc/docker/daemon.json\"; d=json.load(open(p)); "
               "d.pop(\"mtu\"); json.dump(d, open(p, \"w\"), indent=2)'")
    docker_yml_through_a_refused_start("lab2", "docker.service", "restart of docker.service")
    assert active("lab2", "docker.service", "crosshost-forward.service")
    assert main_pid("lab2", "docker") != before["lab2"]["dockerd_pid"], "dockerd was not restarted"
    assert json.loads(out("lab2", "cat /etc/docker/daemon.json")) == daemon
    assert docker0("lab2") == before["lab2"]["docker0"]
    assert subnet_env("lab2")["FLANNEL_SUBNET"] == before["lab2"]["subnet"]
    assert app("lab2") == apps["lab2"]          # live-restore: the container lived through it
    for source, target in (("lab2", "lab1"), ("lab3", "lab2")):
        assert wait_for(f"{APP} on {source} to reach {target}'s",
                        lambda: app_pings(source, apps[target]["ip"]), timeout=60)


def _assert_backend(fabric, backend, sentinel, other_keys):
    inventory = fabric["inventory"]
    hosts = fabric["hosts"]
    assert flannel_config("lab1")["Backend"]["Type"] == backend
    lease_map = leases("lab1")
    assert len(lease_map) == len(hosts), sorted(lease_map)
    assert {lease["BackendType"] for lease in lease_map.values()} == {backend}
    # The flannel prefix holds the config and one lease per host, nothing else.
    assert sorted(etcd_items("lab1", PREFIX + "/")) == sorted([PREFIX + "/config"] + list(lease_map))
    # Everything outside the flannel prefix is untouched, the sentinel included.
    outside = {k: v for k, v in etcd_items("lab1").items() if not k.startswith(PREFIX + "/")}
    assert outside == other_keys
    assert outside[sentinel[0]] == sentinel[1]
    mtu = {"vxlan": "1450", "host-gw": "1500"}[backend]
    peers_by_subnet = {key.rsplit("/", 1)[1].replace("-", "/"): value["PublicIP"] for key, value in lease_map.items()}
    for host in hosts:
        assert active(host, "flanneld", "docker"), host
        env = subnet_env(host)
        assert env["FLANNEL_MTU"] == mtu, (host, env)
        assert docker0(host) == [env["FLANNEL_SUBNET"]], host
        daemon = json.loads(out(host, "cat /etc/docker/daemon.json"))
        assert (daemon["bip"], daemon["mtu"]) == (env["FLANNEL_SUBNET"], int(mtu)), (host, daemon)
        links = flannel_links(host)
        routes = overlay_routes(host, env["FLANNEL_NETWORK"])
        peers = {subnet: ip for subnet, ip in peers_by_subnet.items() if ip != address(inventory, host)}
        assert sorted(r["dst"] for r in routes) == sorted(peers), (host, routes)
        if backend == "vxlan":
            assert sorted(links) == ["flannel.1"], (host, sorted(links))
            link = links["flannel.1"]
            assert link["linkinfo"]["info_data"]["id"] == 1 and link["mtu"] == 1450
            assert all(r["dev"] == "flannel.1" for r in routes), (host, routes)
        else:
            assert links == {}, (host, sorted(links))     # no stale flannel.1
            assert all(r["dev"] == "eth0" and r["gateway"] == peers[r["dst"]] for r in routes), (host, routes)


def test_backend_change_vxlan_host_gw_vxlan_with_force(fabric):
    """The backend changes vxlan -> host-gw -> vxlan with flannel_config_force (flannel
    and docker playbooks, the components a backend change touches). After each step:
    the config and every lease carry the new type, no stale interface or route is
    left, Docker follows the new MTU, every other etcd key (a sentinel included) is
    untouched, and the matrix is green."""
    sentinel = (SENTINEL_PREFIX + "sentinel", secrets.token_hex(8))
    etcdctl("lab1", f"put {sentinel[0]} {sentinel[1]}")
    try:
        other_keys = {k: v for k, v in etcd_items("lab1").items() if not k.startswith(PREFIX + "/")}
        _assert_backend(fabric, "vxlan", sentinel, other_keys)
        for backend in ({"type": "host-gw"}, {"type": "vxlan", "vni": 1}):
            run = playbook("flannel.yml", "docker.yml",
                           extra=dict(BASE_VARS, flannel_backend=backend, flannel_config_force=True))
            assert run.rc == 0, run.summary()
            config_result = run.results("Ensure the flannel network config in etcd")
            assert any(r.get("changed") for r in config_result.values()), config_result
            _assert_backend(fabric, backend["type"], sentinel, other_keys)
            verify_matrix()
    finally:
        etcdctl("lab1", f"del {sentinel[0]}", check=False)


FLANNELD_LINK = "/usr/local/bin/flanneld"
PIPEWORK = "/usr/local/bin/pipework"
TARBALL = "/opt/flannel/flannel-*.tar.gz"


def installed_files(host):
    """The flanneld link's target, the release tarball's and the pipework script's sha256,
    the script's mode and owner."""
    return {"link": out(host, f"readlink {FLANNELD_LINK}").strip(),
            "tarball": out(host, f"sha256sum {TARBALL}").split()[0],
            "pipework": out(host, f"sha256sum {PIPEWORK}").split()[0],
            "pipework_mode": out(host, f"stat -c '%a %U:%G' {PIPEWORK}").strip()}


def test_installed_files_edited_by_hand_are_put_right(fabric):
    """site.yml reads the installed flanneld release and pipework script at its start and
    skips the install steps when all is in place. Edited by hand (flanneld's link
    pointed elsewhere and the script's mode on lab2; the tarball truncated and the script
    edited on lab3), the read must see it: site.yml puts each right (reported as
    changed on those hosts only), flanneld runs on its lease, and the matrix is green."""
    want = installed_files("lab1")
    assert want["pipework_mode"] == "755 root:root", want
    lease_lab2 = subnet_env("lab2")["FLANNEL_SUBNET"]
    sh("lab2", f"ln -sfn /bin/true {FLANNELD_LINK} && chmod 0644 {PIPEWORK}")
    sh("lab3", f"truncate -s 4096 {TARBALL} && echo '# edited' >> {PIPEWORK}")
    assert installed_files("lab2") != want and installed_files("lab3") != want

    run = playbook("site.yml", extra=BASE_VARS)
    assert run.rc == 0, run.summary()
    assert run.changed("lab1") == 0, run.changed_tasks("lab1")
    assert run.changed("lab2") > 0 and run.changed("lab3") > 0, run.summary()
    for host in ("lab2", "lab3"):
        assert installed_files(host) == want, host
    install = run.results("Install flanneld from the release tarball (download, unpack, link; each only when needed)")
    assert install["lab1"].get("skipped") and install["lab2"]["changed_links"] == [FLANNELD_LINK], install
    assert install["lab3"]["downloaded"] is True, install["lab3"]
    assert active("lab2", "flanneld") and subnet_env("lab2")["FLANNEL_SUBNET"] == lease_lab2
    verify_matrix()


def host_fabric_files(host):
    """What the roles install on a host: units, drop-ins, configs, PKI, binaries, leases."""
    return out(host, "ls -lR --time-style=+%s /etc/systemd/system /etc/etcd /etc/flannel /etc/docker "
                     "/opt/flannel /usr/local/bin /run/flannel 2>/dev/null | grep -v '^total'")


def test_reset_host_previews_cleanly_in_check_mode_then_rejoins(fabric):
    """A host whose fabric was removed (reset.yml on lab3, etcd data kept) gave its
    subnet lease back (the others drop their route to it) and is a host joining a
    running fabric. A container that outlived the reset (live-restore) and would keep
    Docker's bridge on the released subnet is named with the fix. site.yml --check previews it: no failure, changes
    reported for lab3 only, and nothing changes on any host or in etcd. Then site.yml
    brings it back: the same etcd member rejoins, a rerun changes nothing, and the
    matrix is green."""
    members_before = {(m["ID"], m.get("name")) for m in member_list("lab1")}
    ensure_app("lab3", fabric["inventory"])      # outlives the reset's Docker stop (live-restore)
    lab3_ip, network = address(fabric["inventory"], "lab3"), subnet_env("lab1")["FLANNEL_NETWORK"]
    # The lease key .../subnets/10.100.15.0-24 is the route 10.100.15.0/24 on the others.
    lab3_dst = lease_of(leases("lab1"), lab3_ip).rsplit("/", 1)[1].replace("-", "/")
    assert lab3_dst in [r["dst"] for r in overlay_routes("lab1", network)]
    reset = playbook("reset.yml", extra=dict(BASE_VARS, etcd_reset_keep_data=True), limit="lab3")
    assert reset.rc == 0, reset.summary()
    assert not active("lab3", "flanneld") and not active("lab3", "etcd"), "reset.yml left a daemon running"
    # The lease is given back: no lease names lab3 any more, and lab1's flanneld drops
    # its route to that subnet without waiting for the 24 h TTL.
    assert all(lease.get("PublicIP") != lab3_ip for lease in leases("lab1").values())
    wait_for("lab1 to drop its route to lab3's released subnet",
             lambda: lab3_dst not in [r["dst"] for r in overlay_routes("lab1", network)], timeout=60)
    assert out("lab3", "test -e /etc/systemd/system/flanneld.service && echo unit || echo none").strip() == "none"

    before = {host: host_fabric_files(host) for host in fabric["hosts"]}
    keys_before = etcd_items("lab1")
    preview = playbook("site.yml", extra=BASE_VARS, check=True)
    assert preview.rc == 0, "site.yml --check failed on a joining host:\n" + preview.summary()
    assert preview.changed("lab3") > 0, preview.summary()
    assert preview.changed("lab1") == 0 and preview.changed("lab2") == 0, preview.summary()
    assert {host: host_fabric_files(host) for host in fabric["hosts"]} == before
    assert etcd_items("lab1") == keys_before
    assert not active("lab3", "flanneld") and not active("lab3", "etcd"), "check mode started a daemon"

    converge = playbook("site.yml", extra=BASE_VARS)
    new_dst = lease_of(leases("lab1"), lab3_ip).rsplit("/", 1)[1].replace("-", "/")
    if new_dst != lab3_dst:
        # flanneld leased another subnet (it picks a free one at random; the released one is
        # among them). The container that outlived the reset keeps Docker's bridge on the old
        # subnet: the run must say so and how to fix it, not leave docker0 off the lease.
        assert converge.rc != 0, converge.summary()
        failures = [f for f in converge.failures() if f[0] == "lab3"]
        assert failures and failures[0][1].endswith("Check that docker0 carries the bridge address Docker was given"), failures
        assert f"not bip {subnet_env('lab3')['FLANNEL_SUBNET']} after Docker's start" in failures[0][2], failures
        sh("lab3", f"docker stop {APP} >/dev/null && systemctl restart docker")      # the fix it names
        converge = playbook("site.yml", extra=BASE_VARS)
    assert converge.rc == 0, converge.summary()
    assert_cluster_heals(fabric, members_before, asked_from="lab1")
    assert active("lab3", "etcd", "flanneld", "docker")
    assert docker0("lab3") == [subnet_env("lab3")["FLANNEL_SUBNET"]]
    assert ipaddress.ip_address(ensure_app("lab3", fabric["inventory"])["ip"]) in ipaddress.ip_network(new_dst)
    rerun = playbook("site.yml", extra=BASE_VARS)
    assert rerun.rc == 0 and all(rerun.changed(host) == 0 for host in fabric["hosts"]), rerun.summary()
    verify_matrix()
