"""Real servers on loopback for the agent's tests: redis-server (with a password) and ours."""

from __future__ import annotations

import os
import threading
import time

import pytest

from agent import loadgen
from agent.loadgen import Connection
from tests.servers.conftest import start_python_server, start_redis_server

PASSWORD = "s3cret-pw-xyz"
WORKLOAD = {"tests": "get", "clients": 10, "pipeline": 1, "keyspace": 1000, "requests": 5000}


@pytest.fixture(scope="package")
def redis_server(tmp_path_factory):
    running = start_redis_server(tmp_path_factory.mktemp("redis"), "--requirepass", PASSWORD)
    yield running
    running.stop()


@pytest.fixture(scope="package")
def our_server(tmp_path_factory):
    running = start_python_server("asyncio-protocol", tmp_path_factory.mktemp("ours"))
    yield running
    running.stop()


@pytest.fixture
def load_cpus_file(tmp_path, monkeypatch):
    """Where this test's tuning pins redis-benchmark (absent until the test writes it),
    instead of the machine's /run/wirebench/tuning/load-cpus."""
    path = tmp_path / "load-cpus"
    monkeypatch.setattr(loadgen, "LOAD_CPUS_FILE", str(path))
    return path


@pytest.fixture
def doomed_server(tmp_path):
    """A server of our own for one test that kills or stops it."""
    running = start_python_server("asyncio-protocol", tmp_path)
    yield running
    running.stop()


def params(server, **extra) -> dict:
    """What the agent's command line makes of PARAMS_JSON (the password already read)."""
    password = PASSWORD if "--requirepass" in server.argv else ""
    return {"host": "127.0.0.1", "port": server.port, "password": password, "timeout": 120.0,
            "min_timeout": 30.0, "start_at": None, "workload": dict(WORKLOAD), **extra}  # fmt: skip


def benchmark_child():
    """The PID of a redis-benchmark started by this process that runs now, or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue  # it ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and name == "redis-benchmark":
            return int(entry)
    return None


def benchmark_child_running() -> bool:
    return benchmark_child() is not None


def once_benchmark_runs(action, limit: float = 60.0) -> threading.Thread:
    """Call ``action`` from a thread as soon as this process's redis-benchmark runs."""

    def wait_then_act():
        deadline = time.monotonic() + limit
        while not benchmark_child_running():
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def flush(server) -> None:
    """Empty a shared server, so a test sees only its own keys."""
    connection = Connection("127.0.0.1", server.port, params(server)["password"])
    try:
        assert connection.call(b"FLUSHALL") == "OK"
    finally:
        connection.close()
