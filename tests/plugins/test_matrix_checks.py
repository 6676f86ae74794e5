"""The checks boilerplate.yml runs before any host is touched (plugins/filter/wirebench.py):
the matrix, the run's settings and the run's name. Each bad input gets one sentence naming
the variable (or the workload) and its value."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from wirebench import (
    BENCHMARK_TESTS,
    matrix_problems,
    run_name_problems,
    settings_problems,
)

from collect.model import Cell

ROOT = Path(__file__).resolve().parents[2]
KNOWN = ["gevent", "asyncio", "uvloop"]
INTERPRETERS = [{"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"}]


def workload(**fields):
    return {"name": "w", "tests": "get", "requests": 1000, **fields}


def problems_of(*workloads, implementations=("redis",)):
    return matrix_problems(list(implementations), INTERPRETERS, list(workloads), KNOWN)


def only(problems):
    assert len(problems) == 1, problems
    return problems[0]


# -- test names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tests",
    ["get", "GET", "set,get", "Ping_Inline,ping_mbulk", "ping", "lrange", ",get,", ",".join(BENCHMARK_TESTS)],
)  # fmt: skip
def test_redis_benchmark_test_names_pass(tests):
    assert problems_of(workload(tests=tests)) == []


def test_an_unknown_test_is_named_with_the_known_ones():
    problem = only(problems_of(workload(tests="set,gett")))
    assert problem == (
        "workload 'w': unknown test 'gett' in tests (redis-benchmark -t knows: ping_inline, "
        "ping_mbulk, ping, set, get, incr, lpush, rpush, lpop, rpop, sadd, hset, spop, zadd, "
        "zpopmin, lrange, lrange_100, lrange_300, lrange_500, lrange_600, mset)"
    )


@pytest.mark.parametrize(
    ("tests", "problem"),
    [
        ("get,nope,hget", "unknown test 'nope'"),
        ("get,nope,hget", "unknown test 'hget'"),
        ("ping_inline,lrange_200", "unknown test 'lrange_200'"),
        # -t does not strip: ",set, get," holds ",set," but not ",get,".
        ("set, get", "test ' get' in tests 'set, get' has whitespace around it, which redis-benchmark -t does not strip, so it would select nothing; write 'set,get'"),
        ("get ", "has whitespace around it"),
        # bookworm's redis-benchmark 7.0.15 has no XADD test (redis/redis#11762, 7.2).
        ("xadd", "test 'xadd' needs redis-benchmark 7.2 or newer"),
        # The agent gives tests to -t as they are: a list would reach it as "['get']".
        (["set", "get"], "tests ['set', 'get'] is a list; write the names comma separated, e.g. 'set,get'"),
        (5, "tests must be text such as 'get' or 'set,get', not 5"),
        (",", "needs tests"),
    ],
)  # fmt: skip
def test_bad_test_names_are_refused(tests, problem):
    found = problems_of(workload(tests=tests))
    assert any(problem in text for text in found), found


# -- counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["clients", "pipeline", "data_size", "keyspace", "threads"])
@pytest.mark.parametrize("value", [0, -1, 1.5, 16.0, True, None, "x"])
def test_counts_must_be_positive_integers(field, value):
    found = problems_of(workload(**{field: value}))
    if value is None:  # not given: redis-benchmark's default
        assert found == []
    else:
        assert only(found) == f"workload 'w': {field} must be a positive integer, not {value!r}"


@pytest.mark.parametrize("field", ["requests", "seconds"])
def test_requests_and_seconds_must_be_positive_integers(field):
    bad = {"name": "w", "tests": "get", field: 0}
    assert only(problems_of(bad)) == f"workload 'w': {field} must be a positive integer, not 0"


def test_a_count_given_as_text_is_refused_not_converted():
    # collect's Workload (run-meta.json) takes only integers, and the agent uses it as given.
    assert only(problems_of(workload(threads="16"))) == (
        "workload 'w': threads must be a positive integer, not '16' "
        "(text: write the number without quotes)"
    )


def test_threads_beyond_redis_benchmarks_cap_are_refused():
    assert problems_of(workload(threads=500)) == []
    assert only(problems_of(workload(threads=501))) == (
        "workload 'w': threads 501 is more than redis-benchmark's 500 "
        "(it would cap them and print a warning)"
    )


# -- names and folders --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../w", "workload name '../w' may only hold letters, digits, '.', '_' or '-'"),
        ("a b", "workload name 'a b' may only hold"),
        # collect.model.check_name's '$' lets one final line break through.
        ("get\n", "workload name 'get\\n' may only hold"),
        (7, "workload name 7 may only hold"),
        (["get"], "workload name ['get'] may only hold"),
        ("w" * 65, "is longer than 64 characters"),
    ],
)
def test_workload_names_outside_the_safe_set_are_refused(name, problem):
    assert problem in only(problems_of(workload(name=name)))


def test_an_interpreter_name_with_a_final_line_break_is_refused():
    interpreter = {**INTERPRETERS[0], "name": "py\n"}
    found = matrix_problems(["redis"], [interpreter], [workload()], KNOWN)
    assert only(found) == "interpreter name 'py\\n' may only hold letters, digits, '.' or '-'"


def test_a_workload_listed_twice_is_refused():
    assert only(problems_of(workload(), workload(clients=5))) == "workload 'w' is listed twice"


def test_distinct_names_never_share_a_cell_folder():
    """No two workloads can collide in a folder: <impl>@<interp>_<workload>_<rep> reads back
    into its four parts ('@' is in no name, '_' in no interpreter name, and a repetition is
    digits), so distinct cells have distinct folders. Tried on the names most alike."""
    pieces = ["a", "A", "1", "_", "-", "."]
    workloads = [
        "".join(chars) for size in (1, 2, 3) for chars in itertools.product(pieces, repeat=size)
    ]
    implementations = ["redis", "a", "a_1", "a-1", "redis-twin"]
    interpreters = ["native", "a", "a.1", "a-1", "1"]
    # Every one of them passes the matrix check...
    assert matrix_problems(
        ["redis"], INTERPRETERS, [{"name": name, "tests": "get", "requests": 1} for name in workloads], KNOWN
    ) == []  # fmt: skip
    folders = {}
    for implementation, interpreter, name, repetition in itertools.product(
        implementations, interpreters, workloads, [1, 2, 11, 12, 111]
    ):
        cell = Cell(implementation, interpreter, name, repetition)
        # ...and each folder names one cell only.
        assert folders.setdefault(cell.dir, cell) == cell, (cell, folders[cell.dir])
        assert Cell.from_dir(cell.dir) == cell


# -- implementations ----------------------------------------------------------------------


def test_an_implementation_listed_twice_is_refused():
    found = problems_of(workload(), implementations=["redis", "uvloop", "redis"])
    assert only(found) == "implementation 'redis' is listed twice in wirebench_implementations"


@pytest.mark.parametrize(
    ("implementations", "problem"),
    [
        # -e wirebench_implementations=redis gives text, not a list.
        ("redis", "wirebench_implementations must be a list, not 'redis' (on the command line give it as JSON: -e '{\"wirebench_implementations\": [...]}')"),
        ([{"name": "redis"}], "wirebench_implementations: {'name': 'redis'} is not an implementation's name"),
    ],
)  # fmt: skip
def test_implementations_must_be_a_list_of_names(implementations, problem):
    assert only(matrix_problems(implementations, INTERPRETERS, [workload()], KNOWN)) == problem


@pytest.mark.parametrize(
    ("interpreters", "workloads"),
    [("cpython3.11", [workload()]), (INTERPRETERS, workload()), (INTERPRETERS, "get")],
)
def test_interpreters_and_workloads_must_be_lists(interpreters, workloads):
    assert "must be a list" in only(matrix_problems(["redis"], interpreters, workloads, KNOWN))


# -- repetitions, adaptive repetitions, the timeout ----------------------------------------


@pytest.mark.parametrize("repetitions", [1, 30, "30", "1"])
def test_repetitions_as_a_whole_number_or_its_digits_pass(repetitions):
    # -e wirebench_repetitions=30 gives the text '30': the run reads it with | int.
    assert settings_problems(repetitions, {}, 600) == []


@pytest.mark.parametrize("repetitions", [0, -1, "0", "-1", "abc", "", 2.5, 3.0, True, None, [3]])
def test_repetitions_below_one_or_not_whole_are_refused(repetitions):
    assert only(settings_problems(repetitions, {}, 600)) == (
        f"wirebench_repetitions must be a whole number of at least 1, not {repetitions!r}"
    )


def test_good_adaptive_settings_pass():
    assert settings_problems(10, {}, 600) == []
    assert settings_problems(10, {"target": 0.03, "min_repetitions": 6}, 600) == []
    assert settings_problems("6", {"target": 0.5, "min_repetitions": 6}, 600) == []
    for interval in ("rate", "share"):
        adaptive = {"target": 0.03, "min_repetitions": 6, "interval": interval}
        assert settings_problems(10, adaptive, 600) == []


@pytest.mark.parametrize(
    ("adaptive", "problem"),
    [
        # -e wirebench_adaptive={} gives the text '{}': the run's first cell would stop on it.
        ("{}", "wirebench_adaptive must be a mapping, {} (off) or {target: 0.03, min_repetitions: 6}, not '{}' (-e name=value gives text: leave it out for off, or give it as JSON, -e '{\"wirebench_adaptive\": {\"target\": 0.03, \"min_repetitions\": 6}}')"),
        ("target=0.03 min_repetitions=6", "not 'target=0.03 min_repetitions=6' (-e name=value gives text"),
        (None, "wirebench_adaptive must be a mapping, {} (off) or {target: 0.03, min_repetitions: 6}, not None"),
        ({"target": 0.03, "min_repetitions": 6, "max": 9}, "wirebench_adaptive has unknown fields max (known: target, min_repetitions, interval)"),
        ({"target": 0.03}, "wirebench_adaptive needs min_repetitions (or is {}: off)"),
        ({"min_repetitions": 6}, "wirebench_adaptive needs target (or is {}: off)"),
        ({"target": 0, "min_repetitions": 6}, "wirebench_adaptive.target must be a number between 0 and 1 (the relative half-width of the 95% confidence interval that `interval` names, e.g. 0.03), not 0"),
        ({"target": 1, "min_repetitions": 6}, "wirebench_adaptive.target must be a number between 0 and 1"),
        ({"target": 3, "min_repetitions": 6}, "not 3"),
        ({"target": -0.1, "min_repetitions": 6}, "not -0.1"),
        ({"target": "0.03", "min_repetitions": 6}, "not '0.03'"),
        ({"target": float("nan"), "min_repetitions": 6}, "not nan"),
        ({"target": True, "min_repetitions": 6}, "not True"),
        ({"target": 0.03, "min_repetitions": 1}, "wirebench_adaptive.min_repetitions must be a whole number of at least 2 (a confidence interval needs two samples), not 1"),
        ({"target": 0.03, "min_repetitions": 2.5}, "not 2.5"),
        ({"target": 0.03, "min_repetitions": "6"}, "not '6'"),
        ({"target": 0.03, "min_repetitions": 11}, "wirebench_adaptive.min_repetitions 11 is more than wirebench_repetitions 10"),
        ({"target": 0.03, "min_repetitions": 6, "interval": "shares"}, "wirebench_adaptive.interval must be rate (the median of a cell's rates) or share (its share of native redis), not 'shares'"),
        ({"target": 0.03, "min_repetitions": 6, "interval": None}, "wirebench_adaptive.interval must be rate"),
        # `on: share` in YAML: the key is true.
        ({"target": 0.03, "min_repetitions": 6, True: "share"}, "wirebench_adaptive has unknown fields True (known: target, min_repetitions, interval) (YAML reads `on:` as true: the field is `interval: share`)"),
    ],
)  # fmt: skip
def test_malformed_adaptive_settings_are_refused(adaptive, problem):
    assert problem in only(settings_problems(10, adaptive, 600))


@pytest.mark.parametrize("timeout", [600, 0.5, 120])
def test_a_positive_timeout_passes(timeout):
    assert settings_problems(3, {}, timeout) == []


@pytest.mark.parametrize("timeout", [0, -5, float("inf"), float("nan"), True, None, "abc"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout):
    assert only(settings_problems(3, {}, timeout)).startswith(
        f"wirebench_benchmark_timeout must be a positive number of seconds, not {timeout!r}"
    )


def test_a_timeout_given_as_text_is_refused():
    # run_cell computes with it as it is: 2 * '300' + 120 stops the run at its first cell.
    assert only(settings_problems(3, {}, "300")) == (
        "wirebench_benchmark_timeout must be a positive number of seconds, not '300' "
        "(-e name=value gives text: give a number in a preset or as JSON, "
        "-e '{\"wirebench_benchmark_timeout\": 300}')"
    )


# -- the run's name: label and resume ------------------------------------------------------


RULE = (
    "it names one folder directly in results/, so it may only hold letters, digits, '.', '_' "
    "and '-', not start with '.' nor hold '..', and have at most"
)


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    (folder / "20260101T000000Z-good").mkdir(parents=True)
    (folder / "20260101T000000Z-good" / "run-meta.json").write_text("{}")
    (folder / "latest").symlink_to("20260101T000000Z-good")
    (folder / "empty").mkdir()
    return folder


@pytest.mark.parametrize("label", ["", None, "tuned", "v1.2_b-3", "x" * 64])
def test_good_labels_pass(label, results):
    assert run_name_problems(label, "", str(results)) == []


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("../x", f"wirebench_label '../x' holds a path separator: {RULE} 64 characters"),
        ("a/b", "holds a path separator"),
        ("a\\b", "holds a path separator"),
        ("..", "wirebench_label '..' holds '..'"),
        ("a..b", "holds '..'"),
        (".hidden", "wirebench_label '.hidden' starts with '.'"),
        ("a b$", "wirebench_label 'a b$' holds ' ', '$'"),
        ("tuned\n", "holds '\\n'"),
        ("é", "holds 'é'"),
        ("x" * 65, "is longer than 64 characters"),
        (7, "wirebench_label must be text, not 7"),
    ],
)
def test_bad_labels_are_refused(label, problem, results):
    assert problem in only(run_name_problems(label, "", str(results)))


def test_a_run_in_results_can_be_resumed(results):
    assert run_name_problems("", "20260101T000000Z-good", str(results)) == []


@pytest.mark.parametrize(
    ("resume", "problem"),
    [
        # The case: it passed run.yml's existence check and wrote into test fixtures.
        ("../tests/collect/runs/seed", f"wirebench_resume '../tests/collect/runs/seed' holds a path separator: {RULE} 100 characters"),
        ("/tmp", "holds a path separator"),
        ("..", "wirebench_resume '..' holds '..'"),
        (".", "wirebench_resume '.' starts with '.'"),
        ("x" * 101, "is longer than 100 characters"),
        # results/latest is a link the run repoints at the run it makes: at itself here.
        ("latest", "wirebench_resume 'latest' is a link to '20260101T000000Z-good': give the run's own folder name in results/"),
        ("empty", "wirebench_resume 'empty': there is no such run in"),
        ("nope", "(no nope/run-meta.json)"),
    ],
)  # fmt: skip
def test_bad_resumes_are_refused(resume, problem, results):
    assert problem in only(run_name_problems("", resume, str(results)))


def test_a_resume_outside_results_is_refused_even_if_it_is_a_run(results):
    # A run folder elsewhere (the test fixtures) reached through results/ by a link.
    (results / "fixture").symlink_to(ROOT / "tests/collect/runs/seed")
    assert "is a link to" in only(run_name_problems("", "fixture", str(results)))


def test_label_and_resume_are_both_reported(results):
    assert len(run_name_problems("a/b", "../c", str(results))) == 2


# -- the presets and the defaults ----------------------------------------------------------


def known_implementations():
    listing = subprocess.run(
        [sys.executable, "-m", "servers", "--list", "--json"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    )
    return [row["name"] for row in json.loads(listing.stdout)]


CHECKED = (
    "wirebench_implementations", "wirebench_interpreters", "wirebench_workloads",
    "wirebench_repetitions", "wirebench_adaptive", "wirebench_benchmark_timeout",
    "wirebench_label", "wirebench_resume", "wirebench_server_parser",
)  # fmt: skip


def rendered(variables):
    """The variables with their {{ templates }} filled in, as Ansible hands them to a filter."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def render(value):
        if isinstance(value, str) and "{{" in value:
            return environment.from_string(value).render(variables)
        if isinstance(value, list):
            return [render(item) for item in value]
        if isinstance(value, dict):
            return {key: render(item) for key, item in value.items()}
        return value

    return {name: render(value) for name, value in variables.items() if name in CHECKED}


@pytest.mark.parametrize(
    "preset", [None, *sorted(path.stem for path in (ROOT / "presets").glob("*.yml"))]
)
def test_every_preset_and_the_defaults_pass_every_check(preset):
    variables = yaml.safe_load((ROOT / "roles/wirebench/defaults/main.yml").read_text())
    if preset:
        variables.update(yaml.safe_load((ROOT / f"presets/{preset}.yml").read_text()))
    variables = rendered(variables)
    # As boilerplate.yml calls them.
    assert (
        matrix_problems(
            variables["wirebench_implementations"],
            variables["wirebench_interpreters"],
            variables["wirebench_workloads"],
            known_implementations(),
        )
        + settings_problems(
            variables["wirebench_repetitions"],
            variables["wirebench_adaptive"],
            variables["wirebench_benchmark_timeout"],
            variables["wirebench_server_parser"],
        )
        + run_name_problems(
            variables["wirebench_label"], variables["wirebench_resume"], str(ROOT / "results")
        )
        == []
    )


def test_the_boilerplate_calls_every_check():
    text = (ROOT / "playbooks/boilerplate.yml").read_text()
    for name in ("wirebench_matrix_problems", "wirebench_settings_problems"):
        assert f"| {name}(" in text
    assert "wirebench_label | wirebench_run_name_problems(wirebench_resume," in text
    assert "wirebench_benchmark_timeout, wirebench_server_parser))" in text


# -- end to end: ansible-playbook refuses before any host is touched -----------------------


@pytest.mark.skipif(not (ROOT / ".venv/bin/ansible-playbook").exists(), reason="no venv")
def test_bench_yml_refuses_a_bad_matrix_before_touching_a_host(tmp_path):
    """bench.yml with an inventory of documentation addresses (RFC 5737: nothing answers
    there) and bad settings stops on localhost at the boilerplate's check: no task runs on
    a host, so none is even tried (no UNREACHABLE)."""
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[bench_server]\ndoc-server ansible_host=192.0.2.1 ansible_connection=ssh\n\n"
        "[bench_load]\ndoc-load ansible_host=192.0.2.2 ansible_connection=ssh\n"
    )
    matrix = {
        "wirebench_implementations": ["redis", "redis"],
        "wirebench_workloads": [{"name": "w", "tests": "gett", "requests": 10, "threads": "4"}],
    }
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_TIMEOUT": "2",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{ROOT / '.venv/bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    run = subprocess.run(
        [
            str(ROOT / ".venv/bin/ansible-playbook"), "bench.yml", "-i", str(inventory),
            "-e", json.dumps(matrix),
            "-e", "wirebench_resume=../tests/collect/runs/seed",
            "-e", "wirebench_label=a/b",
            "-e", "wirebench_repetitions=0",
            "-e", "wirebench_adaptive={}",
            "-e", "wirebench_benchmark_timeout=300",
            "-e", "wirebench_server_parser=cython",
            # The role's argument check makes the generated password file: not in the checkout.
            "-e", f"wirebench_password_path={tmp_path / 'redis-password'}",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    for problem in (
        "implementation 'redis' is listed twice in wirebench_implementations",
        "workload 'w': unknown test 'gett' in tests (redis-benchmark -t knows: ping_inline",
        "workload 'w': threads must be a positive integer, not '4'",
        "wirebench_repetitions must be a whole number of at least 1, not '0'",
        "wirebench_adaptive must be a mapping, {} (off) or {target: 0.03, min_repetitions: 6}, not '{}'",
        "wirebench_benchmark_timeout must be a positive number of seconds, not '300'",
        "wirebench_server_parser must be auto, python or hiredis",
        "wirebench_label 'a/b' holds a path separator",
        "wirebench_resume '../tests/collect/runs/seed' holds a path separator",
    ):
        assert problem in output, output
    recap = output[output.index("PLAY RECAP") :]
    assert "doc-server" not in recap and "doc-load" not in recap, recap
    assert "UNREACHABLE" not in output
    assert "Traceback" not in output


@pytest.mark.parametrize("parser", ["auto", "python", "hiredis"])
def test_a_known_server_parser_passes(parser):
    assert settings_problems(3, {}, 600, parser) == []


@pytest.mark.parametrize("parser", ["Hiredis", "", None, ["python"], "c"])
def test_an_unknown_server_parser_is_refused(parser):
    assert only(settings_problems(3, {}, 600, parser)) == (
        "wirebench_server_parser must be auto, python or hiredis (the Python servers' request "
        "parser; auto: each implementation's own, python -m servers --list --json), "
        f"not {parser!r}"
    )
