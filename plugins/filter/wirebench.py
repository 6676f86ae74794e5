"""Filters that decide what wirebench provisions and runs: the checks of the matrix, the
run's settings and its name, the server units, the cells and their order, and what the run
learns from a cell's raw folder between cells (progress line, adaptive repetitions, resume)
through collect's one reader.

Logic lives here (tested by tests/plugins/test_wirebench_filters.py and, for the checks,
tests/plugins/test_matrix_checks.py); YAML only calls it.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

# The controller's venv has the project installed (pyproject.toml): the cell model, the reader
# and adaptive repetitions are the ones collect uses, so the run and the report never disagree
# about a cell.
from collect import adaptive as adaptive_repetitions
from collect.model import (
    BASELINE,
    FAILED,
    INTERPRETER_NAME,
    MEASURE_AGAIN,
    NAME,
    PROFILE_NAME,
    SKIPPED,
    Cell,
    ModelError,
    Sample,
    Workload,
)
from collect.reader import NoRecord, read_cell

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


# redis-benchmark's test names for -t (src/redis-benchmark.c, test_is_selected) in 7.0.15, the
# redis-tools of Debian bookworm (the lab's load hosts). -t lowercases its list and selects a
# test when ",<name>," is in ",<list>,": a name it does not know, or one with whitespace
# around it, selects nothing, and redis-benchmark prints a bare CSV header and exits 0 (a
# sample with no rates). "ping" selects ping_inline and ping_mbulk, "lrange" every lrange_<N>.
BENCHMARK_TESTS = (
    "ping_inline", "ping_mbulk", "ping", "set", "get", "incr", "lpush", "rpush", "lpop", "rpop",
    "sadd", "hset", "spop", "zadd", "zpopmin", "lrange", "lrange_100", "lrange_300",
    "lrange_500", "lrange_600", "mset",
)  # fmt: skip
# Tests newer redis-benchmarks know, with the version that added them (redis/redis#11762):
# refused, since bookworm's 7.0.15 would print a bare header for them.
NEWER_BENCHMARK_TESTS = {"xadd": "7.2"}
# redis-benchmark caps --threads at this (MAX_THREADS) and prints a warning into its table.
BENCHMARK_MAX_THREADS = 500
# A workload's name is part of every cell's folder name (NAME_MAX 255 bytes with the rest).
WORKLOAD_NAME_MAX = 64
# A run's folder is results/<run id>, <run id> = <UTC time>-<label> or wirebench_resume.
RUN_NAME = re.compile(r"[A-Za-z0-9_.-]+")
LABEL_MAX = 64
RESUME_MAX = 100


def _whole(value) -> bool:
    """An integer, not a bool (YAML's true is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _name_problem(what, value, pattern=NAME, longest=None):
    """The sentence saying why ``value`` is not a name of this kind; None if it is one.

    collect.model.check_name anchors with '$', which also matches before a final line break:
    a name here must match whole (fullmatch).
    """
    allowed = {NAME: "'.', '_' or '-'", PROFILE_NAME: "'_' or '-'"}.get(pattern, "'.' or '-'")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return f"{what} {value!r} may only hold letters, digits, {allowed}"
    if longest is not None and len(value) > longest:
        return f"{what} {value!r} is longer than {longest} characters"
    return None


def _test_problems(name, tests):
    """What is wrong with a workload's ``tests``: each name must be one redis-benchmark -t knows."""
    if isinstance(tests, list):
        # The agent passes tests to -t as they are: a list would reach it as "['get']".
        return [
            f"workload {name!r}: tests {tests!r} is a list; write the names comma separated, "
            f"e.g. {','.join(str(test) for test in tests)!r}"
        ]
    if not isinstance(tests, str):
        return [f"workload {name!r}: tests must be text such as 'get' or 'set,get', not {tests!r}"]
    problems = []
    for test in tests.lower().split(","):
        if not test:
            continue  # ",get," selects get: an empty item selects nothing and harms nothing
        if test.strip() != test:
            problems.append(
                f"workload {name!r}: test {test!r} in tests {tests!r} has whitespace around "
                f"it, which redis-benchmark -t does not strip, so it would select nothing; "
                f"write {','.join(item.strip() for item in tests.split(','))!r}"
            )
        elif test in NEWER_BENCHMARK_TESTS:
            problems.append(
                f"workload {name!r}: test {test!r} needs redis-benchmark "
                f"{NEWER_BENCHMARK_TESTS[test]} or newer, and the lab's load hosts have "
                f"7.0.15 (Debian bookworm's redis-tools) (known: {', '.join(BENCHMARK_TESTS)})"
            )
        elif test not in BENCHMARK_TESTS:
            problems.append(
                f"workload {name!r}: unknown test {test!r} in tests "
                f"(redis-benchmark -t knows: {', '.join(BENCHMARK_TESTS)})"
            )
    if not problems and not tests.replace(",", ""):
        problems.append(f"workload {name!r} needs tests (e.g. 'get')")
    return problems


def _count_problem(name, field, value):
    if _whole(value) and value > 0:
        if field == "threads" and value > BENCHMARK_MAX_THREADS:
            return (
                f"workload {name!r}: threads {value} is more than redis-benchmark's "
                f"{BENCHMARK_MAX_THREADS} (it would cap them and print a warning)"
            )
        return None
    problem = f"workload {name!r}: {field} must be a positive integer, not {value!r}"
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value) and int(value) > 0:
        # A number in quotes: run-meta.json keeps the workload as given, and collect's
        # Workload takes only ints.
        problem += " (text: write the number without quotes)"
    return problem


def matrix_problems(implementations, interpreters, workloads, known_implementations, profiles=None):
    """Every problem with the requested matrix, each a sentence naming it; [] if none.

    ``profiles``: wirebench_tuning_profiles, an axis of the matrix like the others (None:
    not given, the run is baseline alone); profile_problems says what it must be.

    Counts (clients, pipeline, data_size, keyspace, requests, seconds, threads) must be
    integers: the text "16" is refused, not converted, since the workload goes as it is to
    the load hosts' agent and into run-meta.json, whose reader (collect.model.Workload) takes
    only integers. The matrix can only be given as YAML or JSON (-e @file, -e '{...}'), where
    16 is a number.
    """
    problems = []
    known = [NATIVE, *known_implementations]
    for what, value in (
        ("wirebench_implementations", implementations),
        ("wirebench_interpreters", interpreters),
        ("wirebench_workloads", workloads),
    ):
        if value is not None and not isinstance(value, list):
            problems.append(
                f"{what} must be a list, not {value!r} (on the command line give it as JSON: "
                f"-e '{{\"{what}\": [...]}}')"
            )
    if problems:
        return problems + (profile_problems(profiles) if profiles is not None else [])
    seen = set()
    for name in implementations or []:
        if not isinstance(name, str):
            problems.append(f"wirebench_implementations: {name!r} is not an implementation's name")
            continue
        if name not in known:
            problems.append(f"unknown implementation {name!r} (known: {', '.join(known)})")
        elif name in seen:
            problems.append(f"implementation {name!r} is listed twice in wirebench_implementations")
        seen.add(name)
    if not implementations:
        problems.append("wirebench_implementations is empty: nothing to measure")
    seen = set()
    for interpreter in interpreters or []:
        if not isinstance(interpreter, dict) or "name" not in interpreter:
            problems.append(f"interpreter {interpreter!r} needs a name")
            continue
        name = interpreter["name"]
        problem = _name_problem("interpreter name", name, INTERPRETER_NAME)
        if problem:
            problems.append(problem)
            continue
        if name in seen:
            problems.append(f"interpreter {name!r} is listed twice")
        seen.add(name)
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
    # Distinct workload names always give distinct cell folders: a folder is
    # <impl>@<interp>_<workload>_<rep>, '@' is in no name, an interpreter's name has no '_'
    # and a repetition no '_', so collect.model.Cell.from_dir reads the four names back
    # (tests/plugins/test_matrix_checks.py tries the names most alike). No two workloads may
    # share a name, and a name may hold nothing a folder name would change.
    names = set()
    for workload in workloads or []:
        if not isinstance(workload, dict) or "name" not in workload:
            problems.append(f"workload {workload!r} needs a name")
            continue
        name = workload["name"]
        problem = _name_problem("workload name", name, longest=WORKLOAD_NAME_MAX)
        if problem:
            problems.append(problem)
            continue
        if name in names:
            problems.append(f"workload {name!r} is listed twice")
        names.add(name)
        unknown = sorted(str(field) for field in set(workload) - WORKLOAD_FIELDS)
        if unknown:
            problems.append(
                f"workload {name!r} has unknown fields {', '.join(unknown)} "
                f"(known: {', '.join(sorted(WORKLOAD_FIELDS))})"
            )
        if ("requests" in workload) == ("seconds" in workload):
            problems.append(f"workload {name!r} needs exactly one of requests or seconds")
        if not workload.get("tests"):
            problems.append(f"workload {name!r} needs tests (e.g. 'get')")
        else:
            problems.extend(_test_problems(name, workload["tests"]))
        if "preload" in workload and not isinstance(workload["preload"], bool):
            problems.append(f"workload {name!r}: preload must be true or false")
        if workload.get("preload") and not workload.get("keyspace"):
            problems.append(f"workload {name!r}: preload needs a keyspace (the keys -r uses)")
        for field in Workload.COUNTS:
            value = workload.get(field)
            if value is not None:
                problem = _count_problem(name, field, value)
                if problem:
                    problems.append(problem)
    if profiles is not None:
        problems += profile_problems(profiles)
    return problems


def _repetitions(value):
    """wirebench_repetitions as a whole number, or None. A string of digits is one: -e
    wirebench_repetitions=30 gives the text '30', and the run reads it with ``| int``."""
    if _whole(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        return int(value)
    return None


# wirebench_server_parser: what each Python server is started with (python -m servers
# --parser): the registry's parser for the implementation on the interpreter, or one for all.
SERVER_PARSERS = ("auto", "python", "hiredis")


def settings_problems(repetitions, adaptive, benchmark_timeout, server_parser="auto"):
    """Every problem with the run's settings, each a sentence naming the variable; [] if none.

    ``repetitions``: a whole number ≥ 1 (text of digits too, as -e gives it). ``adaptive``:
    {} (off) or {target: a number in (0, 1), min_repetitions: a whole number ≥ 2 and
    ≤ repetitions, and optionally interval: rate or share} (collect/adaptive.py).
    ``benchmark_timeout``: a positive number; text is refused, since the run computes with it
    as it is ("300" * 2 is "300300").
    ``server_parser``: one of SERVER_PARSERS.
    """
    problems = []
    count = _repetitions(repetitions)
    if count is None or count < 1:
        problems.append(
            f"wirebench_repetitions must be a whole number of at least 1, not {repetitions!r}"
        )
        count = None
    if not isinstance(adaptive, dict):
        problem = (
            f"wirebench_adaptive must be a mapping, {{}} (off) or "
            f"{{target: 0.03, min_repetitions: 6}}, not {adaptive!r}"
        )
        if isinstance(adaptive, str):
            # The run would stop at its first cell: repetitions_verdict reads a mapping.
            problem += (
                " (-e name=value gives text: leave it out for off, or give it as JSON, -e "
                '\'{"wirebench_adaptive": {"target": 0.03, "min_repetitions": 6}}\')'
            )
        problems.append(problem)
    elif adaptive:
        known = adaptive_repetitions.FIELDS
        unknown = sorted(str(key) for key in adaptive if key not in known)
        if unknown:
            problem = (
                f"wirebench_adaptive has unknown fields {', '.join(unknown)} "
                f"(known: {', '.join(known)})"
            )
            if any(key is True or key is False for key in adaptive):
                # YAML 1.1 reads on/off/yes/no as booleans, keys included.
                problem += " (YAML reads `on:` as true: the field is `interval: share`)"
            problems.append(problem)
        for field in adaptive_repetitions.REQUIRED_FIELDS:
            if field not in adaptive:
                problems.append(f"wirebench_adaptive needs {field} (or is {{}}: off)")
        target = adaptive.get("target")
        if "target" in adaptive and not (_number(target) and 0 < target < 1):
            problems.append(
                f"wirebench_adaptive.target must be a number between 0 and 1 (the relative "
                f"half-width of the 95% confidence interval that `interval` names, e.g. 0.03), "
                f"not {target!r}"
            )
        interval = adaptive.get("interval", adaptive_repetitions.RATE)
        if interval not in adaptive_repetitions.MODES:
            problems.append(
                f"wirebench_adaptive.interval must be rate (the median of a cell's rates) or share "
                f"(its share of native redis), not {interval!r}"
            )
        least = adaptive.get("min_repetitions")
        if "min_repetitions" in adaptive:
            if not (_whole(least) and least >= 2):
                problems.append(
                    f"wirebench_adaptive.min_repetitions must be a whole number of at least 2 "
                    f"(a confidence interval needs two samples), not {least!r}"
                )
            elif count is not None and least > count:
                problems.append(
                    f"wirebench_adaptive.min_repetitions {least} is more than "
                    f"wirebench_repetitions {count}"
                )
    if not (_number(benchmark_timeout) and benchmark_timeout > 0):
        problem = (
            f"wirebench_benchmark_timeout must be a positive number of seconds, "
            f"not {benchmark_timeout!r}"
        )
        if isinstance(benchmark_timeout, str):
            problem += (
                " (-e name=value gives text: give a number in a preset or as JSON, "
                "-e '{\"wirebench_benchmark_timeout\": 300}')"
            )
        problems.append(problem)
    if not (isinstance(server_parser, str) and server_parser in SERVER_PARSERS):
        problems.append(
            f"wirebench_server_parser must be {', '.join(SERVER_PARSERS[:-1])} or "
            f"{SERVER_PARSERS[-1]} (the Python servers' request parser; auto: each "
            f"implementation's own, python -m servers --list --json), not {server_parser!r}"
        )
    return problems


def _run_name_problem(what, value, longest):
    if not isinstance(value, str):
        return f"{what} must be text, not {value!r}"
    if "/" in value or "\\" in value:
        why = "holds a path separator"
    elif ".." in value:
        why = "holds '..'"
    elif value.startswith("."):
        why = "starts with '.'"
    elif not RUN_NAME.fullmatch(value):
        bad = sorted({char for char in value if not RUN_NAME.fullmatch(char)})
        why = f"holds {', '.join(repr(char) for char in bad)}"
    elif len(value) > longest:
        why = f"is longer than {longest} characters"
    else:
        return None
    return (
        f"{what} {value!r} {why}: it names one folder directly in results/, so it may only "
        f"hold letters, digits, '.', '_' and '-', not start with '.' nor hold '..', and have "
        f"at most {longest} characters"
    )


def run_name_problems(label, resume, results_dir=None):
    """Every problem with wirebench_label and wirebench_resume, each a sentence; [] if none.

    Both name the run's folder, results/<UTC time>-<label> or results/<resume>: one folder
    directly under ``results_dir``, never a path. A run to resume must be a real run folder
    there (not a link such as results/latest, which the run repoints at the run it makes).
    Empty (or None): not given.
    """
    problems = []
    if label:
        problem = _run_name_problem("wirebench_label", label, LABEL_MAX)
        if problem:
            problems.append(problem)
    if resume:
        problem = _run_name_problem("wirebench_resume", resume, RESUME_MAX)
        if problem:
            problems.append(problem)
        elif results_dir is not None:
            folder = Path(results_dir) / resume
            if folder.is_symlink():
                problems.append(
                    f"wirebench_resume {resume!r} is a link to {os.readlink(folder)!r}: give "
                    f"the run's own folder name in results/"
                )
            elif not (folder / "run-meta.json").is_file():
                problems.append(
                    f"wirebench_resume {resume!r}: there is no such run in {results_dir} "
                    f"(no {resume}/run-meta.json)"
                )
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
    """What a cell dict of the run carries of the model: its names, id, folder and profile."""
    return {
        "id": cell.id,
        "dir": cell.dir,
        "implementation": cell.implementation,
        "interpreter": cell.interpreter,
        "workload": cell.workload,
        "repetition": cell.repetition,
        "profile": cell.profile,
    }


def profile_problems(profiles):
    """Every problem with wirebench_tuning_profiles, each a sentence; [] if none.

    A list of distinct profile names (letters, digits, '_' and '-': a name is part of the
    folder of each of its cells, after a '+' no other name may hold).
    """
    if not isinstance(profiles, list):
        return [
            f"wirebench_tuning_profiles must be a list of profile names, e.g. [baseline, "
            f"network-latency], not {profiles!r} (on the command line give it as JSON: "
            f'-e \'{{"wirebench_tuning_profiles": ["baseline"]}}\')'
        ]
    if not profiles:
        return ["wirebench_tuning_profiles is empty: give at least one profile, e.g. [baseline]"]
    problems, seen = [], set()
    for name in profiles:
        problem = _name_problem("tuning profile", name, PROFILE_NAME, longest=WORKLOAD_NAME_MAX)
        if problem:
            problems.append(problem)
        elif name in seen:
            problems.append(f"tuning profile {name!r} is listed twice in wirebench_tuning_profiles")
        seen.add(name)
    return problems


def cells(implementations, interpreters, workloads, repetitions, plan, redis_port, profiles=None):
    """Every cell of a run, in the order to measure them.

    Repetition r of every combination comes before repetition r + 1, and each round starts
    one combination further on, so the repetitions of a cell are spread over the run and no
    cell always runs first or last. A combination the server host cannot run becomes one
    cell per workload (and per profile) with status ``skipped`` and its reason. Each cell's
    ``id`` and ``dir`` (its raw folder's name) come from collect's cell model.

    ``profiles``: the run's tuning profiles (wirebench_tuning_profiles; default [baseline]).
    Within a round each profile's cells come as one block, so the hosts switch profile once
    per block, not per cell: a round applies profile A and measures all its cells, then B.
    Repetition r of profile A and repetition r of B are therefore measured close in time,
    which is what lets collect pair them (collect/profiles.py). The profiles' order rotates
    from round to round (A B, B A, A B, ... for two; A B C, B C A, ... for three), so no
    profile is always measured first after the hosts were set up, nor always the latest in
    the round: a drift of the machine over a round, or what a switch leaves behind (caches,
    frequencies settling), falls on every profile alike. A run of baseline alone is exactly
    the run it was before profiles.
    """
    profiles = [BASELINE] if profiles is None else list(profiles)
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
        turn = (repetition - 1) % len(profiles) if profiles else 0
        for profile in profiles[turn:] + profiles[:turn]:
            for (implementation, interpreter, unit, port), workload in (
                round_cells[shift:] + round_cells[:shift]
            ):
                cell = Cell(implementation, interpreter, workload["name"], repetition, profile)
                ordered.append(
                    {
                        **identity(cell),
                        "unit": unit,
                        "port": port,
                        "status": "pending",
                    }
                )
    # Skipped once per profile: each profile's part of the run names what it could not
    # measure, as a run of that profile alone would.
    for profile in profiles:
        for implementation, interpreter, reason in skipped:
            for workload in workloads:
                ordered.append(
                    {
                        **identity(Cell(implementation, interpreter, workload["name"], 1, profile)),
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
    if sample.profile != BASELINE:
        head += f" ({sample.profile})"
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
    """Adaptive repetitions: {"needed": bool, "reason": str} for this repetition of a cell,
    decided by collect/adaptive.py from the samples in ``raw``, the server host's raw folder
    on the controller (raw_dir()), so each server host decides for its own cells.

    ``adaptive``: {} (off: always needed) or {"target": relative half-width of the 95%
    confidence interval, e.g. 0.03, "min_repetitions": N, "interval": "rate" or "share"}.
    """
    return adaptive_repetitions.verdict(Cell.of(cell), Path(raw), adaptive or {})


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
            "wirebench_settings_problems": settings_problems,
            "wirebench_run_name_problems": run_name_problems,
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
