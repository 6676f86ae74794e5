"""Filters that decide what wirebench provisions and runs: the matrix check, the server
units, the cells and their order, and what the run learns from a cell's raw folder between
cells (progress line, adaptive repetitions, resume) through collect's one reader.

Logic lives here (tested by tests/plugins/test_wirebench_filters.py); YAML only calls it.
"""

from __future__ import annotations

import os
from pathlib import Path

# The controller's venv has the project installed (pyproject.toml): the cell model and the
# reader are the ones collect uses, so the run and the report never disagree about a cell.
from collect.model import (
    FAILED,
    INTERPRETER_NAME,
    MEASURE_AGAIN,
    OK,
    SKIPPED,
    Cell,
    ModelError,
    Sample,
    check_name,
)
from collect.reader import NoRecord, read_cell
from collect.stats import relative_half_width

try:
    import tomllib
except ImportError:  # pragma: no cover - the controller runs Python >= 3.11
    tomllib = None

NATIVE = "redis"
PROVIDERS = ("system", "apt", "uv")
UNIT_TEMPLATE = "wirebench-server@"
WORKLOAD_FIELDS = {
    "name", "tests", "clients", "pipeline", "data_size", "keyspace", "requests", "seconds",
    "threads", "preload",
}  # fmt: skip


def matrix_problems(implementations, interpreters, workloads, known_implementations):
    """Every problem with the requested matrix, each a sentence naming it; [] if none."""
    problems = []
    known = [NATIVE, *known_implementations]
    for name in implementations or []:
        if name not in known:
            problems.append(f"unknown implementation {name!r} (known: {', '.join(known)})")
    if not implementations:
        problems.append("wirebench_implementations is empty: nothing to measure")
    seen = set()
    for interpreter in interpreters or []:
        if not isinstance(interpreter, dict) or "name" not in interpreter:
            problems.append(f"interpreter {interpreter!r} needs a name")
            continue
        name = interpreter["name"]
        if name in seen:
            problems.append(f"interpreter {name!r} is listed twice")
        seen.add(name)
        try:
            check_name("interpreter name", name, INTERPRETER_NAME)
        except ModelError as exc:
            problems.append(str(exc))
        provider = interpreter.get("provider")
        if provider not in PROVIDERS:
            problems.append(
                f"interpreter {name!r} has unknown provider {provider!r} "
                f"(known: {', '.join(PROVIDERS)})"
            )
        elif provider == "uv" and not interpreter.get("version"):
            problems.append(f"interpreter {name!r} (provider uv) needs a version, e.g. '3.13'")
        elif provider in ("system", "apt") and not interpreter.get("executable"):
            problems.append(f"interpreter {name!r} needs an executable path")
        if provider == "apt" and not interpreter.get("package"):
            problems.append(f"interpreter {name!r} (provider apt) needs a package")
    if not interpreters and any(name != NATIVE for name in implementations or []):
        problems.append("wirebench_interpreters is empty but Python implementations are listed")
    names = set()
    for workload in workloads or []:
        if not isinstance(workload, dict) or "name" not in workload:
            problems.append(f"workload {workload!r} needs a name")
            continue
        name = workload["name"]
        if name in names:
            problems.append(f"workload {name!r} is listed twice")
        names.add(name)
        try:
            check_name("workload name", name)  # it is part of every cell's folder name
        except ModelError as exc:
            problems.append(str(exc))
        unknown = sorted(set(workload) - WORKLOAD_FIELDS)
        if unknown:
            problems.append(
                f"workload {name!r} has unknown fields {', '.join(unknown)} "
                f"(known: {', '.join(sorted(WORKLOAD_FIELDS))})"
            )
        if ("requests" in workload) == ("seconds" in workload):
            problems.append(f"workload {name!r} needs exactly one of requests or seconds")
        if not workload.get("tests"):
            problems.append(f"workload {name!r} needs tests (e.g. 'get')")
        if "preload" in workload and not isinstance(workload["preload"], bool):
            problems.append(f"workload {name!r}: preload must be true or false")
        if workload.get("preload") and not workload.get("keyspace"):
            problems.append(f"workload {name!r}: preload needs a keyspace (the keys -r uses)")
        for field in ("clients", "pipeline", "data_size", "keyspace", "requests", "seconds"):
            value = workload.get(field)
            if value is not None and (not isinstance(value, int) or value <= 0):
                problems.append(f"workload {name!r}: {field} must be a positive integer")
    return problems


def server_units(implementations, interpreters, listings, base_port):
    """The systemd instances to install, and the combinations skipped with their reason.

    ``listings``: interpreter name -> what ``python -m servers --list --json`` printed in
    that interpreter's venv on the server host (it knows what can run there). Ports are
    stable: they depend on positions in the listing and the interpreter list, not on what
    happens to be selected.
    """
    units, skipped = [], []
    for interpreter_index, interpreter in enumerate(interpreters):
        name = interpreter["name"]
        listing = listings.get(name)
        for impl_index, row in enumerate(listing or []):
            if row["name"] not in implementations:
                continue
            combination = {"implementation": row["name"], "interpreter": name}
            if not row["runs_here"]:
                skipped.append({**combination, "reason": row["reason"]})
                continue
            instance = f"{row['name']}:{name}"
            units.append(
                {
                    **combination,
                    "instance": instance,
                    "unit": f"{UNIT_TEMPLATE}{instance}.service",
                    "port": int(base_port) + 100 * interpreter_index + impl_index,
                }
            )
        if listing is None:
            for impl in implementations:
                if impl != NATIVE:
                    skipped.append(
                        {
                            "implementation": impl,
                            "interpreter": name,
                            "reason": f"interpreter {name} is not available on this host",
                        }
                    )
    return {"units": units, "skipped": skipped}


def identity(cell: Cell) -> dict:
    """What a cell dict of the run carries of the model: its names, id and folder."""
    return {
        "id": cell.id,
        "dir": cell.dir,
        "implementation": cell.implementation,
        "interpreter": cell.interpreter,
        "workload": cell.workload,
        "repetition": cell.repetition,
    }


def cells(implementations, interpreters, workloads, repetitions, plan, redis_port):
    """Every cell of a run, in the order to measure them.

    Repetition r of every combination comes before repetition r + 1, and each round starts
    one combination further on, so the repetitions of a cell are spread over the run and no
    cell always runs first or last. A combination the server host cannot run becomes one
    cell per workload with status ``skipped`` and its reason. Each cell's ``id`` and ``dir``
    (its raw folder's name) come from collect's cell model.
    """
    combinations = []
    skipped = []
    installed = {(unit["implementation"], unit["interpreter"]): unit for unit in plan["units"]}
    reasons = {
        (item["implementation"], item["interpreter"]): item["reason"] for item in plan["skipped"]
    }
    for implementation in implementations:
        if implementation == NATIVE:
            combinations.append((NATIVE, "native", "wirebench-redis.service", int(redis_port)))
            continue
        for interpreter in interpreters:
            key = (implementation, interpreter["name"])
            if key in installed:
                unit = installed[key]
                combinations.append((*key, unit["unit"], unit["port"]))
            else:
                reason = reasons.get(key, f"{implementation} is not installed for {key[1]}")
                skipped.append((*key, reason))
    ordered = []
    for repetition in range(1, int(repetitions) + 1):
        round_cells = [
            (combination, workload) for workload in workloads for combination in combinations
        ]
        shift = (repetition - 1) % len(round_cells) if round_cells else 0
        for (implementation, interpreter, unit, port), workload in (
            round_cells[shift:] + round_cells[:shift]
        ):
            cell = Cell(implementation, interpreter, workload["name"], repetition)
            ordered.append(
                {
                    **identity(cell),
                    "unit": unit,
                    "port": port,
                    "status": "pending",
                }
            )
    for implementation, interpreter, reason in skipped:
        for workload in workloads:
            ordered.append(
                {
                    **identity(Cell(implementation, interpreter, workload["name"], 1)),
                    "status": "skipped",
                    "reason": reason,
                }
            )
    return ordered


def pairs(servers, load_hosts, assigned):
    """Which load hosts drive which server host, and every problem with that.

    ``servers``, ``load_hosts``: the hosts of the server and load groups. ``assigned``: server
    host -> its ``wirebench_load_hosts`` (a list, one name, or empty when not set). One server
    host with nothing set is driven by the whole load group. With several, each names its own
    and no load host drives two: the pairs run at the same time, so a shared load host would
    split itself between two servers and measure neither.

    Returns {"pairs": {server: [load hosts]}, "server_of": {load host: server},
    "problems": [sentence, ...]}; a load host no server names is left idle.
    """
    servers, load_hosts = list(servers or []), list(load_hosts or [])
    named = {}
    for server in servers:
        listed = (assigned or {}).get(server) or []
        named[server] = [listed] if isinstance(listed, str) else list(listed)
    problems = []
    if not servers:
        problems.append("there is no server host")
    if not load_hosts:
        problems.append("there is no load host")
    if len(servers) == 1 and not named[servers[0]]:
        named[servers[0]] = load_hosts
    server_of = {}
    for server in servers:
        if not named[server]:
            problems.append(
                f"{server} has no load hosts: with several server hosts, give each one "
                f"wirebench_load_hosts (a list of its load hosts) in the inventory"
            )
        for load in named[server]:
            if load not in load_hosts:
                problems.append(
                    f"{server}: wirebench_load_hosts names {load!r}, which is not a load host "
                    f"(load hosts: {', '.join(load_hosts) or 'none'})"
                )
            elif load in server_of and server_of[load] != server:
                problems.append(
                    f"load host {load} is named by both {server_of[load]} and {server}: "
                    f"the pairs run at the same time, so each load host drives one server"
                )
            else:
                server_of[load] = server
    return {"pairs": named, "server_of": server_of, "problems": problems}


def raw_dir(results_dir, server, servers):
    """Where a server host's raw results go: ``<run>/raw`` when the run has one server host
    (the layout single-server runs always had), ``<run>/raw/<server>`` with several."""
    raw = os.path.join(results_dir, "raw")
    return raw if len(list(servers)) == 1 else os.path.join(raw, server)


def cells_to_measure(all_cells, done_ids):
    """For a resumed run: the pending cells not already measured (done_ids: their ids)."""
    done = set(done_ids)
    return [cell for cell in all_cells if cell["status"] == "pending" and cell["id"] not in done]


def progress(cell, index, total):
    """The line a user sees as each cell completes, e.g.
    ``cell 7/40: uvloop-protocol@cpython3.11/get-p16 #2: GET 312,345 requests/s``.

    ``cell``: the cell's raw folder on the controller (or a Sample the reader made of it).
    """
    try:
        sample = cell if isinstance(cell, Sample) else read_cell(cell)
    except (NoRecord, ModelError) as exc:
        return f"cell {index}/{total}: {exc}"
    head = (
        f"cell {index}/{total}: {sample.implementation}@{sample.interpreter}"
        f"/{sample.workload} #{sample.repetition}"
    )
    if sample.status == SKIPPED:
        return f"{head}: skipped: {sample.reason}"
    if sample.status == FAILED:
        line = f"{head}: FAILED {sample.failure}: {sample.reason}"
        if sample.journal_tail:
            line += f" (journal: {sample.journal_tail[-1].strip()})"
        return line
    rates = ", ".join(f"{test} {rate:,.0f} requests/s" for test, rate in sample.rps.items())
    return f"{head}: {rates}"


def sample_ids(paths):
    """The cell ids a resumed run does not measure again, from the cells' raw folders on the
    controller (``paths``: each a cell folder or its sample.json).

    A folder without a usable sample.json counts as no sample, and so does a cell that was
    never measured because a load host went away (``load_host_lost``, or ``unreachable`` in
    older runs): those cells are measured again. Any other failure is a result, and stays.
    """
    ids = []
    for path in paths:
        folder = Path(path).parent if Path(path).name == "sample.json" else Path(path)
        try:
            sample = read_cell(folder)
        except (NoRecord, ModelError):
            continue
        if sample.failure not in MEASURE_AGAIN:
            ids.append(sample.id)
    return ids


def repetitions_verdict(cell, raw, adaptive):
    """Adaptive repetitions: {"needed": bool, "reason": str} for this repetition of a cell.

    ``adaptive``: {"target": relative half-width of the median's 95% confidence interval,
    e.g. 0.03, "min_repetitions": N}. Off (always needed) when empty. The cell's earlier
    repetitions are read by collect's reader from ``raw``, the server host's raw folder on
    the controller (raw_dir()), so each server host decides for its own cells.
    """
    if not adaptive or cell["repetition"] <= int(adaptive.get("min_repetitions", 6)):
        return {"needed": True, "reason": "fixed repetitions"}
    this = Cell(cell["implementation"], cell["interpreter"], cell["workload"], cell["repetition"])
    rates = {}
    for repetition in range(1, this.repetition):
        folder = Path(raw) / this.with_repetition(repetition).dir
        if not folder.is_dir():
            continue
        try:
            earlier = read_cell(folder)
        except NoRecord:
            continue
        if earlier.status == OK:
            for test, rate in earlier.rps.items():
                rates.setdefault(test, []).append(rate)
    target = float(adaptive["target"])
    widths = {test: relative_half_width(values) for test, values in rates.items()}
    if widths and all(width is not None and width <= target for width in widths.values()):
        worst = max(widths.values())
        count = min(len(values) for values in rates.values())
        return {
            "needed": False,
            "reason": f"not needed: the median's 95% confidence interval is within "
            f"±{100 * worst:.1f}% (target ±{100 * target:.1f}%) after {count} repetitions",
        }
    return {"needed": True, "reason": "confidence interval not yet within target"}


def project_pins(pyproject_text, extra):
    """The requirement specifiers of one optional-dependencies group of pyproject.toml."""
    data = tomllib.loads(pyproject_text)
    try:
        return list(data["project"]["optional-dependencies"][extra])
    except KeyError:
        raise ValueError(f"pyproject.toml has no optional-dependencies group {extra!r}") from None


def project_version(pyproject_text):
    return tomllib.loads(pyproject_text)["project"]["version"]


class FilterModule:
    def filters(self):
        return {
            "wirebench_matrix_problems": matrix_problems,
            "wirebench_server_units": server_units,
            "wirebench_project_pins": project_pins,
            "wirebench_sample_ids": sample_ids,
            "wirebench_repetitions_verdict": repetitions_verdict,
            "wirebench_project_version": project_version,
            "wirebench_cells": cells,
            "wirebench_cells_to_measure": cells_to_measure,
            "wirebench_pairs": pairs,
            "wirebench_raw_dir": raw_dir,
            "wirebench_progress": progress,
        }
