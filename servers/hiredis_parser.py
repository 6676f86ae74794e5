"""Requests parsed by hiredis (C) where it is installed, read exactly as redis-server reads them.

hiredis.Reader parses RESP *replies*: it also accepts what redis refuses in a request (simple
strings, integers, nested arrays, RESP3 types) and knows nothing of inline commands or of
redis's limits. So it takes only received chunks that are whole, plain multibulk requests
from start to end, the shape every client library and redis-benchmark sends; anything else
goes to the Python parser (servers.protocol), the reference, which keeps that connection's
parse state until it is idle again and hiredis can take the next chunk.

Runs on Python 3.9 (Debian's PyPy).
"""

from __future__ import annotations

from itertools import chain

from servers import protocol

try:
    import hiredis
except ImportError:  # the Python parser alone then
    hiredis = None

# Bytes that start a reply type hiredis reads as a bulk-string argument (simple string +,
# big number (, verbatim string =), as an array at the top level (set ~), or that makes it
# drop bytes (attribute |). redis refuses all of them in a request, or reads them as an
# inline command. A chunk holding one anywhere goes to the Python parser: every other type
# hiredis accepts comes back as something other than bytes in a list, which is checked.
AMBIGUOUS_BYTES = (b"+", b"(", b"=", b"~", b"|")
# An empty request: fed after a chunk, hiredis returns exactly [] for it only when the chunk
# ended on a request boundary (inside a request it would become part of that request).
BOUNDARY_PROBE = b"*0\r\n"
_LIST = {list}
_BYTES = {bytes}


def hiredis_version() -> str | None:
    return None if hiredis is None else hiredis.__version__


class HiredisParser:
    """The interface of protocol.RequestParser, with hiredis parsing whole chunks of requests."""

    __slots__ = ("_python", "_reader", "_ready", "chunks_parsed_by_hiredis")

    def __init__(self, **options) -> None:
        self._python = protocol.RequestParser(**options)
        self._reader = hiredis.Reader()
        self._ready: list[list[bytes]] = []  # parsed by hiredis, not yet taken
        self.chunks_parsed_by_hiredis = 0

    @property
    def authenticated(self) -> bool:
        return self._python.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._python.authenticated = value

    @property
    def in_request(self) -> bool:
        return bool(self._ready) or self._python.in_request

    def feed(self, data: bytes) -> None:
        # hiredis only between requests, and after AUTH: the Python parser checks the
        # limits redis sets before it.
        python = self._python
        if python.authenticated and not python.in_request and len(data) <= python.max_bulk_len:
            commands = self._whole_requests(data)
            if commands is not None:
                self._ready.extend(commands)
                self.chunks_parsed_by_hiredis += 1
                return
        python.feed(data)

    def commands(self, limit: int) -> list[list[bytes]]:
        """As protocol.RequestParser.commands: hiredis's requests come first, as they
        were received first (the Python parser gets bytes only while it has some already,
        or when hiredis refused the chunk)."""
        ready = self._ready
        if not ready:
            return self._python.commands(limit)
        if len(ready) <= limit:
            self._ready = []
            return ready
        batch = ready[:limit]
        del ready[:limit]
        return batch

    def _whole_requests(self, data: bytes) -> list[list[bytes]] | None:
        """The requests in ``data`` if it is nothing but whole plain multibulk requests."""
        if data[:1] != b"*":
            return None  # an inline command: the Python parser's
        for byte in AMBIGUOUS_BYTES:
            if byte in data:
                return None
        reader = self._reader
        reader.feed(data)
        try:
            commands = list(iter(reader.gets, False))
            whole = not reader.has_data() and _ends_between_requests(reader)
        except hiredis.ProtocolError:
            whole = False
        if not whole:
            # It holds part of a request (and now the probe), or stopped at an error.
            self._reader = hiredis.Reader()
            return None
        if not _are_requests(commands):
            return None
        if [] in commands:  # *0: skipped, as redis does
            commands = [command for command in commands if command]
        return commands


def _ends_between_requests(reader) -> bool:
    """Whether the reader, having returned every complete request, holds no part of one."""
    reader.feed(BOUNDARY_PROBE)
    return reader.gets() == []


def _are_requests(commands: list) -> bool:
    """Every command a list (not a push, map or null) of bytes (not an integer, error,
    nested array or null): what plain multibulk requests give."""
    if not commands:
        return True
    return set(map(type, commands)) == _LIST and set(
        map(type, chain.from_iterable(commands))
    ).issubset(_BYTES)


# What a server may ask for: "hiredis" (hiredis in front of the Python parser, where
# hiredis is installed) or "python" (the Python parser alone).
PARSERS = ("hiredis", "python")


def parser_in_use(preference: str) -> str:
    """The parser a server asking for ``preference`` gets on this interpreter."""
    if preference not in PARSERS:
        raise ValueError(f"unknown parser {preference!r} (known: {', '.join(PARSERS)})")
    if preference == "hiredis" and hiredis is not None:
        return "hiredis"
    return "python"


def new_parser(parser: str, authenticated: bool):
    """A request parser for one connection: ``parser`` as parser_in_use returned it."""
    if parser == "hiredis":
        return HiredisParser(authenticated=authenticated)
    return protocol.RequestParser(authenticated=authenticated)
