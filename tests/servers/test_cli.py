"""python -m servers: listing, refusing what cannot run, and other interpreters (PyPy)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from servers import registry
from tests.servers.conftest import ROOT, assert_no_traceback, start_python_server
from tests.servers.test_benchmark_suite import run_redis_benchmark


def run_servers(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [python, "-m", "servers", *args], capture_output=True, text=True, cwd=ROOT, env=env,
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


def test_start_line_names_the_parser(server):
    """On CPython with hiredis installed (the venv has it), hiredis parses the requests."""
    from importlib import metadata

    assert f"parser=[hiredis {metadata.version('hiredis')}]" in server.log.splitlines()[0]


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
