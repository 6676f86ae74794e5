"""gevent StreamServer servers.

``gevent`` keeps the blog's pattern (one sendall per reply) so its numbers can be
reproduced; ``gevent-batched`` sends all replies to one received buffer at once. Both set
TCP_NODELAY, without which pipelined replies stall on delayed ACKs.
"""

from __future__ import annotations

import signal

import gevent
import gevent.event
import gevent.socket
from gevent.server import StreamServer

from servers import runtime
from servers.commands import MAX_CLIENTS, ServerState

STOP_GRACE_SECONDS = 0.2


def send(conn, replies: list[bytes], per_reply: bool) -> None:
    if per_reply:
        for reply in replies:
            conn.sendall(reply)
    elif replies:
        conn.sendall(replies[0] if len(replies) == 1 else b"".join(replies))


def make_handler(state: ServerState, per_reply: bool):
    def handle(conn, address) -> None:
        runtime.tune_connection(conn)
        session = state.open_session()
        if session is None:
            conn.sendall(MAX_CLIENTS)
            conn.close()
            return
        try:
            while not session.closing:
                data = conn.recv(runtime.RECV_SIZE)
                if not data:
                    reply = session.handle_eof()
                    if reply:
                        conn.sendall(reply)
                    break
                replies = session.handle(data)
                while True:
                    send(conn, replies, per_reply)
                    if not session.backlogged or session.closing:
                        break
                    gevent.idle()  # the others' turn, their I/O included; then the next batch
                    replies = session.run_batch()
        except runtime.DISCONNECT_ERRORS as exc:
            runtime.log.debug("client %s went away: %r", address, exc)
        finally:
            state.close_session(session)
            conn.close()

    return handle


def serve(options: runtime.Options, sock, state: ServerState) -> None:
    listener = gevent.socket.socket(sock.family, sock.type, fileno=sock.detach())
    server = StreamServer(listener, make_handler(state, options.variant == "per-reply"))
    stop = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    server.start()
    stop.wait()
    server.stop(timeout=STOP_GRACE_SECONDS)
