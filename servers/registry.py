"""Which server implementations exist, how each is started, and where it can run.

The one place that knows this: ``python -m servers --list`` prints it, the provisioning
roles read it (``--list --json``) to skip combinations an implementation cannot run.
Runs on Python 3.9 (Debian's PyPy).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

CPYTHON = "cpython"
PYPY = "pypy"
# On PyPy every implementation parses with the Python parser: PyPy's JIT runs it about ten
# times faster than hiredis, which PyPy can only call through cpyext, its slow emulation of
# CPython's C API (servers.hiredis_parser). hiredis is not offered there at all, even when
# asked for (python -m servers --parser hiredis): interpreter -> why not.
HIREDIS_REFUSED = {
    PYPY: "PyPy calls hiredis through cpyext, its slow emulation of CPython's C API, and its "
    "JIT runs the Python parser several times faster",
}


@dataclass(frozen=True)
class Implementation:
    name: str
    module: str  # servers.<module> with a serve(options, state) function
    variant: str  # passed to the module: which flavour of its I/O model
    interpreters: tuple[str, ...]  # sys.implementation.name values it supports
    packages: tuple[str, ...]  # third-party packages it imports
    description: str
    # The request parser on each interpreter when a run leaves the choice to the registry
    # (--parser auto; servers.hiredis_parser): "hiredis" (hiredis where it is installed, the
    # Python parser otherwise) or "python".
    parsers: tuple[tuple[str, str], ...] = ((CPYTHON, "hiredis"), (PYPY, "python"))

    def parser_for(self, interpreter: str) -> str:
        return dict(self.parsers).get(interpreter, "python")

    def unsupported_reason(self, interpreter: str) -> str | None:
        """Why this implementation cannot run on ``interpreter``, or None if it can."""
        if interpreter not in self.interpreters:
            return (
                f"implementation {self.name!r} does not support {interpreter} "
                f"(supports: {', '.join(self.interpreters)})"
            )
        return None

    def missing_packages(self) -> list[str]:
        missing = []
        for package in self.packages:
            try:
                importlib.import_module(package)
            except ImportError:
                missing.append(package)
        return missing


IMPLEMENTATIONS = {
    impl.name: impl
    for impl in [
        Implementation(
            "gevent",
            "gevent_server",
            "per-reply",
            (CPYTHON, PYPY),
            ("gevent",),
            "the blog's gevent StreamServer: one sendall per reply",
        ),
        Implementation(
            "gevent-batched",
            "gevent_server",
            "batched",
            (CPYTHON, PYPY),
            ("gevent",),
            "gevent StreamServer: one sendall per received buffer",
        ),
        Implementation(
            "asyncio",
            "asyncio_streams",
            "asyncio",
            (CPYTHON, PYPY),
            (),
            "the blog's asyncio streams server: write + await drain() per reply",
        ),
        Implementation(
            "uvloop",
            "asyncio_streams",
            "uvloop",
            (CPYTHON,),
            ("uvloop",),
            "the blog's asyncio streams server on uvloop",
        ),
        Implementation(
            "asyncio-protocol",
            "asyncio_protocol",
            "asyncio",
            (CPYTHON, PYPY),
            (),
            "asyncio.Protocol: one write per received buffer",
        ),
        Implementation(
            "uvloop-protocol",
            "asyncio_protocol",
            "uvloop",
            (CPYTHON,),
            ("uvloop",),
            "asyncio.Protocol on uvloop: one write per received buffer",
        ),
        Implementation(
            "threads",
            "threads_server",
            "threads",
            (CPYTHON, PYPY),
            (),
            "one OS thread per connection, blocking sockets",
        ),
    ]
}


def current_interpreter() -> str:
    return sys.implementation.name


def get(name: str) -> Implementation:
    """The implementation called ``name``; KeyError with the known names otherwise."""
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        known = ", ".join(IMPLEMENTATIONS)
        raise KeyError(f"unknown implementation {name!r} (known: {known})") from None
