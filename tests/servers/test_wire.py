"""Raw bytes in, exact bytes out: every case runs against real redis-server too.

The ``target`` fixture is redis-server first, then each implementation with each parser
(--parser hiredis and python), so an expectation here is redis's own behaviour, not our
guess at it.
"""

from __future__ import annotations

import socket

import pytest

LONG = 70_000  # past redis's 64 KiB inline limit
X4095, X4096 = b"x" * 4095, b"y" * 4096  # either side of the bulk header table's end
WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


def mb(*args: bytes) -> bytes:
    """A request in multibulk form."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


# (id, request, expected reply, connection closed after the reply)
CASES = [
    ("ping", mb(b"PING"), b"+PONG\r\n", False),
    ("ping-message", mb(b"PING", b"hi"), b"$2\r\nhi\r\n", False),
    ("ping-lowercase", mb(b"ping"), b"+PONG\r\n", False),
    (
        "ping-too-many",
        mb(b"PING", b"a", b"b"),
        b"-ERR wrong number of arguments for 'ping' command\r\n",
        False,
    ),
    ("inline-ping", b"PING\r\n", b"+PONG\r\n", False),
    ("inline-bare-lf", b"PING\n", b"+PONG\r\n", False),
    ("inline-blank-lines-skipped", b"\r\n\r\nPING\r\n", b"+PONG\r\n", False),
    ("inline-set-get", b"SET k v\r\nGET k\r\n", b"+OK\r\n$1\r\nv\r\n", False),
    ("inline-quotes", b'SET k "a b\\r\\n\\x41"\r\nGET k\r\n', b"+OK\r\n$6\r\na b\r\nA\r\n", False),
    ("inline-single-quotes", b"SET k 'it\\'s'\r\nGET k\r\n", b"+OK\r\n$4\r\nit's\r\n", False),
    ("echo-binary", mb(b"ECHO", b"\x00\r\n\xff"), b"$4\r\n\x00\r\n\xff\r\n", False),
    ("get-missing", mb(b"GET", b"nope"), b"$-1\r\n", False),
    (
        "set-get-crlf-value",
        mb(b"SET", b"k", b"a\r\nb") + mb(b"GET", b"k"),
        b"+OK\r\n$4\r\na\r\nb\r\n",
        False,
    ),
    ("set-get-empty", mb(b"SET", b"k", b"") + mb(b"GET", b"k"), b"+OK\r\n$0\r\n\r\n", False),
    (
        "set-nx-xx",
        mb(b"SET", b"k", b"1", b"XX")
        + mb(b"SET", b"k", b"1", b"NX")
        + mb(b"SET", b"k", b"2", b"NX")
        + mb(b"GET", b"k"),
        b"$-1\r\n+OK\r\n$-1\r\n$1\r\n1\r\n",
        False,
    ),
    (
        "set-get-option",
        mb(b"SET", b"k", b"1") + mb(b"SET", b"k", b"2", b"GET"),
        b"+OK\r\n$1\r\n1\r\n",
        False,
    ),
    ("set-syntax-error", mb(b"SET", b"k", b"v", b"FOO"), b"-ERR syntax error\r\n", False),
    (
        "set-bad-expire",
        mb(b"SET", b"k", b"v", b"EX", b"0"),
        b"-ERR invalid expire time in 'set' command\r\n",
        False,
    ),
    (
        "set-ex-not-integer",
        mb(b"SET", b"k", b"v", b"EX", b"x"),
        b"-ERR value is not an integer or out of range\r\n",
        False,
    ),
    (
        "set-ex-lives",
        mb(b"SET", b"k", b"v", b"EX", b"100") + mb(b"GET", b"k"),
        b"+OK\r\n$1\r\nv\r\n",
        False,
    ),
    ("get-arity", mb(b"GET"), b"-ERR wrong number of arguments for 'get' command\r\n", False),
    (
        "unknown-command",
        mb(b"FOO", b"bar", b"baz"),
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n",
        False,
    ),
    (
        "unknown-no-args",
        mb(b"FOO"),
        b"-ERR unknown command 'FOO', with args beginning with: \r\n",
        False,
    ),
    (
        "unknown-inline-binary",
        b"\xfe\xff x\r\n",
        b"-ERR unknown command '\xfe\xff', with args beginning with: 'x' \r\n",
        False,
    ),
    (
        "unknown-with-nul",
        mb(b"a\x00b", b"c\r\nd"),
        b"-ERR unknown command 'a', with args beginning with: 'c  d' \r\n",
        False,
    ),
    (
        "wrongtype",
        mb(b"LPUSH", b"l", b"a") + mb(b"GET", b"l"),
        b":1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        False,
    ),
    (
        "incr",
        mb(b"INCR", b"n") + mb(b"INCR", b"n") + mb(b"GET", b"n"),
        b":1\r\n:2\r\n$1\r\n2\r\n",
        False,
    ),
    (
        "incr-not-integer",
        mb(b"SET", b"n", b"1.5") + mb(b"INCR", b"n"),
        b"+OK\r\n-ERR value is not an integer or out of range\r\n",
        False,
    ),
    (
        "incr-spaces",
        mb(b"SET", b"n", b" 1") + mb(b"INCR", b"n"),
        b"+OK\r\n-ERR value is not an integer or out of range\r\n",
        False,
    ),
    (
        "incr-overflow",
        mb(b"SET", b"n", b"9223372036854775807") + mb(b"INCR", b"n"),
        b"+OK\r\n-ERR increment or decrement would overflow\r\n",
        False,
    ),
    (
        "del-exists",
        mb(b"SET", b"a", b"1")
        + mb(b"EXISTS", b"a", b"a", b"b")
        + mb(b"DEL", b"a", b"b")
        + mb(b"EXISTS", b"a"),
        b"+OK\r\n:2\r\n:1\r\n:0\r\n",
        False,
    ),
    (
        "dbsize-flushall",
        mb(b"SET", b"a", b"1") + mb(b"DBSIZE") + mb(b"FLUSHALL") + mb(b"DBSIZE"),
        b"+OK\r\n:1\r\n+OK\r\n:0\r\n",
        False,
    ),
    (
        "flushdb",
        mb(b"SET", b"a", b"1") + mb(b"FLUSHDB") + mb(b"DBSIZE"),
        b"+OK\r\n+OK\r\n:0\r\n",
        False,
    ),
    (
        "select",
        mb(b"SELECT", b"0") + mb(b"SELECT", b"1") + mb(b"SELECT", b"x"),
        b"+OK\r\n-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n",
        False,
    ),
    (
        "config-get",
        mb(b"CONFIG", b"GET", b"save") + mb(b"CONFIG", b"GET", b"appendonly"),
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
        False,
    ),
    (
        "auth-without-password",
        mb(b"AUTH", b"x"),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
        False,
    ),
    (
        "lists",
        mb(b"RPUSH", b"l", b"a", b"b", b"c")
        + mb(b"LPUSH", b"l", b"z")
        + mb(b"LRANGE", b"l", b"0", b"-2")
        + mb(b"LPOP", b"l")
        + mb(b"RPOP", b"l", b"5")
        + mb(b"LPOP", b"l")
        + mb(b"LPOP", b"l", b"2"),
        b":3\r\n:4\r\n*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nz\r\n*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$-1\r\n*-1\r\n",
        False,
    ),
    (
        "lrange-out-of-range",
        mb(b"RPUSH", b"l", b"a")
        + mb(b"LRANGE", b"l", b"5", b"10")
        + mb(b"LRANGE", b"l", b"-100", b"100"),
        b":1\r\n*0\r\n*1\r\n$1\r\na\r\n",
        False,
    ),
    (
        "lpop-negative",
        mb(b"RPUSH", b"l", b"a") + mb(b"LPOP", b"l", b"-1"),
        b":1\r\n-ERR value is out of range, must be positive\r\n",
        False,
    ),
    (
        "hset",
        mb(b"HSET", b"h", b"f", b"1", b"g", b"2")
        + mb(b"HSET", b"h", b"f", b"3")
        + mb(b"HGET", b"h", b"f")
        + mb(b"HSET", b"h", b"f"),
        b":2\r\n:0\r\n$1\r\n3\r\n-ERR wrong number of arguments for 'hset' command\r\n",
        False,
    ),
    (
        "zsets",
        mb(b"ZADD", b"z", b"2", b"b", b"1.5", b"a", b"2", b"c")
        + mb(b"ZADD", b"z", b"x", b"d")
        + mb(b"ZPOPMIN", b"z")
        + mb(b"ZPOPMIN", b"z", b"5")
        + mb(b"ZPOPMIN", b"z"),
        b":3\r\n-ERR value is not a valid float\r\n*2\r\n$1\r\na\r\n$3\r\n1.5\r\n*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n2\r\n*0\r\n",
        False,
    ),
    (
        "mset-mget",
        mb(b"MSET", b"a", b"1", b"b", b"2") + mb(b"MGET", b"a", b"x", b"b") + mb(b"MSET", b"a"),
        b"+OK\r\n*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n-ERR wrong number of arguments for 'mset' command\r\n",
        False,
    ),
    # Every command that writes a string, then GET: a string is kept as its reply, which
    # each write must replace (with and without another key's expiry, which takes GET and
    # SET off the command loop's inline path).
    (
        "set-overwrite-then-get",
        mb(b"SET", b"k", b"a") + mb(b"GET", b"k") + mb(b"SET", b"k", b"bb") + mb(b"GET", b"k"),
        b"+OK\r\n$1\r\na\r\n+OK\r\n$2\r\nbb\r\n",
        False,
    ),
    (
        "set-with-an-expiry-elsewhere-then-get",
        mb(b"SET", b"t", b"x", b"EX", b"100")
        + mb(b"SET", b"k", b"a")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"bb")
        + mb(b"GET", b"k"),
        b"+OK\r\n+OK\r\n$1\r\na\r\n+OK\r\n$2\r\nbb\r\n",
        False,
    ),
    (
        "set-options-then-get",
        mb(b"SET", b"k", b"1")
        + mb(b"SET", b"k", b"2", b"XX")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"3", b"NX")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"4", b"GET")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"5", b"EX", b"100")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"6", b"KEEPTTL")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"77", b"PX", b"100000", b"GET")
        + mb(b"GET", b"k")
        + mb(b"SET", b"m", b"8", b"NX", b"GET")
        + mb(b"GET", b"m"),
        b"+OK\r\n+OK\r\n$1\r\n2\r\n$-1\r\n$1\r\n2\r\n$1\r\n2\r\n$1\r\n4\r\n"
        b"+OK\r\n$1\r\n5\r\n+OK\r\n$1\r\n6\r\n$1\r\n6\r\n$2\r\n77\r\n"
        b"$-1\r\n$1\r\n8\r\n",
        False,
    ),
    (
        "mset-then-get",
        mb(b"SET", b"a", b"1")
        + mb(b"MSET", b"a", b"22", b"b", b"3")
        + mb(b"GET", b"a")
        + mb(b"GET", b"b")
        + mb(b"LPUSH", b"l", b"x")
        + mb(b"MGET", b"a", b"l", b"b", b"none"),
        b"+OK\r\n+OK\r\n$2\r\n22\r\n$1\r\n3\r\n:1\r\n*4\r\n$2\r\n22\r\n$-1\r\n$1\r\n3\r\n$-1\r\n",
        False,
    ),
    (
        "incr-family-then-get",
        mb(b"SET", b"n", b"5")
        + mb(b"INCR", b"n")
        + mb(b"GET", b"n")
        + mb(b"DECR", b"n")
        + mb(b"GET", b"n")
        + mb(b"INCRBY", b"n", b"10")
        + mb(b"GET", b"n")
        + mb(b"DECRBY", b"n", b"20")
        + mb(b"GET", b"n")
        + mb(b"INCR", b"m")
        + mb(b"GET", b"m")
        + mb(b"SET", b"n", b"abc")
        + mb(b"GET", b"n")
        + mb(b"INCR", b"n")
        + mb(b"SET", b"e", b"")
        + mb(b"INCR", b"e"),
        b"+OK\r\n:6\r\n$1\r\n6\r\n:5\r\n$1\r\n5\r\n:15\r\n$2\r\n15\r\n"
        b":-5\r\n$2\r\n-5\r\n:1\r\n$1\r\n1\r\n+OK\r\n$3\r\nabc\r\n"
        b"-ERR value is not an integer or out of range\r\n+OK\r\n"
        b"-ERR value is not an integer or out of range\r\n",
        False,
    ),
    (
        "del-flush-then-get",
        mb(b"SET", b"k", b"v")
        + mb(b"DEL", b"k")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"w")
        + mb(b"FLUSHALL")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"x")
        + mb(b"FLUSHDB")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"y")
        + mb(b"GET", b"k"),
        b"+OK\r\n:1\r\n$-1\r\n+OK\r\n+OK\r\n$-1\r\n+OK\r\n+OK\r\n$-1\r\n+OK\r\n$1\r\ny\r\n",
        False,
    ),
    (
        "another-type-then-string",
        mb(b"SET", b"k", b"v")
        + mb(b"DEL", b"k")
        + mb(b"LPUSH", b"k", b"a")
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", b"v2")
        + mb(b"GET", b"k")
        + mb(b"TYPE", b"k"),
        b"+OK\r\n:1\r\n:1\r\n" + WRONGTYPE + b"+OK\r\n$2\r\nv2\r\n+string\r\n",
        False,
    ),
    (
        "values-around-4096-bytes",
        mb(b"SET", b"k", X4095)
        + mb(b"GET", b"k")
        + mb(b"SET", b"k", X4096)
        + mb(b"GET", b"k")
        + mb(b"MGET", b"k")
        + mb(b"SET", b"k", b"z")
        + mb(b"GET", b"k"),
        b"+OK\r\n$4095\r\n" + X4095 + b"\r\n+OK\r\n$4096\r\n" + X4096 + b"\r\n"
        b"*1\r\n$4096\r\n" + X4096 + b"\r\n+OK\r\n$1\r\nz\r\n",
        False,
    ),
    (
        "values-holding-crlf-star",
        mb(b"SET", b"k", b"a\r\n*1\r\n") + mb(b"GET", b"k") + mb(b"SET", b"j", b"\r\n*") * 3,
        b"+OK\r\n$7\r\na\r\n*1\r\n\r\n+OK\r\n+OK\r\n+OK\r\n",
        False,
    ),
    ("empty-multibulk-skipped", b"*0\r\n*-1\r\n*-5\r\n" + mb(b"PING"), b"+PONG\r\n", False),
    ("quit", mb(b"QUIT") + mb(b"PING"), b"+OK\r\n", True),
    # Malformed requests: the error redis gives, and the connection closed after it.
    ("bad-type-byte", b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n", True),
    (
        "bad-type-byte-after-good",
        mb(b"PING") + b"*1\r\n:1\r\n",
        b"+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n",
        True,
    ),
    (
        "multibulk-not-a-number",
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
        True,
    ),
    (
        "multibulk-too-long",
        b"*99999999999\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
        True,
    ),
    ("multibulk-plus-sign", b"*+1\r\n", b"-ERR Protocol error: invalid multibulk length\r\n", True),
    ("bulk-negative", b"*1\r\n$-3\r\n", b"-ERR Protocol error: invalid bulk length\r\n", True),
    ("bulk-not-a-number", b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n", True),
    (
        "bulk-leading-zero",
        b"*1\r\n$04\r\nPING\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
        True,
    ),
    (
        "bulk-huge",
        b"*1\r\n$999999999999\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
        True,
    ),
    (
        "bulk-over-512mb",
        b"*1\r\n$536870913\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
        True,
    ),
    (
        "errors-in-order",
        mb(b"PING") + mb(b"GET") + b"*x\r\n" + mb(b"PING"),
        b"+PONG\r\n-ERR wrong number of arguments for 'get' command\r\n-ERR Protocol error: invalid multibulk length\r\n",
        True,
    ),
    # What a RESP reply parser (hiredis) reads but redis does not take in a request.
    *(
        (
            f"element-{name}",
            b"*2\r\n$4\r\nECHO\r\n" + item,
            b"-ERR Protocol error: expected '$', got '%c'\r\n" % item[0],
            True,
        )
        for name, item in [
            ("simple-string", b"+hi\r\n"),
            ("verbatim", b"=8\r\ntxt:abcd\r\n"),
            ("big-number", b"(123\r\n"),
            ("integer", b":1\r\n"),
            ("array", b"*1\r\n$1\r\na\r\n"),
            ("error", b"-ERR x\r\n"),
            ("null", b"_\r\n"),
            ("set", b"~1\r\n$1\r\na\r\n"),
        ]
    ),
    (
        "element-null-bulk",
        b"*2\r\n$4\r\nECHO\r\n$-1\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
        True,
    ),
    *(
        (
            f"top-level-{name}",
            item + mb(b"PING"),
            b"".join(
                b"-ERR unknown command '%s', with args beginning with: \r\n" % line
                for line in item.split(b"\r\n")[:-1]
            )
            + b"+PONG\r\n",
            False,
        )
        for name, item in [
            ("set", b"~1\r\n$1\r\na\r\n"),
            ("push", b">1\r\n$1\r\na\r\n"),
            ("map", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ("attribute", b"|1\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ]
    ),
    ("multibulk-line-ends-at-cr", b"*1\rX$4\r\nPING\r\n", b"+PONG\r\n", False),
    ("bulk-line-ends-at-cr", b"*1\r\n$4\rXPING\r\n", b"+PONG\r\n", False),
    (
        "bytes-after-payload-unchecked",
        b"*1\r\n$4\r\nPINGxx" + mb(b"PING"),
        b"+PONG\r\n+PONG\r\n",
        False,
    ),
    (
        "unbalanced-double-quote",
        b'SET k "abc\r\n',
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
        True,
    ),
    (
        "quote-not-followed-by-space",
        b"SET k 'a'b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
        True,
    ),
    # GET and SET without options have a fast path (Session._run): pipelined with the
    # commands that take them off it (a key of another type, a missing key, an expiry, a
    # lowercase name), in one chunk long enough for hiredis and again short.
    (
        "get-set-fast-path-pipeline",
        mb(b"RPUSH", b"list", b"a")
        + mb(b"SET", b"key:000000000001", b"xxx")
        + mb(b"GET", b"key:000000000001")
        + mb(b"GET", b"list")
        + mb(b"GET", b"key:000000000002")
        + mb(b"get", b"key:000000000001")
        + mb(b"SET", b"key:000000000002", b"yy", b"EX", b"100")
        + mb(b"GET", b"key:000000000002")
        + mb(b"SET", b"key:000000000002", b"z")
        + mb(b"GET", b"key:000000000002")
        + mb(b"GET", b"key:000000000001", b"extra"),
        b":1\r\n+OK\r\n$3\r\nxxx\r\n" + WRONGTYPE + b"$-1\r\n$3\r\nxxx\r\n"
        b"+OK\r\n$2\r\nyy\r\n+OK\r\n$1\r\nz\r\n-ERR wrong number of arguments for 'get' command\r\n",
        False,
    ),
    (
        "get-set-fast-path-short",
        mb(b"SET", b"k", b"v") + mb(b"GET", b"k"),
        b"+OK\r\n$1\r\nv\r\n",
        False,
    ),
    ("inline-too-big", b"A" * LONG, b"-ERR Protocol error: too big inline request\r\n", True),
    (
        "mbulk-count-too-big",
        b"*" + b"1" * LONG,
        b"-ERR Protocol error: too big mbulk count string\r\n",
        True,
    ),
    (
        "bulk-count-too-big",
        b"*1\r\n$" + b"1" * LONG,
        b"-ERR Protocol error: too big bulk count string\r\n",
        True,
    ),
]


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes of reply, or fewer if the server closed the connection first."""
    received = b""
    while len(received) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def connection_state(sock: socket.socket) -> str:
    """After the expected reply: "closed" if the server hung up, "open" if it still answers.

    The probe is a PING; an unauthenticated client gets -NOAUTH for it, which is an answer.
    """
    try:
        sock.sendall(b"PING\r\n")
        reply = sock.recv(4096)
    except (BrokenPipeError, ConnectionResetError):
        return "closed"
    if reply == b"":
        return "closed"
    assert reply in (b"+PONG\r\n", b"-NOAUTH Authentication required.\r\n"), reply
    return "open"


def read_reply(sock: socket.socket, size: int) -> tuple[bytes, bool]:
    """Up to ``size`` bytes of reply, and whether the server then closed the connection."""
    reply = read_exactly(sock, size)
    return reply, connection_state(sock) == "closed"


@pytest.mark.parametrize(
    ("request_bytes", "expected", "closes"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_reply_matches_redis(target, request_bytes, expected, closes):
    with target.client() as admin:
        admin.flushall()
    with target.connect() as sock:
        sock.sendall(request_bytes)
        reply, closed = read_reply(sock, len(expected))
    assert reply == expected
    assert closed == closes


def test_spop_returns_members_that_were_added(target):
    with target.connect() as sock:
        sock.sendall(
            mb(b"DEL", b"s")
            + mb(b"SADD", b"s", b"a", b"b")
            + mb(b"SPOP", b"s")
            + mb(b"SPOP", b"s", b"5")
        )
        reply, _ = read_reply(sock, len(b":0\r\n:2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n"))
    assert reply in (
        b":0\r\n:2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n",
        b":0\r\n:2\r\n$1\r\nb\r\n*1\r\n$1\r\na\r\n",
    )


def test_large_value_round_trip(target):
    """A value much larger than one recv() and than the fast path's length table."""
    value = bytes(range(256)) * 4096  # 1 MiB with every byte value, CRLFs included
    with target.connect() as sock:
        sock.sendall(mb(b"SET", b"big", value) + mb(b"GET", b"big"))
        expected = b"+OK\r\n$%d\r\n%s\r\n" % (len(value), value)
        reply, _ = read_reply(sock, len(expected))
    assert reply == expected


def test_request_split_byte_by_byte(target):
    request = mb(b"SET", b"k", b"v") + b"GET k\r\n" + mb(b"GET", b"k")
    with target.connect() as sock:
        for i in range(len(request)):
            sock.sendall(request[i : i + 1])
        reply, _ = read_reply(sock, len(b"+OK\r\n$1\r\nv\r\n$1\r\nv\r\n"))
    assert reply == b"+OK\r\n$1\r\nv\r\n$1\r\nv\r\n"


def test_nul_byte_ends_an_inline_line(server):
    """Where redis stalls (it looks for LF with strchr, which stops at NUL), we end the line
    at the NUL and go on: an inline line with binary garbage cannot wedge a connection."""
    with server.connect() as sock:
        sock.sendall(b"\x00garbage\r\nPI\x00NG\r\nPING\r\n")
        reply, closed = read_reply(
            sock, len(b"-ERR unknown command 'PI', with args beginning with: \r\n+PONG\r\n")
        )
    assert reply == b"-ERR unknown command 'PI', with args beginning with: \r\n+PONG\r\n"
    assert not closed
