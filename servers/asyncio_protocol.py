"""asyncio.Protocol servers (asyncio-protocol, uvloop-protocol).

Every complete request in a received buffer is answered, and all the replies go out in
one write: the pattern that keeps a Python server close to redis under pipelining.
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
        replies = session.handle(data)
        if replies:
            self.transport.write(replies[0] if len(replies) == 1 else b"".join(replies))
        if session.closing:
            self.transport.close()

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
    # stop reading from it until its replies drain, as a TCP window would.
    def pause_writing(self) -> None:
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()


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
