"""The reference RESP request parser and the reply encoders every implementation shares.

The parser follows redis-server's own (src/networking.c, processInlineBuffer and
processMultibulkBuffer): the same limits, the same error wording, and the same leniency
(inline commands may end in a bare LF; a multibulk line ends at its first CR and the byte
after it, like the two bytes after a bulk payload, is skipped, not checked). It is pure
Python so that it runs unchanged on every interpreter (PyPy included), and is written for
the hot path: one ``bytes.find`` per line, no regular expressions. servers.hiredis_parser
puts hiredis in front of it where hiredis is installed; this one stays the reference.

Runs on Python 3.9 (Debian's PyPy): no match statements, no ``X | Y`` at runtime.
"""

from __future__ import annotations

# Limits as redis-server 7 sets them (server.h, config.c).
INLINE_MAX_SIZE = 64 * 1024  # PROTO_INLINE_MAX_SIZE
MAX_BULK_LEN = 512 * 1024 * 1024  # proto-max-bulk-len
MAX_MULTIBULK_LEN = 2**31 - 1  # INT_MAX
MAX_QUERY_BUFFER = 1024 * 1024 * 1024  # client-query-buffer-limit
# Before AUTH, redis refuses large requests so that an unauthenticated client cannot make
# it allocate much (networking.c: "unauthenticated multibulk/bulk length").
UNAUTH_MAX_MULTIBULK_LEN = 10
UNAUTH_MAX_BULK_LEN = 16384

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
NULL_BULK = b"$-1\r\n"
NULL_ARRAY = b"*-1\r\n"
EMPTY_ARRAY = b"*0\r\n"
ZERO = b":0\r\n"
ONE = b":1\r\n"

# The fast path looks length lines up here instead of parsing them; a line not found here
# (malformed, or merely large) sends the request to the general path.
_ARRAY_COUNTS = {b"*%d" % n: n for n in range(1, 1024)}
_BULK_LENGTHS = {b"$%d" % n: n for n in range(4096)}
# ... and for the commonest shape compares them with the canonical line by index (faster).
_BULK_HEADERS = tuple(_BULK_LENGTHS)


class ProtocolError(Exception):
    """A request redis-server would reject with ``-ERR Protocol error: ...`` and a close."""

    def reply(self) -> bytes:
        return error("ERR Protocol error: " + str(self))


class QueryBufferOverflow(Exception):
    """The client sent more unparsed bytes than the limit: redis closes without a reply."""


def error(message: str) -> bytes:
    """An error reply; client bytes in the message are carried as latin-1 (byte for byte).

    Like redis's addReplyErrorFormat, CR and LF become spaces so the reply stays one line.
    """
    return b"-" + message.replace("\r", " ").replace("\n", " ").encode("latin-1") + b"\r\n"


# A bulk reply's header looked up by length: two concatenations cost about two thirds of
# one b"$%d\r\n%s\r\n" % (...) formatting, and GET's reply is the hottest thing built.
BULK_REPLY_HEADERS = tuple(b"$%d\r\n" % n for n in range(4096))
CRLF = b"\r\n"


def bulk(value: bytes) -> bytes:
    if len(value) < 4096:
        return BULK_REPLY_HEADERS[len(value)] + value + CRLF
    return b"$%d\r\n%s\r\n" % (len(value), value)


def bulk_or_null(value: bytes | None) -> bytes:
    if value is None:
        return NULL_BULK
    return bulk(value)


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


def simple(value: str) -> bytes:
    return b"+" + value.encode() + b"\r\n"


def array(items) -> bytes:
    """An array of bulk strings (``None`` items become null bulks)."""
    parts = [b"*%d\r\n" % len(items)]
    for item in items:
        if item is None:
            parts.append(NULL_BULK)
        else:
            parts.append(bulk(item))
    return b"".join(parts)


def _parse_length(line: bytes) -> int | None:
    """redis's string2ll: optional '-', digits only, no spaces or '+'; None if not that."""
    if not line or len(line) > 20:
        return None
    digits = line[1:] if line[:1] == b"-" else line
    if not digits.isdigit() or (len(digits) > 1 and digits[:1] == b"0"):
        return None
    return int(line)


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command like redis's sdssplitargs; None on unbalanced quotes.

    Handles "double quotes" with \\n \\r \\t \\b \\a \\\\ \\" and \\xHH escapes,
    'single quotes' with \\' only, and requires a space (or the end) after a closing quote.
    """
    # redis splits a C string: a NUL byte ends the line.
    line = line.split(b"\x00", 1)[0]
    if b'"' not in line and b"'" not in line:
        return line.split()
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACES:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and _is_hex_pair(line, i + 2):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 0x22:
                    if not _ends_argument(line, i + 1):
                        return None
                    in_double = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    current.append(0x27)
                elif c == 0x27:
                    if not _ends_argument(line, i + 1):
                        return None
                    in_single = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _SPACES:  # no NUL here: the line was cut at the first one
                    break
                if c == 0x22:
                    in_double = True
                elif c == 0x27:
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))


# C's isspace(): what separates inline arguments.
_SPACES = b" \n\r\t\v\f"


def _ends_argument(line: bytes, i: int) -> bool:
    """A closing quote must be followed by a space or the end of the line (sdssplitargs)."""
    return i >= len(line) or line[i] in _SPACES


_ESCAPES = {0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _is_hex_pair(line: bytes, i: int) -> bool:
    return line[i] in _HEX and line[i + 1] in _HEX


# The pipeline fast path splits at most this much of the buffer at a time, and scans in all
# at most FAST_PATH_SCAN_RATIO times what the parser has consumed (plus one window): a
# stream the fast path keeps giving up on (inline commands, CRLF in values, large values)
# then goes to the general path instead of being split again and again.
FAST_PATH_WINDOW = 16 * 1024
FAST_PATH_SCAN_RATIO = 2


class RequestParser:
    """Incremental parser: ``feed`` bytes as they arrive, take requests with ``commands``.

    Like redis, it keeps its parse state between reads (the arguments of a multibulk parsed
    so far, the bulk length it waits for), so no byte is parsed twice. Bytes that cannot
    complete a line or a payload yet are kept as received and joined once, when they can;
    consumed bytes are never copied again. ``bytes_copied`` and ``bytes_scanned`` count that
    work, so tests can check that it stays linear in the input.

    ``authenticated`` is read on every request so that the tighter pre-AUTH limits apply
    exactly until the AUTH that lifts them, as in redis.
    """

    __slots__ = (
        "_args",
        "_args_left",
        "_buffer",
        "_bulk_len",
        "_fast_scanned",
        "_fed",
        "_lines_scanned",
        "_parts",
        "_parts_size",
        "_pos",
        "_stalled",
        "_wait_bytes",
        "_wait_separator",
        "authenticated",
        "bytes_copied",
        "idle",
        "max_bulk_len",
        "max_query_buffer",
    )

    def __init__(
        self,
        authenticated: bool = True,
        max_bulk_len: int = MAX_BULK_LEN,
        max_query_buffer: int = MAX_QUERY_BUFFER,
    ) -> None:
        self.authenticated = authenticated
        self.max_bulk_len = max_bulk_len
        self.max_query_buffer = max_query_buffer
        self._buffer = b""  # joined bytes; those before _pos are consumed
        self._pos = 0
        self._parts: list[bytes] = []  # received after _buffer, not joined to it yet
        self._parts_size = 0
        self._fed = 0
        # Inside a multibulk: its arguments so far, how many are left, and the length of
        # the bulk being read (-1: its $ line comes next).
        self._args: list[bytes] | None = None
        self._args_left = 0
        self._bulk_len = -1
        # Waiting for more bytes: parsing goes on once this many are pending, or once a
        # chunk brings this separator (the end of the line being waited for).
        self._stalled = False
        self._wait_bytes = 0
        self._wait_separator: bytes | None = None
        # Known to hold nothing: every byte received is part of a request returned (set
        # when parsing stops between requests, cleared by feed).
        self.idle = True
        self._fast_scanned = 0  # bytes the fast path split
        self._lines_scanned = 0  # bytes searched for a line's end
        self.bytes_copied = 0

    def feed(self, data: bytes) -> None:
        self.idle = False
        self._fed += len(data)
        if self._pos >= len(self._buffer) and not self._parts:
            self._buffer = data  # all consumed (the common case): no copy, no join
            self._pos = 0
            pending = len(data)
        else:
            self._parts.append(data)
            self._parts_size += len(data)
            pending = self.pending
        if pending > self.max_query_buffer:
            raise QueryBufferOverflow(
                f"query buffer of {pending} bytes exceeds {self.max_query_buffer}"
            )
        if self._stalled:
            separator = self._wait_separator
            if separator is not None:
                self._lines_scanned += len(data)
                if separator in data:
                    self._stalled = False
            if pending >= self._wait_bytes:
                self._stalled = False

    @property
    def pending(self) -> int:
        """Bytes received and not yet parsed into a request or an argument."""
        return len(self._buffer) - self._pos + self._parts_size

    @property
    def bytes_scanned(self) -> int:
        """Bytes read in search of a line's end or split by the fast path, in all."""
        return self._lines_scanned + self._fast_scanned

    @property
    def in_request(self) -> bool:
        """Whether anything received is not yet returned as part of a whole request."""
        return self._args is not None or self.pending > 0

    def commands(self, limit: int) -> list[list[bytes]]:
        """Up to ``limit`` complete requests, in order; [] if more bytes are needed.

        Raises ProtocolError only when the very first request is malformed (the state is
        left as it was, so the same error comes again on the next call): the requests
        before a bad one are always answered first, as redis answers them. Empty requests
        (a blank inline line, ``*0``, ``*-1``) are skipped as redis does. Before AUTH it
        returns one request at a time, so that an AUTH lifts the limits for the next.
        """
        if self._stalled:
            return []
        if self._parts:
            self._join()
        found: list[list[bytes]] = []
        if not self.authenticated:
            limit = 1
        elif self._args is None and self._pos < len(self._buffer):
            found = self._fast_batch(limit)
            if found and self._pos >= len(self._buffer):
                self._wait_for_next_request()  # it took everything (the common case)
                return found
        while len(found) < limit:
            if self._args is None and self._pos >= len(self._buffer):
                self._wait_for_next_request()
                break
            if self._args is None and self.authenticated:
                batch = self._fast_batch(limit - len(found))
                if batch:
                    found.extend(batch)
                    continue
            try:
                command = self._next()
            except ProtocolError:
                if found:
                    return found
                raise
            if command is None:
                break
            if command:
                found.append(command)
        else:
            if self._args is None and self._pos >= len(self._buffer):
                self.idle = True  # the limit reached exactly at the end of what it holds
        return found

    # The interface servers.hiredis_parser.HiredisParser adds: this parser's requests are
    # always checked.
    unchecked = False
    unchecked_commands = commands

    def _join(self) -> None:
        """Append the received parts to the unconsumed bytes: one copy, only when useful."""
        parts = self._parts
        if self._pos < len(self._buffer):
            parts.insert(0, memoryview(self._buffer)[self._pos :])
        if len(parts) == 1 and isinstance(parts[0], bytes):
            self._buffer = parts[0]
        else:
            self._buffer = b"".join(parts)
            self.bytes_copied += len(self._buffer)
        self._pos = 0
        self._parts = []
        self._parts_size = 0

    def _wait_for_next_request(self) -> None:
        self._stall(1)
        self.idle = True

    def _stall(self, wait_bytes: int, separator: bytes | None = None) -> None:
        """Wait until ``wait_bytes`` bytes are pending, or ``separator`` arrives."""
        self._stalled = True
        self._wait_bytes = wait_bytes
        self._wait_separator = separator

    def _next(self) -> list[bytes] | None:
        """The next request ([] if it is an empty one), or None if more bytes are needed."""
        if self._args is None:
            if self._pos >= len(self._buffer):
                return self._wait_for_next_request()
            if self._buffer[self._pos] != 0x2A:  # '*'
                return self._inline()
            count = self._multibulk_count()
            if count is None:
                return None
            if count <= 0:
                return []
            self._args = []
            self._args_left = count
            self._bulk_len = -1
        return self._multibulk_args()

    def _line_end(self, separator: bytes, too_big: str) -> int:
        """Where the line at the current position ends (-1: waiting for it), refusing a
        line redis would refuse as too long."""
        buffer, pos = self._buffer, self._pos
        end = buffer.find(separator, pos)
        if end >= 0:
            self._lines_scanned += end - pos
            return end
        self._lines_scanned += len(buffer) - pos
        if len(buffer) - pos > INLINE_MAX_SIZE:
            raise ProtocolError(too_big)
        self._stall(INLINE_MAX_SIZE + 1, separator)
        return -1

    def _inline(self) -> list[bytes] | None:
        end = self._line_end(b"\n", "too big inline request")
        if end < 0:
            return None
        buffer, pos = self._buffer, self._pos
        line = buffer[pos : end - 1] if end > pos and buffer[end - 1] == 0x0D else buffer[pos:end]
        args = split_inline(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        self._pos = end + 1
        return args

    def _multibulk_line_end(self, too_big: str) -> int:
        """redis ends a multibulk line at its first CR and skips the byte after it unchecked
        (networking.c): where that CR is, or -1 while the line or that byte is missing."""
        end = self._line_end(b"\r", too_big)
        if end >= 0 and end + 1 >= len(self._buffer):
            self._stall(end + 2 - self._pos)
            return -1
        return end

    def _multibulk_count(self) -> int | None:
        end = self._multibulk_line_end("too big mbulk count string")
        if end < 0:
            return None
        count = _parse_length(self._buffer[self._pos + 1 : end])
        if count is None or count > MAX_MULTIBULK_LEN:
            raise ProtocolError("invalid multibulk length")
        if not self.authenticated and count > UNAUTH_MAX_MULTIBULK_LEN:
            raise ProtocolError("unauthenticated multibulk length")
        self._pos = end + 2
        return count

    def _multibulk_args(self) -> list[bytes] | None:
        args = self._args
        buffer = self._buffer
        size = len(buffer)
        while self._args_left:
            if self._bulk_len < 0:
                end = self._multibulk_line_end("too big bulk count string")
                if end < 0:
                    return None
                self._bulk_len = self._bulk_length(end)
                self._pos = end + 2
            start = self._pos
            stop = start + self._bulk_len
            if stop + 2 > size:  # redis skips the two bytes after the payload unchecked
                self._stall(stop + 2 - start)
                return None
            args.append(buffer[start:stop])
            self._pos = stop + 2
            self._bulk_len = -1
            self._args_left -= 1
        self._args = None
        return args

    def _bulk_length(self, end: int) -> int:
        pos = self._pos
        if self._buffer[pos] != 0x24:  # '$'
            raise ProtocolError(f"expected '$', got '{self._buffer[pos]:c}'")
        length = _parse_length(self._buffer[pos + 1 : end])
        if length is None or length < 0 or length > self.max_bulk_len:
            raise ProtocolError("invalid bulk length")
        if not self.authenticated and length > UNAUTH_MAX_BULK_LEN:
            raise ProtocolError("unauthenticated bulk length")
        return length

    def _fast_batch(self, limit: int) -> list[list[bytes]]:
        """The fast path for pipelines: up to ``limit`` well-formed multibulk requests at
        the head of the buffer in one pass.

        Splits a window of the buffer on CRLF once (C speed) and accepts a request only if
        every ``$len`` line is exactly the decimal length of the line after it, which is
        what the general path would read too. Anything else (inline, CRLF inside a payload,
        a large, bad or incomplete request) stops the batch and is left to the general path.
        """
        start, buffer = self._pos, self._buffer
        if buffer[start] != 0x2A:  # not a multibulk: inline
            return []
        consumed = self._fed - (len(buffer) - start)  # (no parts: commands() joined them)
        if self._fast_scanned > FAST_PATH_SCAN_RATIO * consumed + FAST_PATH_WINDOW:
            return []  # it gave up too often lately: let the general path catch up
        window = buffer[start : start + FAST_PATH_WINDOW]
        self._fast_scanned += len(window)
        if window is not buffer:
            self.bytes_copied += len(window)
        lines = window.split(b"\r\n")
        complete = len(lines) - 1  # the last piece has no CRLF yet
        commands: list[list[bytes]] = []
        append = commands.append
        array_counts, bulk_lengths, headers = _ARRAY_COUNTS, _BULK_LENGTHS, _BULK_HEADERS
        table_size = len(headers)
        i = 0
        while i < complete:
            count = array_counts.get(lines[i])
            if count is None:
                break
            end = i + 1 + 2 * count
            if end > complete:
                break
            if count == 2:  # GET key, INCR key, ...: the commonest shape, checked unrolled
                name, key = lines[i + 2], lines[i + 4]
                if len(key) >= table_size or len(name) >= table_size:
                    break
                if lines[i + 1] != headers[len(name)] or lines[i + 3] != headers[len(key)]:
                    break
                append([name, key])
            else:
                args = lines[i + 2 : end : 2]
                if [bulk_lengths.get(line) for line in lines[i + 1 : end : 2]] != list(
                    map(len, args)
                ):
                    break
                append(args)
            i = end
            limit -= 1
            if not limit:
                break
        if i == complete:  # everything up to the last CRLF
            self._pos = start + len(window) - len(lines[complete])
        elif commands:
            self._pos = start + sum(map(len, lines[:i])) + 2 * i
        return commands
