"""The load host's side of a cell (agent/load.py) against real servers on loopback."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from agent import load
from agent.load import (
    MIN_WARMUP,
    TIMEOUT_FACTOR,
    WARMUP_RUNS,
    cell,
    derived_timeout,
    measure,
    prepare,
    warm_up,
)
from agent.loadgen import CellError, csv_rate
from tests.agent.conftest import (
    PASSWORD,
    WORKLOAD,
    benchmark_child,
    flush,
    once_benchmark_runs,
    params,
)
from tests.agent.test_loadgen import free_port

ARTEFACTS = {"argv.json", "stdout.csv", "stderr.txt", "result.json"}


def test_prepare_verifies_preloads_and_warms_up(our_server):
    flush(our_server)
    result = prepare(params(our_server, workload={**WORKLOAD, "preload": True}))
    assert result["verified"] == {
        "round_trip": True,
        "dbsize": 0,
        "preloaded_keys": 1000,
        "preload_read_back": True,
    }
    assert result["warmup_rps"] > 0
    assert result["requests"] == 5000
    assert result["run_timeout"] == derived_timeout(5000, result["warmup_rps"], 120.0, 30.0)


def test_prepare_with_a_password_and_seconds(redis_server):
    workload = {"tests": "get", "clients": 5, "seconds": 1, "keyspace": 100, "preload": True}
    result = prepare(params(redis_server, workload=workload))
    assert result["verified"]["preloaded_keys"] == 100
    # Calibrated from the warm-up's rate: about one second's worth (never fewer than 2000).
    assert result["requests"] == max(int(result["warmup_rps"]), 2000)


def warm_up_runs(monkeypatch) -> list:
    """(requests, rate) of each run the warm-up makes, the real redis-benchmark's."""
    runs, real = [], load.run_benchmark

    def recorded(argv, password, timeout, watch=None):
        run = real(argv, password, timeout, watch)
        runs.append((int(argv[argv.index("-n") + 1]), csv_rate(run["stdout"])))
        return run

    monkeypatch.setattr(load, "run_benchmark", recorded)
    return runs


def test_a_seconds_workload_warms_up_for_a_tenth_of_its_seconds(redis_server, monkeypatch):
    runs = warm_up_runs(monkeypatch)
    workload = {"tests": "get", "clients": 10, "pipeline": 16, "seconds": 2, "keyspace": 100}
    rate = warm_up(params(redis_server, workload=workload))
    assert 1 <= len(runs) <= WARMUP_RUNS and runs[0][0] == MIN_WARMUP
    assert rate == runs[-1][1] and rate > 0
    # Each run after the first is sized from the one before; the last lasted long enough,
    # or the warm-up made all the runs it may.
    for (requests, earlier), (following, _) in zip(runs, runs[1:]):
        assert following == max(int(1.2 * earlier * 0.2), 2 * requests)
    last_requests, last_rate = runs[-1]
    assert last_requests / last_rate >= 0.2 or len(runs) == WARMUP_RUNS


def test_a_requests_workload_warms_up_once_with_a_tenth_of_its_requests(our_server, monkeypatch):
    runs = warm_up_runs(monkeypatch)
    rate = warm_up(params(our_server, workload={**WORKLOAD, "requests": 50_000}))
    assert [requests for requests, _ in runs] == [5000] and rate == runs[0][1]


@pytest.mark.parametrize(
    "requests, rate, expected",
    [
        (100_000, 50_000.0, 30.0),  # 10 s expected: the floor
        (1_000_000, 50_000.0, 100.0),  # 20 s expected: five times that
        (100_000_000, 50_000.0, 600.0),  # 10,000 s expected: the cap
        (100_000, None, 600.0),  # no warm-up rate: the cap
        (100_000, 0.0, 600.0),
    ],
)
def test_the_measured_runs_limit_is_derived_from_the_warm_up(requests, rate, expected):
    assert derived_timeout(requests, rate, cap=600.0, floor=30.0) == expected


def test_the_derived_limit_is_a_multiple_of_the_expected_length():
    assert derived_timeout(1000, 10.0, cap=1e9, floor=0.0) == TIMEOUT_FACTOR * 100


def test_measure_writes_every_artefact_and_returns_them(our_server, tmp_path):
    dest = tmp_path / "cell"
    result = measure(params(our_server, dest=str(dest)), 3000, 60.0)
    assert result["requests"] == 3000 and result["run_timeout"] == 60.0
    texts = result["artefacts"]
    assert set(texts) == ARTEFACTS == {path.name for path in dest.iterdir()}
    assert all((dest / name).read_text() == text for name, text in texts.items())
    recorded = json.loads(texts["result.json"])
    assert recorded["exit_code"] == 0
    assert csv_rate(texts["stdout.csv"]) > 0
    assert recorded["client_cpu_s"] > 0 and recorded["elapsed_s"] > 0
    assert recorded["timed_out"] is False and recorded["server_closed"] is False
    assert recorded["server_cpu_s"] > 0
    assert isinstance(recorded["pids_started_during_run"], int)
    assert recorded["threads"] == 1 and recorded["timeout_s"] == 60.0
    assert recorded["start_at"] is None and recorded["start_lag_s"] is None
    assert recorded["load_cpu"]["cpus"] == sorted(os.sched_getaffinity(0))
    assert recorded["load_cpu"]["pinned"] is False
    assert 0 < recorded["load_cpu"]["busy_fraction"] <= 1
    # Both ends of the run's counters of what else used the host: collect/interference.py.
    for end in ("before", "after"):
        counters = recorded["interference"][end]
        assert sorted(counters["cpus"]) == [str(cpu) for cpu in sorted(os.sched_getaffinity(0))]
        assert "OutSegs" in counters["tcp"] and isinstance(counters["nics"], dict)
    uptimes = [recorded["interference"][end]["uptime_s"] for end in ("before", "after")]
    assert 0 < uptimes[0] <= uptimes[1]  # /proc/uptime counts hundredths of a second
    argv = json.loads(texts["argv.json"])
    assert argv[:1] == ["redis-benchmark"] and argv[argv.index("-n") + 1] == "3000"


def test_the_password_never_reaches_the_artefacts(redis_server, tmp_path):
    result = measure(params(redis_server, dest=str(tmp_path)), 2000, 60.0)
    assert json.loads(result["artefacts"]["result.json"])["exit_code"] == 0
    assert json.loads((tmp_path / "argv.json").read_text())[-2:] == ["-a", "<redacted>"]
    assert all(PASSWORD not in path.read_text() for path in tmp_path.iterdir())
    assert PASSWORD not in json.dumps(result)


def test_a_run_past_its_timeout_is_stopped_and_kept(our_server, tmp_path):
    result = measure(params(our_server, dest=str(tmp_path)), 500_000_000, 1.0)
    assert json.loads(result["artefacts"]["result.json"])["timed_out"] is True
    assert json.loads((tmp_path / "result.json").read_text())["timed_out"] is True


def test_measure_records_redis_benchmark_threads(our_server, tmp_path):
    workload = {**WORKLOAD, "threads": 2}
    measure(params(our_server, workload=workload, dest=str(tmp_path)), 2000, 60.0)
    assert json.loads((tmp_path / "result.json").read_text())["threads"] == 2
    assert "--threads" in json.loads((tmp_path / "argv.json").read_text())


def test_measure_waits_for_a_common_start(our_server, tmp_path):
    start_at = time.time() + 0.5
    measure(params(our_server, dest=str(tmp_path), start_at=start_at), 2000, 60.0)
    recorded = json.loads((tmp_path / "result.json").read_text())
    assert recorded["start_at"] == start_at
    # Never before the common start; the lag is what it was.
    assert recorded["started"] >= start_at
    assert recorded["start_lag_s"] == round(recorded["started"] - start_at, 4)


def test_a_start_already_past_starts_at_once_and_says_how_late(our_server, tmp_path):
    start_at = time.time() - 2.0
    measure(params(our_server, dest=str(tmp_path), start_at=start_at), 2000, 60.0)
    assert json.loads((tmp_path / "result.json").read_text())["start_lag_s"] >= 2.0


def test_a_start_too_far_ahead_is_refused(our_server, tmp_path):
    with pytest.raises(CellError, match="ahead of this host's clock") as caught:
        measure(params(our_server, dest=str(tmp_path), start_at=time.time() + 3600), 2000, 60.0)
    assert caught.value.kind == "benchmark_error"
    assert not list(tmp_path.iterdir())


def test_measuring_a_port_nobody_listens_on_is_no_answer(tmp_path):
    server = type("Gone", (), {"port": free_port(), "argv": []})()
    with pytest.raises(CellError) as caught:
        measure(params(server, dest=str(tmp_path)), 2000, 60.0)
    assert caught.value.kind == "no_answer"


def test_a_cell_prepares_then_measures_the_calibrated_requests(our_server, tmp_path):
    workload = {"tests": "get", "clients": 5, "seconds": 1, "keyspace": 100, "preload": True}
    result = cell(params(our_server, workload=workload, dest=str(tmp_path)))
    assert result["verified"]["preloaded_keys"] == 100
    argv = json.loads(result["artefacts"]["argv.json"])
    assert argv[argv.index("-n") + 1] == str(result["requests"])
    assert json.loads(result["artefacts"]["result.json"])["timeout_s"] == result["run_timeout"]


def test_raw_files_that_cannot_be_kept_are_a_benchmark_error(our_server, tmp_path):
    """A full or read-only disk on the load host is not the server's failure."""
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(CellError, match="cannot keep the raw files") as caught:
        measure(params(our_server, dest=str(tmp_path / "not-a-folder" / "cell")), 2000, 60.0)
    assert caught.value.kind == "benchmark_error"


@pytest.fixture
def server_that_dies_after_accepting():
    """Accepts a connection and closes it at once: a server that died after answering."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_and_close():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=accept_and_close, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_server_gone_before_the_run_starts_is_server_crashed(
    server_that_dies_after_accepting, tmp_path
):
    port = server_that_dies_after_accepting
    server = type("Gone", (), {"port": port, "argv": []})()
    with pytest.raises(CellError) as caught:
        measure(params(server, dest=str(tmp_path)), 2000, 60.0)
    assert caught.value.kind == "server_crashed"


def test_a_pinned_redis_benchmark_runs_on_its_cpus_and_says_so(our_server, load_cpus_file,
                                                                tmp_path):  # fmt: skip
    pinned = max(os.sched_getaffinity(0))  # a CPU of this machine, not necessarily all of them
    load_cpus_file.write_text(f"{pinned}\n")
    seen = []  # the running redis-benchmark's own Cpus_allowed_list, read from /proc
    watcher = once_benchmark_runs(lambda: seen.append(allowed_list(benchmark_child())))
    measure(params(our_server, dest=str(tmp_path)), 20_000, 60.0)
    watcher.join(5)
    assert seen == [str(pinned)]
    recorded = json.loads((tmp_path / "result.json").read_text())
    assert recorded["exit_code"] == 0
    assert recorded["load_cpu"]["cpus"] == [pinned] and recorded["load_cpu"]["pinned"] is True
    assert sorted(recorded["interference"]["before"]["cpus"]) == [str(pinned)]


def allowed_list(pid) -> str:
    with open(f"/proc/{pid}/status") as handle:
        return next(line.split(":", 1)[1].strip() for line in handle
                    if line.startswith("Cpus_allowed_list:"))  # fmt: skip


def test_the_warm_up_is_pinned_too(our_server, load_cpus_file):
    load_cpus_file.write_text("4000\n")  # no such CPU: the warm-up cannot start
    with pytest.raises(CellError, match="are not ones this host lets it use") as caught:
        prepare(params(our_server))
    assert caught.value.kind == "benchmark_error"
