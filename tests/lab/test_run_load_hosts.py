"""End to end on the built-in lab with two load hosts (lab-up -e local_lab_load_hosts=2):
redis-benchmark runs on both at once against the same server; a cell's throughput is the sum
of theirs, each host's latency and CPU use are kept, and both hosts' raw files come back.
Traffic goes only to the lab's hosts (198.18.0.0/24)."""

from __future__ import annotations

import json
import os

import pytest

from .labtools import RESULTS, ROOT, lab_host_processes, run_id_of, run_playbook, samples

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

INVENTORY = ["-i", "inventory/lab"]
LOAD_HOSTS = ["load1", "load2"]
RAW_FILES = {"argv.json", "stdout.csv", "stderr.txt", "result.json"}


@pytest.fixture(scope="module")
def two_load_hosts():
    """The lab with load1 and load2, provisioned; lab-down at the end, so the next module's
    lab-up starts from the default lab (one load host) again."""
    try:
        run = run_playbook("lab-up", "-e", "local_lab_load_hosts=2")
        assert run.returncode == 0, run.output[-3000:]
        run = run_playbook("provision", *INVENTORY)
        assert run.returncode == 0, run.output[-3000:]
        assert set(LOAD_HOSTS) <= set(run.recap()), run.recap()
        yield
    finally:
        run_playbook("lab-down")
        assert not lab_host_processes()
        assert not (ROOT / "inventory" / "lab" / "generated-load-hosts.yml").exists()


@pytest.fixture(scope="module")
def run_with_two_load_hosts(two_load_hosts):
    extra = {
        "wirebench_implementations": ["redis", "asyncio-protocol", "uvloop-protocol"],
        "wirebench_interpreters": [
            {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}
        ],
        "wirebench_label": "test-two-loads",
    }
    run = run_playbook("run", *INVENTORY, "-e", "@presets/quick.yml", "-e", json.dumps(extra))
    assert run.returncode == 0, run.output[-5000:]
    run_id = run_id_of(run)
    return run_id, list(samples(run_id).values())


def test_every_cell_ran_on_both_load_hosts(run_with_two_load_hosts):
    run_id, found = run_with_two_load_hosts
    assert sorted(sample.id for sample in found) == [
        "asyncio-protocol@cpython3.11/get#1", "redis@native/get#1", "uvloop-protocol@cpython3.11/get#1",
    ]  # fmt: skip
    for sample in found:
        assert sample.status == "ok", sample
        assert sorted(sample.load_hosts) == LOAD_HOSTS
        # Both hosts were given one start time, and each says how late it really started.
        starts = {run.start_at for run in sample.load_hosts.values()}
        assert len(starts) == 1 and None not in starts
        assert all(run.start_lag_s >= 0 for run in sample.load_hosts.values())
        # Their runs overlapped: the summed rate is what the server did.
        assert sample.load_overlap > 0.5
        for host, run in sample.load_hosts.items():
            assert run.exit_code == 0 and run.client_cpu_s > 0, (host, run)
            assert 0 < run.load_cpu_busy <= 1
            # Nothing else started on either load host while they measured.
            assert run.pids_started_during_run == 0, (host, run)
            raw = RESULTS / run_id / "raw" / sample.cell.dir / host
            assert {path.name for path in raw.iterdir()} == RAW_FILES
            # Each host ran its share of the requests.
            argv = json.loads((raw / "argv.json").read_text())
            assert int(argv[argv.index("-n") + 1]) == -(-sample.requests // 2)


def test_throughput_is_the_sum_and_each_hosts_latency_is_kept(run_with_two_load_hosts):
    _, found = run_with_two_load_hosts
    for sample in found:
        rates = [metrics["rps"] for metrics in sample.tests["GET"].hosts.values()]
        assert len(rates) == 2 and all(rate > 0 for rate in rates)
        assert sample.rps["GET"] == pytest.approx(sum(rates))
        for metrics in sample.tests["GET"].hosts.values():
            assert 0 < metrics["p50_latency_ms"] <= metrics["max_latency_ms"]


def test_the_run_meta_names_both_load_hosts(run_with_two_load_hosts):
    run_id, _ = run_with_two_load_hosts
    meta = json.loads((RESULTS / run_id / "run-meta.json").read_text())
    assert sorted(meta["load_hosts"]) == LOAD_HOSTS
