"""The conditions a run's numbers were measured under, in words a reader can check.

Every number wirebench prints comes with these: the hosts (CPU, kernel, NIC), the
versions, the workload's exact redis-benchmark flags, and whether its GETs hit or missed.
"""

from __future__ import annotations

import re

from collect.adaptive import description
from collect.hosts import Vm
from collect.model import OK, SKIPPED, Sample, Workload

# Flags that name where the traffic went or carry a secret (each takes one value): not
# workload conditions.
NOT_CONDITIONS = {"-h", "-p", "-a", "--user"}


def host_line(name: str, host: dict) -> str:
    nic = host.get("nic") or {}
    speed = f"{nic['speed_mbps']} Mb/s" if nic.get("speed_mbps") else "speed not reported"
    cpus = host.get("cpus_usable")
    count = host.get("cpu_count")
    cpu_text = f"{cpus} of {count} CPUs" if cpus else f"{count} CPUs"
    governors = ", ".join(sorted(set(host.get("cpu_governors") or []))) or "unknown"
    vm = Vm.from_host(host).sentence()
    parts = [vm] if vm else []
    parts += [
        f"{host.get('cpu_model', 'unknown CPU')}, {cpu_text} (governor {governors})",
        f"Linux {host.get('kernel', '?')}",
        host.get("distribution", "unknown distribution"),
    ]
    if host.get("virtualization") and host["virtualization"] != "none":
        parts.append(f"virtualization {host['virtualization']}")
    parts.append(
        f"NIC {nic.get('name', '?')} ({nic.get('driver', '?')}, {speed}, MTU {nic.get('mtu', '?')})"
    )
    if host.get("memory_kib"):
        parts.append(f"{host['memory_kib'] / 1024 / 1024:.0f} GiB")
    return f"{name}: " + "; ".join(parts)


def host_lines(meta: dict) -> list[str]:
    lines = []
    for name, host in sorted((meta.get("servers") or {}).items()):
        line = "server " + host_line(name, host)
        redis_version = (host.get("extra") or {}).get("redis_server_version")
        if redis_version:
            # "Redis server v=7.0.15 sha=... malloc=jemalloc-5.3.0 bits=64 build=..."
            found = re.search(r"v=(\S+)", redis_version)
            line += f"; redis-server {found.group(1) if found else redis_version}"
        lines.append(line + f"; bench address {host.get('bench_address', '?')}")
    for name, host in sorted((meta.get("load_hosts") or {}).items()):
        line = "load " + host_line(name, host)
        version = (host.get("extra") or {}).get("redis_benchmark_version")
        lines.append(line + (f"; {version}" if version else ""))
    return lines


def interpreter_lines(meta: dict) -> list[str]:
    lines = []
    for name, host in sorted((meta.get("servers") or {}).items()):
        extra = host.get("extra") or {}
        for interpreter, found in sorted((extra.get("interpreters") or {}).items()):
            packages = extra.get("packages", {}).get(interpreter)
            text = f"{interpreter} = {found.get('build', found.get('version', '?'))}"
            if packages:
                installed = [f"{k} {v}" for k, v in sorted(packages.items()) if v]
                text += " with " + (", ".join(installed) or "none of the servers' packages")
            lines.append(f"{text} (on {name})" if len(meta["servers"]) > 1 else text)
    return lines


def workload_flags(argv, seconds=None) -> str:
    """The redis-benchmark flags that define the workload (not its target or secret). A
    ``seconds`` workload's -n differs from cell to cell: it is named for what it is."""
    if not isinstance(argv, list) or not argv:
        return "unknown flags"
    kept, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in NOT_CONDITIONS:
            skip = True
        elif seconds and kept[-1:] == ["-n"]:
            kept.append(f"<{seconds:g} s at each cell's warm-up rate>")
        else:
            kept.append(str(arg))
    return "redis-benchmark " + " ".join(kept)


def gets_hit(workload: Workload | None, samples: list[Sample]) -> str:
    """Whether the workload's GETs found their key: the blog's never did."""
    if workload and workload.test_names and "get" not in workload.test_names:
        return "no GETs"
    if not workload or not workload.preload:
        return "GETs miss: no key was preloaded (as in the blog), so every GET answers nil"
    verified = [s.verified or {} for s in samples if s.workload == workload.name and s.status == OK]
    preloaded = [v["preloaded_keys"] for v in verified if v.get("preloaded_keys") is not None]
    keyspace = workload.keyspace
    if preloaded and keyspace and min(preloaded) >= keyspace:
        # Runs from before the read-back did not record it: their text stays as it was.
        read_back = all(v.get("preload_read_back") for v in verified)
        done = "preloaded and read back" if read_back else "preloaded"
        return f"GETs hit: all {keyspace:,} keys of -r {keyspace} were {done} before each run"
    if preloaded:
        return f"GETs partly hit: {min(preloaded):,} of {keyspace} keys preloaded"
    return "GETs should hit (preload asked), but no sample recorded the preload"


def workload_lines(workloads: dict[str, Workload], samples: list[Sample]) -> dict[str, dict]:
    """Per workload (the matrix's, then any other a sample names): its flags (from a real
    argv) and what its GETs did."""
    described = {}
    names = list(workloads) + sorted({s.workload for s in samples} - set(workloads))
    for name in names:
        argv = next(
            (
                run.argv
                for s in samples
                if s.workload == name and s.status == OK
                for run in s.load_hosts.values()
                if run.argv
            ),
            None,
        )
        loads = {len(s.load_hosts) for s in samples if s.workload == name and s.status != SKIPPED}
        described[name] = {
            "flags": workload_flags(argv, getattr(workloads.get(name), "seconds", None)),
            "gets": gets_hit(workloads.get(name), samples),
            "load_hosts": max(loads) if loads else 0,
        }
    return described


def run_lines(meta: dict) -> list[str]:
    matrix = meta.get("matrix") or {}
    started = str(meta.get("started"))
    # The run playbook writes UTC without an offset.
    if started[-6:-5] not in "+-" and not started.endswith("Z"):
        started += " UTC"
    lines = [
        f"run {meta.get('run_id')} started {started}",
        f"wirebench {meta.get('wirebench_version')} (git {meta.get('git_revision')}), "
        f"ansible-core {meta.get('ansible_version')}",
        f"repetitions: {matrix.get('repetitions')} per cell, interleaved over the run",
    ]
    adaptive = matrix.get("adaptive")
    if adaptive:
        lines[-1] += f"; adaptive: {description(adaptive)}"
    parser = matrix.get("server_parser") or "auto"
    if parser != "auto":
        lines.append(
            f"request parser: {parser} in every Python server (wirebench_server_parser; "
            "auto: each implementation's own)"
        )
    auth = matrix.get("auth")
    if auth == "none":
        lines.append(
            'AUTH: none (wirebench_redis_password: ""): the servers answered anyone on the '
            "bench network while the cells ran"
        )
    elif auth == "password":
        lines.append("AUTH: every server required a password (generated unless one was given)")
    return lines
