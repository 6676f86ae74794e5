"""The one typed model of what wirebench measures: a workload, a cell and a sample.

A *cell* is one repetition of one implementation on one interpreter under one workload and
one tuning profile; its id (``<impl>@<interp>/<workload>#<rep>``) and the name of its raw folder
(``<impl>@<interp>_<workload>_<rep>``) are computed here and nowhere else. A cell of a profile
other than ``baseline`` carries it after its workload, behind a '+' that no other name may
hold: ``uvloop@cpython3.11/get+network-latency#2`` in the folder
``uvloop@cpython3.11_get+network-latency_2``. A baseline cell's id and folder are what they
were before runs had profiles, so every run recorded before reads as baseline. A *sample* is what
the reader (collect/reader.py) made of a cell's raw folder: its status, decided once, and its
numbers. Every class validates on construction, so a sample that exists is a coherent one: an
``ok`` sample always has rates, a ``failed`` one always a known kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from agent.interference import CPU_COLUMNS

# One component of a cell's name: what a folder name and a systemd instance name can hold.
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
# An interpreter's name has no '_': the first '_' after '@' in a folder name ends it, so no
# two cells share a folder (a workload's name may hold '_': the last one ends it).
INTERPRETER_NAME = re.compile(r"^[A-Za-z0-9.-]+$")
# A tuning profile's name: no '.', so it never looks like a file's extension, and no '+', which
# separates it from the workload in a cell's id and folder (no NAME holds a '+').
PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
BASELINE = "baseline"  # the host as found: nothing changed
PROFILE_MARK = "+"
CELL_ID = re.compile(
    r"^(?P<impl>[^@/#+]+)@(?P<interp>[^@/#+]+)/(?P<workload>[^@/#+]+)"
    r"(?:\+(?P<profile>[^@/#+]+))?#(?P<rep>\d+)$"
)

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
STATUSES = (OK, FAILED, SKIPPED)

# Why a sample failed, each in the words the report's "How to read this" uses. The first ones
# are seen by the run and recorded in sample.json; the reader decides the others from the raw
# files (collect/reader.py has the order).
FAILURE_KINDS = {
    "unit_failed": "the server's systemd unit would not start; the last lines of its journal "
    "(journal.txt in the cell's raw folder) are shown with it",
    "no_answer": "the unit started but the server's port never answered",
    "verify_failed": "the server answered wrongly before the measured run: a SET/GET round trip "
    "did not return the stored value, or DBSIZE did not answer",
    "load_host_lost": "a load host stopped answering; the run stopped there and a resumed run "
    "(wirebench_resume) measures the cell again",
    "server_crashed": "the server died during the cell: it closed the load host's watch "
    "connection, or its MainPID changed, its restart count rose, or its unit was not active "
    "at the end",
    "timeout": "redis-benchmark ran past wirebench_benchmark_timeout",
    "benchmark_error": "redis-benchmark exited with an error, printed no usable table, or "
    "left a test without a rate",
    "unreadable": "a raw file of the cell could not be trusted (missing its fields, of the "
    "wrong shape, not a regular file, too large, or outside the run folder); the reason names "
    "the file and the field",
    "unreachable": "(runs recorded before the kinds above) the server's port never answered "
    "or a load host stopped answering",
}
# Kinds a run may record in sample.json; the others are the reader's own verdicts.
RECORDED_FAILURES = (
    "unit_failed",
    "no_answer",
    "verify_failed",
    "load_host_lost",
    "server_crashed",
    "timeout",
    "benchmark_error",
    "unreachable",
)
# A cell that failed this way was never measured: a resumed run measures it again.
MEASURE_AGAIN = ("load_host_lost", "unreachable", "unreadable")


class ModelError(ValueError):
    """A value that does not fit the model (names the field and what it holds)."""


def check_name(what: str, value, pattern=NAME) -> str:
    """``value`` if it is a name of this kind; ModelError saying what it may hold otherwise."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        allowed = {NAME: "'.', '_' or '-'", PROFILE_NAME: "'_' or '-'"}.get(pattern, "'.' or '-'")
        raise ModelError(f"{what} {value!r} may only hold letters, digits, {allowed}")
    return value


@dataclass(frozen=True)
class Cell:
    implementation: str
    interpreter: str  # "native" for redis-server
    workload: str
    repetition: int
    profile: str = BASELINE  # the tuning profile the hosts had while it was measured

    def __post_init__(self):
        check_name("implementation", self.implementation)
        check_name("interpreter", self.interpreter, INTERPRETER_NAME)
        check_name("workload", self.workload)
        check_name("tuning profile", self.profile, PROFILE_NAME)
        if isinstance(self.repetition, bool) or not isinstance(self.repetition, int):
            raise ModelError(f"repetition {self.repetition!r} must be an integer")
        if self.repetition < 1:
            raise ModelError(f"repetition {self.repetition} must be at least 1")

    @property
    def workload_part(self) -> str:
        """The workload as the id and folder name it: with ``+<profile>`` unless baseline."""
        if self.profile == BASELINE:
            return self.workload
        return f"{self.workload}{PROFILE_MARK}{self.profile}"

    @property
    def id(self) -> str:
        return f"{self.implementation}@{self.interpreter}/{self.workload_part}#{self.repetition}"

    @property
    def dir(self) -> str:
        """The cell's raw folder name: its id with '/' and '#' made '_' (one path component)."""
        return f"{self.implementation}@{self.interpreter}_{self.workload_part}_{self.repetition}"

    def with_repetition(self, repetition: int) -> Cell:
        return Cell(self.implementation, self.interpreter, self.workload, repetition, self.profile)

    @classmethod
    def of(cls, fields) -> Cell:
        """The cell a mapping describes (a cell dict of the run, a sample.json): its names and
        repetition, and its ``profile`` (absent or null: baseline, as in runs before profiles)."""
        return cls(
            fields["implementation"],
            fields["interpreter"],
            fields["workload"],
            fields["repetition"],
            fields.get("profile") or BASELINE,
        )

    @classmethod
    def from_id(cls, text) -> Cell:
        found = CELL_ID.fullmatch(text) if isinstance(text, str) else None
        if not found:
            raise ModelError(
                f"cell id {text!r} is not <impl>@<interpreter>/<workload>#<rep> "
                "or <impl>@<interpreter>/<workload>+<profile>#<rep>"
            )
        return cls(
            found["impl"],
            found["interp"],
            found["workload"],
            int(found["rep"]),
            found["profile"] or BASELINE,
        )

    @classmethod
    def from_dir(cls, name: str) -> Cell:
        """The cell a raw folder is named after (the inverse of ``dir``)."""
        implementation, at, rest = name.partition("@")
        interpreter, _, rest = rest.partition("_")
        workload, _, repetition = rest.rpartition("_")
        workload, mark, profile = workload.partition(PROFILE_MARK)
        if not at or not repetition.isdigit() or (mark and not profile):
            raise ModelError(
                f"folder {name!r} is not named <impl>@<interpreter>_<workload>_<rep> "
                "or <impl>@<interpreter>_<workload>+<profile>_<rep>"
            )
        return cls(implementation, interpreter, workload, int(repetition), profile or BASELINE)


@dataclass(frozen=True)
class Workload:
    """One workload of the matrix as run-meta.json records it (presets/*.yml)."""

    name: str
    tests: str  # redis-benchmark's -t, e.g. "get" or "set,get"; "" for its whole suite
    clients: int | None = None
    pipeline: int | None = None
    data_size: int | None = None
    keyspace: int | None = None
    requests: int | None = None
    seconds: int | None = None
    threads: int | None = None
    preload: bool = False

    COUNTS = ("clients", "pipeline", "data_size", "keyspace", "requests", "seconds", "threads")

    def __post_init__(self):
        check_name("workload name", self.name)
        if not isinstance(self.tests, str):
            raise ModelError(f"workload {self.name}: tests must be text, e.g. 'get'")
        for name in self.COUNTS:
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise ModelError(f"workload {self.name}: {name} must be a positive integer")
        if not isinstance(self.preload, bool):
            raise ModelError(f"workload {self.name}: preload must be true or false")

    @property
    def test_names(self) -> list[str]:
        return [name for name in self.tests.lower().replace(" ", "").split(",") if name]

    @classmethod
    def from_dict(cls, data) -> Workload:
        """A workload from its definition; fields this collect does not know are left out."""
        if not isinstance(data, dict):
            raise ModelError(f"a workload must be an object, not {type(data).__name__}")
        tests = data.get("tests") or ""
        if isinstance(tests, list):  # YAML lets a preset list them
            tests = ",".join(str(test) for test in tests)
        known = {name: data[name] for name in cls.COUNTS if data.get(name) is not None}
        return cls(
            name=data.get("name"),
            tests=tests,
            preload=data.get("preload", False),
            **known,
        )


# The parts of a CPU's time that went to something other than the measured process's work,
# as collect/interference.py reports them (each a share of the CPU's time in the window).
CPU_SHARES = ("steal", "softirq", "irq", "iowait")


def cpu_shares(ticks: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """{CPU: {steal, softirq, irq, iowait}} as shares of each CPU's time, from its ticks in
    each CPU_COLUMNS column (none of them all zero)."""
    return {
        cpu: {share: round(spent[CPU_COLUMNS.index(share)] / sum(spent), 6) for share in CPU_SHARES}
        for cpu, spent in ticks.items()
    }


@dataclass(frozen=True)
class Interference:
    """What else took a host's CPUs or lost its packets over a window.

    ``window`` is "measured run" on a load host (redis-benchmark's run exactly) and "cell"
    on the server host (from its unit's start to its stop: nothing may reach the server host
    while the load host measures, so its counters are read at the cell's ends).
    """

    window: str
    seconds: float | None
    # CPU -> the kernel's ticks (USER_HZ, 10 ms) in each CPU_COLUMNS column in the window: a
    # share is only as fine as one tick, which is over 1% of a window under a second.
    cpu_ticks: dict[str, list[int]]
    nics: dict[str, dict[str, int]]  # interface -> {packets, dropped, errors} in the window
    tcp_sent: int | None = None  # TCP segments sent in the window
    tcp_retransmitted: int | None = None

    @cached_property
    def cpus(self) -> dict[str, dict[str, float]]:
        """CPU -> {steal, softirq, irq, iowait}: shares of its time in the window."""
        return cpu_shares(self.cpu_ticks)

    @property
    def ticks(self) -> dict[str, int]:
        """CPU -> its ticks in the window."""
        return {cpu: sum(spent) for cpu, spent in self.cpu_ticks.items()}

    def peak(self, share: str) -> float | None:
        """The highest share of one kind (CPU_SHARES) over the CPUs, None without CPUs."""
        values = [cpu[share] for cpu in self.cpus.values() if cpu.get(share) is not None]
        return max(values) if values else None

    @property
    def packets(self) -> int:
        return sum(nic["packets"] for nic in self.nics.values())

    @property
    def packets_lost(self) -> int:
        """Packets the NICs dropped or got wrong, both directions."""
        return sum(nic["dropped"] + nic["errors"] for nic in self.nics.values())

    def to_json(self) -> dict:
        return {
            "window": self.window,
            "seconds": self.seconds,
            "cpus": self.cpus,
            "nics": self.nics,
            "tcp_sent": self.tcp_sent,
            "tcp_retransmitted": self.tcp_retransmitted,
            "ticks": self.ticks,
        }


@dataclass(frozen=True)
class LoadHostRun:
    """One load host's measured run of a cell, from its raw files."""

    argv: list | None = None
    exit_code: int | None = None
    timed_out: bool = False
    elapsed_s: float | None = None
    client_cpu_s: float | None = None
    started: float | None = None
    ended: float | None = None
    start_at: float | None = None
    start_lag_s: float | None = None
    threads: int = 1
    load_cpus: list | None = None
    load_cpu_busy: float | None = None
    server_cpu_s: float | None = None  # the server's CPU seconds over this host's run
    server_closed: bool = False  # the server closed this host's watch connection: it died
    # Processes and threads started on the load host while it measured, other than
    # redis-benchmark's own: 0 when the window was quiet (None: not recorded).
    pids_started_during_run: int | None = None
    timeout_s: float | None = None  # the run's time limit (derived from its warm-up)
    interference: Interference | None = None  # this host's, over the measured run
    stderr_tail: str | None = None
    warnings: list[str] = field(default_factory=list)  # non-table lines in its stdout

    @property
    def client_cpu_share(self) -> float | None:
        """The client's CPU seconds over what it could have used: elapsed × its CPUs.

        redis-benchmark with N threads can use at most N CPUs, and no more than the load
        host lets it have (its CPU affinity, when known).
        """
        if not self.elapsed_s or self.client_cpu_s is None:
            return None
        budget = max(1, self.threads)
        if self.load_cpus:
            budget = min(budget, len(self.load_cpus))
        return self.client_cpu_s / (self.elapsed_s * budget)

    def to_json(self) -> dict:
        return {
            "argv": self.argv,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "elapsed_s": self.elapsed_s,
            "client_cpu_s": self.client_cpu_s,
            "client_cpu_share": self.client_cpu_share,
            "started": self.started,
            "ended": self.ended,
            "start_at": self.start_at,
            "start_lag_s": self.start_lag_s,
            "threads": self.threads,
            "load_cpus": self.load_cpus,
            "load_cpu_busy": self.load_cpu_busy,
            "server_cpu_s": self.server_cpu_s,
            "server_closed": self.server_closed,
            "pids_started_during_run": self.pids_started_during_run,
            "timeout_s": self.timeout_s,
            "interference": self.interference.to_json() if self.interference else None,
            "stderr_tail": self.stderr_tail,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class TestResult:
    """One redis-benchmark test of a sample: the summed rate and each load host's row."""

    rps: float
    hosts: dict[str, dict[str, float]]  # load host -> its row's finite metrics

    def to_json(self) -> dict:
        return {"rps": self.rps, "hosts": self.hosts}


@dataclass(frozen=True)
class ServerCounters:
    cpu_s: float | None = None  # the server's CPU seconds in the measured run
    main_pid_before: int | None = None
    main_pid_after: int | None = None
    n_restarts_before: int | None = None
    n_restarts_after: int | None = None
    max_rss_kib: int | None = None
    restarted: bool = False
    interference: Interference | None = None  # the server host's, over the cell

    def to_json(self) -> dict:
        document = dict(self.__dict__)
        document["interference"] = self.interference.to_json() if self.interference else None
        return document


@dataclass(frozen=True)
class Timing:
    """Seconds a cell took on the controller, and how much of it was not measurement."""

    cell_s: float
    measured_s: float
    outside_s: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Sample:
    cell: Cell
    status: str
    failure: str | None = None
    reason: str | None = None
    server_host: str | None = None
    path: str | None = None  # the cell's raw folder, relative to the run folder
    requests: int | None = None
    warmup_rps: float | None = None
    verified: dict | None = None
    server: ServerCounters | None = None
    load_hosts: dict[str, LoadHostRun] = field(default_factory=dict)
    tests: dict[str, TestResult] = field(default_factory=dict)
    timing: Timing | None = None
    load_overlap: float | None = None  # several load hosts: share of their span run at once
    journal_tail: list[str] = field(default_factory=list)  # unit_failed: its journal's end

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ModelError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.status == FAILED and self.failure not in FAILURE_KINDS:
            raise ModelError(f"failure {self.failure!r} is not a known kind")
        if self.status != FAILED and self.failure is not None:
            raise ModelError(f"a sample {self.status} has no failure ({self.failure!r})")
        if self.status == OK and not self.rps:
            raise ModelError(f"{self.id}: a sample with no rates is never ok")

    @property
    def id(self) -> str:
        return self.cell.id

    @property
    def implementation(self) -> str:
        return self.cell.implementation

    @property
    def interpreter(self) -> str:
        return self.cell.interpreter

    @property
    def workload(self) -> str:
        return self.cell.workload

    @property
    def repetition(self) -> int:
        return self.cell.repetition

    @property
    def profile(self) -> str:
        return self.cell.profile

    @property
    def rps(self) -> dict[str, float]:
        """Requests/s per test, summed over load hosts (positive rates only)."""
        return {name: test.rps for name, test in self.tests.items() if test.rps > 0}

    def to_json(self) -> dict:
        """The sample as run.json keeps it (format wirebench/1)."""
        document = {
            "id": self.id,
            "implementation": self.implementation,
            "interpreter": self.interpreter,
            "workload": self.workload,
            "repetition": self.repetition,
            "profile": self.profile,
            "server_host": self.server_host,
            "path": self.path,
            "status": self.status,
            "failure": self.failure,
            "reason": self.reason,
        }
        if self.status == SKIPPED:
            return document
        return {
            **document,
            "requests": self.requests,
            "warmup_rps": self.warmup_rps,
            "verified": self.verified,
            "server": self.server.to_json() if self.server else None,
            "load_hosts": {name: run.to_json() for name, run in self.load_hosts.items()},
            "tests": {name: test.to_json() for name, test in self.tests.items()},
            "timing": self.timing.to_json() if self.timing else None,
            "load_overlap": self.load_overlap,
            "journal_tail": self.journal_tail,
        }
