"""What a load host does to a server under test, shared by the agent's cell (the lab and
real hosts) and tools/loopback_bench.py (a developer's loopback run).

A RESP client just big enough to wait for, verify, preload and watch a server; the
redis-benchmark argument list; one measured redis-benchmark run with the readings that
surround it (client CPU, the load host's CPU use, the server's own CPU seconds, processes
started on the host while it ran).

The measured window is quiet: between starting redis-benchmark and its exit this process
only waits (one poll() on redis-benchmark's pipes and an idle connection to the server). The
idle connection is how a server that dies mid-run is noticed at once: the kernel closes it.

A tuning profile may pin redis-benchmark to CPUs (agent/tuning/placement.py writes them to
/run/wirebench/tuning/load-cpus): the file is read before each run starts, and
redis-benchmark starts on those CPUs and nowhere else.

Runs on the load host's system Python (3.9 or newer); standard library only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import secrets
import selectors
import signal
import socket
import subprocess
import time

from . import interference
from .interference import CPU_COLUMNS, cpu_times
from .tuning import cpus as cpu_lists
from .tuning.placement import LOAD_CPUS

WAIT_SECONDS = 30.0
PRELOAD_BATCH = 1000
PROC_STAT = "/proc/stat"
# The last PID handed out in this host's PID namespace: how many processes and threads
# started on the host while redis-benchmark ran (nothing of wirebench should).
LAST_PID = "/proc/sys/kernel/ns_last_pid"
PID_MAX = "/proc/sys/kernel/pid_max"
# Where tune apply's load placement leaves the CPUs redis-benchmark is pinned to.
LOAD_CPUS_FILE = os.path.join("/", LOAD_CPUS)
ONLINE_CPUS = "/sys/devices/system/cpu/online"
# The columns of /proc/stat's CPU times that are not the CPU's work.
IDLE, IOWAIT, STEAL = (CPU_COLUMNS.index(name) for name in ("idle", "iowait", "steal"))
# After a timeout or a dead server: redis-benchmark prints what it measured on SIGINT; it
# gets this long before SIGKILL.
INTERRUPT_GRACE = 10.0
# After the run, how long the watch connection waits for INFO cpu: a wedged server (the
# reason a run timed out) must not hold the reply for ever.
AFTER_RUN_REPLY_SECONDS = 5.0


class CellError(Exception):
    """A failure of the cell, with the failure kind it maps to (collect.model.FAILURE_KINDS)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ReplyError(str):
    """An error reply (``-ERR ...``) from the server."""


def encode(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class Connection:
    """Just enough of a RESP client to verify, preload and watch a server."""

    def __init__(self, host: str, port: int, password: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        if password:
            reply = self.call(b"AUTH", password.encode())
            if reply != "OK":
                self.close()
                raise CellError("verify_failed", f"AUTH was refused: {reply}")

    def close(self) -> None:
        self.sock.close()

    def send(self, *commands) -> None:
        self.sock.sendall(b"".join(encode(command) for command in commands))

    def call(self, *args):
        self.send(args)
        return self.reply()

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise CellError("verify_failed", "the server closed the connection")
        self.buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._more()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ReplyError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            while len(self.buffer) < length + 2:
                self._more()
            value, self.buffer = self.buffer[:length], self.buffer[length + 2 :]
            return value
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise CellError("verify_failed", f"not a RESP reply: {line[:80]!r}")


def wait_until_answering(host: str, port: int, password: str, seconds: float = WAIT_SECONDS):
    """Poll until the server answers PING; CellError ``no_answer`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            connection = Connection(host, port, password, timeout=2.0)
        except OSError as exc:
            last = str(exc)
            time.sleep(0.05)
            continue
        try:
            answer = connection.call(b"PING")
            if answer == "PONG":
                return
            last = f"PING answered {str(answer)[:120]!r}, not PONG"
        except OSError as exc:
            last = str(exc)
        finally:
            connection.close()
        time.sleep(0.05)
    raise CellError("no_answer", f"{host}:{port} did not answer within {seconds:.0f}s: {last}")


def verify(host: str, port: int, password: str) -> dict:
    """A SET/GET round trip returns what was stored; DBSIZE answers with an integer."""
    key = b"wirebench:verify:" + secrets.token_hex(8).encode()
    value = secrets.token_bytes(32)
    connection = Connection(host, port, password)
    try:
        stored = connection.call(b"SET", key, value)
        got = connection.call(b"GET", key)
        connection.call(b"DEL", key)
        size = connection.call(b"DBSIZE")
    finally:
        connection.close()
    if stored != "OK" or got != value:
        raise CellError(
            "verify_failed", f"SET/GET round trip failed: SET said {stored!r}, GET gave {got!r}"
        )
    if not isinstance(size, int):
        raise CellError("verify_failed", f"DBSIZE did not answer an integer: {size!r}")
    return {"round_trip": True, "dbsize": size}


def key_name(index: int) -> bytes:
    # redis-benchmark's -r replaces __rand_int__ with 12 zero-padded digits.
    return b"key:%012d" % index


def preload(host: str, port: int, password: str, keyspace: int, data_size: int) -> int:
    """SET every key -r can produce so GETs hit, then read each back; returns the DBSIZE.

    Reading every key back checks the whole preload (not one probe), and leaves no key
    unread before the measured run: a server that does work on a key's first read (a
    Python server stores GET's reply then) does it here, not inside the measured window,
    where how much of it fell would depend on the requests per key.
    """
    value = b"x" * data_size
    connection = Connection(host, port, password, timeout=60.0)
    try:
        connection.call(b"FLUSHALL")
        for first in range(0, keyspace, PRELOAD_BATCH):
            args = [b"MSET"]
            for index in range(first, min(first + PRELOAD_BATCH, keyspace)):
                args += [key_name(index), value]
            connection.send(args)
        for _ in range(0, keyspace, PRELOAD_BATCH):
            reply = connection.reply()
            if reply != "OK":
                raise CellError("verify_failed", f"preload MSET failed: {reply!r}")
        read_back(connection, keyspace, value)
        size = connection.call(b"DBSIZE")
    finally:
        connection.close()
    if size != keyspace:
        raise CellError("verify_failed", f"preload left DBSIZE {size} (wanted {keyspace})")
    return size


def read_back(connection: Connection, keyspace: int, value: bytes) -> None:
    """GET every key -r can produce, a batch per round trip: each must hold ``value``."""
    for first in range(0, keyspace, PRELOAD_BATCH):
        batch = range(first, min(first + PRELOAD_BATCH, keyspace))
        connection.send(*((b"GET", key_name(index)) for index in batch))
        wrong = None
        for index in batch:  # every reply read, so the connection stays in step
            reply = connection.reply()
            if reply != value and wrong is None:
                wrong = (index, reply)
        if wrong is not None:
            index, reply = wrong
            raise CellError(
                "verify_failed",
                f"preloaded key {key_name(index).decode()} reads back {reply!r} (wanted {value!r})",
            )


def server_cpu_seconds(connection: Connection):
    """The server's own CPU seconds (user + system) from ``INFO cpu``; None if it has none."""
    reply = connection.call(b"INFO", b"cpu")
    if not isinstance(reply, bytes):
        return None
    fields = dict(
        line.split(":", 1) for line in reply.decode(errors="replace").splitlines() if ":" in line
    )
    try:
        return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])
    except (KeyError, ValueError):
        return None


def benchmark_argv(host: str, port: int, workload: dict, requests: int) -> list:
    argv = [
        "redis-benchmark", "-h", host, "-p", str(port),
        "-t", str(workload["tests"]), "-n", str(requests),
        "-c", str(workload.get("clients", 50)), "-P", str(workload.get("pipeline", 1)),
        "-d", str(workload.get("data_size", 3)), "--csv",
    ]  # fmt: skip
    if workload.get("keyspace"):
        argv += ["-r", str(workload["keyspace"])]
    if workload.get("threads"):
        argv += ["--threads", str(workload["threads"])]
    return argv


def cpu_jiffies(times: dict) -> dict:
    """{cpu id: (busy jiffies, total jiffies)} from interference.cpu_times() of /proc/stat.

    Busy is the CPU's work: not idle, not waiting for I/O, and not stolen (time a
    hypervisor gave to another guest is a noisy neighbour's, not the client's: collect
    flags it as STEAL instead of calling the client saturated).
    """
    found = {}
    for name, values in times.items():
        total = sum(values)
        found[int(name)] = (total - values[IDLE] - values[IOWAIT] - values[STEAL], total)
    return found


def busy_fraction(before: dict, after: dict, cpus):
    """Share of the time of `cpus` spent busy between two cpu_jiffies() readings.

    None when no tick elapsed (a run shorter than a jiffy) or no CPU is in both readings.
    """
    cpus = [cpu for cpu in cpus if cpu in before and cpu in after]
    busy = sum(after[cpu][0] - before[cpu][0] for cpu in cpus)
    total = sum(after[cpu][1] - before[cpu][1] for cpu in cpus)
    if total <= 0:
        return None
    # A CPU's iowait may go backwards (proc(5)), which can push busy past total.
    return min(max(busy / total, 0.0), 1.0)


def read_last_pid():
    """The last PID handed out in this PID namespace, or None where it cannot be read."""
    try:
        with open(LAST_PID) as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return None


def pids_between(first, last):
    """How many PIDs were handed out between two read_last_pid() readings (wrap-aware)."""
    if first is None or last is None:
        return None
    if last >= first:
        return last - first
    try:
        with open(PID_MAX) as handle:
            pid_max = int(handle.read())
    except (OSError, ValueError):
        return None
    # PIDs wrap to 300 (the kernel's RESERVED_PIDS) after pid_max.
    return (pid_max - first) + (last - 300)


def others_started(pids, argv: list):
    """PIDs handed out during a run, less redis-benchmark's own: one thread per --threads
    (without it, redis-benchmark starts none)."""
    if pids is None:
        return None
    own = int(argv[argv.index("--threads") + 1]) if "--threads" in argv else 0
    return max(pids - own, 0)


def allowed_cpus() -> list:
    """The CPUs this process may run on (its affinity; every CPU where it cannot be read)."""
    found = interference.process_cpus(0)
    if found:
        return found
    with open(PROC_STAT) as handle:
        return sorted(int(cpu) for cpu in cpu_times(handle.read()))


def read_pinning():
    """The CPUs tuning pinned redis-benchmark to (a frozenset), or None when it is not pinned
    (no LOAD_CPUS_FILE). CellError naming the file when it is not a CPU list."""
    try:
        with open(LOAD_CPUS_FILE) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CellError("benchmark_error", f"cannot read {LOAD_CPUS_FILE}: {exc}") from None
    try:
        return cpu_lists.parse_list(text)
    except ValueError as exc:
        raise CellError("benchmark_error", f"{LOAD_CPUS_FILE}: {exc}") from None


def online_cpus() -> str:
    try:
        with open(ONLINE_CPUS) as handle:
            return handle.read().strip()
    except OSError:
        return "unknown"


@contextlib.contextmanager
def started_on(cpus):
    """While a child is started in this block, it starts on ``cpus`` (None: where this
    process runs).

    This thread's affinity is set for the fork and put back after: the child inherits it and
    keeps it across exec, and the kernel's answer is checked here, where it can be named. A
    preexec_fn would do the same in the child, but its errors reach the parent only as
    "Exception occurred in preexec_fn", and the kernel does not refuse a list naming CPUs it
    lacks: it drops them (EINVAL only when none is left), so the set it kept is compared.
    """
    if cpus is None:
        yield
        return
    if not hasattr(os, "sched_setaffinity"):  # PyPy
        raise CellError(
            "benchmark_error",
            f"{LOAD_CPUS_FILE} pins redis-benchmark, but this Python cannot set a CPU "
            "affinity (no os.sched_setaffinity): run the agent with CPython",
        )
    own = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, cpus)
        kept = os.sched_getaffinity(0)
    except OSError:
        kept = frozenset()  # EINVAL: not one of them is a CPU this process may run on
    try:
        if kept != cpus:
            raise CellError(
                "benchmark_error",
                f"{LOAD_CPUS_FILE} pins redis-benchmark to CPUs {cpu_lists.format_list(cpus)}, "
                f"but CPUs {cpu_lists.format_list(cpus - kept)} are not ones this host lets it "
                f"use (online: {online_cpus()}; this process may use "
                f"{cpu_lists.format_list(own)})",
            )
        yield
    finally:
        os.sched_setaffinity(0, own)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _interrupt(process: subprocess.Popen) -> None:
    """SIGINT (redis-benchmark prints what it measured so far), then SIGKILL."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=INTERRUPT_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _closed(sock: socket.socket) -> bool:
    """Whether the server closed (or reset) an idle, non-blocking connection. The server
    never writes to it, so anything readable is its close."""
    try:
        return not sock.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        return True


def _collect_output(process, timeout: float, watch) -> tuple:
    """Wait for redis-benchmark's exit, its output, a dead server or the timeout.

    Returns (stdout, stderr, timed_out, server_closed). Only blocks in select(): no work
    is done while the run lasts.
    """
    chunks = {"stdout": [], "stderr": []}
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "stdout")
    selector.register(process.stderr, selectors.EVENT_READ, "stderr")
    if watch is not None:
        watch.sock.setblocking(False)
        selector.register(watch.sock, selectors.EVENT_READ, "watch")
    open_pipes, timed_out, server_closed = 2, False, False
    deadline = time.monotonic() + timeout
    try:
        while open_pipes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in selector.select(remaining):
                if key.data == "watch":
                    if _closed(watch.sock):
                        server_closed = True
                        selector.unregister(watch.sock)
                    continue
                data = os.read(key.fileobj.fileno(), 65536)
                if data:
                    chunks[key.data].append(data)
                else:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
            if server_closed:
                break
    finally:
        selector.close()
    if open_pipes:  # it did not end by itself: a timeout or a dead server
        _interrupt(process)
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr)):
            chunks[name].append(pipe.read())
    process.wait()
    stdout = b"".join(chunks["stdout"]).decode(errors="replace")
    stderr = b"".join(chunks["stderr"]).decode(errors="replace")
    return stdout, stderr, timed_out, server_closed


def run_benchmark(argv: list, password: str, timeout: float, watch=None) -> dict:
    """One redis-benchmark run, with the readings that surround it.

    ``watch``: an idle Connection to the server: if the server closes it (it died), the
    run is stopped at once and ``server_closed`` is true; its ``INFO cpu`` before and after
    gives the server's CPU seconds over the run.
    """
    # redis-benchmark takes a password only as -a (it ignores REDISCLI_AUTH).
    command = [*argv, "-a", password] if password else argv
    # The CPUs redis-benchmark runs on: where tuning pinned it, or this process's (a pinned
    # container or taskset limits them); on a shared or pinned host the machine-wide "cpu"
    # line would hide a saturated client. Read now, before the measured window.
    pinned_to = read_pinning()
    cpus = sorted(pinned_to) if pinned_to is not None else allowed_cpus()
    server_cpu_before = None
    if watch is not None:
        try:
            server_cpu_before = server_cpu_seconds(watch)
        except (OSError, CellError) as exc:
            # It answered PING a moment ago: a server gone now died before the run.
            raise CellError("server_crashed", f"the server stopped answering: {exc}") from None
    client_cpu_before = children_cpu_seconds()
    counters_before = interference.reading(cpus)
    started = time.time()
    try:
        with started_on(pinned_to):
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a timeout kills redis-benchmark and nothing else
            )
    except OSError as exc:  # not installed: not the server's fault (an OSError says no_answer)
        raise CellError("benchmark_error", f"cannot run {argv[0]}: {exc}") from None
    last_pid_at_start = read_last_pid()  # after redis-benchmark's own PID
    stdout, stderr, timed_out, server_closed = _collect_output(process, timeout, watch)
    last_pid_at_end = read_last_pid()
    ended = time.time()
    counters_after = interference.reading(cpus)
    client_cpu = children_cpu_seconds() - client_cpu_before
    server_cpu = None
    if watch is not None and not server_closed:
        # Also a question whether the server lives: redis-benchmark may end by itself when
        # the server dies (its connections are reset) before the watch's close is seen.
        watch.sock.settimeout(AFTER_RUN_REPLY_SECONDS)
        try:
            after = server_cpu_seconds(watch)
        except (OSError, CellError):
            after = None
            watch.sock.setblocking(False)
            server_closed = _closed(watch.sock)  # not a wedged server that did not answer
        if after is not None and server_cpu_before is not None:
            server_cpu = round(after - server_cpu_before, 6)
    return {
        "argv": [*argv, "-a", "<redacted>"] if password else argv,
        "stdout": stdout,
        "stderr": stderr,
        "exit_code": process.returncode,
        "timed_out": timed_out,
        "server_closed": server_closed,
        "started": started,
        "ended": ended,
        "elapsed_s": ended - started,
        "client_cpu_s": round(client_cpu, 6),
        "server_cpu_s": server_cpu,
        # Processes and threads started on this host while redis-benchmark ran, other than
        # redis-benchmark's own threads: 0 when nothing else ran (None: not readable here).
        "pids_started_during_run": others_started(
            pids_between(last_pid_at_start, last_pid_at_end), argv
        ),
        "load_cpu": {
            "cpus": cpus,
            "pinned": pinned_to is not None,  # cpus are the tuning's load-cpus
            "busy_fraction": busy_fraction(
                cpu_jiffies(counters_before.get("cpus", {})),
                cpu_jiffies(counters_after.get("cpus", {})),
                cpus,
            ),
        },
        # What else took these CPUs or lost packets in the run: collect/interference.py.
        "interference": {"before": counters_before, "after": counters_after},
    }


def csv_rate(stdout: str):
    """The first finite rate in a --csv output (the warm-up needs no more than that)."""
    for line in stdout.splitlines():
        fields = [field.strip('"') for field in line.split('","')]
        if len(fields) == 8 and fields[0] != "test":
            try:
                rate = float(fields[1])
            except ValueError:
                continue
            if rate > 0 and rate != float("inf"):
                return rate
    return None
