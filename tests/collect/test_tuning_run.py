"""A real tuning run of the built-in lab (runs/tuning: `make bench PRESET=tuning`, baseline and
network-latency interleaved, 10 rounds): profiles side by side recomputed by hand from the raw
samples, and what each switch did as the hosts read it back. No speed or direction is asserted:
on the lab, network-latency can change little (the rest is the machine's, unavailable)."""

from __future__ import annotations

import json
import math
import shutil
import statistics
from pathlib import Path

import pytest

from collect import report
from collect.rundir import load_run
from collect.stats import student_t_quantile

RUN = Path(__file__).parent / "runs" / "tuning"
PROFILES = ["baseline", "network-latency"]


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    copy = tmp_path_factory.mktemp("tuning") / "run"
    shutil.copytree(RUN, copy)
    found, _text = report.report(copy, with_plots=False)
    return found, json.loads((copy / "run.json").read_text()), (copy / "report.md").read_text()


def rates(run, implementation, workload, profile) -> dict:
    """{repetition: GET requests/s} of one cell of the run, from its samples."""
    return {
        s.cell.repetition: s.tests["GET"].rps
        for s in run.samples
        if (s.implementation, s.cell.workload, s.cell.profile, s.status)
        == (implementation, workload, profile, "ok")
    }


def test_every_cell_of_both_profiles_was_measured_in_ten_rounds():
    run = load_run(RUN)
    assert run.meta["matrix"]["tuning_profiles"] == PROFILES and run.problems == []
    for implementation in ("redis", "asyncio-protocol", "uvloop-protocol"):
        for workload in ("get", "get-p16"):
            for profile in PROFILES:
                assert sorted(rates(run, implementation, workload, profile)) == list(range(1, 11))


def test_the_ratio_to_baseline_is_the_paired_geometric_mean_with_its_t_interval(collected):
    found, document, _report = collected
    run = found.run
    cells = document["profiles"]["cells"]
    assert document["profiles"]["reference"] == "baseline"
    checked = 0
    for row in cells:
        base = rates(run, row["implementation"], row["workload"], "baseline")
        tuned = rates(run, row["implementation"], row["workload"], "network-latency")
        logs = [math.log(tuned[r] / base[r]) for r in sorted(base)]
        entry = row["profiles"]["network-latency"]["ratio_to_reference"]
        assert entry["pairs"] == 10 and entry["degrees_of_freedom"] == 9
        assert entry["ratio"] == pytest.approx(math.exp(statistics.fmean(logs)))
        half = student_t_quantile(0.95, 9) * statistics.stdev(logs) / math.sqrt(10)
        assert entry["ci_low"] == pytest.approx(entry["ratio"] * math.exp(-half))
        assert entry["ci_high"] == pytest.approx(entry["ratio"] * math.exp(half))
        assert entry["significant"] == (not entry["ci_low"] <= 1 <= entry["ci_high"])
        checked += 1
    assert checked == 6  # 3 implementations x 2 workloads


def test_each_switch_is_recorded_with_what_the_lab_could_not_change(collected):
    _found, document, text = collected
    tuning = document["profiles"]["tuning"]["network-latency"]
    for host in ("server1", "load1"):
        entry = tuning[host]
        assert entry["failed_switches"] == [] and entry["failed"] == {}
        # Ten blocks, but the rotation (A B, B A, A B, ...) puts two of them side by side.
        assert entry["switches"] == 5 and len(entry["files"]) == 5
        assert "sysctl:net.ipv4.tcp_fastopen" in entry["in_force"]
        assert any(k.startswith("placement:") for k in entry["in_force"])
        # The machine's own settings are out of a container's reach, each with its reason.
        unavailable = entry["unavailable"]
        assert "read-only file system (EROFS)" in unavailable["sysctl:vm.swappiness"]
        assert "/dev/cpu_dma_latency is absent" in unavailable["cstate_latency"]
        assert entry["switch_seconds_median"] is not None
    assert "### Tuning applied" in text and "switch cost: median" in text
