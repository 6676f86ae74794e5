#!/usr/bin/python
"""The load host's side of one benchmark cell: prepare the server, then measure it."""

from __future__ import annotations

import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import time

DOCUMENTATION = r"""
---
module: wirebench_load
short_description: Prepare and measure one wirebench cell from a load host
description:
  - V(prepare) waits until the server answers, verifies it (a SET/GET round trip must return
    the stored value; DBSIZE must answer), preloads the keyspace when the workload asks, and
    runs a warm-up whose result is discarded but whose rate calibrates O(workload.seconds).
  - V(measure) runs redis-benchmark with an argument list (no shell) under a timeout and
    writes the raw artefacts to O(dest) at once (argv.json, stdout.csv, stderr.txt,
    result.json with exit code, timestamps and the client's CPU seconds), so a crash of the
    controller loses nothing measured.
  - Traffic goes only to O(host), which the playbook takes from the inventory.
options:
  action:
    description: Which half of the cell.
    type: str
    choices: [prepare, measure]
    required: true
  host:
    description: The server's bench address.
    type: str
    required: true
  port:
    description: The server's port.
    type: int
    required: true
  password:
    description: AUTH password (empty for none).
    type: str
    default: ""
    no_log: true
  workload:
    description:
      - C(tests), C(clients), C(pipeline), C(data_size), C(keyspace), C(threads), C(preload)
        and one of C(requests) or C(seconds).
    type: dict
    required: true
  requests:
    description: For V(measure), the request count (from V(prepare)'s calibration).
    type: int
  dest:
    description: For V(measure), the directory the artefacts go to.
    type: path
  start_at:
    description:
      - For V(measure) with several load hosts, the UNIX time at which to start
        redis-benchmark, so that every host loads the server at once (their rates are summed).
        The controller starts the hosts one after another; without a common start they would
        overlap only in part. A time already past starts at once; the lag is recorded.
      - At most O(timeout) seconds ahead (a clock far off is an error, not a long sleep).
    type: float
  timeout:
    description: Seconds the redis-benchmark run may take before it is killed.
    type: float
    default: 600
author: wirebench
"""

RETURN = r"""
verified:
  description: What the verification saw (prepare).
  type: dict
  returned: action=prepare
warmup_rps:
  description: Requests per second of the warm-up (prepare).
  type: float
  returned: action=prepare
requests:
  description: The request count to measure with (prepare).
  type: int
  returned: action=prepare
result:
  description:
    - exit code, timed_out, started, ended, elapsed_s, client_cpu_s (measure).
    - threads (redis-benchmark's --threads, 1 when not given).
    - start_at and start_lag_s (seconds after start_at that it really started) when a
      common start was asked for.
    - load_cpu, the load host's own CPU use during the run, to tell when the client is the
      bottleneck; C(cpus) the CPU ids this process may run on, C(busy_fraction) the share
      of their time spent busy (all but idle and iowait), null when no tick elapsed.
  type: dict
  returned: action=measure
"""

WAIT_SECONDS = 30.0
WARMUP_SHARE = 0.1  # of the measured requests, at least MIN_WARMUP
MIN_WARMUP = 2000
PRELOAD_BATCH = 1000
PROC_STAT = "/proc/stat"
# Per-CPU columns of /proc/stat (proc(5)): user nice system idle iowait irq softirq steal
# guest guest_nice. guest and guest_nice are already counted in user and nice, so only the
# first eight add up to the CPU's time; idle and iowait are the time it was not busy.
TIME_COLUMNS = 8
IDLE = 3
IOWAIT = 4


class CellError(Exception):
    """A failure of the cell, with the sample status it maps to."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class Connection:
    """Just enough of a RESP client to verify and preload a server."""

    def __init__(self, host: str, port: int, password: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        if password:
            reply = self.call(b"AUTH", password.encode())
            if reply != "OK":
                raise CellError("verify_failed", f"AUTH was refused: {reply}")

    def close(self) -> None:
        self.sock.close()

    def send(self, *commands) -> None:
        self.sock.sendall(b"".join(encode(command) for command in commands))

    def call(self, *args):
        self.send(args)
        return self.reply()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CellError("verify_failed", "the server closed the connection")
            self.buffer += chunk
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
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise CellError("verify_failed", "the server closed the connection")
                self.buffer += chunk
            value, self.buffer = self.buffer[:length], self.buffer[length + 2 :]
            return value
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise CellError("verify_failed", f"not a RESP reply: {line[:80]!r}")


class ReplyError(str):
    pass


def encode(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def wait_until_answering(host: str, port: int, password: str, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            connection = Connection(host, port, password, timeout=2.0)
        except OSError as exc:
            last = str(exc)
            time.sleep(0.1)
            continue
        try:
            if connection.call(b"PING") == "PONG":
                return
            last = "PING did not answer PONG"
        finally:
            connection.close()
    raise CellError("unreachable", f"{host}:{port} did not answer within {seconds:.0f}s: {last}")


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
    """SET every key -r can produce so GETs hit; returns the DBSIZE afterwards."""
    value = b"x" * data_size
    connection = Connection(host, port, password, timeout=60.0)
    try:
        connection.call(b"FLUSHALL")
        for first in range(0, keyspace, PRELOAD_BATCH):
            keys = range(first, min(first + PRELOAD_BATCH, keyspace))
            args = [b"MSET"]
            for index in keys:
                args += [key_name(index), value]
            connection.send(args)
        for _ in range(0, keyspace, PRELOAD_BATCH):
            reply = connection.reply()
            if reply != "OK":
                raise CellError("verify_failed", f"preload MSET failed: {reply!r}")
        size = connection.call(b"DBSIZE")
        probe = connection.call(b"GET", key_name(keyspace - 1))
    finally:
        connection.close()
    if size != keyspace or probe != value:
        raise CellError(
            "verify_failed", f"preload left DBSIZE {size} (wanted {keyspace}), probe {probe!r}"
        )
    return size


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


def cpu_jiffies(text: str) -> dict:
    """{cpu id: (busy jiffies, total jiffies)} from the per-CPU lines of a /proc/stat text."""
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue  # the "cpu" line sums every CPU, not only the ones this process uses
        values = [int(field) for field in rest.split()[:TIME_COLUMNS]]
        total = sum(values)
        found[int(name[3:])] = (total - values[IDLE] - values[IOWAIT], total)
    return found


def busy_fraction(before: dict, after: dict, cpus) -> float | None:
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


def read_cpu_jiffies() -> dict:
    with open(PROC_STAT) as handle:
        return cpu_jiffies(handle.read())


def run_benchmark(argv: list, password: str, timeout: float) -> dict:
    """Run redis-benchmark; its own CPU seconds come from wait4's rusage."""
    # redis-benchmark takes a password only as -a (it ignores REDISCLI_AUTH): it is on its
    # command line while it runs, but never in the artefacts (see redacted()).
    command = [*argv, "-a", password] if password else argv
    # The CPUs redis-benchmark may use (a pinned container or taskset limits them); on a
    # shared or pinned host the machine-wide "cpu" line would hide a saturated client.
    cpus = sorted(os.sched_getaffinity(0))
    jiffies_before = read_cpu_jiffies()
    started = time.time()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a timeout kills redis-benchmark and nothing else
    )
    timed_out = False
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGINT)  # it prints what it measured so far
        try:
            stdout, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
    ended = time.time()
    jiffies_after = read_cpu_jiffies()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "argv": [*argv, "-a", "<redacted>"] if password else argv,
        "stdout": stdout.decode(errors="replace"),
        "stderr": stderr.decode(errors="replace"),
        "exit_code": process.returncode,
        "timed_out": timed_out,
        "started": started,
        "ended": ended,
        "elapsed_s": ended - started,
        # This module's process runs one redis-benchmark per call, so all children's
        # usage is this one's.
        "client_cpu_s": usage.ru_utime + usage.ru_stime,
        "load_cpu": {
            "cpus": cpus,
            "busy_fraction": busy_fraction(jiffies_before, jiffies_after, cpus),
        },
    }


def csv_rate(stdout: str) -> float | None:
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


def prepare(params: dict) -> dict:
    host, port, password = params["host"], params["port"], params["password"]
    workload = params["workload"]
    wait_until_answering(host, port, password)
    verified = verify(host, port, password)
    if workload.get("preload"):
        verified["preloaded_keys"] = preload(
            host, port, password, workload["keyspace"], workload.get("data_size", 3)
        )
    planned = workload.get("requests") or MIN_WARMUP * 10
    warmup_requests = max(int(planned * WARMUP_SHARE), MIN_WARMUP)
    warmup = run_benchmark(
        benchmark_argv(host, port, workload, warmup_requests), password, params["timeout"]
    )
    if warmup["exit_code"] != 0:
        raise CellError(
            "benchmark_error",
            f"warm-up redis-benchmark exited {warmup['exit_code']}: {warmup['stderr'][-500:]}",
        )
    rate = csv_rate(warmup["stdout"])
    if workload.get("seconds"):
        if not rate:
            raise CellError("benchmark_error", "the warm-up gave no rate to calibrate seconds")
        requests = max(int(rate * workload["seconds"]), MIN_WARMUP)
    else:
        requests = workload["requests"]
    return {"verified": verified, "warmup_rps": rate, "requests": requests}


def write_artefacts(dest: str, run: dict) -> None:
    os.makedirs(dest, exist_ok=True)
    files = {
        "argv.json": json.dumps(run["argv"]) + "\n",
        "stdout.csv": run["stdout"],
        "stderr.txt": run["stderr"],
        "result.json": json.dumps(
            {key: run[key] for key in ("exit_code", "timed_out", "started", "ended", "elapsed_s",
                                       "client_cpu_s", "load_cpu", "threads", "start_at",
                                       "start_lag_s")},
            indent=2, sort_keys=True,
        ) + "\n",
    }  # fmt: skip
    for name, text in files.items():
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


def measure(params: dict) -> dict:
    argv = benchmark_argv(params["host"], params["port"], params["workload"], params["requests"])
    start_at = params.get("start_at")
    wait_for_start(start_at, params["timeout"])
    run = run_benchmark(argv, params["password"], params["timeout"])
    run["threads"] = int(params["workload"].get("threads") or 1)
    run["start_at"] = start_at
    run["start_lag_s"] = None if start_at is None else round(run["started"] - start_at, 4)
    write_artefacts(params["dest"], run)
    return {
        "result": {key: value for key, value in run.items() if key != "stdout"},
        "stdout": run["stdout"],
    }


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True, "choices": ["prepare", "measure"]},
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "required": True},
            "password": {"type": "str", "default": "", "no_log": True},
            "workload": {"type": "dict", "required": True},
            "requests": {"type": "int"},
            "dest": {"type": "path"},
            "timeout": {"type": "float", "default": 600.0},
            "start_at": {"type": "float"},
        },
        required_if=[("action", "measure", ("requests", "dest"))],
    )
    try:
        result = (
            prepare(module.params)
            if module.params["action"] == "prepare"
            else measure(module.params)
        )
    except CellError as exc:
        module.fail_json(msg=str(exc), status=exc.status)
    except OSError as exc:
        module.fail_json(msg=f"{module.params['host']}:{module.params['port']}: {exc}",
                         status="unreachable")  # fmt: skip
    module.exit_json(changed=module.params["action"] == "measure", **result)


if __name__ == "__main__":
    main()
