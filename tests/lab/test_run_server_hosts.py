"""End to end on the built-in lab with two server hosts, each driven by its own load host
(lab-up -e local_lab_server_hosts=2 -e local_lab_load_hosts=2): the pairs run at the same time,
each sample names its server host, raw results go to raw/<server host>/, and a resume
measures only each server host's missing cells. Traffic goes only to the lab's hosts
(198.18.0.0/24)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from .labtools import RESULTS, lab_host_processes, run_id_of, run_playbook, samples

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

INVENTORY = ["-i", "inventory/lab"]
PAIRS = {"server1": ["load1"], "server2": ["load2"]}
# The machine has 2 CPUs: server1 and load2 on CPU 0, server2 and load1 on CPU 1.
LAB = ["-e", json.dumps({"local_lab_server_hosts": 2, "local_lab_load_hosts": 2,
                         "local_lab_load_cpus": [1, 0], "local_lab_extra_server_cpus": [1]})]  # fmt: skip
EXTRA = {
    "wirebench_implementations": ["redis", "asyncio-protocol"],
    "wirebench_interpreters": [
        {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}
    ],
    "wirebench_repetitions": 2,
}
CELLS = {
    f"{impl}/get#{rep}"
    for impl in ("redis@native", "asyncio-protocol@cpython3.11")
    for rep in (1, 2)
}


@pytest.fixture(scope="module")
def two_pairs():
    """The lab with two server hosts and a load host each, provisioned; lab-down at the end,
    so the next module's lab-up starts from the default lab again."""
    try:
        run = run_playbook("lab-up", *LAB)
        assert run.returncode == 0, run.output[-3000:]
        run = run_playbook("provision", *INVENTORY)
        assert run.returncode == 0, run.output[-3000:]
        assert {"server1", "server2", "load1", "load2"} <= set(run.recap()), run.recap()
        yield
    finally:
        run_playbook("lab-down")
        assert not lab_host_processes()


@pytest.fixture(scope="module")
def run_on_two_pairs(two_pairs):
    extra = {**EXTRA, "wirebench_label": "test-two-servers"}
    run = run_playbook("run", *INVENTORY, "-e", "@presets/quick.yml", "-e", json.dumps(extra))
    assert run.returncode == 0, run.output[-5000:]
    return run_id_of(run), run


def test_each_server_host_is_measured_by_its_own_load_host(run_on_two_pairs):
    run_id, run = run_on_two_pairs
    for server, loads in PAIRS.items():
        assert f"4 cells to measure on {server} from {loads[0]}" in run.output
        found = samples(run_id, server)
        assert set(found) == CELLS
        for sample in found.values():
            # Each host's systemd has cgroups of its own: a unit stopped on one server host
            # never fails the same unit on the other (status=219/CGROUP before it had).
            assert sample.status == "ok", sample
            assert sample.server_host == server
            assert sorted(sample.load_hosts) == loads
            assert sample.rps["GET"] > 0 and sample.server.cpu_s > 0
            raw = RESULTS / run_id / "raw" / server / sample.cell.dir
            assert {path.name for path in (raw / loads[0]).iterdir()} == {
                "argv.json", "stdout.csv", "stderr.txt", "result.json",
            }  # fmt: skip
            # The load host sent to its own server's address.
            argv = json.loads((raw / loads[0] / "argv.json").read_text())
            address = "198.18.0.10" if server == "server1" else "198.18.0.13"
            assert argv[argv.index("-h") + 1] == address


def test_run_meta_records_the_pairs(run_on_two_pairs):
    run_id, _ = run_on_two_pairs
    meta = json.loads((RESULTS / run_id / "run-meta.json").read_text())
    assert meta["pairs"] == PAIRS
    assert sorted(meta["servers"]) == ["server1", "server2"]


def test_resume_measures_only_each_server_hosts_missing_cells(run_on_two_pairs):
    run_id, _ = run_on_two_pairs
    raw = RESULTS / run_id / "raw"
    shutil.rmtree(raw / "server2" / "redis@native_get_2")
    kept = (raw / "server1" / "redis@native_get_2" / "sample.json").read_text()
    extra = {**EXTRA, "wirebench_resume": run_id}
    run = run_playbook("run", *INVENTORY, "-e", "@presets/quick.yml", "-e", json.dumps(extra))
    assert run.returncode == 0, run.output[-5000:]
    assert f"run {run_id}: 0 cells to measure on server1" in run.output
    assert f"run {run_id}: 1 cells to measure on server2" in run.output
    assert samples(run_id, "server2")["redis@native/get#2"].status == "ok"
    assert (raw / "server1" / "redis@native_get_2" / "sample.json").read_text() == kept


def test_several_server_hosts_without_pairs_are_refused(two_pairs, tmp_path):
    """An inventory with two server hosts that do not say which load hosts are theirs."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "bench_server:\n  hosts:\n    server1:\n    server2:\n"
        "bench_load:\n  hosts:\n    load1:\n    load2:\n"
    )
    run = run_playbook("preflight", "-i", str(inventory))
    assert run.returncode != 0
    assert "server1 has no load hosts" in run.output
