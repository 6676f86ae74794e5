"""python -m servers: listing, refusing what cannot run, and other interpreters (PyPy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from servers import registry
from tests.servers.conftest import ROOT, assert_no_traceback, start_python_server
from tests.servers.test_benchmark_suite import run_redis_benchmark


def run_servers(
    *args: str, python: str = sys.executable, python_args=("-m", "servers")
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [python, *python_args, *args], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=60,
    )  # fmt: skip


def test_list_names_every_implementation_first():
    result = run_servers("--list")
    assert result.returncode == 0
    names = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert names == list(registry.IMPLEMENTATIONS)
    assert {"gevent", "asyncio", "uvloop", "asyncio-protocol", "uvloop-protocol",
            "gevent-batched", "threads"} <= set(names)  # fmt: skip


def test_list_json_says_where_each_runs():
    rows = json.loads(run_servers("--list", "--json").stdout)
    by_name = {row["name"]: row for row in rows}
    assert by_name["uvloop"]["interpreters"] == ["cpython"]
    assert "pypy" in by_name["asyncio-protocol"]["interpreters"]
    assert all(row["runs_here"] and row["reason"] is None for row in rows)  # venv has all


def test_versions_names_every_package_an_implementation_uses():
    from importlib import metadata

    versions = json.loads(run_servers("--versions").stdout)
    assert versions["uvloop"] == metadata.version("uvloop")
    assert versions["gevent"] == metadata.version("gevent")
    assert versions["greenlet"] and versions["hiredis"]


def test_password_from_a_file(tmp_path):
    secret = tmp_path / "requirepass"
    secret.write_text("from-a-file\n")
    running = start_python_server("asyncio-protocol", tmp_path, "--requirepass-file", str(secret))
    try:
        assert "auth=on" in running.log
        with running.client(password="from-a-file") as client:
            assert client.ping() is True
    finally:
        running.stop()


def test_password_from_a_systemd_credential(tmp_path, monkeypatch):
    (tmp_path / "requirepass").write_text("credential-pass")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    running = start_python_server("threads", tmp_path)
    try:
        with running.client(password="credential-pass") as client:
            assert client.ping() is True
    finally:
        running.stop()


def test_unreadable_password_file_is_named(tmp_path):
    result = run_servers("--impl", "asyncio", "--requirepass-file", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "cannot read --requirepass-file" in result.stderr


def test_unknown_implementation_is_named():
    result = run_servers("--impl", "tornado", "--port", "0")
    assert result.returncode == 2
    assert "unknown implementation 'tornado'" in result.stderr
    assert "asyncio-protocol" in result.stderr  # it lists the known ones
    assert "Traceback" not in result.stderr


def test_unsupported_interpreter_reason():
    reason = registry.get("uvloop").unsupported_reason("pypy")
    assert reason == "implementation 'uvloop' does not support pypy (supports: cpython)"
    assert registry.get("asyncio").unsupported_reason("pypy") is None


def test_port_in_use_is_a_clear_error(server):
    result = run_servers("--impl", "asyncio", "--bind", "127.0.0.1", "--port", str(server.port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_line_names_implementation_interpreter_and_address(server):
    first_line = server.log.splitlines()[0]
    assert f"listening=127.0.0.1:{server.port}" in first_line
    assert "interpreter=CPython 3." in first_line
    assert "implementation=" in first_line


def test_start_line_names_the_parser_chosen(server):
    """Each server fixture asks for a parser by name: the start line says it was chosen."""
    from importlib import metadata

    chosen = server.argv[server.argv.index("--parser") + 1]
    said = f"hiredis {metadata.version('hiredis')}" if chosen == "hiredis" else "python"
    assert f"parser=[{said}: chosen]" in server.log.splitlines()[0]


def start_line(running) -> str:
    return running.log.splitlines()[0]


@pytest.mark.parametrize("impl", registry.IMPLEMENTATIONS)
def test_parser_auto_is_the_registrys(impl, tmp_path):
    """Without --parser (or with auto) the registry decides, as --list --json says; on
    CPython with hiredis installed (the venv has it), that parser is named as before."""
    from importlib import metadata

    wanted = registry.get(impl).parser_for(registry.CPYTHON)
    said = f"hiredis {metadata.version('hiredis')}" if wanted == "hiredis" else "python"
    for extra in [(), ("--parser", "auto")]:
        running = start_python_server(impl, tmp_path, *extra)
        try:
            assert f"parser=[{said}] " in start_line(running)
        finally:
            running.stop()


def test_parser_from_the_environment(tmp_path, monkeypatch):
    """The unit's instance environment sets WIREBENCH_PARSER; --parser overrides it."""
    monkeypatch.setenv("WIREBENCH_PARSER", "python")
    running = start_python_server("asyncio-protocol", tmp_path)
    try:
        assert "parser=[python: chosen]" in start_line(running)
    finally:
        running.stop()
    running = start_python_server("asyncio-protocol", tmp_path, "--parser", "auto")
    try:
        assert "parser=[hiredis " in start_line(running)
    finally:
        running.stop()


@pytest.mark.parametrize("how", ["option", "environment"])
def test_unknown_parser_is_refused_before_listening(how, monkeypatch):
    if how == "environment":
        monkeypatch.setenv("WIREBENCH_PARSER", "C")
        result = run_servers("--impl", "asyncio", "--port", "0")
    else:
        result = run_servers("--impl", "asyncio", "--port", "0", "--parser", "C")
    assert result.returncode == 2
    assert result.stderr == (
        "python -m servers: --parser C: unknown parser 'C' (known: auto, hiredis, python)\n"
    )


# python -m servers on this interpreter with hiredis unimportable.
WITHOUT_HIREDIS = (
    "import runpy, sys; sys.modules['hiredis'] = None; "
    "runpy.run_module('servers', run_name='__main__', alter_sys=True)"
)


def test_hiredis_chosen_but_not_installed_is_an_error():
    result = run_servers("--impl", "asyncio", "--port", "0", "--parser", "hiredis",
                         python_args=("-c", WITHOUT_HIREDIS))  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"python -m servers: --parser hiredis: hiredis is not installed: {sys.executable} "
        "cannot import it\n"
    )


def test_auto_without_hiredis_says_so(tmp_path):
    """auto (the registry's hiredis) on a CPython without it: the Python parser, said so."""
    log = tmp_path / "server.log"
    argv = [sys.executable, "-c", WITHOUT_HIREDIS, "--impl", "asyncio", "--port", "0"]
    with open(log, "w") as out:
        process = subprocess.Popen(argv, stderr=out, cwd=ROOT)
    try:
        for _ in range(200):
            if "listening=" in log.read_text():
                break
            time.sleep(0.05)
        assert "parser=[python: hiredis not installed] " in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_choose_names_what_it_picked():
    from servers import hiredis_parser

    version = hiredis_parser.hiredis.__version__
    assert hiredis_parser.choose("auto", "hiredis") == ("hiredis", f"hiredis {version}")
    assert hiredis_parser.choose("auto", "python") == ("python", "python")
    assert hiredis_parser.choose("python", "hiredis") == ("python", "python: chosen")
    assert hiredis_parser.choose("hiredis", "python") == ("hiredis", f"hiredis {version}: chosen")
    # Where the registry refuses hiredis, auto keeps the registry's parser; hiredis is an error.
    assert hiredis_parser.choose("auto", "python", "why") == ("python", "python")
    with pytest.raises(hiredis_parser.ParserUnavailable, match=r"not used .*: why"):
        hiredis_parser.choose("hiredis", "python", "why")


def test_list_json_says_which_parsers_cannot_be_used_here():
    """The provisioning role refuses a run's parser that a venv's servers cannot start with."""
    rows = json.loads(run_servers("--list", "--json").stdout)
    assert all(row["parser_problems"] == {} for row in rows)  # the venv has hiredis
    rows = json.loads(run_servers("--list", "--json", python_args=("-c", WITHOUT_HIREDIS)).stdout)
    assert {row["name"]: row["parser_problems"] for row in rows}["asyncio"] == {
        "hiredis": f"--parser hiredis: hiredis is not installed: {sys.executable} cannot import it"
    }


def test_list_json_names_each_interpreters_parser():
    rows = json.loads(run_servers("--list", "--json").stdout)
    assert {row["name"]: row["parsers"] for row in rows}["asyncio-protocol"] == {
        "cpython": "hiredis",
        "pypy": "python",
    }


PYPY = shutil.which("pypy3")
needs_pypy = pytest.mark.skipif(PYPY is None, reason="pypy3 not installed (.ci/run installs it)")


@needs_pypy
def test_pypy_refuses_uvloop_with_the_reason():
    result = run_servers("--impl", "uvloop", "--port", "0", python=PYPY)
    assert result.returncode == 2
    assert "implementation 'uvloop' does not support pypy" in result.stderr


@needs_pypy
def test_versions_on_pypy_says_what_is_missing():
    versions = json.loads(run_servers("--versions", python=PYPY).stdout)
    assert versions["uvloop"] is None  # no PyPy build of uvloop in a bare PyPy


PURE_PYTHON = [
    name for name, impl in registry.IMPLEMENTATIONS.items()
    if not impl.packages and registry.PYPY in impl.interpreters
]  # fmt: skip


@needs_pypy
@pytest.mark.parametrize("impl", PURE_PYTHON)
def test_pure_python_implementations_serve_on_pypy(impl, tmp_path):
    """Debian's PyPy is Python 3.9: the servers must not use anything newer."""
    running = start_python_server(impl, tmp_path, python=PYPY)
    try:
        assert "interpreter=PyPy 3.9" in running.log
        assert "parser=[python]" in running.log  # PyPy's JIT runs it faster than hiredis
        output = run_redis_benchmark(running.port, "-n", "2000")
        assert len(output.rows) == 20
        assert all(row.metrics["rps"] > 0 for row in output.rows)
    finally:
        running.stop()
    assert_no_traceback(running)


@needs_pypy
def test_pypy_refuses_hiredis_when_asked_for_it():
    """The registry never uses hiredis on PyPy: asking for it is an error, not a fallback."""
    result = run_servers("--impl", "asyncio", "--port", "0", "--parser", "hiredis", python=PYPY)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"python -m servers: --parser hiredis: hiredis is not used here ({PYPY}): PyPy "
    )


@needs_pypy
def test_pypy_serves_with_the_python_parser_chosen(tmp_path):
    running = start_python_server("asyncio-protocol/python", tmp_path, python=PYPY)
    try:
        assert "parser=[python: chosen]" in running.log
    finally:
        running.stop()
    assert_no_traceback(running)


@needs_pypy
def test_list_json_on_pypy_says_hiredis_is_not_used():
    rows = json.loads(run_servers("--list", "--json", python=PYPY).stdout)
    for row in rows:
        assert list(row["parser_problems"]) == ["hiredis"]
        assert row["parser_problems"]["hiredis"].startswith(
            f"--parser hiredis: hiredis is not used here ({PYPY}): PyPy calls hiredis"
        )
