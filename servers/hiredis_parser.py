"""Requests parsed by hiredis (C) where it is installed, read exactly as redis-server reads them.

hiredis.Reader parses RESP *replies*: it also accepts what redis refuses in a request (simple
strings, integers, nested arrays, RESP3 types) and knows nothing of inline commands or of
redis's limits. So it takes only received chunks that are whole, plain multibulk requests
from start to end, the shape every client library and redis-benchmark sends, and large
enough to be worth its fixed cost (HIREDIS_MIN_CHUNK); anything else goes to the Python
parser (servers.protocol), the reference, which keeps that connection's parse state until
it is idle again and hiredis can take the next chunk.

Runs on Python 3.9 (Debian's PyPy).
"""

from __future__ import annotations

import sys
from itertools import chain

from servers import protocol

try:
    import hiredis
except ImportError:  # the Python parser alone then
    hiredis = None

# Bytes that start a reply type hiredis reads as a bulk-string argument (simple string +,
# big number (, verbatim string =), as something iterable at the top level (set ~, map %,
# push >), or that make it drop bytes (attribute |). redis refuses each of them in a
# request, or reads it as an inline command. A chunk holding one anywhere goes to the Python
# parser; every other type hiredis accepts comes back as something other than bytes inside
# a list, which is checked.
AMBIGUOUS_BYTES = b"+(=~%>|"
# hiredis's fixed cost per chunk (the checks above) outweighs what it saves on one or two
# small requests: the Python parser's fast path is quicker below about this size (measured
# on 36-byte GETs: 1 and 2 per chunk faster in Python, 3 and more with hiredis).
HIREDIS_MIN_CHUNK = 96


class HiredisParser:
    """The interface of protocol.RequestParser, with hiredis parsing whole chunks of requests."""

    __slots__ = ("_max_chunk", "_python", "_reader", "_ready", "hiredis_chunks")

    def __init__(self, **options) -> None:
        self._python = protocol.RequestParser(**options)
        # A chunk no longer than the limits cannot hold a bulk over the bulk limit, nor
        # fill the query buffer past its limit.
        self._max_chunk = min(self._python.max_bulk_len, self._python.max_query_buffer)
        self._reader = hiredis.Reader()
        self._ready: list[list[bytes]] = []  # parsed by hiredis, not yet taken
        self.hiredis_chunks = 0  # chunks hiredis parsed (the others went to Python)

    @property
    def authenticated(self) -> bool:
        return self._python.authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._python.authenticated = value

    @property
    def idle(self) -> bool:
        """Known to hold nothing that is not returned yet (as RequestParser.idle)."""
        return not self._ready and self._python.idle

    @property
    def in_request(self) -> bool:
        return bool(self._ready) or self._python.in_request

    def feed(self, data: bytes) -> None:
        # hiredis only while the Python parser is known to hold nothing (between requests),
        # and after AUTH: before it the Python parser applies the tighter limits redis sets.
        if (
            self._python.idle
            and HIREDIS_MIN_CHUNK <= len(data) <= self._max_chunk
            and self._python.authenticated
        ):
            commands = self._whole_requests(data)
            if commands is not None:
                self._ready += commands
                self.hiredis_chunks += 1
                return
        self._python.feed(data)

    def commands(self, limit: int) -> list[list[bytes]]:
        """As protocol.RequestParser.commands. hiredis's requests come first: the Python
        parser is given bytes only while it holds some already, or when hiredis refused
        them, so whatever it holds arrived after them."""
        ready = self._ready
        if ready:
            if len(ready) <= limit:
                self._ready = []
                return ready
            batch = ready[:limit]
            del ready[:limit]
            return batch
        return self._python.commands(limit)

    def _whole_requests(self, data: bytes) -> list[list[bytes]] | None:
        """The requests in ``data`` if it is nothing but whole plain multibulk requests."""
        if data[0] != 0x2A:
            return None  # inline (the first byte is not '*')
        # One memchr per byte (``in`` with an int, not a bytes, which would cost a caught
        # TypeError): all seven cost a twentieth of one translate() pass over the chunk.
        for byte in AMBIGUOUS_BYTES:
            if byte in data:
                return None  # maybe a type to leave to Python
        # Read the chunk as one array of every request it would hold if each request after
        # the first starts right after a CRLF: one gets() for the chunk instead of one per
        # request. A payload holding CRLF '*' makes the count too large, so the array is
        # left incomplete; a chunk ending inside a request leaves bytes unread or the array
        # incomplete. Either way hiredis did not read the chunk as whole requests.
        reader = self._reader
        reader.feed(b"*%d\r\n" % (data.count(b"\r\n*") + 1))
        reader.feed(data)
        try:
            commands = reader.gets()
            whole = commands is not False and not reader.has_data()
        except hiredis.ProtocolError:
            whole = False
        if not whole:
            # It holds part of the array, or stopped at an error.
            self._reader = hiredis.Reader()
            return None
        if not _are_requests(commands):
            return None
        if not all(commands):  # *0: skipped, as redis does
            commands = [command for command in commands if command]
        return commands


def _are_requests(commands: list) -> bool:
    """Every command iterable (an array: no integer, error or null) and every argument
    bytes (no integer, error, null, double, boolean or nested array), as plain multibulk
    requests give. (No command is bytes either: its items would be ints.)"""
    try:
        # join() takes nothing but bytes-like items, and hiredis gives no bytes-like object
        # other than bytes; it costs a quarter less than collecting the items' types.
        b"".join(chain.from_iterable(commands))
    except TypeError:
        return False
    return True


# What an implementation may ask for (registry.Implementation.parsers): "hiredis"
# (hiredis in front of the Python parser, where hiredis is installed) or "python".
PARSERS = ("hiredis", "python")
# What a run may ask for (python -m servers --parser): the registry's choice for the
# implementation on this interpreter, or one of the parsers, exactly.
CHOICES = ("auto", *PARSERS)


class ParserUnavailable(Exception):
    """The parser a run asked for cannot be used here (the message says why)."""


def parser_in_use(wanted: str) -> str:
    """The parser a server that wants ``wanted`` gets here: hiredis only if installed."""
    if wanted not in PARSERS:
        raise ValueError(f"unknown parser {wanted!r} (known: {', '.join(PARSERS)})")
    if wanted == "hiredis" and hiredis is not None:
        return "hiredis"
    return "python"


def describe(wanted: str) -> str:
    """What the start line says: ``hiredis 3.5.0``, ``python``, or why not hiredis."""
    in_use = parser_in_use(wanted)
    if in_use == "hiredis":
        return f"hiredis {hiredis.__version__}"
    if wanted == "hiredis":
        return "python: hiredis not installed"
    return "python"


def choose(choice: str, default: str, refused: str | None = None) -> tuple[str, str]:
    """The parser in use and what the start line says, for a run asking for ``choice``.

    ``default``: the registry's parser for the implementation on this interpreter, taken by
    "auto" (hiredis when installed, else the Python parser, said so). A parser asked for by
    name is that parser or ParserUnavailable: hiredis when it is not installed, or where
    ``refused`` (registry.HIREDIS_REFUSED's reason for this interpreter) says it is not used.
    The start line marks a parser asked for by name ``: chosen``.
    """
    if choice not in CHOICES:
        raise ParserUnavailable(f"unknown parser {choice!r} (known: {', '.join(CHOICES)})")
    if choice == "auto":
        return parser_in_use(default), describe(default)
    if choice == "hiredis":
        if refused:
            raise ParserUnavailable(f"hiredis is not used here ({sys.executable}): {refused}")
        if hiredis is None:
            raise ParserUnavailable(f"hiredis is not installed: {sys.executable} cannot import it")
        return "hiredis", f"hiredis {hiredis.__version__}: chosen"
    return "python", "python: chosen"


def new_parser(parser: str, authenticated: bool):
    """A request parser for one connection: ``parser`` as parser_in_use returned it."""
    if parser == "hiredis":
        return HiredisParser(authenticated=authenticated)
    return protocol.RequestParser(authenticated=authenticated)
