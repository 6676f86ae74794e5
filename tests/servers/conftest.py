"""Fixtures that run the real servers (and a real redis-server) on loopback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from servers import registry

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_TIMEOUT = 15.0
IMPLEMENTATIONS = list(registry.IMPLEMENTATIONS)
# The parsers a run may choose (python -m servers --parser). The wire tests run every
# implementation with each, named "<implementation>/<parser>".
PARSERS = ("hiredis", "python")
VARIANTS = [f"{impl}/{parser}" for impl in IMPLEMENTATIONS for parser in PARSERS]


class RunningServer:
    """A server process on loopback; ``log`` is everything it wrote to stderr."""

    def __init__(self, argv: list[str], log_path: Path, port: int | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log_file = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        # PYTHONPATH: an interpreter without our venv (PyPy) still finds servers/.
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=self._log_file, cwd=ROOT, env=env
        )
        self.port = port if port is not None else self._port_from_start_line()
        self._wait_until_answering()

    def _port_from_start_line(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            match = re.search(r"listening=[^ ]*:(\d+)", self.log)
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.argv} did not start: {self.log}")

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(100)
                    # Before AUTH a password-protected server answers -NOAUTH: it is up.
                    if reply.startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.argv} does not answer on port {self.port}: {self.log}")

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, **kwargs) -> redis.Redis:
        # RESP2: our servers answer HELLO 3 with -NOPROTO, as redis 5 did.
        return redis.Redis(host=HOST, port=self.port, socket_timeout=10, protocol=2, **kwargs)

    def connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def stop(self, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_python_server(name: str, log_dir: Path, *extra: str, python=sys.executable):
    """``name``: an implementation (the parser the registry chooses: --parser auto), or
    ``<implementation>/<parser>`` (that --parser)."""
    impl, _, parser = name.partition("/")
    argv = [python, "-m", "servers", "--impl", impl, "--bind", HOST, "--port", "0", *extra]
    if parser:
        argv += ["--parser", parser]
    return RunningServer(argv, log_dir / f"{impl}-{parser or 'auto'}.log")


def start_redis_server(log_dir: Path, *extra: str) -> RunningServer:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt install redis-server; .ci/run does)")
    port = free_port()
    argv = [
        "redis-server", "--bind", HOST, "--port", str(port), "--save", "",
        "--appendonly", "no", "--databases", "1", "--logfile", "", *extra,
    ]  # fmt: skip
    return RunningServer(argv, log_dir / f"redis-{port}.log", port=port)


def start_target(name: str, log_dir: Path, *extra: str) -> RunningServer:
    """``redis`` is the real redis-server; any other name is one of our implementations
    (``<implementation>/<parser>`` with that parser)."""
    if name == "redis":
        return start_redis_server(log_dir, *extra)
    return start_python_server(name, log_dir, *extra)


def assert_no_traceback(server: RunningServer) -> None:
    assert "Traceback" not in server.log, server.log


def log_dir_name(name: str) -> str:
    return name.replace("/", "-")


@pytest.fixture(scope="module", params=VARIANTS)
def server(request, tmp_path_factory):
    """Each implementation with each parser in turn, shared by a module's tests (flushed
    before each test)."""
    log_dir = tmp_path_factory.mktemp(log_dir_name(request.param))
    running = start_python_server(request.param, log_dir)
    yield running
    running.stop()
    assert_no_traceback(running)


@pytest.fixture(scope="module", params=["redis", *VARIANTS])
def target(request, tmp_path_factory):
    """Like ``server`` but real redis-server too: expectations are checked against redis."""
    running = start_target(request.param, tmp_path_factory.mktemp(log_dir_name(request.param)))
    yield running
    running.stop()
    assert_no_traceback(running)


@pytest.fixture
def client(server):
    with server.client() as connection:
        connection.flushall()
        yield connection
