"""The one reader of a cell's raw folder: ``read_cell(cell_dir) -> Sample``.

Everything that needs to know how a cell went asks this: the progress line printed after
each cell, the adaptive-repetitions decision, resume, and the report. A cell's folder holds
``sample.json`` (the run's record of the cell: identity, what the run itself saw fail, the
unit's counters, timing), perhaps ``journal.txt`` (a unit that would not start), and one
folder per load host with ``argv.json``, ``stdout.csv``, ``stderr.txt`` and ``result.json``.

The status is decided here, once, in this order:

1. the record says ``skipped``: skipped, with its reason;
2. the record names a failure (what the run saw: unit_failed, no_answer, verify_failed,
   load_host_lost, ...): failed so;
3. a raw file is not what it should be (not JSON, wrong shape, not a regular file, too large,
   outside the folder): ``unreadable``, naming the file and the field;
4. a load host saw the server close its watch connection, or the counters show a new MainPID,
   more restarts, or a unit not active at the end: ``server_crashed``;
5. redis-benchmark ran past its timeout: ``timeout``;
6. it exited non-zero, printed no table, left a test without a rate on some load host, or no
   rate at all: ``benchmark_error``;
7. otherwise ``ok``.

Folders written before the run stopped deciding (records with ``status``, ``rps``,
``load_hosts`` and a top-level ``server_cpu_s``) read the same way: the rates always come from
stdout.csv, never from the record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from collect import interference, rawfiles, redis_benchmark
from collect.model import (
    FAILED,
    OK,
    RECORDED_FAILURES,
    SKIPPED,
    Cell,
    LoadHostRun,
    ModelError,
    Sample,
    ServerCounters,
    TestResult,
    Timing,
    check_name,
)
from collect.shapes import (
    ANY,
    BOOLEAN,
    INTEGER,
    NUMBER,
    TEXT,
    Fields,
    ListOf,
    MapOf,
    Maybe,
    Scalar,
    ShapeError,
    check,
)

RECORD = "sample.json"
JOURNAL = "journal.txt"
LOAD_FILES = ("argv.json", "stdout.csv", "stderr.txt", "result.json")
JOURNAL_LINES = 10

# One reading of a host's counters (agent/interference.py).
READING = Fields(
    {
        "uptime_s": Maybe(NUMBER),
        "cpus": Maybe(MapOf(ListOf(INTEGER))),
        "nics": Maybe(MapOf(MapOf(INTEGER))),
        "tcp": Maybe(MapOf(INTEGER)),
    }
)
COUNTERS = Fields(
    {
        "main_pid": Maybe(INTEGER),
        "n_restarts": Maybe(INTEGER),
        "active_state": Maybe(TEXT),
        "result": Maybe(TEXT),
        "cpu_seconds": Maybe(NUMBER),
        "max_rss_kib": Maybe(INTEGER),
        "read_at": Maybe(NUMBER),
        "interference": Maybe(READING),
    }
)
RECORD_SHAPE = Fields(
    {
        "id": TEXT,
        "implementation": TEXT,
        "interpreter": TEXT,
        "workload": TEXT,
        "repetition": INTEGER,
        "profile": Maybe(TEXT),  # absent in runs before tuning profiles: baseline
        "status": Maybe(TEXT),
        "failure": Maybe(TEXT),
        "reason": Maybe(TEXT),
        "server_host": Maybe(TEXT),
        "unit": Maybe(TEXT),
        "port": Maybe(INTEGER),
        "cell_started": Maybe(NUMBER),
        "cell_ended": Maybe(NUMBER),
        "requests": Maybe(INTEGER),
        "warmup_rps": Maybe(NUMBER),
        "verified": Maybe(
            Fields({"preloaded_keys": Maybe(INTEGER), "preload_read_back": Maybe(BOOLEAN)})
        ),
        "counters": Maybe(Fields({"before": Maybe(COUNTERS), "after": Maybe(COUNTERS)})),
        "server_cpu_s": Maybe(NUMBER),  # folders from before result.json carried it
        "load_hosts": Maybe(MapOf(ANY)),  # the same: only its keys (host names) are used
    }
)
RESULT_SHAPE = Fields(
    {
        "exit_code": Maybe(INTEGER),
        "timed_out": Maybe(BOOLEAN),
        "started": Maybe(NUMBER),
        "ended": Maybe(NUMBER),
        "elapsed_s": Maybe(NUMBER),
        "client_cpu_s": Maybe(NUMBER),
        "start_at": Maybe(NUMBER),
        "start_lag_s": Maybe(NUMBER),
        "threads": Maybe(INTEGER),
        "load_cpu": Maybe(Fields({"cpus": Maybe(ListOf(INTEGER)), "busy_fraction": Maybe(NUMBER)})),
        "server_cpu_s": Maybe(NUMBER),
        "server_closed": Maybe(BOOLEAN),
        "pids_started_during_run": Maybe(INTEGER),
        "timeout_s": Maybe(NUMBER),
        "interference": Maybe(Fields({"before": Maybe(READING), "after": Maybe(READING)})),
    }
)
ARGV_SHAPE = ListOf(Scalar((str, int, float), "a string"))


class NoRecord(rawfiles.MissingFile):
    """The folder has no sample.json: the cell was in flight when the run stopped."""


def finite(value):
    """A number as-is, anything else (None, NaN, inf) as None: run.json holds no NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


@dataclass
class Findings:
    """What is wrong with a cell's raw files, sorted by the verdict each one leads to."""

    unreadable: list[str] = field(default_factory=list)
    benchmark: list[str] = field(default_factory=list)


@dataclass
class LoadHostFiles:
    run: LoadHostRun
    rows: list  # redis_benchmark.Row, usable ones only
    findings: Findings


def read_cell(cell_dir, *, server_host: str | None = None, path: str | None = None) -> Sample:
    """The sample of the cell whose raw folder is ``cell_dir``.

    ``server_host``: the server host the folder belongs to, when the layout says so
    (``raw/<server host>/``) or the run has one; the record's own wins over it. ``path``: the
    folder as the report names it (relative to the run folder). Never raises for what is in
    the folder: a bad file gives an ``unreadable`` sample. Raises NoRecord when there is no
    sample.json, and ModelError when it is unreadable and the folder is not named after a cell.
    """
    cell_dir = Path(cell_dir)
    try:
        record = read_record(cell_dir)
    except NoRecord:
        raise
    except (rawfiles.RawFileError, ShapeError, ModelError) as exc:
        return Sample(
            cell=Cell.from_dir(cell_dir.name),
            status=FAILED,
            failure="unreadable",
            reason=str(exc),
            server_host=server_host,
            path=path,
        )
    cell = record["cell"]
    server_host = record.get("server_host") or server_host
    if record.get("status") == SKIPPED:
        return Sample(
            cell=cell,
            status=SKIPPED,
            reason=record.get("reason"),
            server_host=server_host,
            path=path,
        )
    findings = Findings()
    hosts = read_load_hosts(cell_dir, record, findings)
    journal = read_journal(cell_dir, findings)
    tests = summed_tests(hosts)
    status, failure, reason = decide(record, hosts, tests, findings)
    return Sample(
        cell=cell,
        status=status,
        failure=failure,
        reason=reason,
        server_host=server_host,
        path=path,
        requests=record.get("requests"),
        warmup_rps=finite(record.get("warmup_rps")),
        verified=record.get("verified"),
        server=server_counters(record, hosts, failure),
        load_hosts={name: files.run for name, files in hosts.items()},
        tests=tests,
        timing=timing(record, hosts),
        load_overlap=load_overlap(hosts),
        journal_tail=journal,
    )


def read_record(cell_dir: Path) -> dict:
    """sample.json, checked: its shape, its status and failure, its cell and the folder's."""
    try:
        record = rawfiles.read_json(cell_dir / RECORD, cell_dir)
    except rawfiles.MissingFile:
        raise NoRecord(f"{cell_dir.name}: raw files without a sample.json") from None
    try:
        check(record, RECORD_SHAPE)
        cell = Cell.of(record)
    except (ShapeError, ModelError) as exc:
        raise ShapeError(f"{RECORD}: {exc}") from None
    if cell.id != record["id"]:
        raise ShapeError(f"{RECORD}: id {record['id']!r} is not its fields' cell {cell.id!r}")
    if cell.dir != cell_dir.name:
        raise ShapeError(f"{RECORD}: cell {cell.id} belongs in a folder {cell.dir}")
    status, failure = record.get("status"), record.get("failure")
    if status not in (None, OK, FAILED, SKIPPED):
        raise ShapeError(f"{RECORD}: status {status!r} is not ok, failed or skipped")
    if failure is not None and failure not in RECORDED_FAILURES:
        known = ", ".join(RECORDED_FAILURES)
        raise ShapeError(f"{RECORD}: failure {failure!r} is not a known kind ({known})")
    if status == FAILED and failure is None:
        raise ShapeError(f"{RECORD}: status is failed but failure is null")
    return {**record, "cell": cell}


def read_load_hosts(cell_dir: Path, record: dict, findings: Findings) -> dict:
    """Each load host's files: its sub-folders, and the hosts an older record names."""
    names = set()
    for name, kind in rawfiles.entries(cell_dir):
        if kind == "dir":
            names.add(name)
        elif kind == "link":
            findings.unreadable.append(f"{name} is a symbolic link; not read")
    for name in record.get("load_hosts") or {}:
        try:
            names.add(check_name("load host", name))
        except ModelError as exc:
            findings.unreadable.append(f"{RECORD}: load_hosts: {exc}")
    hosts = {}
    for name in sorted(names):
        hosts[name] = read_load_host(cell_dir, name)
        findings.unreadable += hosts[name].findings.unreadable
        findings.benchmark += [f"{name}: {text}" for text in hosts[name].findings.benchmark]
    return hosts


def read_json_file(cell_dir: Path, host: str, name: str, shape, findings: Findings):
    """A load host's JSON file checked against its shape; None (and a finding) if it is bad."""
    try:
        return check(rawfiles.read_json(cell_dir / host / name, cell_dir), shape)
    except rawfiles.MissingFile:
        findings.benchmark.append(f"{name} is missing")
    except rawfiles.RawFileError as exc:
        findings.unreadable.append(str(exc))
    except ShapeError as exc:
        findings.unreadable.append(f"{host}/{name}: {exc}")
    return None


def read_load_host(cell_dir: Path, host: str) -> LoadHostFiles:
    folder = cell_dir / host
    findings = Findings()
    result = read_json_file(cell_dir, host, "result.json", RESULT_SHAPE, findings)
    argv = read_json_file(cell_dir, host, "argv.json", ARGV_SHAPE, findings)
    result = result or {}
    if result.get("threads") is not None and result["threads"] < 1:
        findings.unreadable.append(f"{host}/result.json: threads must be at least 1")
        result = {**result, "threads": None}
    load_cpu = result.get("load_cpu") or {}
    stderr_tail = None
    try:
        stderr_tail = rawfiles.read_tail(folder / "stderr.txt", cell_dir).strip()[-300:]
    except rawfiles.MissingFile:
        pass  # an empty stderr is not always fetched
    except rawfiles.RawFileError as exc:
        findings.unreadable.append(str(exc))
    rows, warnings = read_table(cell_dir, host, argv, findings)
    run = LoadHostRun(
        argv=argv,
        exit_code=result.get("exit_code"),
        timed_out=bool(result.get("timed_out")),
        elapsed_s=finite(result.get("elapsed_s")),
        client_cpu_s=finite(result.get("client_cpu_s")),
        started=finite(result.get("started")),
        ended=finite(result.get("ended")),
        start_at=finite(result.get("start_at")),
        start_lag_s=finite(result.get("start_lag_s")),
        threads=result.get("threads") or threads_from_argv(argv),
        load_cpus=load_cpu.get("cpus"),
        load_cpu_busy=finite(load_cpu.get("busy_fraction")),
        server_cpu_s=finite(result.get("server_cpu_s")),
        server_closed=bool(result.get("server_closed")),
        pids_started_during_run=result.get("pids_started_during_run"),
        timeout_s=finite(result.get("timeout_s")),
        interference=interference.between(
            (result.get("interference") or {}).get("before"),
            (result.get("interference") or {}).get("after"),
            "measured run",
        ),
        stderr_tail=stderr_tail,
        warnings=warnings,
    )
    if result and run.timed_out:
        findings.benchmark.append(f"redis-benchmark ran past its timeout ({run.elapsed_s} s)")
    elif result and run.exit_code != 0:
        findings.benchmark.append(f"redis-benchmark exited with {run.exit_code}")
    if findings.benchmark and stderr_tail:
        findings.benchmark.append(f"stderr: {stderr_tail.splitlines()[-1]}")
    return LoadHostFiles(run=run, rows=rows, findings=findings)


def read_table(cell_dir: Path, host: str, argv, findings: Findings):
    """(usable rows, non-table lines) of a load host's stdout.csv."""
    try:
        text = rawfiles.read_text(cell_dir / host / "stdout.csv", cell_dir)
        output = redis_benchmark.parse_csv(text)
    except rawfiles.MissingFile:
        findings.benchmark.append("stdout.csv is missing")
        return [], []
    except rawfiles.RawFileError as exc:
        findings.unreadable.append(str(exc))
        return [], []
    except redis_benchmark.ParseError as exc:
        findings.benchmark.append(f"stdout.csv: {exc}")
        return [], []
    rows = []
    for row in output.rows:
        if row.usable:
            rows.append(row)
        else:
            reasons = ", ".join(row.problems) or "no positive rate"
            findings.benchmark.append(f"stdout.csv: {row.test}: {reasons}")
    asked = tests_asked(argv)
    if len(output.rows) < len(asked):
        findings.benchmark.append(
            f"stdout.csv has {len(output.rows)} rows for the {len(asked)} tests asked "
            f"(-t {','.join(asked)}): redis-benchmark skips a test name it does not know"
        )
    return rows, list(output.warnings)


def tests_asked(argv) -> list[str]:
    """The distinct test names of redis-benchmark's -t; each gives at least one row."""
    if not isinstance(argv, list) or "-t" not in argv[:-1]:
        return []
    listed = str(argv[argv.index("-t") + 1]).lower().split(",")
    return sorted({name.strip() for name in listed if name.strip()})


def threads_from_argv(argv) -> int:
    if isinstance(argv, list) and "--threads" in argv[:-1]:
        value = str(argv[argv.index("--threads") + 1])
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def read_journal(cell_dir: Path, findings: Findings) -> list[str]:
    """The last lines of the unit's journal, saved when it would not start."""
    try:
        text = rawfiles.read_tail(cell_dir / JOURNAL, cell_dir)
    except rawfiles.MissingFile:
        return []
    except rawfiles.RawFileError as exc:
        findings.unreadable.append(str(exc))
        return []
    return [line for line in text.splitlines() if line.strip()][-JOURNAL_LINES:]


def summed_tests(hosts: dict[str, LoadHostFiles]) -> dict[str, TestResult]:
    """Each test's rate summed over the load hosts, with each host's row kept.

    A failed cell's partial table is kept for the curious, but counts for nothing.
    """
    rows: dict[str, dict[str, dict]] = {}
    for host, files in hosts.items():
        for row in files.rows:
            rows.setdefault(row.test, {})[host] = row.metrics
    return {
        test: TestResult(rps=sum(m.get("rps", 0.0) for m in by_host.values()), hosts=by_host)
        for test, by_host in rows.items()
    }


def crash_evidence(record: dict, hosts: dict[str, LoadHostFiles]) -> str | None:
    """Why the server is known to have died during the cell, or None."""
    closed = [name for name, files in hosts.items() if files.run.server_closed]
    evidence = []
    if closed:
        evidence.append(
            f"the server closed the watch connection of {', '.join(closed)} during the measured run"
        )
    counters = record.get("counters") or {}
    before, after = counters.get("before") or {}, counters.get("after") or {}
    if (
        before
        and after
        and (
            before.get("main_pid") != after.get("main_pid")
            or (after.get("n_restarts") or 0) > (before.get("n_restarts") or 0)
            or after.get("active_state") != "active"
        )
    ):
        evidence.append(
            f"{record.get('unit') or 'the unit'}: MainPID {before.get('main_pid')} -> "
            f"{after.get('main_pid')}, state {after.get('active_state')} ({after.get('result')}), "
            f"restarts {before.get('n_restarts')} -> {after.get('n_restarts')}"
        )
    return "; ".join(evidence) or None


def missing_rows(hosts: dict[str, LoadHostFiles], tests: dict[str, TestResult]) -> list[str]:
    problems = []
    for name, test in sorted(tests.items()):
        lacking = [host for host in hosts if host not in test.hosts]
        if lacking:
            problems.append(f"test {name} has no row from {', '.join(lacking)}")
    return problems


def decide(record: dict, hosts, tests, findings: Findings):
    """(status, failure, reason) in the order the module's docstring gives."""
    if record.get("failure"):
        reason = record.get("reason")
        if findings.unreadable:
            reason = f"{reason or ''}; also: {'; '.join(findings.unreadable)}".lstrip("; ")
        return FAILED, record["failure"], reason
    if findings.unreadable:
        return FAILED, "unreadable", "; ".join(findings.unreadable)
    crashed = crash_evidence(record, hosts)
    if crashed:
        return FAILED, "server_crashed", crashed
    problems = findings.benchmark + missing_rows(hosts, tests)
    if not hosts:
        problems.append("no load host's raw files were fetched")
    elif not problems and not any(test.rps > 0 for test in tests.values()):
        problems.append("redis-benchmark printed no rate")
    if not problems:
        return OK, None, None
    if any(files.run.timed_out for files in hosts.values()):
        return FAILED, "timeout", "; ".join(problems)
    return FAILED, "benchmark_error", "; ".join(problems)


def server_counters(record: dict, hosts: dict[str, LoadHostFiles], failure) -> ServerCounters:
    counters = record.get("counters") or {}
    before, after = counters.get("before") or {}, counters.get("after") or {}
    restarted = bool(before and after) and (
        before.get("main_pid") != after.get("main_pid")
        or (after.get("n_restarts") or 0) > (before.get("n_restarts") or 0)
    )
    # Each load host read the server's CPU over its own run; with several, the longest
    # window covers the others. Older folders kept one figure in the record.
    measured = [files.run.server_cpu_s for files in hosts.values()]
    measured = [value for value in measured if value is not None]
    cpu = max(measured) if measured else finite(record.get("server_cpu_s"))
    return ServerCounters(
        cpu_s=cpu,
        main_pid_before=before.get("main_pid"),
        main_pid_after=after.get("main_pid"),
        n_restarts_before=before.get("n_restarts"),
        n_restarts_after=after.get("n_restarts"),
        max_rss_kib=after.get("max_rss_kib") or before.get("max_rss_kib"),
        restarted=restarted or failure == "server_crashed",
        interference=interference.between(
            before.get("interference"), after.get("interference"), "cell"
        ),
    )


def load_overlap(hosts: dict[str, LoadHostFiles]):
    """With several load hosts: the share of their runs' combined span when all ran at once.

    Their rates are summed into the cell's throughput, which is only true of the server if
    they loaded it at the same time. 1.0: fully overlapped; 0: one after the other. None for
    one load host, or when a host's start or end is unknown.
    """
    spans = [(files.run.started, files.run.ended) for files in hosts.values()]
    if len(spans) < 2 or any(start is None or end is None for start, end in spans):
        return None
    union = max(end for _, end in spans) - min(start for start, _ in spans)
    together = min(end for _, end in spans) - max(start for start, _ in spans)
    return round(max(0.0, together) / union, 3) if union > 0 else 1.0


def timing(record: dict, hosts: dict[str, LoadHostFiles]) -> Timing | None:
    started, ended = finite(record.get("cell_started")), finite(record.get("cell_ended"))
    if started is None or ended is None:
        return None
    measured = max((files.run.elapsed_s or 0.0 for files in hosts.values()), default=0.0)
    return Timing(
        cell_s=round(ended - started, 3),
        measured_s=round(measured, 3),
        outside_s=round(ended - started - measured, 3),
    )
