"""asyncio streams servers (asyncio, uvloop): the blog's I/O pattern, made correct.

Each reply is written and drained on its own, as the blog's servers did, so their numbers
can be reproduced; unlike them, connection resets are handled and every command works.
"""

from __future__ import annotations

import asyncio

from servers import aio, runtime
from servers.commands import MAX_CLIENTS, ServerState


async def handle_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState
) -> None:
    runtime.tune_connection(writer.get_extra_info("socket"))
    session = state.open_session()
    if session is None:
        writer.write(MAX_CLIENTS)
        writer.close()
        return
    try:
        while not session.closing:
            data = await reader.read(runtime.RECV_SIZE)
            if not data:
                reply = session.handle_eof()
                if reply:
                    writer.write(reply)
                    await writer.drain()
                break
            for reply in session.handle(data):
                writer.write(reply)
                await writer.drain()
    except runtime.DISCONNECT_ERRORS as exc:
        runtime.log.debug("client went away: %r", exc)
    finally:
        state.close_session(session)
        writer.close()


def serve(options: runtime.Options, sock, state: ServerState) -> None:
    async def main() -> None:
        server = await asyncio.start_server(
            lambda reader, writer: handle_client(reader, writer, state), sock=sock
        )
        await aio.wait_for_stop_signal()
        server.close()

    aio.run(main, options.variant)
