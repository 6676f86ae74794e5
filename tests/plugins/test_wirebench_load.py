"""The load host's cell module against real servers on loopback (redis-server and ours)."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
from wirebench_load import (
    CellError,
    busy_fraction,
    cpu_jiffies,
    csv_rate,
    measure,
    prepare,
    verify,
    wait_until_answering,
)

from tests.servers.conftest import start_python_server, start_redis_server

WORKLOAD = {"tests": "get", "clients": 10, "pipeline": 1, "keyspace": 1000, "requests": 5000}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    running = start_redis_server(tmp_path_factory.mktemp("redis"), "--requirepass", "s3cret-pw-xyz")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def our_server(tmp_path_factory):
    running = start_python_server("asyncio-protocol", tmp_path_factory.mktemp("ours"))
    yield running
    running.stop()


def params(server, **extra):
    return {"host": "127.0.0.1", "port": server.port, "password": "", "timeout": 120.0,
            "workload": dict(WORKLOAD), **extra}  # fmt: skip


def test_prepare_verifies_preloads_and_warms_up(our_server):
    result = prepare(params(our_server, workload={**WORKLOAD, "preload": True}))
    assert result["verified"] == {"round_trip": True, "dbsize": 0, "preloaded_keys": 1000}
    assert result["warmup_rps"] > 0
    assert result["requests"] == 5000


def test_prepare_with_a_password_and_seconds(redis_server):
    workload = {"tests": "get", "clients": 5, "seconds": 1, "keyspace": 100, "preload": True}
    result = prepare(params(redis_server, password="s3cret-pw-xyz", workload=workload))
    assert result["verified"]["preloaded_keys"] == 100
    # Calibrated from the warm-up's rate: about one second's worth (never fewer than 2000).
    assert result["requests"] >= 2000


def test_measure_writes_every_artefact(our_server, tmp_path):
    result = measure(params(our_server, requests=3000, dest=str(tmp_path / "cell")))
    assert result["result"]["exit_code"] == 0
    assert csv_rate(result["stdout"]) > 0
    files = {path.name for path in (tmp_path / "cell").iterdir()}
    assert files == {"argv.json", "stdout.csv", "stderr.txt", "result.json"}
    recorded = json.loads((tmp_path / "cell" / "result.json").read_text())
    assert recorded["client_cpu_s"] > 0 and recorded["elapsed_s"] > 0
    assert recorded["timed_out"] is False
    assert recorded["threads"] == 1
    assert recorded["load_cpu"]["cpus"] == sorted(os.sched_getaffinity(0))
    assert 0 < recorded["load_cpu"]["busy_fraction"] <= 1
    assert result["result"]["load_cpu"] == recorded["load_cpu"]
    argv = json.loads((tmp_path / "cell" / "argv.json").read_text())
    assert argv[:1] == ["redis-benchmark"] and "-n" in argv and "3000" in argv


def test_password_never_reaches_the_artefacts(redis_server, tmp_path):
    result = measure(
        params(redis_server, password="s3cret-pw-xyz", requests=2000, dest=str(tmp_path))
    )
    assert result["result"]["exit_code"] == 0
    assert json.loads((tmp_path / "argv.json").read_text())[-2:] == ["-a", "<redacted>"]
    assert all("s3cret-pw-xyz" not in path.read_text() for path in tmp_path.iterdir())


def test_a_run_past_its_timeout_is_stopped_and_kept(our_server, tmp_path):
    result = measure(params(our_server, requests=50_000_000, timeout=1.0, dest=str(tmp_path)))
    assert result["result"]["timed_out"] is True
    assert (tmp_path / "result.json").exists()


def test_unreachable_port_is_named(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(CellError, match=f"127.0.0.1:{port} did not answer") as caught:
        wait_until_answering("127.0.0.1", port, "", seconds=1.0)
    assert caught.value.status == "unreachable"


@pytest.fixture
def blog_style_server():
    """A server with the blog's bug: every GET answers a fixed 1, whatever was stored."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    for name, reply in ((b"SET", b"+OK\r\n"), (b"GET", b"$1\r\n1\r\n"),
                                        (b"DEL", b":1\r\n"), (b"DBSIZE", b":0\r\n"),
                                        (b"PING", b"+PONG\r\n")):  # fmt: skip
                        if name in data:
                            conn.sendall(reply)
                            data = b""

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_get_that_does_not_return_the_stored_value_fails_verification(blog_style_server):
    with pytest.raises(CellError, match="SET/GET round trip failed") as caught:
        verify("127.0.0.1", blog_style_server, "")
    assert caught.value.status == "verify_failed"


GOLDEN = Path(__file__).parent / "golden"


def test_proc_stat_gives_each_cpus_busy_and_total_jiffies():
    # A real /proc/stat of a 2-CPU machine; the "cpu" line (all CPUs summed) is not a CPU.
    jiffies = cpu_jiffies((GOLDEN / "proc_stat_before").read_text())
    assert sorted(jiffies) == [0, 1]
    # cpu0 352059 0 99000 535683 1612 0 17576 1622 0 0: idle and iowait are not busy;
    # guest columns are already in user and nice.
    assert jiffies[0] == (
        352059 + 99000 + 17576 + 1622,
        352059 + 99000 + 535683 + 1612 + 17576 + 1622,
    )


def test_busy_fraction_counts_only_the_given_cpus():
    before = cpu_jiffies((GOLDEN / "proc_stat_before").read_text())
    after = cpu_jiffies((GOLDEN / "proc_stat_after").read_text())
    # Between the two readings cpu0 was busy 81 of 97 jiffies, cpu1 97 of 100.
    assert busy_fraction(before, after, [0]) == pytest.approx(81 / 97)
    assert busy_fraction(before, after, [1]) == pytest.approx(97 / 100)
    assert busy_fraction(before, after, [0, 1]) == pytest.approx(178 / 197)
    # No tick elapsed, or a CPU the readings do not have: nothing to say.
    assert busy_fraction(before, before, [0, 1]) is None
    assert busy_fraction(before, after, [7]) is None


def test_busy_fraction_stays_a_fraction_when_iowait_goes_backwards():
    before = {0: (100, 200)}
    after = {0: (160, 250)}  # iowait fell by 10: busy grew more than total
    assert busy_fraction(before, after, [0]) == 1.0


def test_measure_records_redis_benchmark_threads(our_server, tmp_path):
    workload = {**WORKLOAD, "threads": 2}
    result = measure(params(our_server, workload=workload, requests=2000, dest=str(tmp_path)))
    assert result["result"]["threads"] == 2
    assert "--threads" in json.loads((tmp_path / "argv.json").read_text())


def test_measure_waits_for_a_common_start(our_server, tmp_path):
    import time

    start_at = time.time() + 1.5
    result = measure(params(our_server, requests=2000, dest=str(tmp_path), start_at=start_at))
    recorded = json.loads((tmp_path / "result.json").read_text())
    assert recorded["start_at"] == start_at
    assert recorded["started"] >= start_at and 0 <= recorded["start_lag_s"] < 1.0
    assert result["result"]["exit_code"] == 0


def test_a_start_already_past_starts_at_once_and_says_how_late(our_server, tmp_path):
    import time

    start_at = time.time() - 2.0
    measure(params(our_server, requests=2000, dest=str(tmp_path), start_at=start_at))
    assert json.loads((tmp_path / "result.json").read_text())["start_lag_s"] >= 2.0


def test_a_start_too_far_ahead_is_refused(our_server, tmp_path):
    import time

    with pytest.raises(CellError, match="ahead of this host's clock"):
        measure(params(our_server, requests=2000, dest=str(tmp_path), start_at=time.time() + 3600))
