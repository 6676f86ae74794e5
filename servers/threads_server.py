"""One OS thread per connection with blocking sockets: the classic baseline.

Commands run under one lock, so the store sees them one at a time as redis does (the GIL
alone would not make INCR's read-modify-write atomic).
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import threading

from servers import runtime
from servers.commands import MAX_CLIENTS, ServerState


class _Connections:
    """The open client connections and their threads, so a stop can end every one of them
    before the interpreter finalizes: a thread still running then dies mid-bootstrap or
    mid-call and prints a traceback into the server's log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[socket.socket, threading.Thread] = {}

    def start(self, conn: socket.socket, state: ServerState, lock: threading.Lock) -> None:
        # Daemon still: should serve() end by an error before stop_all, the process exits.
        thread = threading.Thread(target=handle, args=(conn, state, lock, self), daemon=True)
        with self._lock:
            self._open[conn] = thread
        thread.start()

    def forget(self, conn: socket.socket) -> None:
        """Called by a connection's thread before it closes its socket, so `stop_all` never
        shuts down a closed one (whose descriptor number may be in use again)."""
        with self._lock:
            self._open.pop(conn, None)

    def stop_all(self) -> None:
        """Shut every open connection down, which wakes its thread from recv or sendall into
        its normal end, and wait for the threads. Clients are not waited for: shutdown does
        not need them to hang up."""
        with self._lock:
            threads = list(self._open.values())
            for conn in self._open:
                # Failing means the client is gone already, and its thread is ending anyway.
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            # A thread whose start() raised (no thread could be made) has nothing to join, and
            # joining it would raise over the error that ended serve().
            if thread.ident is not None:
                thread.join()


def _note_stop(signum, frame) -> None:
    """The signal's byte on the wakeup socket is the stop; the handler only has to exist."""


def handle(
    conn: socket.socket, state: ServerState, lock: threading.Lock, connections: _Connections
) -> None:
    with conn:
        try:
            serve_connection(conn, state, lock)
        except (OSError, *runtime.DISCONNECT_ERRORS) as exc:
            runtime.log.debug("client went away: %r", exc)
        finally:
            connections.forget(conn)


def serve_connection(conn: socket.socket, state: ServerState, lock: threading.Lock) -> None:
    runtime.tune_connection(conn)
    with lock:
        session = state.open_session()
    if session is None:
        conn.sendall(MAX_CLIENTS)
        return
    try:
        while not session.closing:
            data = conn.recv(runtime.RECV_SIZE)
            if not data:
                with lock:
                    reply = session.handle_eof()
                if reply:
                    conn.sendall(reply)
                break
            with lock:
                replies = session.handle(data)
            while True:
                if replies:
                    conn.sendall(replies[0] if len(replies) == 1 else b"".join(replies))
                if not session.backlogged or session.closing:
                    break
                # The lock is free between batches: the other threads run theirs.
                with lock:
                    replies = session.run_batch()
    finally:
        with lock:
            state.close_session(session)


def serve(options: runtime.Options, sock: socket.socket, state: ServerState) -> None:
    lock = threading.Lock()
    connections = _Connections()
    # A stop signal only writes a byte to `wake`; the accept loop sees it at one place, never
    # in the middle of starting a connection's thread (as an exception raised from the
    # handler could be), and whichever thread the kernel hands the signal to.
    wake, woken = socket.socketpair()
    wake.setblocking(False)
    previous_wakeup = signal.set_wakeup_fd(wake.fileno())
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, _note_stop) for signum in stop_signals}
    sock.setblocking(False)
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(woken, selectors.EVENT_READ)
            while not any(key.fileobj is woken for key, _ in selector.select()):
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    continue  # the client went away between select and accept
                conn.setblocking(True)
                connections.start(conn, state, lock)
    finally:
        sock.close()
        connections.stop_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_wakeup)
        wake.close()
        woken.close()
