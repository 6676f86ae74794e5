"""The load host's client side (agent/loadgen.py) against real servers on loopback."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest

from agent import loadgen
from agent.interference import cpu_times
from agent.loadgen import (
    CellError,
    Connection,
    benchmark_argv,
    busy_fraction,
    cpu_jiffies,
    csv_rate,
    key_name,
    others_started,
    pids_between,
    preload,
    read_back,
    run_benchmark,
    verify,
    wait_until_answering,
)
from tests.agent.conftest import PASSWORD, flush, once_benchmark_runs

GOLDEN = Path(__file__).parent / "golden"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on once it is closed
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def test_a_port_that_never_answers_is_no_answer():
    port = free_port()
    with pytest.raises(CellError, match=f"127.0.0.1:{port} did not answer") as caught:
        wait_until_answering(HOST, port, "", seconds=1.0)
    assert caught.value.kind == "no_answer"


def test_verify_round_trips_a_value_through_the_server(redis_server):
    flush(redis_server)
    connection = Connection(HOST, redis_server.port, PASSWORD)
    try:
        connection.call(b"SET", b"there", b"before")
    finally:
        connection.close()
    # The key it stores for the round trip is gone again: DBSIZE counts only the other.
    assert verify(HOST, redis_server.port, PASSWORD) == {"round_trip": True, "dbsize": 1}


def test_a_wrong_password_fails_verification(redis_server):
    with pytest.raises(CellError, match="AUTH was refused") as caught:
        verify(HOST, redis_server.port, "not-the-password")
    assert caught.value.kind == "verify_failed"


@pytest.fixture
def blog_style_server():
    """A server with the blog's bug: every GET answers a fixed 1, whatever was stored."""
    listener = socket.create_server((HOST, 0))

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
        verify(HOST, blog_style_server, "")
    assert caught.value.kind == "verify_failed"


def info_stats(server) -> dict:
    connection = Connection(HOST, server.port, PASSWORD)
    try:
        text = connection.call(b"INFO", b"stats").decode()
    finally:
        connection.close()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def test_preloaded_keys_are_the_ones_redis_benchmark_asks_for(redis_server):
    # The blog's GETs all missed: every key -r can produce must be there.
    assert preload(HOST, redis_server.port, PASSWORD, keyspace=500, data_size=7) == 500
    misses = int(info_stats(redis_server)["keyspace_misses"])
    argv = benchmark_argv(HOST, redis_server.port, {"tests": "get", "keyspace": 500}, 5000)
    run = run_benchmark(argv, PASSWORD, timeout=120.0)
    assert run["exit_code"] == 0, run["stderr"]
    stats = info_stats(redis_server)
    assert int(stats["keyspace_misses"]) == misses
    assert int(stats["keyspace_hits"]) >= 5000
    assert key_name(499) == b"key:000000000499"


def test_the_preload_read_back_refuses_a_key_that_does_not_hold_the_value(redis_server):
    """Every key is read back, a batch per round trip: one wrong value in the middle of a
    batch fails the cell, naming the key, and the connection stays usable."""
    hits = int(info_stats(redis_server)["keyspace_hits"])
    assert preload(HOST, redis_server.port, PASSWORD, keyspace=2500, data_size=3) == 2500
    assert int(info_stats(redis_server)["keyspace_hits"]) == hits + 2500  # each key read once
    connection = Connection(HOST, redis_server.port, PASSWORD)
    try:
        read_back(connection, 2500, b"xxx")  # as preloaded: nothing to say
        connection.call(b"SET", key_name(1234), b"yyy")
        with pytest.raises(CellError) as caught:
            read_back(connection, 2500, b"xxx")
        assert caught.value.kind == "verify_failed"
        assert "key:000000001234 reads back b'yyy' (wanted b'xxx')" in str(caught.value)
        assert connection.call(b"PING") == "PONG"  # every reply of the batch was read
    finally:
        connection.close()


@pytest.mark.parametrize("server", ["redis_server", "our_server"])
def test_a_watched_run_reads_the_servers_cpu_and_the_hosts_processes(server, request):
    server = request.getfixturevalue(server)
    password = PASSWORD if "--requirepass" in server.argv else ""
    argv = benchmark_argv(HOST, server.port, {"tests": "get,set", "clients": 10}, 20_000)
    watch = Connection(HOST, server.port, password)
    try:
        run = run_benchmark(argv, password, timeout=120.0, watch=watch)
    finally:
        watch.close()
    assert run["exit_code"] == 0, run["stderr"]
    assert run["timed_out"] is False and run["server_closed"] is False
    # From the server's own INFO cpu: it served 40,000 requests, so it used some CPU.
    assert isinstance(run["server_cpu_s"], float) and run["server_cpu_s"] > 0
    assert run["client_cpu_s"] > 0
    # Others' processes may start on this shared machine: only its type is certain.
    assert isinstance(run["pids_started_during_run"], int)
    assert run["pids_started_during_run"] >= 0
    assert run["argv"] == ([*argv, "-a", "<redacted>"] if password else argv)
    assert csv_rate(run["stdout"]) > 0


def test_a_run_without_a_watch_has_no_server_cpu(our_server):
    argv = benchmark_argv(HOST, our_server.port, {"tests": "get", "clients": 5}, 2000)
    run = run_benchmark(argv, "", timeout=120.0)
    assert run["exit_code"] == 0 and run["server_cpu_s"] is None and run["server_closed"] is False


def endless_run_hit_by(server, signum: int, timeout: float) -> dict:
    """A watched GET run of far more requests than ``timeout`` allows; the server gets
    ``signum`` as soon as redis-benchmark runs."""
    argv = benchmark_argv(HOST, server.port, {"tests": "get", "clients": 10}, 500_000_000)
    watch = Connection(HOST, server.port, "")
    once_benchmark_runs(lambda: server.process.send_signal(signum))
    try:
        return run_benchmark(argv, "", timeout=timeout, watch=watch)
    finally:
        watch.close()


@pytest.mark.parametrize("name", ["redis", "asyncio-protocol"])
def test_a_server_killed_mid_run_ends_the_run_at_once(name, tmp_path):
    from tests.servers.conftest import start_target

    server = start_target(name, tmp_path)
    try:
        # Only the watch connection (or redis-benchmark's own error) can end this run before
        # its hour-long timeout.
        run = endless_run_hit_by(server, signal.SIGKILL, timeout=3600.0)
    finally:
        server.stop()
    summary = {key: run[key] for key in ("exit_code", "stderr", "elapsed_s", "server_cpu_s")}
    assert run["server_closed"] is True, summary
    assert run["timed_out"] is False
    assert run["server_cpu_s"] is None  # nothing to ask a dead server


def test_a_wedged_server_times_out_and_still_gives_a_reply(doomed_server, monkeypatch):
    # A stopped server answers nothing: redis-benchmark runs into its timeout, and reading
    # the server's CPU afterwards must not wait for ever.
    monkeypatch.setattr(loadgen, "AFTER_RUN_REPLY_SECONDS", 0.5)
    try:
        run = endless_run_hit_by(doomed_server, signal.SIGSTOP, timeout=2.0)
    finally:
        doomed_server.process.send_signal(signal.SIGCONT)
    assert run["timed_out"] is True and run["server_closed"] is False
    assert run["server_cpu_s"] is None


def test_a_missing_redis_benchmark_is_a_benchmark_error(tmp_path):
    with pytest.raises(CellError, match="cannot run") as caught:
        run_benchmark([str(tmp_path / "redis-benchmark"), "-n", "1"], "", timeout=5.0)
    assert caught.value.kind == "benchmark_error"


def test_benchmark_argv_is_an_argument_list_from_the_workload():
    workload = {"tests": "get,set", "clients": 20, "pipeline": 16, "data_size": 64}
    assert benchmark_argv("10.0.0.1", 7001, workload, 1000) == [
        "redis-benchmark", "-h", "10.0.0.1", "-p", "7001", "-t", "get,set", "-n", "1000",
        "-c", "20", "-P", "16", "-d", "64", "--csv",
    ]  # fmt: skip
    more = benchmark_argv("10.0.0.1", 7001, {"tests": "get", "keyspace": 10, "threads": 2}, 5)
    assert more[-4:] == ["-r", "10", "--threads", "2"]
    assert more[more.index("-c") + 1] == "50" and more[more.index("-P") + 1] == "1"


def test_csv_rate_is_the_first_finite_rate():
    header = '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n'
    row = '"{}","{}","0.3","0.1","0.3","0.4","0.6","2.8"\n'
    assert csv_rate(header + row.format("SET", "inf") + row.format("GET", "1234.5")) == 1234.5
    assert csv_rate(header + row.format("GET", "0.00")) is None
    assert csv_rate(header) is None and csv_rate("") is None


def test_pids_handed_out_are_counted_across_the_wrap(tmp_path, monkeypatch):
    pid_max = tmp_path / "pid_max"
    pid_max.write_text("4194304\n")
    monkeypatch.setattr(loadgen, "PID_MAX", str(pid_max))
    assert pids_between(1000, 1000) == 0
    assert pids_between(1000, 1005) == 5
    # 4194300..4194303 then 300..309 (the kernel's RESERVED_PIDS): 4 + 10 handed out.
    assert pids_between(4194299, 309) == 14
    assert pids_between(None, 5) is None and pids_between(5, None) is None


def test_redis_benchmarks_own_threads_are_not_others():
    assert others_started(3, ["redis-benchmark", "--threads", "2"]) == 1
    assert others_started(0, ["redis-benchmark", "--threads", "2"]) == 0
    assert others_started(4, ["redis-benchmark"]) == 4
    assert others_started(None, ["redis-benchmark"]) is None


def test_proc_stat_gives_each_cpus_busy_and_total_jiffies():
    # A real /proc/stat of a 2-CPU machine; the "cpu" line (all CPUs summed) is not a CPU.
    jiffies = cpu_jiffies(cpu_times((GOLDEN / "proc_stat_before").read_text()))
    assert sorted(jiffies) == [0, 1]
    # cpu0 352059 0 99000 535683 1612 0 17576 1622 0 0: idle, iowait and steal (a
    # hypervisor's other guests) are not busy; guest columns are already in user and nice.
    assert jiffies[0] == (
        352059 + 99000 + 17576,
        352059 + 99000 + 535683 + 1612 + 17576 + 1622,
    )


def test_busy_fraction_counts_only_the_given_cpus():
    before = cpu_jiffies(cpu_times((GOLDEN / "proc_stat_before").read_text()))
    after = cpu_jiffies(cpu_times((GOLDEN / "proc_stat_after").read_text()))
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


def test_the_allowed_cpus_are_the_same_without_sched_getaffinity(monkeypatch):
    affinity = sorted(os.sched_getaffinity(0))
    monkeypatch.delattr(os, "sched_getaffinity")  # as on PyPy
    assert loadgen.allowed_cpus() == affinity


# Pinned by tuning (agent/tuning/placement.py's load-cpus)

ALLOWED_LIST = ["grep", "Cpus_allowed_list", "/proc/self/status"]  # what the child may run on


def test_a_pinned_run_starts_on_the_files_cpus_and_this_process_stays_where_it_was(
    load_cpus_file,
):
    own = os.sched_getaffinity(0)
    for written, cpus in [("1\n", [1]), ("0", [0]), ("0-1", [0, 1]), ("1,0", [0, 1])]:
        load_cpus_file.write_text(written)
        run = run_benchmark(ALLOWED_LIST, "", timeout=10.0)
        shown = cpu_list_of(run["stdout"])
        assert (run["exit_code"], shown) == (0, cpus), run["stderr"]
        assert run["load_cpu"]["cpus"] == cpus and run["load_cpu"]["pinned"] is True
        assert sorted(run["interference"]["before"]["cpus"]) == [str(cpu) for cpu in cpus]
        assert os.sched_getaffinity(0) == own


def test_a_run_not_pinned_starts_where_this_process_runs(load_cpus_file):
    run = run_benchmark(ALLOWED_LIST, "", timeout=10.0)
    assert cpu_list_of(run["stdout"]) == sorted(os.sched_getaffinity(0))
    assert run["load_cpu"]["cpus"] == sorted(os.sched_getaffinity(0))
    assert run["load_cpu"]["pinned"] is False


def cpu_list_of(status_line: str) -> list:
    from agent.interference import cpu_list

    return cpu_list(status_line.split(":", 1)[1])


@pytest.mark.parametrize(
    "written, message",
    [
        ("0,4000", "pins redis-benchmark to CPUs 0,4000, but CPUs 4000 are not ones this host "
                   "lets it use (online: "),
        ("4000-4001", "pins redis-benchmark to CPUs 4000-4001, but CPUs 4000-4001 are not ones "
                      "this host lets it use (online: "),
        ("all", ": 'all' is not a CPU list such as 0-3,8 ('all')"),
        ("\n", ": the CPU list is empty"),
    ],
)  # fmt: skip
def test_a_pinning_this_host_cannot_do_fails_the_cell_before_anything_starts(
    load_cpus_file, tmp_path, written, message
):
    own = os.sched_getaffinity(0)
    load_cpus_file.write_text(written)
    started = tmp_path / "started"
    with pytest.raises(CellError) as caught:
        run_benchmark(["touch", str(started)], "", timeout=10.0)
    assert caught.value.kind == "benchmark_error"
    assert str(caught.value).startswith(str(load_cpus_file))
    assert message in str(caught.value)
    assert not started.exists()
    assert os.sched_getaffinity(0) == own


def test_a_python_that_cannot_pin_says_so(load_cpus_file, monkeypatch, tmp_path):
    load_cpus_file.write_text("0")
    monkeypatch.delattr(os, "sched_setaffinity")  # as on PyPy
    with pytest.raises(CellError, match="this Python cannot set a CPU affinity"):
        run_benchmark(["touch", str(tmp_path / "started")], "", timeout=10.0)
    assert not (tmp_path / "started").exists()
