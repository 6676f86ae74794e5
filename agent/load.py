"""The load host's side of a cell: prepare the server (wait until it answers, verify it,
preload the keyspace, warm up), then measure it with redis-benchmark and keep the raw files.

``prepare`` waits until the server answers, verifies it (a SET/GET round trip must return
the stored value; DBSIZE must answer), preloads the keyspace when the workload asks, and
runs a warm-up whose result is discarded but whose rate calibrates ``seconds`` workloads and
the measured run's time limit. ``measure`` runs redis-benchmark (an argument list, no
shell) and writes its raw files to ``dest`` at once, so a crash of the controller loses
nothing measured; they are returned too, so the controller needs no fetch. While it runs,
nothing but a wait happens here (see loadgen.run_benchmark). ``cell`` is both in one call.

Traffic goes only to the server's address, which the run takes from the inventory.
"""

from __future__ import annotations

import json
import os
import time

from .loadgen import (
    CellError,
    Connection,
    benchmark_argv,
    csv_rate,
    preload,
    run_benchmark,
    verify,
    wait_until_answering,
)

WARMUP_SHARE = 0.1  # of the measured requests (or seconds), at least MIN_WARMUP requests
MIN_WARMUP = 2000
# A `seconds` workload's measured run is sized from the warm-up's rate, so its warm-up lasts
# WARMUP_SHARE of those seconds: MIN_WARMUP requests first, then, if they took less, one
# more run sized from their rate (redis-benchmark times a run in whole milliseconds, and
# 2000 pipelined GETs take about 3 ms: a rate from them alone is off by up to a third).
WARMUP_RUNS = 3
# A measured run may take this many times the length the warm-up's rate predicts before it
# is stopped: a slow run is still measured, a wedged one does not hold the run for long.
TIMEOUT_FACTOR = 5
RESULT_FIELDS = (
    "exit_code", "timed_out", "server_closed", "started", "ended", "elapsed_s",
    "client_cpu_s", "server_cpu_s", "pids_started_during_run", "load_cpu", "threads",
    "start_at", "start_lag_s", "timeout_s", "interference",
)  # fmt: skip


def derived_timeout(requests: int, rate, cap: float, floor: float) -> float:
    """The measured run's limit: TIMEOUT_FACTOR times its expected length, within bounds."""
    if not rate:
        return cap
    return round(min(cap, max(floor, TIMEOUT_FACTOR * requests / rate)), 1)


def prepare(params: dict) -> dict:
    host, port, password = params["host"], params["port"], params["password"]
    workload = params["workload"]
    wait_until_answering(host, port, password)
    verified = verify(host, port, password)
    if workload.get("preload"):
        verified["preloaded_keys"] = preload(
            host, port, password, workload["keyspace"], workload.get("data_size", 3)
        )
        verified["preload_read_back"] = True  # preload read every key back, or raised
    rate = warm_up(params)
    if workload.get("seconds"):
        if not rate:
            raise CellError("benchmark_error", "the warm-up gave no rate to calibrate seconds")
        requests = max(int(rate * workload["seconds"]), MIN_WARMUP)
    else:
        requests = workload["requests"]
    return {
        "verified": verified,
        "warmup_rps": rate,
        "requests": requests,
        "run_timeout": derived_timeout(requests, rate, params["timeout"], params["min_timeout"]),
    }


def warm_up(params: dict):
    """Discarded redis-benchmark runs with the cell's flags; the last one's rate (None if it
    gave none). A ``requests`` workload warms up with WARMUP_SHARE of them; a ``seconds``
    workload for WARMUP_SHARE of its seconds, in at most WARMUP_RUNS runs."""
    host, port, password = params["host"], params["port"], params["password"]
    workload = params["workload"]
    seconds = workload.get("seconds")
    requests = max(int((workload.get("requests") or 0) * WARMUP_SHARE), MIN_WARMUP)
    for _ in range(WARMUP_RUNS):
        run = run_benchmark(
            benchmark_argv(host, port, workload, requests), password, params["timeout"]
        )
        if run["exit_code"] != 0:
            raise CellError(
                "benchmark_error",
                f"warm-up redis-benchmark exited {run['exit_code']}: {run['stderr'][-500:]}",
            )
        rate = csv_rate(run["stdout"])
        wanted = WARMUP_SHARE * seconds if seconds else 0.0
        if not rate or requests / rate >= wanted:
            return rate
        # A little over what the rate says: the first, short run's rate is a rough guess.
        requests = max(int(1.2 * rate * wanted), 2 * requests)
    return rate


def artefact_texts(run: dict) -> dict:
    """The raw files of one measured run, by name."""
    result = {key: run.get(key) for key in RESULT_FIELDS}
    return {
        "argv.json": json.dumps(run["argv"]) + "\n",
        "stdout.csv": run["stdout"],
        "stderr.txt": run["stderr"],
        "result.json": json.dumps(result, indent=2, sort_keys=True) + "\n",
    }


def write_artefacts(dest: str, texts: dict) -> None:
    os.makedirs(dest, exist_ok=True)
    for name, text in texts.items():
        temporary = os.path.join(dest, name + ".tmp")
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, os.path.join(dest, name))


def wait_for_start(start_at, limit: float) -> None:
    """Sleep until ``start_at`` (UNIX time); refuse a start further off than ``limit`` s."""
    if start_at is None:
        return
    delay = start_at - time.time()
    if delay > limit:
        raise CellError(
            "benchmark_error",
            f"start_at is {delay:.0f}s ahead of this host's clock (more than {limit:.0f}s): "
            "is its clock set?",
        )
    if delay > 0:
        time.sleep(delay)


def measure(params: dict, requests: int, timeout: float) -> dict:
    host, port, password = params["host"], params["port"], params["password"]
    argv = benchmark_argv(host, port, params["workload"], requests)
    start_at = params.get("start_at")
    wait_for_start(start_at, params["timeout"])
    try:
        watch = Connection(host, port, password)
    except OSError as exc:
        raise CellError("no_answer", f"{host}:{port}: {exc}") from None
    try:
        run = run_benchmark(argv, password, timeout, watch=watch)
    finally:
        watch.close()
    run["threads"] = int(params["workload"].get("threads") or 1)
    run["start_at"] = start_at
    run["start_lag_s"] = None if start_at is None else round(run["started"] - start_at, 4)
    run["timeout_s"] = timeout
    texts = artefact_texts(run)
    try:
        write_artefacts(params["dest"], texts)
    except OSError as exc:  # the load host's disk, not the server: not a no_answer
        raise CellError(
            "benchmark_error", f"cannot keep the raw files in {params['dest']}: {exc}"
        ) from None
    return {"requests": requests, "run_timeout": timeout, "artefacts": texts}


def cell(params: dict) -> dict:
    prepared = prepare(params)
    return {**prepared, **measure(params, prepared["requests"], prepared["run_timeout"])}
