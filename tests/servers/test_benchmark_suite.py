"""redis-benchmark, the client the benchmark uses, runs its whole default suite to the end."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from collect import redis_benchmark
from tests.servers.conftest import HOST

DEFAULT_SUITE = [
    "PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
    "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN", "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)", "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)", "LRANGE_600 (first 600 elements)", "MSET (10 keys)",
]  # fmt: skip


def run_redis_benchmark(port: int, *args: str) -> redis_benchmark.Output:
    if shutil.which("redis-benchmark") is None:
        pytest.fail("redis-benchmark is not installed (apt install redis-tools; .ci/run does)")
    argv = ["redis-benchmark", "-h", HOST, "-p", str(port), "--csv", *args]
    # Bounded by -n; the timeout only catches a server that stops answering.
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return redis_benchmark.parse_csv(result.stdout)


def test_default_suite_runs_to_the_end(server):
    output = run_redis_benchmark(server.port, "-n", "2000")
    assert [row.test for row in output.rows] == DEFAULT_SUITE
    for row in output.rows:
        assert row.metrics["rps"] > 0, row


def test_pipelined_get_set_with_random_keys(server):
    with server.client() as client:
        client.flushall()
    output = run_redis_benchmark(
        server.port, "-t", "set,get", "-n", "20000", "-P", "16", "-r", "1000", "-d", "100"
    )
    assert [row.test for row in output.rows] == ["SET", "GET"]
    keys = [b"key:%012d" % index for index in range(1000)]  # what -r 1000 can produce
    with server.client() as client:
        values = [value for value in client.mget(keys) if value is not None]
        assert client.dbsize() == len(values) > 0
    assert all(len(value) == 100 for value in values)
