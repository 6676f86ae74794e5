"""Running a coroutine on the event loop an implementation asks for (asyncio or uvloop).

asyncio.run() has no loop_factory before Python 3.12, and the servers also run on 3.9
(Debian's PyPy), so this does what asyncio.run does with a chosen loop.
"""

from __future__ import annotations

import asyncio
import signal


def new_loop(variant: str) -> asyncio.AbstractEventLoop:
    if variant == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def run(main, variant: str) -> None:
    """Run ``main()`` until it returns, then cancel what is left, as asyncio.run does."""
    loop = new_loop(variant)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main())
    finally:
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def wait_for_stop_signal() -> None:
    """Return on SIGTERM or SIGINT (systemd stops units with SIGTERM)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
