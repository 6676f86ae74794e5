"""asyncio streams servers (asyncio, uvloop): the blog's I/O pattern, made correct.

Each reply is written and drained on its own, as the blog's servers did, so their numbers
can be reproduced; unlike them, connection resets are handled and every command works.
"""

from __future__ import annotations

import asyncio

from servers import aio, runtime
from servers.commands import MAX_CLIENTS, ServerState

STOP_GRACE_SECONDS = 0.5


async def handle_client(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    state: ServerState,
    handlers: dict,
) -> None:
    runtime.tune_connection(writer.get_extra_info("socket"))
    session = state.open_session()
    if session is None:
        writer.write(MAX_CLIENTS)
        writer.close()
        return
    handlers[writer] = asyncio.current_task()
    try:
        while not session.closing:
            data = await reader.read(runtime.RECV_SIZE)
            if not data:
                reply = session.handle_eof()
                # is_closing: we hung up ourselves (stopping); uvloop refuses to write then.
                if reply and not writer.is_closing():
                    writer.write(reply)
                    await writer.drain()
                break
            replies = session.handle(data)
            while True:
                for reply in replies:
                    writer.write(reply)
                    await writer.drain()
                if not session.backlogged or session.closing:
                    break
                await asyncio.sleep(0)  # the other clients' turn, then the next batch
                replies = session.run_batch()
    except runtime.DISCONNECT_ERRORS as exc:
        runtime.log.debug("client went away: %r", exc)
    finally:
        state.close_session(session)
        handlers.pop(writer, None)
        writer.close()


def serve(options: runtime.Options, sock, state: ServerState) -> None:
    async def main() -> None:
        handlers: dict = {}  # writer -> its handler task
        server = await asyncio.start_server(
            lambda reader, writer: handle_client(reader, writer, state, handlers), sock=sock
        )
        await aio.wait_for_stop_signal()
        server.close()
        # Hang up on every client so each handler ends on its own (EOF), instead of being
        # cancelled: asyncio's streams log a cancelled handler as an error. Handlers of
        # connections accepted just before the stop may not have started yet: repeat.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_SECONDS
        this_task = asyncio.current_task()
        while loop.time() < deadline:
            pending = [task for task in asyncio.all_tasks() if task is not this_task]
            if not pending:
                break
            for writer in list(handlers):
                writer.transport.abort()
            await asyncio.wait(pending, timeout=0.05)

    aio.run(main, options.variant)
