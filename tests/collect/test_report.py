"""collect report on real raw run folders from the lab (tests/collect/runs, see its README)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from collect import report, tables
from collect.aggregate import Thresholds
from collect.rundir import RunDirError, load_run
from tests.collect.pairs_by_hand import interpolated_shares

RUNS = Path(__file__).parent / "runs"
ROOT = Path(__file__).parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run_copy(tmp_path):
    """A fresh copy of a committed run folder: the report writes into it."""

    def copy(name):
        return Path(shutil.copytree(RUNS / name, tmp_path / name))

    return copy


def strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def cells_by(document, implementation, interpreter, workload, test="GET"):
    return next(
        c
        for c in document["cells"]
        if (c["implementation"], c["interpreter"], c["workload"], c["test"])
        == (implementation, interpreter, workload, test)
    )


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    path = Path(shutil.copytree(RUNS / "default", tmp_path_factory.mktemp("r") / "default"))
    collected, text = report.report(path)
    return path, collected, text


def test_default_run_gives_every_output(default_report):
    path, _, _ = default_report
    for name in ("run.json", "summary.csv", "report.md", "throughput.png", "latency.png"):
        assert (path / name).stat().st_size > 0, name
    for name in ("throughput.png", "latency.png"):
        assert (path / name).read_bytes().startswith(PNG_SIGNATURE)


def test_pngs_are_valid_images(default_report):
    from matplotlib import image

    path, _, _ = default_report
    for name in ("throughput.png", "latency.png"):
        pixels = image.imread(path / name)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400
        assert pixels.std() > 0  # not a blank canvas


def test_run_json_is_versioned_strict_json_with_every_sample(default_report):
    path, _, _ = default_report
    document = strict_json(path / "run.json")
    assert document["format"] == "wirebench/1"
    assert document["run"]["run_id"] == "20261126T204233Z"
    statuses = [s["status"] for s in document["samples"]]
    assert (statuses.count("ok"), statuses.count("skipped"), statuses.count("failed")) == (
        110,
        8,
        0,
    )
    sample = next(
        s for s in document["samples"] if s["id"] == "uvloop-protocol@cpython3.11/get-p16#1"
    )
    assert sample["server_host"] == "server1"
    assert sample["tests"]["GET"]["rps"] == 455373.38  # re-parsed from stdout.csv
    assert sample["tests"]["GET"]["hosts"]["load1"]["p99_latency_ms"] == 4.791
    assert sample["server"]["cpu_s"] > 0 and sample["server"]["restarted"] is False
    assert sample["load_hosts"]["load1"]["argv"][0] == "redis-benchmark"
    assert 0 < sample["load_hosts"]["load1"]["client_cpu_share"] <= 1


def test_cells_have_statistics_and_paired_shares_of_redis(default_report):
    path, _, _ = default_report
    document = strict_json(path / "run.json")
    redis = cells_by(document, "redis", "native", "get-p16")
    # Each redis repetition pairs with itself; five pairs are too few for a 95% interval.
    assert redis["share_of_redis"] == {"median": 1.0, "ci_low": None, "ci_high": None, "pairs": 5}
    cell = cells_by(document, "asyncio-protocol", "cpython3.11", "get-p16")
    stats = cell["rps"]
    assert len(stats["values"]) == cell["samples_ok"] == 5
    assert stats["min"] <= stats["median"] <= stats["max"]
    assert stats["cv"] > 0
    share = cell["share_of_redis"]
    expected = interpolated_shares(document, "asyncio-protocol", "cpython3.11", "get-p16")
    assert share["pairs"] == len(expected) == 5
    assert share["median"] == pytest.approx(float(np.median(expected)))
    assert (share["ci_low"], share["ci_high"]) == (None, None)
    # Not the ratio of the two medians any more (that was share_of_native).
    assert share["median"] != pytest.approx(stats["median"] / redis["rps"]["median"], rel=1e-6)
    assert "share_of_native" not in cell
    assert cell["redis_client_bound"] is False
    assert cell["requests_per_server_cpu_s"] > 0
    latencies = [cell[f"{name}_latency_ms"] for name in ("p50", "p95", "p99", "max")]
    assert latencies[0] > 0 and latencies == sorted(latencies)


def test_every_cell_of_the_golden_runs_has_a_consistent_share(run_copy):
    for name in ("default", "seed", "seed-timed", "instrument", "adaptive", "quick-a", "quick-b"):
        collected, _ = report.report(run_copy(name), with_plots=False)
        for cell in collected.cells:
            share = cell["share_of_redis"]
            # Every ok repetition pairs (each run has redis ok for every workload).
            assert share["pairs"] == cell["samples_ok"] > 0
            assert share["median"] > 0
            if share["pairs"] >= 6:
                assert share["ci_low"] <= share["median"] <= share["ci_high"]
            else:
                assert share["ci_low"] is None and share["ci_high"] is None


def test_summary_csv_has_a_row_per_cell(default_report):
    path, _, _ = default_report
    rows = list(csv.DictReader((path / "summary.csv").open()))
    assert len(rows) == 22  # 11 implementation@interpreter pairs x 2 workloads
    row = next(
        r
        for r in rows
        if r["implementation"] == "threads"
        and r["interpreter"] == "pypy3"
        and r["workload"] == "get"
    )
    assert float(row["median_rps"]) > 0 and float(row["share_of_redis"]) > 0
    assert row["share_pairs"] == "5" and row["share_ci_low"] == row["share_ci_high"] == ""
    assert row["redis_client_bound"] == "False"
    assert 0 < float(row["p95_latency_ms"]) <= float(row["max_latency_ms"])
    assert row["gets"].startswith("GETs hit")


def test_report_states_its_conditions_above_the_table(default_report):
    path, _, text = default_report
    markdown = (path / "report.md").read_text()
    conditions = markdown.index("## Conditions")
    table = markdown.index("## get: GET")
    assert conditions < table
    head = markdown[conditions:table]
    for expected in (
        "AMD EPYC",
        "Linux 6.18",
        "NIC eth0 (veth",
        "redis-benchmark 7.0.15",
        "CPython 3.11.2",
        "PyPy 3.9.16",
        "git 2fb483e91240",
    ):
        assert expected in head, expected
    assert "`redis-benchmark -t get -n 500000 -c 50 -P 16 -d 3 --csv -r 100000`" in markdown
    assert "GETs hit: all 100,000 keys" in markdown
    assert "| implementation | native | cpython3.11 | pypy3 |" in markdown
    assert "![throughput](throughput.png)" in markdown
    # The terminal gets the same grid.
    assert "implementation    native" in text and "get-p16: GET on server1" in text


def test_conditions_name_a_parser_the_run_chose(default_report, run_copy):
    """wirebench_server_parser other than auto is a condition of every Python number."""
    path, _, _ = default_report
    assert "request parser" not in (path / "report.md").read_text()  # auto: not said
    chosen = run_copy("default")
    meta = json.loads((chosen / "run-meta.json").read_text())
    meta["matrix"]["server_parser"] = "python"
    (chosen / "run-meta.json").write_text(json.dumps(meta))
    report.report(chosen)
    markdown = (chosen / "report.md").read_text()
    head = markdown[markdown.index("## Conditions") : markdown.index("## get: GET")]
    assert (
        "- request parser: python in every Python server (wirebench_server_parser; auto: each "
        "implementation's own)"
    ) in head


def test_conditions_say_the_preload_was_read_back_only_where_every_sample_says_so(
    default_report, run_copy
):
    """The committed run is from before the read-back: its text stays as it was."""
    path, _, _ = default_report
    markdown = (path / "report.md").read_text()
    assert "GETs hit: all 100,000 keys of -r 100000 were preloaded before each run" in markdown
    read_back = run_copy("default")
    samples = sorted((read_back / "raw").glob("*/sample.json"))
    for sample_path in samples:
        sample = json.loads(sample_path.read_text())
        if sample.get("verified"):
            sample["verified"]["preload_read_back"] = True
            sample_path.write_text(json.dumps(sample))
    report.report(read_back, with_plots=False)
    markdown = (read_back / "report.md").read_text()
    assert markdown.count("were preloaded and read back before each run") == 2  # both workloads
    # One sample that did not read back: the workload's text does not claim it.
    sample = json.loads(samples[0].read_text())
    del sample["verified"]["preload_read_back"]
    samples[0].write_text(json.dumps(sample))
    report.report(read_back, with_plots=False)
    assert (read_back / "report.md").read_text().count("and read back") == 1


def test_details_show_the_share_with_its_interval_and_every_latency(default_report, run_copy):
    path, _, _ = default_report
    markdown = (path / "report.md").read_text()
    assert "| share of redis (95% CI) | p50 ms | p95 ms | p99 ms | max ms |" in markdown
    # Five pairs: no 95% interval exists, and the row says so instead of printing one.
    assert "| 5/5 | 706,215 | 674,764 | 758,725 | 4.5% | 100% (reference) |" in markdown
    assert "% (too few pairs for a 95% interval: 5) |" in markdown
    path = run_copy("adaptive")
    collected, _ = report.report(path, with_plots=False)
    share = next(c for c in collected.cells if c["implementation"] != "redis")["share_of_redis"]
    # Six pairs: the interval is the smallest to the largest paired share.
    interval = f"{100 * share['ci_low']:.1f}–{100 * share['ci_high']:.1f}%"
    assert f"| {100 * share['median']:.1f}% ({interval}) |" in (path / "report.md").read_text()


def test_skipped_combinations_are_listed_with_their_reason(default_report):
    path, _, _ = default_report
    markdown = (path / "report.md").read_text()
    assert (
        "skipped `uvloop@pypy3` (get#1, get-p16#1): implementation 'uvloop' does not support pypy"
        in markdown
    )


def test_recollect_gives_the_same_run_json(run_copy):
    path = run_copy("seed")
    report.report(path, with_plots=False)
    first = (path / "run.json").read_bytes()
    report.report(path, with_plots=False)
    assert (path / "run.json").read_bytes() == first


def test_seed_run_says_its_gets_missed_and_flags_the_spread(run_copy):
    path = run_copy("seed")
    report.report(path, with_plots=False)
    markdown = (path / "report.md").read_text()
    assert "GETs miss: no key was preloaded (as in the blog)" in markdown
    document = strict_json(path / "run.json")
    for cell in document["cells"]:
        # Repetitions on this shared machine varied by 14-20%: above the 10% threshold.
        assert cell["rps"]["cv"] > 0.10 and "UNSTABLE" in cell["flags"]
    # A looser threshold clears the flag: it is the threshold that decides, not the data.
    collected, _ = report.report(path, Thresholds(unstable_cv=0.5), with_plots=False)
    assert not any("UNSTABLE" in c["flags"] for c in collected.cells)


def test_client_bound_flag_follows_the_clients_cpu(run_copy):
    path = run_copy("seed")
    collected, _ = report.report(path, Thresholds(client_cpu_share=0.3), with_plots=False)
    assert all("CLIENT-BOUND" in c["flags"] for c in collected.cells)
    collected, _ = report.report(path, Thresholds(client_cpu_share=1.0), with_plots=False)
    assert not any("CLIENT-BOUND" in c["flags"] for c in collected.cells)


def test_a_share_above_a_client_bound_redis_is_not_printed_as_beating_redis(run_copy):
    path = run_copy("seed-timed")
    collected, text = report.report(path, with_plots=False)
    uvloop = next(c for c in collected.cells if c["implementation"] == "uvloop")
    assert uvloop["share_of_redis"]["median"] > 1.0 and not uvloop["redis_client_bound"]
    assert "38,066 ±28% (101%) UNSTABLE" in text  # redis not CLIENT-BOUND: a share like any
    # The same run with a threshold that makes every cell, redis too, CLIENT-BOUND.
    collected, text = report.report(path, Thresholds(client_cpu_share=0.3), with_plots=False)
    uvloop = next(c for c in collected.cells if c["implementation"] == "uvloop")
    assert uvloop["redis_client_bound"] is True
    assert "38,066 ±28% (≥ redis, client-bound) UNSTABLE CLIENT-BOUND" in text
    markdown = (path / "report.md").read_text()
    assert "(≥ redis, client-bound)" in markdown and "101%" not in markdown
    assert "| ≥ redis, client-bound |" in markdown  # the detail table
    assert "how it compares with redis beyond that this run cannot tell" in markdown
    assert tables.share_phrase(uvloop) == "≥ redis, client-bound"  # what compare prints
    # Below redis, the share is printed (an upper bound, as the legend says).
    gevent = next(c for c in collected.cells if c["implementation"] == "gevent")
    assert tables.share_phrase(gevent).startswith("72% of redis")


def test_a_crashed_server_is_failed_and_restarted_while_redis_is_reported(run_copy):
    path = run_copy("crash")
    collected, text = report.report(path)
    crashed = next(c for c in collected.cells if c["implementation"] == "asyncio-protocol")
    assert crashed["samples_ok"] == 0 and crashed["failures"] == ["server_crashed"]
    assert crashed["test"] == "GET"  # counted against the test the workload measures
    assert {"RESTARTED", "FAILED"} <= set(crashed["flags"])
    redis = next(c for c in collected.cells if c["implementation"] == "redis")
    assert redis["rps"]["median"] > 0
    markdown = (path / "report.md").read_text()
    assert (
        "FAILED `asyncio-protocol@cpython3.11/long-get#1` on server1: server_crashed: " in markdown
    )
    assert "MainPID 1644 -> 0" in markdown
    assert "failed: server_crashed" in text


def test_adaptive_run_lists_the_repetitions_not_needed(run_copy):
    path = run_copy("adaptive")
    collected, _ = report.report(path, with_plots=False)
    assert collected.counts() == {"ok": 12, "failed": 0, "skipped": 4}
    assert "not needed: the median's 95% confidence interval" in (path / "report.md").read_text()


def test_odd_cells_fail_with_their_reason_and_nothing_else_is_lost(run_copy):
    path = run_copy("odd")
    collected, _ = report.report(path)
    samples = {s["id"]: s for s in strict_json(path / "run.json")["samples"]}
    reasons = {i: (s["status"], s.get("failure"), s.get("reason")) for i, s in samples.items()}
    assert reasons["asyncio@cpython3.11/get#1"] == (
        "failed",
        "benchmark_error",
        "load1: stdout.csv: GET: rps is 'inf'",
    )
    assert reasons["gevent@cpython3.11/get#1"] == (
        "failed",
        "benchmark_error",
        "load1: stdout.csv is missing",
    )
    assert reasons["uvloop@cpython3.11/get#1"][:2] == ("failed", "unreadable")
    assert "sample.json is not valid JSON" in reasons["uvloop@cpython3.11/get#1"][2]
    status, failure, reason = reasons["asyncio@pypy3/get#1"]
    assert (status, failure) == ("failed", "benchmark_error")
    assert "no CSV table" in reason and "NOAUTH Authentication required." in reason
    # A WARNING line mixed into stdout is set aside; the sample stays ok.
    threads = samples["threads@cpython3.11/get#1"]
    assert threads["status"] == "ok" and threads["tests"]["GET"]["rps"] == 25641.03
    assert threads["load_hosts"]["load1"]["warnings"] == ["WARNING: Could not fetch server CONFIG"]
    # The cell in flight is named; every other cell is still reported.
    assert "threads@pypy3/get#1" not in samples
    run_document = strict_json(path / "run.json")
    assert any("threads@pypy3_get_1" in p and "in flight" in p for p in run_document["problems"])
    assert collected.counts() == {"ok": 6, "failed": 4, "skipped": 4}
    markdown = (path / "report.md").read_text()
    assert "## Problems reading the run" in markdown
    assert "`WARNING: Could not fetch server CONFIG` in 1 sample" in markdown


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RunDirError, match="no such folder"):
        load_run(tmp_path / "nope")
    with pytest.raises(RunDirError, match=r"not a wirebench run folder: run-meta\.json is missing"):
        load_run(tmp_path)
    (tmp_path / "run-meta.json").write_text('{"format": "wirebench/0"}')
    with pytest.raises(RunDirError, match="format 'wirebench/0'; this collect reads wirebench/1"):
        load_run(tmp_path)


def test_command_line_report_and_its_errors(run_copy, tmp_path):
    path = run_copy("crash")
    done = subprocess.run(
        [sys.executable, "-m", "collect", "report", str(path), "--no-plots"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "long-get: GET on server1" in done.stdout and (path / "report.md").exists()
    done = subprocess.run(
        [sys.executable, "-m", "collect", "report", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "collect report:" in done.stderr and "no such folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_time_outside_measured_runs_and_load_cpu_are_reported(run_copy):
    # A seed run recorded after the run learned to time its cells and read the load CPU.
    path = run_copy("seed-timed")
    collected, _ = report.report(path, with_plots=False)
    outside = collected.outside
    assert outside["cells"] == 20
    assert 0 < outside["min_s"] <= outside["median_s"] <= outside["max_s"]
    assert outside["total_s"] < outside["cells_total_s"]
    for sample in collected.run.samples:
        timing = sample.timing
        assert timing.cell_s == pytest.approx(timing.measured_s + timing.outside_s, abs=0.01)
        assert 0 < sample.load_hosts["load1"].load_cpu_busy <= 1
        assert sample.load_hosts["load1"].load_cpus == [1]
    for cell in collected.cells:
        assert 0 < cell["load_cpu_busy"] <= 1
    markdown = (path / "report.md").read_text()
    assert "## Time outside the measured runs" in markdown
    assert f"median {outside['median_s']:.1f} s" in markdown


def test_two_load_hosts_are_summed_and_each_hosts_latency_kept(run_copy):
    path = run_copy("two-loads")
    collected, _ = report.report(path, with_plots=False)
    sample = next(s for s in collected.run.samples if s.id == "asyncio-protocol@cpython3.11/get#1")
    hosts = sample.tests["GET"].hosts
    assert set(hosts) == {"load1", "load2"}
    assert sample.tests["GET"].rps == pytest.approx(hosts["load1"]["rps"] + hosts["load2"]["rps"])
    assert hosts["load1"]["p99_latency_ms"] == 4.303 and hosts["load2"]["p99_latency_ms"] == 4.271
    cell = next(c for c in collected.cells if c["implementation"] == "asyncio-protocol")
    assert cell["p99_latency_ms"] == 4.303  # the worse of the two hosts
    # This run's hosts started 0.5 s apart for runs of 0.06 s: never at once. The sum is
    # kept, and flagged, not passed off as the server's rate.
    assert sample.load_overlap == 0.0
    assert "NOT-CONCURRENT" in cell["flags"]
    assert "`NOT-CONCURRENT`" in (path / "report.md").read_text()
    assert "from load1, load2 at once" in (path / "report.md").read_text()


def test_several_server_hosts_get_a_table_each(run_copy):
    path = run_copy("two-servers")
    collected, text = report.report(path, with_plots=False)
    assert {s.server_host for s in collected.run.samples} == {"server1", "server2"}
    assert collected.counts() == {"ok": 8, "failed": 0, "skipped": 0}
    for host, load in (("server1", "load1"), ("server2", "load2")):
        cells = [c for c in collected.cells if c["server_host"] == host]
        assert {c["implementation"] for c in cells} == {"redis", "asyncio-protocol"}
        # Each host's share is against its own native redis, not the other host's.
        ours = next(c for c in cells if c["implementation"] == "asyncio-protocol")
        document = strict_json(path / "run.json")
        expected = interpolated_shares(
            document, "asyncio-protocol", "cpython3.11", "get", host=host
        )
        assert ours["share_of_redis"]["median"] == pytest.approx(float(np.median(expected)))
        assert f"get: GET on {host}" in text
        assert f"--csv -r 1000` from {load};" in (path / "report.md").read_text()
    rows = list(csv.DictReader((path / "summary.csv").open()))
    assert sorted({row["server_host"] for row in rows}) == ["server1", "server2"]


def test_a_seconds_workloads_count_is_named_for_what_it_is():
    from collect.conditions import workload_flags

    argv_file = RUNS / "default10" / "raw" / "redis@native_get-p16_1" / "load1" / "argv.json"
    argv = json.loads(argv_file.read_text())
    assert workload_flags(argv) == (
        "redis-benchmark -t get -n 500000 -c 50 -P 16 -d 3 --csv -r 100000"
    )
    # With seconds: 3 each cell's -n came from its own warm-up: no one count describes them.
    assert workload_flags(argv, 3) == (
        "redis-benchmark -t get -n <3 s at each cell's warm-up rate> -c 50 -P 16 -d 3 --csv -r 100000"
    )
