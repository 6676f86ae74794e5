"""Loopback benchmark for developing the servers: every implementation next to redis-server.

    python -m tools.loopback_bench [--repetitions 3] [--impls a,b] [--parser P[,P]] [--json FILE]

Each repetition starts every target afresh (in a rotated order, so no implementation
always runs first or last, nor one parser always before the other), preloads the keyspace
so GETs hit, warms up, then measures ``redis-benchmark -t get -c 50`` without pipelining
and with ``-P 16``. It prints the median requests/s, the min-max range, the share of
redis-server's median, how busy the server and the client were, and the server's CPU per
request: when redis-benchmark uses ~100% of a core, the number describes the client, not
the server (CLIENT-BOUND).

``--parser python,hiredis`` starts each implementation once per parser in every repetition
(``python -m servers --parser``; named ``asyncio-protocol/hiredis`` and so on) and adds, per
implementation and workload, hiredis against the Python parser paired by repetition: the
median ratio of requests/s and of server CPU per request, with their range.

``--pin 0,1`` runs every server on CPU 0 and redis-benchmark on CPU 1, as the lab splits
them across two hosts: unpinned, the scheduler moves them around and a share of redis
measures the placement as much as the server.

Traffic goes to 127.0.0.1 only; every redis-benchmark run is bounded by -n and a timeout.
This is a developer's tool, not the lab benchmark (that is ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass

from agent import loadgen
from agent.loadgen import CellError, Connection
from collect import redis_benchmark
from collect.stats import summarize
from servers import registry

HOST = "127.0.0.1"
REFERENCE = "redis"
START_TIMEOUT = 10.0
CLIENT_BOUND_SHARE = 0.9  # client CPU over elapsed time above which the client is the limit
PARSER_CHOICES = ("auto", "python", "hiredis")  # python -m servers --parser


@dataclass(frozen=True)
class Workload:
    name: str
    pipeline: int
    requests: int


@dataclass
class Sample:
    target: str
    workload: str
    repetition: int
    rps: float
    p50_ms: float
    p99_ms: float
    elapsed_s: float
    server_cpu_s: float | None  # None: the server has no INFO cpu
    client_cpu_s: float
    requests: int = 0

    @property
    def server_us_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return 1e6 * self.server_cpu_s / self.requests


class BenchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def target_name(impl: str, parser: str, parsers: list[str]) -> str:
    """An implementation's name, with the parser when the run chose one (several, or not auto)."""
    return impl if parsers == ["auto"] else f"{impl}/{parser}"


def split_target(name: str) -> tuple[str, str]:
    """(implementation, --parser) of a target name."""
    impl, _, parser = name.partition("/")
    return impl, parser or "auto"


def start_target(name: str, server_cpu: int | None = None) -> tuple[subprocess.Popen, int]:
    # Through taskset: this process (and so redis-benchmark) may be pinned to another CPU.
    pin = [] if server_cpu is None else ["taskset", "-c", str(server_cpu)]
    if name == REFERENCE:
        port = free_port()
        argv = [
            "redis-server", "--bind", HOST, "--port", str(port),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes",
        ]  # fmt: skip
        process = subprocess.Popen(pin + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        impl, parser = split_target(name)
        argv = [sys.executable, "-m", "servers", "--impl", impl, "--bind", HOST, "--port", "0",
                "--parser", parser]  # fmt: skip
        process = subprocess.Popen(pin + argv, stderr=subprocess.PIPE, text=True)
        line = process.stderr.readline()
        match = re.search(r"listening=[^ ]*:(\d+)", line)
        if not match:
            process.kill()
            raise BenchError(f"{name} did not start: {line.strip() or 'no output'}")
        port = int(match.group(1))
    try:
        loadgen.wait_until_answering(HOST, port, "", START_TIMEOUT)
    except CellError as exc:
        stop_target(process)
        raise BenchError(f"{name} (exit status {process.returncode}): {exc}") from None
    return process, port


def stop_target(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_redis_benchmark(
    port: int, workload: Workload, requests: int, args: argparse.Namespace, watch: Connection
) -> Sample:
    """One redis-benchmark run as the agent makes it, the server's CPU from its INFO cpu."""
    spec = {"tests": "get", "clients": args.clients, "pipeline": workload.pipeline,
            "data_size": args.data_size, "keyspace": args.keyspace}  # fmt: skip
    argv = loadgen.benchmark_argv(HOST, port, spec, requests)
    run = loadgen.run_benchmark(argv, "", args.timeout, watch=watch)
    tail = run["stderr"].strip()[-300:]
    if run["server_closed"]:
        raise BenchError(f"the server died during the run: {tail}")
    if run["timed_out"]:
        raise BenchError(f"redis-benchmark ran past its {args.timeout:.0f}s timeout")
    if run["exit_code"] != 0:
        raise BenchError(f"redis-benchmark exited {run['exit_code']}: {tail}")
    row = redis_benchmark.parse_csv(run["stdout"]).row("GET")
    if not row.usable:
        raise BenchError(f"redis-benchmark gave no usable GET rate: {', '.join(row.problems)}")
    return Sample(
        target="",
        workload=workload.name,
        repetition=0,
        rps=row.metrics["rps"],
        p50_ms=row.metrics["p50_latency_ms"],
        p99_ms=row.metrics["p99_latency_ms"],
        elapsed_s=run["elapsed_s"],
        server_cpu_s=run["server_cpu_s"],
        client_cpu_s=run["client_cpu_s"],
        requests=requests,
    )


def measure_target(
    name: str, repetition: int, workloads: list[Workload], args: argparse.Namespace
) -> list[Sample]:
    process, port = start_target(name, args.pin[0] if args.pin else None)
    watch = None
    try:
        loadgen.preload(HOST, port, "", args.keyspace, args.data_size)
        watch = Connection(HOST, port, "")
        samples = []
        for workload in workloads:
            warmup = max(workload.requests // 10, 1000)
            run_redis_benchmark(port, workload, warmup, args, watch)  # discarded
            sample = run_redis_benchmark(port, workload, workload.requests, args, watch)
            sample.target, sample.repetition = name, repetition
            samples.append(sample)
            print(
                f"  rep {repetition + 1}: {name:<17} {workload.name:<8} {sample.rps:>12,.0f} rps",
                file=sys.stderr,
                flush=True,
            )
        return samples
    finally:
        if watch is not None:
            watch.close()
        stop_target(process)


def rotated(items: list, by: int) -> list:
    by %= len(items)
    return items[by:] + items[:by]


def round_order(impls: list[str], parsers: list[str], repetition: int) -> list[str]:
    """The targets of one repetition: redis and the implementations rotated, each
    implementation's parsers one after the other, each parser first in turn (one always
    measured second would carry whatever the order does into the paired ratio)."""
    blocks = [[REFERENCE]] + [
        [target_name(impl, parser, parsers) for parser in rotated(parsers, repetition)]
        for impl in impls
    ]
    return [target for block in rotated(blocks, repetition) for target in block]


def format_table(samples: list[Sample], targets: list[str], workloads: list[Workload]) -> str:
    width = max(17, *(len(target) for target in targets))
    header = (
        f"{'implementation':<{width}} {'workload':<8} {'median rps':>11} {'min-max':>19} "
        f"{'% redis':>7} {'cv':>5} {'server cpu':>10} {'µs/req':>6} {'client cpu':>10}  flags"
    )
    lines = [header, "-" * len(header)]
    for workload in workloads:
        of_workload = [s for s in samples if s.workload == workload.name]
        reference = [s.rps for s in of_workload if s.target == REFERENCE]
        reference_median = summarize(reference).median if reference else None
        for target in targets:
            mine = [s for s in of_workload if s.target == target]
            if not mine:
                lines.append(f"{target:<{width}} {workload.name:<8} {'no samples':>11}")
                continue
            rps = summarize([s.rps for s in mine])
            server_cpu = [s.server_cpu_s for s in mine]
            server_share = (
                f"{100 * sum(server_cpu) / sum(s.elapsed_s for s in mine):>9.0f}%"
                if None not in server_cpu
                else f"{'-':>10}"
            )
            client_share = sum(s.client_cpu_s for s in mine) / sum(s.elapsed_s for s in mine)
            share = f"{100 * rps.median / reference_median:.0f}%" if reference_median else "-"
            per_request = [s.server_us_per_request for s in mine]
            cost = (
                f"{summarize(per_request).median:>6.2f}" if None not in per_request else f"{'-':>6}"
            )
            flags = "CLIENT-BOUND" if client_share >= CLIENT_BOUND_SHARE else ""
            lines.append(
                f"{target:<{width}} {workload.name:<8} {rps.median:>11,.0f} "
                f"{f'{rps.minimum:,.0f}-{rps.maximum:,.0f}':>19} {share:>7} "
                f"{100 * rps.cv:>4.0f}% {server_share} {cost} {100 * client_share:>9.0f}%"
                f"  {flags}"
            )
    return "\n".join(lines)


def parser_gains(samples: list[Sample], impls: list[str], workloads: list[Workload]) -> list[dict]:
    """Per implementation and workload, hiredis over the Python parser in each repetition
    that has both (paired: the two ran in the same round): requests/s and server CPU µs per
    request, the ratio's median, min and max. Empty lists when no repetition has both."""
    by_key = {(s.target, s.workload, s.repetition): s for s in samples}
    repetitions = sorted({s.repetition for s in samples})
    gains = []
    for impl in impls:
        for workload in workloads:
            rps, cost = [], []
            for repetition in repetitions:
                hiredis = by_key.get((f"{impl}/hiredis", workload.name, repetition))
                python = by_key.get((f"{impl}/python", workload.name, repetition))
                if hiredis is None or python is None:
                    continue
                rps.append(hiredis.rps / python.rps)
                if hiredis.server_us_per_request and python.server_us_per_request:
                    cost.append(hiredis.server_us_per_request / python.server_us_per_request)
            gains.append({"implementation": impl, "workload": workload.name,
                          "rps_ratios": rps, "cpu_per_request_ratios": cost})  # fmt: skip
    return gains


def format_gains(gains: list[dict]) -> str:
    def ratios(values: list[float]) -> str:
        if not values:
            return f"{'-':>24}"
        summary = summarize(values)
        return f"{summary.median:>7.3f} ({summary.minimum:.3f}-{summary.maximum:.3f})"

    header = (
        f"{'implementation':<17} {'workload':<8} {'pairs':>5} "
        f"{'rps hiredis/python':>24} {'cpu/req hiredis/python':>24}"
    )
    lines = [
        "hiredis against the Python parser, paired by repetition: median ratio (min-max)",
        header,
        "-" * len(header),
    ]
    for gain in gains:
        lines.append(
            f"{gain['implementation']:<17} {gain['workload']:<8} {len(gain['rps_ratios']):>5} "
            f"{ratios(gain['rps_ratios']):>24} {ratios(gain['cpu_per_request_ratios']):>24}"
        )
    return "\n".join(lines)


def parser_list(text: str) -> list[str]:
    parsers = text.split(",")
    for parser in parsers:
        if parser not in PARSER_CHOICES:
            raise argparse.ArgumentTypeError(
                f"{parser!r} is not a parser (known: {', '.join(PARSER_CHOICES)})"
            )
    if len(set(parsers)) != len(parsers):
        raise argparse.ArgumentTypeError(f"{text!r} names a parser twice")
    return parsers


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.loopback_bench", description=__doc__)
    parser.add_argument("--impls", help="comma-separated implementations (default: all)")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100_000, help="-n without pipelining")
    parser.add_argument("--pipelined-requests", type=int, default=500_000, help="-n with -P 16")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--keyspace", type=int, default=100_000, help="-r, all keys preloaded")
    parser.add_argument("--data-size", type=int, default=3, help="value size in bytes")
    parser.add_argument("--timeout", type=float, default=300.0, help="per redis-benchmark run")
    parser.add_argument("--json", help="also write every sample and the conditions here")
    parser.add_argument(
        "--parser",
        type=parser_list,
        default=["auto"],
        metavar="P[,P]",
        help="each server's --parser: auto (the registry's, default), python, hiredis; "
        "several (python,hiredis) measure each implementation with each, interleaved",
    )
    parser.add_argument(
        "--pin",
        type=cpu_pair,
        metavar="SERVER,CLIENT",
        help="run the servers on CPU SERVER and redis-benchmark on CPU CLIENT (e.g. 0,1)",
    )
    return parser.parse_args(argv)


def cpu_pair(text: str) -> tuple[int, int]:
    try:
        server, client = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SERVER,CLIENT (e.g. 0,1)") from None
    return server, client


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"loopback_bench: {tool} not found (apt install redis-server redis-tools)")
            return 2
    if args.pin:
        if shutil.which("taskset") is None:
            print("loopback_bench: --pin needs taskset (util-linux)", file=sys.stderr)
            return 2
        # redis-benchmark inherits this process's CPU; the servers are started on theirs.
        os.sched_setaffinity(0, {args.pin[1]})
    impls = args.impls.split(",") if args.impls else list(registry.IMPLEMENTATIONS)
    for name in impls:
        try:
            registry.get(name)
        except KeyError as exc:
            print(f"loopback_bench: {exc.args[0]}", file=sys.stderr)
            return 2
    targets = [REFERENCE] + [
        target_name(impl, parser, args.parser) for impl in impls for parser in args.parser
    ]
    workloads = [
        Workload("get", 1, args.requests),
        Workload("get-P16", 16, args.pipelined_requests),
    ]
    samples: list[Sample] = []
    failures = []
    for repetition in range(args.repetitions):
        for target in round_order(impls, args.parser, repetition):
            try:
                samples += measure_target(target, repetition, workloads, args)
            except (BenchError, CellError, OSError) as exc:
                failures.append(f"{target} rep {repetition + 1}: {exc}")
                print(f"  FAILED {failures[-1]}", file=sys.stderr)
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"\nloopback {HOST}, {os.cpu_count()} CPUs, {args.repetitions} interleaved repetitions, "
        f"-c {args.clients} -r {args.keyspace} (preloaded: GETs hit) -d {args.data_size}, "
        f"-n {args.requests} / -P 16 -n {args.pipelined_requests}, --parser {','.join(args.parser)}"
        f"{f', server on CPU {args.pin[0]}, client on CPU {args.pin[1]}' if args.pin else ''}\n"
        f"python {sys.version.split()[0]}; {redis_version}\n"
    )
    print(format_table(samples, targets, workloads))
    gains = (
        parser_gains(samples, impls, workloads) if {"python", "hiredis"} <= set(args.parser) else []
    )
    if gains:
        print()
        print(format_gains(gains))
    for failure in failures:
        print(f"FAILED {failure}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "conditions": vars(args),
                    "samples": [asdict(s) for s in samples],
                    "parser_gains": gains,
                },
                out,
                indent=1,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
