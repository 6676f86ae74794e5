"""One OS thread per connection with blocking sockets: the classic baseline.

Commands run under one lock, so the store sees them one at a time as redis does (the GIL
alone would not make INCR's read-modify-write atomic).
"""

from __future__ import annotations

import signal
import socket
import threading

from servers import runtime
from servers.commands import MAX_CLIENTS, ServerState


class _Stop(Exception):
    pass


def _raise_stop(signum, frame) -> None:
    raise _Stop


def handle(conn: socket.socket, state: ServerState, lock: threading.Lock) -> None:
    with conn:
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
        except (OSError, *runtime.DISCONNECT_ERRORS) as exc:
            runtime.log.debug("client went away: %r", exc)
        finally:
            with lock:
                state.close_session(session)


def serve(options: runtime.Options, sock: socket.socket, state: ServerState) -> None:
    lock = threading.Lock()
    stop_signals = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, _raise_stop) for signum in stop_signals}
    try:
        while True:
            conn, _ = sock.accept()
            # Daemon threads: a stop must not wait for idle clients to hang up.
            threading.Thread(target=handle, args=(conn, state, lock), daemon=True).start()
    except _Stop:
        pass
    finally:
        sock.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
