"""End to end on the built-in lab: tuning profiles applied between cells and every touched
value restored byte for byte, after a run that ends and after one killed mid-way (untune).

Inside a lab host only its own network namespace's sysctls and wirebench's own placement files
can change (/proc/sys outside net, /sys and /proc/irq are read-only there): the tests check
those values, read directly on the hosts, never through wirebench. Traffic goes only to the
lab's hosts (198.18.0.0/24)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from .labtools import (
    BIN,
    RESULTS,
    ROOT,
    RUN_ID,
    ansible_env,
    inventory_hosts,
    lab_host_processes,
    run_id_of,
    run_playbook,
    samples,
    ssh,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

INVENTORY = ["-i", "inventory/lab"]
# What the profiles below may change on a lab host, read as the kernel and systemd see it.
WATCHED = [
    "/proc/sys/net/core/somaxconn",
    "/proc/sys/net/ipv4/tcp_fastopen",
    "/proc/sys/net/ipv4/tcp_rmem",
    "/proc/sys/net/ipv4/tcp_wmem",
    "/proc/sys/net/ipv4/tcp_notsent_lowat",
    "/proc/sys/net/ipv4/tcp_slow_start_after_idle",
    "/run/systemd/system/wirebench-server@.service.d/50-wirebench-placement.conf",
    "/run/systemd/system/wirebench-redis.service.d/50-wirebench-placement.conf",
    "/run/wirebench/tuning/load-cpus",
    "/var/lib/wirebench/tuning/saved.json",
]
# Values no kernel default has: a restore that put back a default instead would show.
PRESET = {"net.core.somaxconn": "4242", "net.ipv4.tcp_fastopen": "2"}
SMALL = {
    "wirebench_implementations": ["redis"],
    "wirebench_workloads": [{"name": "get", "tests": "get", "clients": 10, "requests": 20000}],
}


def watched(host) -> str:
    """Each watched path and its bytes (or that it is absent), as one text."""
    script = "; ".join(
        f"printf '%s: ' {path}; cat {path} 2>/dev/null | od -An -c | tr -s ' ' || true; echo"
        for path in WATCHED
    )
    done = ssh(host, script)
    assert done.returncode == 0, done.stderr
    return done.stdout


def sysctl(host, key: str) -> str:
    return ssh(host, f"sysctl -n {key}").stdout.strip()


def tune_status(host) -> dict:
    return json.loads(ssh(host, "/opt/wirebench/bin/wirebench-agent tune status").stdout)


@pytest.fixture(scope="module")
def lab():
    """The lab up and provisioned, its hosts preset to values of the test's own (put back by
    the test at the end, whatever happened)."""
    run = run_playbook("lab-up")
    assert run.returncode == 0, run.output[-3000:]
    run = run_playbook("provision", *INVENTORY)
    assert run.returncode == 0, run.output[-3000:]
    hosts = [h for h in inventory_hosts() if h.name in ("server1", "load1")]
    original = {h.name: {key: sysctl(h, key) for key in PRESET} for h in hosts}
    for host in hosts:
        for key, value in PRESET.items():
            assert ssh(host, f"sysctl -w {key}={value}").returncode == 0
    yield hosts
    for host in hosts:
        for key, value in original[host.name].items():
            ssh(host, f"sysctl -w {key}={value}")
    run_playbook("lab-down")
    assert not lab_host_processes()


def test_every_profile_is_applied_between_cells_and_every_value_restored(lab):
    before = {host.name: watched(host) for host in lab}
    extra = {**SMALL, "wirebench_repetitions": 1, "wirebench_label": "test-tuning",
             "wirebench_tuning_profiles": ["baseline", "network-latency", "network-throughput",
                                           "pinned"]}  # fmt: skip
    run = run_playbook("run", *INVENTORY, "-e", json.dumps(extra))
    assert run.returncode == 0, run.output[-5000:]
    assert {host.name: watched(host) for host in lab} == before  # byte for byte
    assert all(tune_status(host) == {"failed": False, "unrestored": False} for host in lab)
    run_id = run_id_of(run)
    found = samples(run_id)
    profiles = extra["wirebench_tuning_profiles"]
    assert {s.cell.profile for s in found.values() if s.status == "ok"} == set(profiles)
    # What each profile did, as the hosts read it back while it was in force.
    applied = {}
    for path in (RESULTS / run_id / "tuning").glob("*/*.json"):
        record = json.loads(path.read_text())
        for knob in record["reply"]["knobs"]:
            applied[(record["host"], record["profile"], knob["id"])] = knob
    throughput = applied[("server1", "network-throughput", "sysctl:net.core.somaxconn")]
    assert (throughput["status"], throughput["read_back"]) == ("applied", "4096")
    assert throughput["before"] in ("4242", "4096")  # the preset, or left by the last profile
    latency = applied[("load1", "network-latency", "sysctl:vm.swappiness")]
    assert (
        latency["status"] == "unavailable" and "read-only file system (EROFS)" in latency["reason"]
    )
    pinned = applied[("server1", "pinned", "placement:server")]
    assert pinned["status"] == "applied"
    back = applied[("server1", "baseline", "sysctl:net.core.somaxconn")]
    assert back["read_back"] == "4242"  # baseline is the host as found
    # Each host's settings, as found and after each profile's first switch (compare's input).
    kept = {}
    for path in (RESULTS / run_id / "tuning-snapshot").glob("*/*.json"):
        record = json.loads(path.read_text())
        assert record["reply"]["failed"] is False, record["reply"]
        kept[(record["host"], record["label"])] = record["reply"]["snapshot"]
    assert {label for host, label in kept if host == "server1"} == {"as-found", *profiles}
    assert kept[("server1", "as-found")]["sysctl"]["net.core.somaxconn"] == "4242"
    assert kept[("server1", "network-throughput")]["sysctl"]["net.core.somaxconn"] == "4096"
    assert kept[("load1", "as-found")]["cpus_online"]


def test_a_run_killed_mid_way_is_refused_until_untune_restores_every_value(lab, tmp_path):
    before = {host.name: watched(host) for host in lab}
    label = "test-tuning-killed"
    extra = {**SMALL, "wirebench_repetitions": 3, "wirebench_label": label,
             "wirebench_tuning_profiles": ["baseline", "network-throughput"]}  # fmt: skip
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        [str(BIN / "ansible-playbook"), "playbooks/run.yml", *INVENTORY, "-e", json.dumps(extra)],
        cwd=ROOT, env=ansible_env(), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        # Killed once network-throughput is in force on both hosts (its records are kept on
        # the controller right after the switch): mid-way, between or during cells.
        # This run's own folder only: earlier runs with the same label may be in results/.
        deadline = time.monotonic() + 900
        while run.poll() is None and time.monotonic() < deadline:
            named = RUN_ID.search((tmp_path / "run.log").read_text())
            folder = RESULTS / named.group(1) / "tuning" if named else None
            if folder and len(list(folder.glob("*/network-throughput-*.json"))) >= 2:
                break
            time.sleep(0.5)
        assert run.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    server = next(host for host in lab if host.name == "server1")
    assert sysctl(server, "net.core.somaxconn") == "4096"  # left tuned
    assert all(tune_status(host)["unrestored"] for host in lab)

    refused = run_playbook("run", *INVENTORY, "-e", json.dumps({**extra, "wirebench_label": ""}))
    assert refused.returncode != 0
    assert "an earlier run's tuning was not restored there" in refused.output
    assert "playbooks/untune.yml" in refused.output
    assert sysctl(server, "net.core.somaxconn") == "4096"  # refused before touching anything

    untune = run_playbook("untune", *INVENTORY)
    assert untune.returncode == 0, untune.output[-3000:]
    assert {host.name: watched(host) for host in lab} == before  # byte for byte
    assert all(tune_status(host) == {"failed": False, "unrestored": False} for host in lab)
    again = run_playbook("untune", *INVENTORY)  # nothing saved: a no-op, not an error
    assert again.returncode == 0, again.output[-3000:]
