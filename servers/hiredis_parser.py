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
    """The interface of protocol.RequestParser, with hiredis parsing whole chunks of requests.

    hiredis's requests come *unchecked* from ``unchecked_commands``: each is a plain request
    (a non-empty list of bytes) or the caller hands it back with ``reread``, and the Python
    parser reads its chunk again from there. The caller may prove a request plain more
    cheaply than a check of every argument can: the server's GET path does, by finding a
    stored value under the key (only bytes equal a stored key). ``commands`` checks them all
    itself.
    """

    __slots__ = (
        "_chunk",
        "_chunk_commands",
        "_last_header",
        "_last_length",
        "_max_chunk",
        "_options",
        "_python",
        "_reader",
        "_ready",
        "hiredis_chunks",
        "unchecked",
    )

    def __init__(self, **options) -> None:
        self._options = options
        self._python = protocol.RequestParser(**options)
        # A chunk no longer than the limits cannot hold a bulk over the bulk limit, nor
        # fill the query buffer past its limit.
        self._max_chunk = min(self._python.max_bulk_len, self._python.max_query_buffer)
        self._reader = hiredis.Reader()
        # The requests hiredis read from the last chunk it took (``_chunk``), and those of
        # them not taken yet. While ``_chunk`` is set, its requests are unchecked and the
        # Python parser holds nothing, so that ``reread`` can give it the chunk.
        self._chunk: bytes | None = None
        self._chunk_commands: list = []
        self._ready: list = []
        # The array header that made hiredis read the last chunk whole, and that chunk's
        # length: a chunk of the same length most likely holds as many requests (a client
        # repeating a pipeline), which saves counting them.
        self._last_length = -1
        self._last_header = b""
        self.hiredis_chunks = 0  # chunks hiredis parsed (the others went to Python)
        self.unchecked = False  # whether the last batch handed out is unchecked

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
        if self._ready:
            # A backlog: what arrives now is read after hiredis's requests, by the Python
            # parser, which must hold nothing while they are unchecked: check them first.
            self._check_ready()
            self._python.feed(data)
            return
        self._chunk = None  # every request of the last chunk has run
        # hiredis only while the Python parser is known to hold nothing (between requests),
        # and after AUTH: before it the Python parser applies the tighter limits redis sets.
        if (
            self._python.idle
            and HIREDIS_MIN_CHUNK <= len(data) <= self._max_chunk
            and self._python.authenticated
        ):
            commands = self._whole_requests(data)
            if commands is not None:
                self._ready = self._chunk_commands = commands
                self._chunk = data
                self.hiredis_chunks += 1
                return
        self._python.feed(data)

    def unchecked_commands(self, limit: int) -> list:
        """As protocol.RequestParser.commands, but hiredis's requests come unchecked
        (``unchecked`` set): see the class's docstring. hiredis's come first: the Python
        parser is given bytes only while it holds some already, or when hiredis refused
        them, or behind a backlog (checked then), so whatever it holds arrived after them."""
        ready = self._ready
        if ready:
            self.unchecked = self._chunk is not None
            if len(ready) <= limit:
                self._ready = []
                return ready
            self._ready = ready[limit:]  # a new list: _chunk_commands stays whole
            return ready[:limit]
        self.unchecked = False
        return self._python.commands(limit)

    def commands(self, limit: int) -> list[list[bytes]]:
        """As protocol.RequestParser.commands: every request checked."""
        batch = self.unchecked_commands(limit)
        if self.unchecked:
            for index, argv in enumerate(batch):
                if not is_request(argv):
                    self.reread(argv)
                    return batch[:index] or self._python.commands(limit)
        return batch

    def reread(self, argv) -> None:
        """``argv``, handed out unchecked, is not a plain request: from its request on, the
        chunk is the Python parser's, which reads it as redis does (an inline command, a
        skipped empty request, or a protocol error after the requests before it). Those
        before it have run; the caller runs no more of the batch it was in."""
        self._reread_after(next(i for i, cmd in enumerate(self._chunk_commands) if cmd is argv))

    def _check_ready(self) -> None:
        """Check the requests not taken yet; from the first that is not plain, the chunk is
        the Python parser's, from the first request not taken."""
        for argv in self._ready:
            if not is_request(argv):
                self._reread_after(len(self._chunk_commands) - len(self._ready))
                return
        self._chunk = None  # all checked

    def _reread_after(self, done: int) -> None:
        """The Python parser reads the chunk again, past the ``done`` requests that ran."""
        python = protocol.RequestParser(**self._options)
        python.authenticated = self._python.authenticated
        python.feed(self._chunk)
        while done > 0:  # hiredis read each of them as a plain request, as Python reads it
            taken = python.commands(done)
            if not taken:
                break
            done -= len(taken)
        self._python = python  # it held nothing while the chunk's requests were unchecked
        self._ready = []
        self._chunk = None

    def _whole_requests(self, data: bytes) -> list | None:
        """What hiredis reads in ``data`` if it is nothing but whole multibulk requests,
        unchecked: see is_request."""
        if data[0] != 0x2A:
            return None  # inline (the first byte is not '*')
        # One memchr per byte (``in`` with an int, not a bytes, which would cost a caught
        # TypeError): all seven cost a twentieth of one translate() pass over the chunk.
        for byte in AMBIGUOUS_BYTES:
            if byte in data:
                return None  # maybe a type to leave to Python
        length = len(data)
        if length == self._last_length:
            commands = self._read_as_array(self._last_header, data)
            if commands is not None:
                return commands
        # Read the chunk as one array of every request it would hold if each request after
        # the first starts right after a CRLF: one gets() for the chunk instead of one per
        # request. A payload holding CRLF '*' makes the count too large, so the array is
        # left incomplete; a chunk ending inside a request leaves bytes unread or the array
        # incomplete. Either way hiredis did not read the chunk as whole requests.
        header = b"*%d\r\n" % (data.count(b"\r\n*") + 1)
        commands = self._read_as_array(header, data)
        if commands is not None:
            self._last_length = length
            self._last_header = header
        return commands

    def _read_as_array(self, header: bytes, data: bytes) -> list | None:
        """The items of the array ``header`` announces, if ``data`` is exactly those items.

        Whatever the header's count, an array that completes with no byte left over proves
        the chunk ends between top-level items: the count only decides whether it does."""
        reader = self._reader
        reader.feed(header)
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
        return commands


def is_request(argv) -> bool:
    """Whether hiredis's reading of a request is a plain multibulk request: a non-empty list
    of bytes. Anything else (an integer, error, null, double, boolean or nested array where
    an argument belongs, an empty or null request, a top-level item that is not an array)
    is the Python parser's to read as redis does."""
    if type(argv) is not list or not argv:
        return False
    try:
        # join() takes nothing but bytes-like items, and hiredis gives no bytes-like object
        # other than bytes; it costs a quarter less than collecting the items' types.
        b"".join(argv)
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
