"""End to end on the built-in lab: the run measures every cell across the lab's network and
brings every raw result back, with nothing of wirebench running on the load host while it
measures; a server killed mid-run ends its cell at once and is recorded, not fatal; a unit
that will not start is its own failure, with its journal; a resumed run measures only the
missing cells. Traffic goes only to the lab's hosts (198.18.0.0/24)."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time

import pytest

from collect.model import Cell
from collect.rundir import load_run

from .labtools import (
    RESULTS,
    ROOT,
    crash_lab_host,
    inventory_hosts,
    lab_host_processes,
    run_id_of,
    run_playbook,
    samples,
    ssh,
    start_scanner,
    stop_scanner,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

INVENTORY = ["-i", "inventory/lab"]
RAW_FILES = {"argv.json", "stdout.csv", "stderr.txt", "result.json"}


@pytest.fixture(scope="module")
def provisioned_lab():
    run = run_playbook("lab-up")
    assert run.returncode == 0, run.output[-3000:]
    run = run_playbook("provision", *INVENTORY)
    assert run.returncode == 0, run.output[-3000:]
    yield {host.name: host for host in inventory_hosts()}
    run_playbook("lab-down")
    assert not lab_host_processes()


@pytest.fixture(scope="module")
def quick(provisioned_lab):
    """The quick preset, once, with an unprivileged user on every host reading every
    process's command line and environment meanwhile: (the run, {host: what it read})."""
    hosts = [provisioned_lab["server1"], provisioned_lab["load1"]]
    for host in hosts:
        start_scanner(host)
    # key=value extra vars are strings: the run must still record numbers.
    run = run_playbook(
        "run", *INVENTORY, "-e", "@presets/quick.yml", "-e", "wirebench_label=test-quick",
        "-e", "wirebench_repetitions=1",
    )  # fmt: skip
    scans = {host.name: stop_scanner(host) for host in hosts}
    assert run.returncode == 0, run.output[-5000:]
    return run, scans


@pytest.fixture(scope="module")
def quick_run(quick):
    return quick[0]


def generated_password():
    """The password provisioning generated (no wirebench_redis_password given)."""
    password = (ROOT / ".secrets" / "redis-password").read_text().strip()
    assert len(password) == 32
    return password


def test_no_user_of_a_host_can_read_the_password_while_cells_run(quick):
    run, scans = quick
    password = generated_password()
    assert password not in run.output
    for host, scan in scans.items():
        # It read something: at least its own command line.
        assert any("wirebench-scanner.py" in text for text in scan["strings"]), host
        assert not [text for text in scan["strings"] if password in text], host
    # The load host shows no one another user's processes (redis-benchmark's -a holds the
    # password there); the server host hides nothing, and holds the password in no argv.
    assert scans["load1"]["uids"] == [scans["load1"]["uid"]]
    assert len(scans["server1"]["uids"]) > 1


def test_quick_run_measures_every_cell(quick_run, provisioned_lab):
    run_id = run_id_of(quick_run)
    assert (RESULTS / "latest").resolve() == (RESULTS / run_id).resolve()
    measured = [s for s in samples(run_id).values() if s.status != "skipped"]
    assert len(measured) == 11  # redis + 7 implementations on CPython + 3 on PyPy
    for sample in measured:
        assert sample.status == "ok", sample
        assert sample.rps["GET"] > 0
        # The server's own CPU seconds over the measured run (its INFO cpu, read by the load
        # host just before and after), and its counters at each end of the cell.
        assert sample.server.cpu_s > 0
        assert sample.server.main_pid_before == sample.server.main_pid_after > 0
        assert sample.verified["round_trip"] is True
        assert sample.verified["preloaded_keys"] == 1000
        load = sample.load_hosts["load1"]
        assert load.client_cpu_s > 0 and load.exit_code == 0
        assert load.server_closed is False and load.timed_out is False
        # The load host's own CPUs (load1 is pinned to one) and how busy they were.
        assert load.load_cpus == [provisioned_lab["load1"].cpu]
        assert 0 < load.load_cpu_busy <= 1
        assert load.threads == 1
        assert load.start_at is None  # one load host: no common start to wait for
        # A time limit derived from the warm-up, not a flat one.
        assert 0 < load.timeout_s <= 120
        # Controller timestamps around the whole cell, which holds the measured run.
        assert sample.server_host == "server1"
        assert sample.timing.cell_s > sample.timing.measured_s > 0
        raw = RESULTS / run_id / "raw" / sample.cell.dir / "load1"
        assert {path.name for path in raw.iterdir()} == RAW_FILES


def test_nothing_else_runs_on_the_load_host_while_it_measures(quick_run):
    """The measured window is quiet: no Ansible task, poll or ssh session reached the load
    host while redis-benchmark ran. Every process or thread started there in that window
    takes a PID of the host's namespace; the agent counts them (ns_last_pid before and
    after, less redis-benchmark's own threads)."""
    for sample in samples(run_id_of(quick_run)).values():
        if sample.status != "skipped":
            assert sample.load_hosts["load1"].pids_started_during_run == 0, sample.id


def test_quick_run_records_skips_and_conditions(quick_run):
    run_id = run_id_of(quick_run)
    skipped = {i: s for i, s in samples(run_id).items() if s.status == "skipped"}
    assert "does not support pypy" in skipped["uvloop@pypy3/get#1"].reason
    assert {sample.server_host for sample in skipped.values()} == {"server1"}
    meta = json.loads((RESULTS / run_id / "run-meta.json").read_text())
    assert meta["format"] == "wirebench/1"
    assert meta["servers"]["server1"]["nic"]["driver"] == "veth"
    assert meta["load_hosts"]["load1"]["extra"]["redis_benchmark_version"]
    assert meta["matrix"]["repetitions"] == 1 and isinstance(meta["matrix"]["repetitions"], int)
    assert meta["git_revision"] and meta["wirebench_version"]


def test_quick_run_measures_the_network_path_before_the_cells(quick_run):
    run = load_run(RESULTS / run_id_of(quick_run))
    (path,) = run.network  # one pair, measured once
    assert (path.server_host, path.load_host) == ("server1", "load1")
    assert path.failure is None and path.problems() == []
    assert path.same_subnet and path.load_mtu == path.server_mtu and path.full_size_passed
    assert path.sent == len(path.rtt_ms) > 0 and path.rtt_median_ms > 0
    measured = [h.started for s in run.samples for h in s.load_hosts.values() if h.started]
    assert measured and path.started < min(measured)


def test_progress_names_each_cell_and_its_throughput(quick_run):
    assert re.search(r"cell 1/11: \S+ #1: GET [\d,]+ requests/s", quick_run.output)
    assert re.search(r"cell 11/11: \S+ #1: GET [\d,]+ requests/s", quick_run.output)


def test_no_unit_is_left_running(quick_run, provisioned_lab):
    server = provisioned_lab["server1"]
    active = ssh(server, "systemctl list-units 'wirebench*' --state=active --no-legend --plain")
    assert active.stdout.strip() == ""


def test_resume_measures_only_the_missing_cells(quick_run):
    run_id = run_id_of(quick_run)
    raw = RESULTS / run_id / "raw"
    removed = ["asyncio@cpython3.11_get_1", "threads@pypy3_get_1"]
    kept = raw / "redis@native_get_1" / "sample.json"
    kept_before = kept.read_text()
    for name in removed:
        shutil.rmtree(raw / name)
    run = run_playbook(
        "run", *INVENTORY, "-e", "@presets/quick.yml", "-e", f"wirebench_resume={run_id}"
    )
    assert run.returncode == 0, run.output[-3000:]
    assert f"run {run_id}: 2 cells to measure" in run.output
    assert len(re.findall(r"cell \d+/2: ", run.output)) >= 2
    found = samples(run_id)
    for name in removed:
        assert found[Cell.from_dir(name).id].status == "ok"
    assert kept.read_text() == kept_before


def test_resume_of_an_unknown_run_is_refused(provisioned_lab):
    run = run_playbook(
        "run", *INVENTORY, "-e", "@presets/quick.yml", "-e", "wirebench_resume=no-such-run"
    )
    assert run.returncode != 0
    assert "no-such-run" in run.output


def run_while(fault, args, extra):
    """Run the run playbook while ``fault(*args, stop)`` strikes from another thread."""
    stop = threading.Event()
    striker = threading.Thread(target=fault, args=(*args, stop), daemon=True)
    striker.start()
    try:
        return run_playbook("run", *INVENTORY, "-e", json.dumps(extra), timeout=900)
    finally:
        stop.set()
        striker.join(timeout=30)


def kill_server_during_measured_run(server, load, unit, measured_requests, stop):
    """Wait until the measured redis-benchmark runs on the load host, then kill the server."""
    while not stop.is_set():
        running = ssh(load, f"pgrep -f -- '-n {measured_requests} '")
        if running.returncode == 0:
            time.sleep(0.5)
            ssh(server, f"systemctl kill --signal=SIGKILL '{unit}'")
            return
        time.sleep(0.2)


def test_a_server_killed_mid_run_ends_its_cell_at_once_and_the_run_goes_on(provisioned_lab):
    """The load host's idle watch connection is closed by the kernel when the server dies:
    redis-benchmark (which would spin until its time limit) is stopped at once. The time
    limit is left at its default, so a missed crash would show as a timeout, not a pass."""
    unit = "wirebench-server@asyncio-protocol:cpython3.11.service"
    requests = 2_000_000  # long enough to be killed in the middle of
    workload = {
        "name": "long-get",
        "tests": "get",
        "clients": 10,
        "keyspace": 1000,
        "requests": requests,
        "preload": True,
    }
    extra = {
        "wirebench_implementations": ["asyncio-protocol", "redis"],
        "wirebench_interpreters": [
            {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}
        ],
        "wirebench_workloads": [workload],
        "wirebench_repetitions": 1,
        "wirebench_label": "test-crash",
    }
    run = run_while(
        kill_server_during_measured_run,
        (provisioned_lab["server1"], provisioned_lab["load1"], unit, requests),
        extra,
    )
    assert run.returncode == 0, run.output[-5000:]
    found = samples(run_id_of(run))
    crashed = found["asyncio-protocol@cpython3.11/long-get#1"]
    assert (crashed.status, crashed.failure) == ("failed", "server_crashed"), crashed
    load = crashed.load_hosts["load1"]
    assert load.server_closed is True and load.timed_out is False
    assert found["redis@native/long-get#1"].status == "ok"
    assert "FAILED server_crashed" in run.output


def test_a_unit_that_will_not_start_is_unit_failed_with_its_journal(provisioned_lab):
    """A server unit whose interpreter is gone exits before it listens: the cell fails as
    unit_failed (not as a port that never answered), with the unit's journal kept; the
    run goes on."""
    server = provisioned_lab["server1"]
    env = "/etc/wirebench/servers/asyncio-protocol:cpython3.11.env"
    broken = ssh(
        server,
        f"cp {env} {env}.saved && sed -i 's#^WIREBENCH_PYTHON=.*#WIREBENCH_PYTHON=/nonexistent/python#' {env}",
    )
    assert broken.returncode == 0, broken.stderr
    try:
        extra = {
            "wirebench_implementations": ["asyncio-protocol", "redis"],
            "wirebench_interpreters": [
                {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}
            ],
            "wirebench_repetitions": 1,
            "wirebench_label": "test-unit-failed",
        }
        run = run_playbook("run", *INVENTORY, "-e", "@presets/quick.yml", "-e", json.dumps(extra))
    finally:
        ssh(server, f"mv {env}.saved {env}")
    assert run.returncode == 0, run.output[-5000:]
    run_id = run_id_of(run)
    found = samples(run_id)
    failed = found["asyncio-protocol@cpython3.11/get#1"]
    assert (failed.status, failed.failure) == ("failed", "unit_failed"), failed
    assert any("/nonexistent/python" in line for line in failed.journal_tail), failed.journal_tail
    assert (RESULTS / run_id / "raw" / failed.cell.dir / "journal.txt").is_file()
    assert found["redis@native/get#1"].status == "ok"
    assert "FAILED unit_failed" in run.output


def test_adaptive_repetitions_stop_once_the_median_is_pinned_down(provisioned_lab):
    extra = {
        "wirebench_implementations": ["redis"],
        "wirebench_repetitions": 7,
        # A loose target so the lab's noise cannot keep it from being met after 6 runs.
        "wirebench_adaptive": {"target": 0.5, "min_repetitions": 6},
        "wirebench_label": "test-adaptive",
    }
    run = run_playbook("run", *INVENTORY, "-e", "@presets/quick.yml", "-e", json.dumps(extra))
    assert run.returncode == 0, run.output[-3000:]
    found = samples(run_id_of(run))
    assert [found[f"redis@native/get#{r}"].status for r in range(1, 8)] == ["ok"] * 6 + ["skipped"]
    assert "after 6 repetitions" in found["redis@native/get#7"].reason
    assert found["redis@native/get#7"].server_host == "server1"


def test_adaptive_repetitions_on_the_share_stop_redis_with_the_last_cell_it_pairs(
    provisioned_lab,
):
    extra = {
        "wirebench_implementations": ["redis", "asyncio-protocol"],
        "wirebench_interpreters": [
            {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}
        ],
        "wirebench_repetitions": 8,
        # Loose enough that noise cannot keep 6 pairs from meeting it: 6 pairs give the whole
        # range of their shares as the interval, and no pair is twice another here.
        "wirebench_adaptive": {"target": 0.9, "min_repetitions": 6, "interval": "share"},
        "wirebench_label": "test-adaptive-share",
    }
    run = run_playbook("run", *INVENTORY, "-e", "@presets/quick.yml", "-e", json.dumps(extra))
    assert run.returncode == 0, run.output[-3000:]
    found = samples(run_id_of(run))
    for cell in ("redis@native/get", "asyncio-protocol@cpython3.11/get"):
        statuses = [found[f"{cell}#{r}"].status for r in range(1, 9)]
        assert statuses == ["ok"] * 6 + ["skipped"] * 2, (cell, statuses)
        # Once stopped, a cell stays stopped, for the reason it stopped.
        assert found[f"{cell}#8"].reason == found[f"{cell}#7"].reason
    assert "share of redis's 95% confidence interval is within" in (
        found["asyncio-protocol@cpython3.11/get#7"].reason
    )
    assert "every cell paired with it" in found["redis@native/get#7"].reason


def crash_load_host_during_measured_run(load, measured_requests, stop):
    """Wait until the measured redis-benchmark runs on the load host, then crash the host."""
    while not stop.is_set():
        if ssh(load, f"pgrep -f -- '-n {measured_requests} '").returncode == 0:
            time.sleep(0.5)
            crash_lab_host(load.name)
            return
        time.sleep(0.2)


def test_a_load_host_that_stops_answering_ends_the_run_and_resume_finishes_it(provisioned_lab):
    """load1 crashes during the third cell's measured run: the run ends cleanly with the two
    cells measured before kept, the lost cell recorded, no unit running and the way to resume
    printed; once lab-up has booted load1 again, the resume measures only the two cells left.
    Runs last in this module: it restores the lab (lab-up) itself."""
    requests = 400_000  # long enough to crash the host in the middle of
    short = {"name": "short", "tests": "get", "clients": 10, "keyspace": 1000,
             "requests": 3000, "preload": True}  # fmt: skip
    long = {**short, "name": "long", "requests": requests}
    extra = {
        "wirebench_implementations": ["redis", "asyncio-protocol"],
        "wirebench_interpreters": [
            {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}
        ],
        # Cells run workload by workload: both short cells, then redis/long, asyncio-protocol/long.
        "wirebench_workloads": [short, long],
        "wirebench_repetitions": 1,
        "wirebench_benchmark_timeout": 120,
        "wirebench_label": "test-unreachable",
    }
    run = run_while(
        crash_load_host_during_measured_run, (provisioned_lab["load1"], requests), extra
    )
    run_id = run_id_of(run)
    assert run.returncode == 0, run.output[-5000:]
    assert f"-e wirebench_resume={run_id}" in run.output
    assert "load host load1 stopped answering" in run.output
    found = samples(run_id)
    assert found["redis@native/short#1"].status == "ok"
    assert found["asyncio-protocol@cpython3.11/short#1"].status == "ok"
    lost = found["redis@native/long#1"]
    assert (lost.status, lost.failure) == ("failed", "load_host_lost"), lost
    assert lost.server_host == "server1" and lost.timing.cell_s > 0
    assert "asyncio-protocol@cpython3.11/long#1" not in found  # never started
    server = provisioned_lab["server1"]
    active = ssh(server, "systemctl list-units 'wirebench*' --state=active --no-legend --plain")
    assert active.returncode == 0 and active.stdout.strip() == ""

    kept = {cell: found[cell] for cell in ("redis@native/short#1",
                                           "asyncio-protocol@cpython3.11/short#1")}  # fmt: skip
    restored = run_playbook("lab-up")
    assert restored.returncode == 0, restored.output[-3000:]
    resumed = run_playbook(
        "run", *INVENTORY, "-e", json.dumps(extra), "-e", f"wirebench_resume={run_id}"
    )
    assert resumed.returncode == 0, resumed.output[-5000:]
    assert f"run {run_id}: 2 cells to measure" in resumed.output
    found = samples(run_id)
    assert found["redis@native/long#1"].status == "ok"
    assert found["asyncio-protocol@cpython3.11/long#1"].status == "ok"
    assert {cell: found[cell] for cell in kept} == kept


def test_the_password_is_in_no_log_even_at_the_highest_verbosity(provisioned_lab):
    workload = {"name": "get", "tests": "get", "clients": 10, "requests": 2000}
    run = run_playbook(
        "run", *INVENTORY, "-vvvv", "-e", "wirebench_label=test-verbose",
        "-e", json.dumps({"wirebench_implementations": ["redis"], "wirebench_repetitions": 1,
                          "wirebench_workloads": [workload]}),
    )  # fmt: skip
    assert run.returncode == 0, run.output[-3000:]
    assert "SSH: EXEC" in run.output  # the verbosity that shows every remote command
    assert generated_password() not in run.output


def paramiko_inventory(tmp_path):
    """A second inventory source that puts the lab's hosts on paramiko, as a user would in
    their group_vars (-e ansible_connection would put the controller's own plays on it too)."""
    extra = tmp_path / "paramiko.yml"
    extra.write_text("lab:\n  vars:\n    ansible_connection: ansible.builtin.paramiko_ssh\n")
    return ["-i", "inventory/lab", "-i", str(extra)]


def home_with_known_hosts(tmp_path, known_hosts: str):
    """paramiko reads host keys from ~/.ssh/known_hosts only (and /etc/ssh/ssh_known_hosts)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text(known_hosts)
    return home


def test_the_quick_preset_runs_over_paramiko_with_host_keys_checked(provisioned_lab, tmp_path):
    known = (ROOT / ".lab" / "known_hosts").read_text()
    home = home_with_known_hosts(tmp_path, known)
    run = run_playbook(
        "run", *paramiko_inventory(tmp_path), "-e", "@presets/quick.yml",
        "-e", "wirebench_label=test-paramiko", env={"HOME": str(home)},
    )  # fmt: skip
    assert run.returncode == 0, run.output[-5000:]
    assert "paramiko connection plugin is deprecated" in run.output  # it was paramiko
    found = samples(run_id_of(run)).values()
    assert found and all(s.status in ("ok", "skipped") for s in found)
    assert any(s.status == "ok" for s in found)
    assert (home / ".ssh" / "known_hosts").read_text() == known  # nothing recorded


def test_paramiko_refuses_a_host_key_it_does_not_know(provisioned_lab, tmp_path):
    home = home_with_known_hosts(tmp_path, "")
    run = run_playbook(
        "run", *paramiko_inventory(tmp_path), "-e", "@presets/quick.yml",
        "-e", "wirebench_label=test-paramiko-unknown-key", env={"HOME": str(home)}, timeout=300,
    )  # fmt: skip
    assert run.returncode != 0
    assert "authenticity of host '198.18.0.10' can't be established" in run.output
    assert "cells to measure" not in run.output  # refused before anything was measured
    assert (home / ".ssh" / "known_hosts").read_text() == ""
