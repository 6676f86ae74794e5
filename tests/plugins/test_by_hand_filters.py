"""The by-hand twins of native redis cells (wirebench_by_hand): planned next to each cell,
run with the agent's own argument list, kept as a measured run's raw files."""

from __future__ import annotations

import json

from wirebench_run import benchmark_argv, by_hand_artefacts, with_by_hand

from collect.model import Cell

CELLS = [
    {"id": "redis@native/get#1", "dir": "redis@native_get_1", "implementation": "redis",
     "interpreter": "native", "workload": "get", "repetition": 1,
     "unit": "wirebench-redis.service", "port": 6379, "status": "pending"},
    {"id": "asyncio@cpython3.11/get#1", "dir": "asyncio@cpython3.11_get_1",
     "implementation": "asyncio", "interpreter": "cpython3.11", "workload": "get",
     "repetition": 1, "unit": "wirebench-server@asyncio:cpython3.11.service", "port": 7002,
     "status": "pending"},
    {"id": "uvloop@pypy3/get#1", "dir": "uvloop@pypy3_get_1", "implementation": "uvloop",
     "interpreter": "pypy3", "workload": "get", "repetition": 1, "status": "skipped",
     "reason": "no"},
]  # fmt: skip


def test_without_by_hand_the_cells_are_unchanged():
    assert with_by_hand(CELLS, False) == CELLS


def test_each_native_cell_is_followed_by_its_by_hand_twin():
    cells = with_by_hand(CELLS, True)
    assert [cell["id"] for cell in cells] == [
        "redis@native/get#1", "redis@by-hand/get#1", "asyncio@cpython3.11/get#1",
        "uvloop@pypy3/get#1",
    ]  # fmt: skip
    twin = cells[1]
    # The same unit and port, measured right after; its id and folder from the cell model.
    assert (twin["unit"], twin["port"]) == ("wirebench-redis.service", 6379)
    assert twin["by_hand"] is True and twin["interpreter"] == "by-hand"
    assert twin["dir"] == Cell("redis", "by-hand", "get", 1).dir == "redis@by-hand_get_1"


def test_the_bare_run_gets_the_agents_own_argument_list():
    params = {"host": "198.18.0.10", "port": 6379,
              "workload": {"tests": "get", "clients": 50, "pipeline": 16, "keyspace": 100000}}  # fmt: skip
    argv = benchmark_argv(params, "1000000")
    assert argv[0] == "redis-benchmark"
    assert argv[argv.index("-n") + 1] == "1000000" and argv[argv.index("-P") + 1] == "16"
    assert argv[argv.index("-r") + 1] == "100000" and "--csv" in argv


def test_a_bare_runs_output_becomes_a_measured_runs_raw_files():
    result = {"rc": 0, "stdout": '"test","rps"\n"GET","1.0"\n', "stderr": ""}
    files = by_hand_artefacts(result, ["redis-benchmark", "-n", "5"], 100.0, 101.5, threads=None)
    assert set(files) == {"argv.json", "stdout.csv", "stderr.txt", "result.json"}
    assert json.loads(files["argv.json"]) == ["redis-benchmark", "-n", "5"]
    assert files["stdout.csv"] == result["stdout"]
    recorded = json.loads(files["result.json"])
    assert recorded["exit_code"] == 0 and recorded["elapsed_s"] == 1.5
    assert recorded["by_hand"] is True and recorded["threads"] == 1


def test_a_bare_run_that_failed_keeps_its_exit_code():
    files = by_hand_artefacts({"rc": 1, "stdout": "", "stderr": "NOAUTH"}, [], 1, 2)
    assert json.loads(files["result.json"])["exit_code"] == 1
    assert files["stderr.txt"] == "NOAUTH"
