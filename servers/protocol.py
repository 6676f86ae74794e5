"""The one RESP request parser and the reply encoders every implementation shares.

The parser follows redis-server's own (src/networking.c, processInlineBuffer and
processMultibulkBuffer): the same limits, the same error wording, and the same leniency
(inline commands may end in a bare LF; the two bytes after a bulk payload are skipped, not
checked). It is pure Python so that it runs unchanged on every interpreter (PyPy included),
and is written for the hot path: one ``bytes.find`` per line, no regular expressions.

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


def bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def bulk_or_null(value: bytes | None) -> bytes:
    if value is None:
        return NULL_BULK
    return b"$%d\r\n%s\r\n" % (len(value), value)


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
            parts.append(b"$%d\r\n%s\r\n" % (len(item), item))
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


def _line_end(buffer: bytes, pos: int, separator: bytes, too_big: str) -> int:
    """Where the line starting at pos ends (-1: not yet), refusing lines redis would refuse."""
    end = buffer.find(separator, pos)
    if end < 0 and len(buffer) - pos > INLINE_MAX_SIZE:
        raise ProtocolError(too_big)
    return end


def _is_hex_pair(line: bytes, i: int) -> bool:
    return line[i] in _HEX and line[i + 1] in _HEX


class RequestParser:
    """Incremental parser: ``feed`` bytes, then call ``next_commands`` until it returns [].

    ``authenticated`` is read on every request so that the tighter pre-AUTH limits apply
    exactly until the AUTH that lifts them, as in redis.
    """

    __slots__ = ("_buffer", "_pos", "authenticated", "max_bulk_len", "max_query_buffer")

    def __init__(
        self,
        authenticated: bool = True,
        max_bulk_len: int = MAX_BULK_LEN,
        max_query_buffer: int = MAX_QUERY_BUFFER,
    ) -> None:
        self._buffer = b""
        self._pos = 0
        self.authenticated = authenticated
        self.max_bulk_len = max_bulk_len
        self.max_query_buffer = max_query_buffer

    def feed(self, data: bytes) -> None:
        if self._pos:
            self._buffer = self._buffer[self._pos :] + data
            self._pos = 0
        elif self._buffer:
            self._buffer += data
        else:
            self._buffer = data
        if len(self._buffer) > self.max_query_buffer:
            raise QueryBufferOverflow(
                f"query buffer of {len(self._buffer)} bytes exceeds {self.max_query_buffer}"
            )

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete request."""
        return len(self._buffer) - self._pos

    def next_commands(self) -> list[list[bytes]]:
        """Complete requests at the head of the buffer, in order; [] if more bytes are needed.

        Returns at least one request when one is complete. Raises ProtocolError only when
        the very first request is malformed, so the requests before a bad one are always
        answered first, as redis answers them. Empty requests (a blank inline line, ``*0``,
        ``*-1``) are skipped as redis does.
        """
        while self._pos < len(self._buffer):
            if self.authenticated:
                commands = self._multibulk_batch()
                if commands:
                    return commands
            buffer, pos = self._buffer, self._pos
            if buffer[pos] == 0x2A:  # '*'
                command = self._multibulk(buffer, pos)
            else:
                command = self._inline(buffer, pos)
            if command is None:
                return []
            if command:
                return [command]
        return []

    def _multibulk_batch(self) -> list[list[bytes]]:
        """The fast path for pipelines: many well-formed multibulk requests in one pass.

        Splits the buffer on CRLF once (C speed) and accepts a request only if every
        ``$len`` line is exactly the decimal length of the line after it, which is what the
        general path would read too. Anything else (inline, CRLF inside a payload, a bad or
        incomplete request) stops the batch and is left to the general path.
        """
        start = self._pos
        if len(self._buffer) - start > self.max_bulk_len:
            return []  # a payload might exceed the limit: let the general path check
        lines = self._buffer[start:].split(b"\r\n")
        complete = len(lines) - 1  # the last piece has no CRLF yet
        commands = []
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
        if commands:
            if i == complete:
                self._pos = len(self._buffer) - len(lines[complete])
            else:
                self._pos = start + sum(map(len, lines[:i])) + 2 * i
        return commands

    def _inline(self, buffer: bytes, pos: int) -> list[bytes] | None:
        end = _line_end(buffer, pos, b"\n", "too big inline request")
        if end < 0:
            return None
        line = buffer[pos : end - 1] if end > pos and buffer[end - 1] == 0x0D else buffer[pos:end]
        args = split_inline(line)
        if args is None:
            raise ProtocolError("unbalanced quotes in request")
        self._pos = end + 1
        return args

    def _multibulk(self, buffer: bytes, pos: int) -> list[bytes] | None:
        end = _line_end(buffer, pos, b"\r\n", "too big mbulk count string")
        if end < 0:
            return None
        count = _parse_length(buffer[pos + 1 : end])
        if count is None or count > MAX_MULTIBULK_LEN:
            raise ProtocolError("invalid multibulk length")
        if not self.authenticated and count > UNAUTH_MAX_MULTIBULK_LEN:
            raise ProtocolError("unauthenticated multibulk length")
        pos = end + 2
        if count <= 0:
            self._pos = pos
            return []
        args = []
        append = args.append
        size = len(buffer)
        bulk_limit = self.max_bulk_len if self.authenticated else UNAUTH_MAX_BULK_LEN
        for _ in range(count):
            if pos >= size:
                return None
            end = _line_end(buffer, pos, b"\r\n", "too big bulk count string")
            if end < 0:
                return None
            if buffer[pos] != 0x24:  # '$'
                raise ProtocolError(f"expected '$', got '{buffer[pos]:c}'")
            length = _parse_length(buffer[pos + 1 : end])
            if length is None or length < 0 or length > self.max_bulk_len:
                raise ProtocolError("invalid bulk length")
            if length > bulk_limit:
                raise ProtocolError("unauthenticated bulk length")
            start = end + 2
            pos = start + length + 2  # redis skips the CRLF after the payload unchecked
            if pos > size:
                return None
            append(buffer[start : start + length])
        self._pos = pos
        return args
