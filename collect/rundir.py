"""Read one run's folder: its metadata and every cell's raw artefacts, re-parsed.

A run folder is what the run playbook writes (DESIGN.md): ``run-meta.json`` and
``raw/**/<cell>/sample.json`` with one sub-folder per load host holding redis-benchmark's
``stdout.csv``, ``stderr.txt``, ``argv.json`` and ``result.json``. The numbers are taken
from the raw files, not from what the playbook summarised, so a run can be re-collected at
any time. A file that is missing or unreadable makes its sample ``failed`` with the reason;
it never stops the rest of the run from being read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from collect import redis_benchmark

FORMAT = "wirebench/1"
LOAD_FILES = ("argv.json", "stdout.csv", "stderr.txt", "result.json")


class RunDirError(ValueError):
    """The folder is not a wirebench run (names what is wrong with it)."""


@dataclass
class Run:
    path: Path
    meta: dict
    samples: list[dict]
    problems: list[str] = field(default_factory=list)  # folder-level, e.g. a cell in flight


def read_json(path: Path):
    """A JSON file's content; ValueError naming the file when it cannot be used."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"{path.name} is missing") from None
    except OSError as exc:
        raise ValueError(f"{path.name} cannot be read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc})") from None


def load_run(path) -> Run:
    """Every sample of the run in ``path``; RunDirError if it is not a run folder at all."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path}: no such folder")
    try:
        meta = read_json(path / "run-meta.json")
    except ValueError as exc:
        raise RunDirError(f"{path}: not a wirebench run folder: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise RunDirError(
            f"{path}: run-meta.json has format {found!r}; this collect reads {FORMAT}"
        )
    raw = path / "raw"
    servers = sorted(meta.get("servers") or {})
    default_server = servers[0] if len(servers) == 1 else None
    samples, problems = [], []
    cell_dirs = sorted(cell_folders(raw))
    for cell_dir in cell_dirs:
        sample_file = cell_dir / "sample.json"
        relative = cell_dir.relative_to(path).as_posix()
        if not sample_file.exists():
            problems.append(
                f"{relative}: raw files without a sample.json (the cell was in flight when the "
                "run stopped); a resumed run measures it again"
            )
            continue
        samples.append(read_sample(cell_dir, relative, default_server))
    samples.sort(key=lambda s: (s["server_host"] or "", s["id"]))
    return Run(path=path, meta=meta, samples=samples, problems=problems)


def cell_folders(raw: Path) -> set[Path]:
    """Folders with a sample.json, and folders whose load hosts left files but no sample."""
    folders = {sample.parent for sample in raw.rglob("sample.json")}
    for name in LOAD_FILES:
        folders |= {artefact.parent.parent for artefact in raw.rglob(name)}
    return folders


def identity_from_folder(name: str) -> dict:
    """Best guess at a cell's identity from its folder name ``impl@interp_workload_rep``."""
    head, _, repetition = name.rpartition("_")
    cell, _, workload = head.partition("_")
    implementation, _, interpreter = cell.partition("@")
    return {
        "id": f"{implementation}@{interpreter}/{workload}#{repetition}",
        "implementation": implementation,
        "interpreter": interpreter,
        "workload": workload,
        "repetition": int(repetition) if repetition.isdigit() else None,
    }


def read_sample(cell_dir: Path, relative: str, default_server: str | None) -> dict:
    try:
        recorded = read_json(cell_dir / "sample.json")
        if not isinstance(recorded, dict) or "id" not in recorded:
            raise ValueError("sample.json has no cell id")
    except ValueError as exc:
        return {
            **identity_from_folder(cell_dir.name),
            "server_host": default_server,
            "path": relative,
            "status": "failed",
            "failure": "unreadable",
            "reason": str(exc),
        }
    sample = {
        "id": recorded["id"],
        "server_host": recorded.get("server_host") or default_server,
        "implementation": recorded.get("implementation"),
        "interpreter": recorded.get("interpreter"),
        "workload": recorded.get("workload"),
        "repetition": recorded.get("repetition"),
        "path": relative,
        "status": recorded.get("status", "failed"),
        "failure": recorded.get("failure"),
        "reason": recorded.get("reason"),
    }
    if sample["status"] == "skipped":
        return sample
    sample["requests"] = recorded.get("requests")
    sample["warmup_rps"] = recorded.get("warmup_rps")
    sample["verified"] = recorded.get("verified")
    sample["server"] = server_counters(recorded)
    hosts = sorted(set(recorded.get("load_hosts") or {}) | load_folders(cell_dir))
    sample["load_hosts"], sample["tests"] = {}, {}
    problems = []
    for host in hosts:
        entry, rows, host_problems = read_load_host(cell_dir / host)
        sample["load_hosts"][host] = entry
        problems += [f"{host}: {problem}" for problem in host_problems]
        for row in rows:
            test = sample["tests"].setdefault(row.test, {"rps": 0.0, "hosts": {}})
            test["hosts"][host] = row.metrics
    # A failed cell's partial table is kept for the curious, but counts for nothing.
    for test in sample["tests"].values():
        test["rps"] = sum(metrics.get("rps", 0.0) for metrics in test["hosts"].values())
    if sample["status"] == "ok":
        problems += missing_tests(sample["tests"], hosts)
        if not hosts:
            problems.append("no load host's raw files were fetched")
        if problems:
            sample["status"] = "failed"
            sample["failure"] = failure_kind(sample["load_hosts"])
            sample["reason"] = "; ".join(problems)
    sample["timing"] = timing(recorded, sample["load_hosts"])
    sample["load_overlap"] = load_overlap(sample["load_hosts"])
    return sample


def load_folders(cell_dir: Path) -> set[str]:
    return {child.name for child in cell_dir.iterdir() if child.is_dir()}


def failure_kind(load_hosts: dict) -> str:
    if any(entry.get("timed_out") for entry in load_hosts.values()):
        return "timeout"
    return "benchmark_error"


def missing_tests(tests: dict, hosts: list[str]) -> list[str]:
    problems = []
    for name, test in sorted(tests.items()):
        lacking = [host for host in hosts if host not in test["hosts"]]
        if lacking:
            problems.append(f"test {name} has no row from {', '.join(lacking)}")
    return problems


def read_load_host(folder: Path):
    """(entry, usable rows, problems) for one load host's artefacts of a cell."""
    entry: dict = {}
    problems: list[str] = []
    try:
        result = read_json(folder / "result.json")
    except ValueError as exc:
        result = {}
        problems.append(str(exc))
    try:
        entry["argv"] = read_json(folder / "argv.json")
    except ValueError as exc:
        entry["argv"] = None
        problems.append(str(exc))
    for key in ("exit_code", "elapsed_s", "client_cpu_s", "started", "ended"):
        entry[key] = finite(result.get(key))
    entry["timed_out"] = bool(result.get("timed_out"))
    entry["threads"] = int(result.get("threads") or threads_from_argv(entry["argv"]))
    load_cpu = result.get("load_cpu") or {}
    entry["load_cpus"] = load_cpu.get("cpus")
    entry["load_cpu_busy"] = finite(load_cpu.get("busy_fraction"))
    entry["client_cpu_share"] = client_cpu_share(entry)
    if result and entry["timed_out"]:
        problems.append(f"redis-benchmark ran past its timeout ({entry['elapsed_s']} s)")
    elif result and entry["exit_code"] != 0:
        problems.append(f"redis-benchmark exited with {entry['exit_code']}")
    try:
        stderr = (folder / "stderr.txt").read_text(errors="replace")
        entry["stderr_tail"] = stderr.strip()[-300:]
    except OSError:
        entry["stderr_tail"] = None
    rows: list = []
    entry["warnings"] = []
    try:
        output = redis_benchmark.parse_csv((folder / "stdout.csv").read_text(errors="replace"))
    except FileNotFoundError:
        problems.append("stdout.csv is missing")
    except redis_benchmark.ParseError as exc:
        problems.append(f"stdout.csv: {exc}")
    else:
        entry["warnings"] = list(output.warnings)
        for row in output.rows:
            if row.usable:
                rows.append(row)
            else:
                reasons = ", ".join(row.problems) or "no positive rate"
                problems.append(f"stdout.csv: {row.test}: {reasons}")
    if problems and entry.get("stderr_tail"):
        problems.append(f"stderr: {entry['stderr_tail'].splitlines()[-1]}")
    return entry, rows, problems


def finite(value):
    """A number as-is, anything else (None, NaN, inf, text) as None: run.json has no NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def threads_from_argv(argv) -> int:
    if isinstance(argv, list) and "--threads" in argv:
        index = argv.index("--threads")
        if index + 1 < len(argv) and str(argv[index + 1]).isdigit():
            return int(argv[index + 1])
    return 1


def client_cpu_share(entry: dict):
    """The client's CPU seconds over what it could have used: elapsed × its threads' CPUs.

    redis-benchmark with N threads can use at most N CPUs, and no more than the load host
    lets it have (its CPU affinity, when known).
    """
    if not entry.get("elapsed_s") or entry.get("client_cpu_s") is None:
        return None
    budget = max(1, entry["threads"])
    if entry.get("load_cpus"):
        budget = min(budget, len(entry["load_cpus"]))
    return entry["client_cpu_s"] / (entry["elapsed_s"] * budget)


def server_counters(recorded: dict) -> dict:
    counters = recorded.get("counters") or {}
    before, after = counters.get("before") or {}, counters.get("after") or {}
    restarted = bool(before and after) and (
        before.get("main_pid") != after.get("main_pid")
        or (after.get("n_restarts") or 0) > (before.get("n_restarts") or 0)
    )
    return {
        "cpu_s": finite(recorded.get("server_cpu_s")),
        "main_pid_before": before.get("main_pid"),
        "main_pid_after": after.get("main_pid"),
        "n_restarts_before": before.get("n_restarts"),
        "n_restarts_after": after.get("n_restarts"),
        "max_rss_kib": after.get("max_rss_kib") or before.get("max_rss_kib"),
        "restarted": restarted or recorded.get("failure") == "server_crashed",
    }


def load_overlap(load_hosts: dict):
    """With several load hosts: the share of their runs' combined span when all ran at once.

    Their rates are summed into the cell's throughput, which is only true of the server if
    they loaded it at the same time. 1.0: fully overlapped; 0: one after the other. None for
    one load host, or when a host's start or end is unknown.
    """
    spans = [(entry.get("started"), entry.get("ended")) for entry in load_hosts.values()]
    if len(spans) < 2 or any(start is None or end is None for start, end in spans):
        return None
    union = max(end for _, end in spans) - min(start for start, _ in spans)
    together = min(end for _, end in spans) - max(start for start, _ in spans)
    return round(max(0.0, together) / union, 3) if union > 0 else 1.0


def timing(recorded: dict, load_hosts: dict):
    """Seconds the cell took on the controller, and how much of it was not measurement."""
    started, ended = finite(recorded.get("cell_started")), finite(recorded.get("cell_ended"))
    if started is None or ended is None:
        return None
    measured = max((entry["elapsed_s"] or 0.0 for entry in load_hosts.values()), default=0.0)
    return {
        "cell_s": round(ended - started, 3),
        "measured_s": round(measured, 3),
        "outside_s": round(ended - started - measured, 3),
    }
