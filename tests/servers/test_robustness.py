"""What a hostile or careless client can do, and what a stop must do."""

from __future__ import annotations

import os
import random
import resource
import signal
import socket
import struct
import threading
import time

import pytest

from servers import runtime, threads_server
from servers.commands import COMMANDS_PER_BATCH, ServerState
from tests.servers.conftest import (
    HOST,
    IMPLEMENTATIONS,
    VARIANTS,
    assert_no_traceback,
    log_dir_name,
    start_python_server,
    start_target,
)
from tests.servers.test_wire import connection_state, mb, read_exactly

PASSWORD = b"s3cret-pass"


@pytest.fixture(scope="module", params=["redis", *VARIANTS])
def auth_target(request, tmp_path_factory):
    """redis-server and each implementation with each parser, all started with a password."""
    log_dir = tmp_path_factory.mktemp(f"auth-{log_dir_name(request.param)}")
    running = start_target(request.param, log_dir, "--requirepass", PASSWORD.decode())
    yield running
    running.stop()
    assert_no_traceback(running)


NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
AUTH_CASES = [
    ("get-before-auth", mb(b"GET", b"k"), NOAUTH, "open"),
    ("ping-before-auth", mb(b"PING"), NOAUTH, "open"),
    ("unknown-before-auth", mb(b"NOPE"), b"-ERR unknown command 'NOPE', with args beginning with: \r\n", "open"),
    ("wrong-password", mb(b"AUTH", b"guess"), WRONGPASS, "open"),
    ("wrong-user", mb(b"AUTH", b"admin", PASSWORD), WRONGPASS, "open"),
    ("auth-then-set-get", mb(b"AUTH", PASSWORD) + mb(b"SET", b"k", b"v") + mb(b"GET", b"k"), b"+OK\r\n+OK\r\n$1\r\nv\r\n", "authenticated"),
    ("auth-default-user", mb(b"AUTH", b"default", PASSWORD) + mb(b"PING"), b"+OK\r\n+PONG\r\n", "authenticated"),
    ("hello-needs-auth", mb(b"HELLO", b"2"), b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n", "open"),
    ("big-multibulk-before-auth", b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n", "closed"),
    ("big-bulk-before-auth", b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n", "closed"),
    ("big-bulk-after-auth", mb(b"AUTH", PASSWORD) + mb(b"SET", b"k", b"v" * 20000), b"+OK\r\n+OK\r\n", "authenticated"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_bytes", "expected", "after"),
    [case[1:] for case in AUTH_CASES],
    ids=[case[0] for case in AUTH_CASES],
)
def test_auth_like_redis(auth_target, request_bytes, expected, after):
    with auth_target.connect() as sock:
        sock.sendall(request_bytes)
        assert read_exactly(sock, len(expected)) == expected
        if after == "authenticated":
            sock.sendall(mb(b"ECHO", b"still-here"))
            assert read_exactly(sock, 17) == b"$10\r\nstill-here\r\n"
        else:
            assert connection_state(sock) == after


def test_redis_py_with_password(auth_target):
    with auth_target.client(password=PASSWORD.decode()) as authed:
        authed.set("k", "v")
        assert authed.get("k") == b"v"


def hard_close(sock: socket.socket) -> None:
    """Close with a TCP reset instead of a FIN, as a crashed client would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


PARTIAL_REQUESTS = [
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab",
    b"*2\r\n$3\r\nGET",
    b"*2\r\n$",
    b"*",
    b"PIN",
    b'SET k "unterminated',
]


@pytest.mark.parametrize("partial", PARTIAL_REQUESTS)
def test_client_resets_mid_request(server, partial):
    for _ in range(3):
        sock = server.connect()
        sock.sendall(partial)
        hard_close(sock)
    with server.client() as other:
        assert other.ping() is True
    assert_no_traceback(server)


@pytest.mark.parametrize("partial", PARTIAL_REQUESTS)
def test_client_half_closes_mid_request(server, partial):
    with server.connect() as sock:
        sock.sendall(partial)
        sock.shutdown(socket.SHUT_WR)
        assert read_exactly(sock, 4096) == (
            b"-ERR Protocol error: connection closed inside a request\r\n"
        )
    with server.client() as other:
        assert other.ping() is True


def test_client_vanishes_with_replies_unread(server):
    """A big pipeline whose replies nobody reads, then a reset: the server goes on."""
    request = mb(b"SET", b"k", b"x" * 1000) + mb(b"GET", b"k") * 5000
    sock = server.connect()
    sock.sendall(request)
    time.sleep(0.2)
    hard_close(sock)
    with server.client() as other:
        assert other.get("k") == b"x" * 1000
    assert_no_traceback(server)


def test_binary_garbage_never_stops_service(server):
    rng = random.Random(20261126)
    for _ in range(30):
        with server.connect() as sock:
            garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
            try:
                sock.sendall(garbage + b"\r\n")
                sock.shutdown(socket.SHUT_WR)
                read_exactly(sock, 1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                pass
    with server.client() as other:
        assert other.ping() is True
    assert_no_traceback(server)


@pytest.fixture
def many_sockets():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or (soft < 4096 and hard == resource.RLIM_INFINITY):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 1100:
        pytest.fail(f"need 1100 open files for this test, the hard limit is {hard}")
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_thousand_idle_connections(server, many_sockets):
    for _ in range(1000):
        many_sockets.append(server.connect())
    with server.client() as other:
        assert other.set("k", "v") is True
        assert other.info("clients")["connected_clients"] >= 1001
    for sock in many_sockets:
        sock.sendall(b"PING\r\n")
    for sock in many_sockets:
        assert read_exactly(sock, 7) == b"+PONG\r\n"


@pytest.mark.parametrize("name", ["redis", *IMPLEMENTATIONS])
def test_max_clients_reached(name, tmp_path):
    running = start_target(name, tmp_path, "--maxclients", "3")
    try:
        # One slot may still be held by the readiness probe's connection for a moment.
        time.sleep(0.2)
        held = [running.connect() for _ in range(3)]
        for sock in held:
            sock.sendall(b"PING\r\n")
            assert read_exactly(sock, 7) == b"+PONG\r\n"
        with running.connect() as refused:
            assert read_exactly(refused, 100) == b"-ERR max number of clients reached\r\n"
        held.pop().close()
        time.sleep(0.2)  # the server notices the close
        with running.connect() as admitted:
            admitted.sendall(b"PING\r\n")
            assert read_exactly(admitted, 7) == b"+PONG\r\n"
        for sock in held:
            sock.close()
    finally:
        running.stop()
    assert_no_traceback(running)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_sigterm_exits_zero_with_clients_connected(impl, tmp_path):
    running = start_python_server(impl, tmp_path)
    idle = [running.connect() for _ in range(10)]
    busy = running.connect()
    busy.sendall(b"*2\r\n$3\r\nGET\r\n$10\r\nhalf")
    running.process.send_signal(signal.SIGTERM)
    # A loose bound on purpose: it proves the stop does not wait for clients, without
    # timing the machine (the implementations stop in well under a second here).
    returncode = running.process.wait(timeout=10)
    assert returncode == 0, running.log
    assert_no_traceback(running)
    for sock in [*idle, busy]:
        sock.close()


def test_a_stop_of_the_threads_server_ends_every_connection_thread():
    """In-process, so the threads can be seen. When serve() returns on SIGTERM, no
    connection's thread may be left running: the interpreter's finalization would tear it
    down, printing a traceback into the log (about one stop in a hundred). Connections wait in
    recv, in the middle of a request, and in sendall to a client that does not read."""
    sock = runtime.listen(HOST, 0)
    port = sock.getsockname()[1]
    options = runtime.Options("threads", "threads", HOST, port, None, 100, "python")
    clients: list[socket.socket] = []

    failures: list[BaseException] = []

    def stop_once_connected() -> None:
        try:
            clients.extend(socket.create_connection((HOST, port), timeout=10) for _ in range(4))
            big = b"x" * (4 * 1024 * 1024)
            clients[0].sendall(mb(b"SET", b"big", big))
            assert read_exactly(clients[0], 5) == b"+OK\r\n"
            # Far more than the kernel buffers: its thread ends up blocked in sendall.
            clients[1].sendall(mb(b"GET", b"big") * 32)
            assert read_exactly(clients[1], 11).startswith(b"$%d\r\n" % len(big))
            clients[2].sendall(b"*2\r\n$3\r\nGET\r\n$10\r\nhalf")
            clients[3].sendall(b"PING\r\n")
            assert read_exactly(clients[3], 7) == b"+PONG\r\n"
        except BaseException as exc:  # re-raised in the test's own thread
            failures.append(exc)
        finally:
            # Only after a reply (or a 10 s timeout waiting for one): by then serve() is in
            # its loop with its stop handler in place, so the signal cannot end pytest.
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=stop_once_connected)
    helper.start()
    threads_server.serve(options, sock, ServerState("threads"))
    helper.join()
    try:
        if failures:
            raise failures[0]
        left = [thread.name for thread in threading.enumerate() if thread.name.endswith("(handle)")]
        assert left == []
        assert sock.fileno() == -1
    finally:
        for client in clients:
            client.close()


def test_a_pipeline_longer_than_a_batch_is_answered_whole_and_in_order(server):
    """More requests in one send than a batch holds: the rest run in the next batches."""
    count = 3 * COMMANDS_PER_BATCH + 7
    with server.connect() as sock:
        sock.sendall(mb(b"DEL", b"n") + mb(b"INCR", b"n") * count + b"PING\r\n")
        expected = b":0\r\n" + b"".join(b":%d\r\n" % i for i in range(1, count + 1)) + b"+PONG\r\n"
        assert read_exactly(sock, len(expected)) == expected


def test_a_client_that_does_not_read_cannot_hold_the_others(server):
    """One client pipelines large replies and many INCRs in one send, and reads only the
    start of the first reply (so the server has run the first batch). The server must stop
    running its requests once its replies back up, a batch at most past that point, and
    answer the others meanwhile: another client reads the counter those INCRs raise, and
    finds it far from done. (Before batches, a whole received buffer ran at once.)"""
    # 32 of these replies are far more than the kernel buffers a client that does not read
    # (here up to 32 MB tcp_rmem and 4 MB tcp_wmem): the server must block on them.
    big = b"x" * (4 * 1024 * 1024)
    incrs = 4 * COMMANDS_PER_BATCH
    with server.client() as other:
        other.set("big", big)
        other.delete("n")
        stalled = server.connect()
        try:
            stalled.sendall(mb(b"GET", b"big") * 32 + mb(b"INCR", b"n") * incrs)
            assert read_exactly(stalled, 11).startswith(b"$%d\r\n" % len(big))
            done = int(other.get("n") or 0)
            assert done <= COMMANDS_PER_BATCH < incrs
            assert other.ping() is True
        finally:
            hard_close(stalled)
    assert_no_traceback(server)
