"""asyncio.Protocol servers (asyncio-protocol, uvloop-protocol).

Every complete request in a received buffer is answered, and all the replies go out in
one write: the pattern that keeps a Python server close to redis under pipelining. A
buffer holding more than a batch of requests is answered a batch per loop iteration, with
reading paused meanwhile, so other clients are served in between.
"""

from __future__ import annotations

import asyncio

from servers import aio, runtime
from servers.commands import MAX_CLIENTS, ServerState


class RespProtocol(asyncio.Protocol):
    def __init__(self, state: ServerState, transports: set) -> None:
        self.state = state
        self.transports = transports
        self.transport = None
        self.session = None
        # Reading stops while the client's replies are not drained (a TCP window would
        # stop it too) and while received requests wait for their turn.
        self.writing_paused = False
        self.reading_paused = False
        self.batch_scheduled = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        runtime.tune_connection(transport.get_extra_info("socket"))
        self.session = self.state.open_session()
        if self.session is None:
            transport.write(MAX_CLIENTS)
            transport.close()
            return
        self.transports.add(transport)

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None or session.closing:
            return
        self.send(session.handle(data))

    def send(self, replies: list[bytes]) -> None:
        """Write one batch's replies, then close, or schedule the next batch, as due."""
        if replies:
            self.transport.write(replies[0] if len(replies) == 1 else b"".join(replies))
        if self.session.closing:
            self.transport.close()
            return
        self.update_reading()
        if self.session.backlogged and not self.writing_paused and not self.batch_scheduled:
            self.batch_scheduled = True
            asyncio.get_running_loop().call_soon(self.next_batch)

    def next_batch(self) -> None:
        self.batch_scheduled = False
        session = self.session
        if session.closing or session.closed or self.writing_paused:
            return
        self.send(session.run_batch())

    def update_reading(self) -> None:
        should_pause = self.writing_paused or self.session.backlogged
        if should_pause == self.reading_paused or self.transport.is_closing():
            return
        self.reading_paused = should_pause
        if should_pause:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def eof_received(self) -> bool:
        if self.session is not None and not self.session.closing:
            reply = self.session.handle_eof()
            if reply:
                self.transport.write(reply)
        return False  # let the transport close itself

    def connection_lost(self, exc) -> None:
        if exc is not None:
            runtime.log.debug("connection lost: %s", exc)
        if self.session is not None:
            self.state.close_session(self.session)
        self.transports.discard(self.transport)

    # A client that sends without reading would make us buffer replies without bound:
    # stop reading from it, and running its requests, until its replies drain.
    def pause_writing(self) -> None:
        self.writing_paused = True
        self.update_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.session is not None and not self.session.closing:
            self.send([])


def serve(options: runtime.Options, sock, state: ServerState) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        transports: set = set()
        server = await loop.create_server(lambda: RespProtocol(state, transports), sock=sock)
        await aio.wait_for_stop_signal()
        server.close()
        for transport in list(transports):
            transport.abort()

    aio.run(main, options.variant)
