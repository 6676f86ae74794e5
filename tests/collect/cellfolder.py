"""Write a cell's raw folder the way the run writes it from now on (the contract between the
run and collect's reader): sample.json as the run's record of the cell, and per load host
argv.json, stdout.csv (real redis-benchmark --csv), stderr.txt and result.json."""

from __future__ import annotations

import json
from pathlib import Path

from collect.model import Cell

HEADER = (
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",'
    '"p95_latency_ms","p99_latency_ms","max_latency_ms"\n'
)
COUNTERS = {
    "main_pid": 42,
    "n_restarts": 0,
    "active_state": "active",
    "result": "success",
    "cpu_seconds": 1.0,
    "max_rss_kib": 20000,
    "read_at": 100.0,
}


def table(rates: dict[str, float]) -> str:
    rows = "".join(
        f'"{test}","{rate}","0.304","0.104","0.295","0.407","0.615","2.871"\n'
        for test, rate in rates.items()
    )
    return HEADER + rows


def write_cell(
    raw: Path,
    cell_id: str,
    rates: dict[str, float] | None = None,
    load_hosts=("load1",),
    record: dict | None = None,
    result: dict | None = None,
    after: dict | None = None,
) -> Path:
    """The folder of ``cell_id`` under ``raw``; ``rates`` per test (split evenly over the
    load hosts), ``record``/``result``/``after`` override fields of sample.json, each
    result.json and the counters at stop."""
    cell = Cell.from_id(cell_id)
    folder = Path(raw) / cell.dir
    folder.mkdir(parents=True)
    written = {
        "id": cell.id,
        "implementation": cell.implementation,
        "interpreter": cell.interpreter,
        "workload": cell.workload,
        "repetition": cell.repetition,
        "profile": cell.profile,
        "unit": f"wirebench-server@{cell.implementation}:{cell.interpreter}.service",
        "port": 7001,
        "server_host": "server1",
        "cell_started": 1000.0,
        "cell_ended": 1003.5,
        "failure": None,
        "reason": None,
        "requests": 3000,
        "warmup_rps": 20000.0,
        "verified": {"round_trip": True, "dbsize": 0, "preloaded_keys": 1000},
        "counters": {"before": COUNTERS, "after": {**COUNTERS, **(after or {})}},
        **(record or {}),
    }
    (folder / "sample.json").write_text(json.dumps(written, indent=1))
    share = {test: rate / max(1, len(load_hosts)) for test, rate in (rates or {}).items()}
    for host in load_hosts:
        files = folder / host
        files.mkdir()
        argv = ["redis-benchmark", "-h", "198.18.0.10", "-p", "7001", "-t", "get", "--csv"]
        (files / "argv.json").write_text(json.dumps(argv))
        (files / "stdout.csv").write_text(table(share))  # the bare header when no rates
        (files / "stderr.txt").write_text("")
        measured = {
            "exit_code": 0,
            "timed_out": False,
            "started": 1001.0,
            "ended": 1002.5,
            "elapsed_s": 1.5,
            "client_cpu_s": 1.2,
            "threads": 1,
            "load_cpu": {"cpus": [1], "busy_fraction": 0.5},
            "server_cpu_s": 1.4,
            "server_closed": False,
            **(result or {}),
        }
        (files / "result.json").write_text(json.dumps(measured))
    return folder
