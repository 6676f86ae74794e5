"""The request parsers on their own: chunking, the fast path, hiredis and what it must leave
to the Python parser, inline splitting, limits, and parsing work linear in the input."""

from __future__ import annotations

import random
from itertools import chain

import pytest

from servers.commands import ServerState
from servers.hiredis_parser import HIREDIS_MIN_CHUNK, HiredisParser
from servers.protocol import (
    ProtocolError,
    QueryBufferOverflow,
    RequestParser,
    split_inline,
)

PARSERS = {"python": RequestParser, "hiredis": HiredisParser}


def multibulk(args: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def random_stream(rng: random.Random, count: int) -> tuple[bytes, list[list[bytes]]]:
    """A mix of everything well-formed: inline, multibulk, CRLF inside payloads, big and
    empty payloads, empty requests; with the commands a parser must find in it."""
    payloads = [b"", b"x", b"a\r\nb", b"\r\n", b"$3\r\n", b"*1\r\n", bytes(range(256)), b"v" * 5000]
    data, expected = [], []
    for _ in range(count):
        kind = rng.randrange(5)
        if kind == 0:
            words = [rng.choice([b"GET", b"PING", b"set"]) for _ in range(rng.randrange(1, 4))]
            data.append(b" ".join(words) + rng.choice([b"\r\n", b"\n"]))
            expected.append(words)
        elif kind == 1:
            data.append(rng.choice([b"*0\r\n", b"*-1\r\n", b"\r\n"]))  # skipped, as redis does
        else:
            args = [rng.choice([b"GET", b"SET", b"MSET"])]
            args += [rng.choice(payloads) for _ in range(rng.randrange(0, 6))]
            data.append(multibulk(args))
            expected.append(args)
    return b"".join(data), expected


def parse_in_chunks(
    data: bytes, cuts: list[int], parser_class=RequestParser, **parser_options
) -> list[list[bytes]]:
    parser = parser_class(**parser_options)
    found = []
    previous = 0
    for cut in [*cuts, len(data)]:
        parser.feed(data[previous:cut])
        previous = cut
        while True:
            commands = parser.commands(1000)
            if not commands:
                break
            found.extend(commands)
    assert not parser.in_request
    return found


@pytest.mark.parametrize("parser_class", PARSERS.values(), ids=PARSERS)
@pytest.mark.parametrize("seed", range(40))
def test_any_chunking_gives_the_same_commands(seed, parser_class):
    rng = random.Random(seed)
    data, expected = random_stream(rng, 60)
    cuts = sorted(rng.sample(range(1, len(data)), min(25, len(data) - 1)))
    assert parse_in_chunks(data, [], parser_class) == expected
    assert parse_in_chunks(data, cuts, parser_class) == expected


def test_fast_and_general_path_agree():
    """Before AUTH the parser takes only the general path, one request per call (the
    stream stays within the pre-AUTH limits): both paths must find the same commands."""
    data, expected = random_stream(random.Random(7), 200)
    general = RequestParser(authenticated=False)
    general.feed(data)
    found = []
    while True:
        commands = general.commands(1000)
        if not commands:
            break
        assert len(commands) == 1
        found.extend(commands)
    assert found == parse_in_chunks(data, []) == expected


def test_commands_before_a_bad_request_come_first():
    parser = RequestParser()
    parser.feed(multibulk([b"PING"]) * 3 + b"*1\r\n+BAD\r\n")
    assert parser.commands(1000) == [[b"PING"]] * 3
    with pytest.raises(ProtocolError, match="expected '\\$', got '\\+'"):
        parser.commands(1000)


def test_query_buffer_limit():
    parser = RequestParser(max_query_buffer=1000)
    parser.feed(b"*2\r\n$3\r\nSET\r\n$2000\r\n" + b"x" * 900)
    with pytest.raises(QueryBufferOverflow):
        parser.feed(b"x" * 200)


@pytest.mark.parametrize(
    ("line", "args"),
    [
        (b"SET a b", [b"SET", b"a", b"b"]),
        (b"  SET   a\tb  ", [b"SET", b"a", b"b"]),
        (b'SET "a b" c', [b"SET", b"a b", b"c"]),
        (b'ECHO "\\x41\\x4a\\n\\"q\\""', [b"ECHO", b'AJ\n"q"']),
        (b'ECHO "\\xZZ"', [b"ECHO", b"xZZ"]),
        (b"ECHO 'it\\'s' 'a\\nb'", [b"ECHO", b"it's", b"a\\nb"]),
        (b'ECHO ""', [b"ECHO", b""]),
        (b"", []),
        (b'ECHO "open', None),
        (b"ECHO 'open", None),
        (b'ECHO "a"b', None),
    ],
)
def test_split_inline_like_sdssplitargs(line, args):
    assert split_inline(line) == args


# hiredis ------------------------------------------------------------------------------------
def outcome(parser_class, chunks: list[bytes]) -> list:
    """Every command a parser finds in ``chunks``, then the protocol error it stops at."""
    parser = parser_class()
    found: list = []
    for chunk in chunks:
        parser.feed(chunk)
        found = drain(parser, found)
        if found and isinstance(found[-1], str):
            break  # the protocol error
    return found


def drain(parser, found: list) -> list:
    """``found``, then what ``parser`` gives now, to the protocol error it stops at."""
    found = list(found)
    try:
        while True:
            commands = parser.commands(1000)
            if not commands:
                break
            found.extend(commands)
    except ProtocolError as exc:
        found.append(f"ProtocolError: {exc}")
    return found


# Long enough for hiredis (HIREDIS_MIN_CHUNK); what it must read, and what follows it.
PLAIN_COMMANDS = [
    [b"SET", b"k", b"v"],
    [b"GET", b"k"],
    [b"INCR", b"n"],
    [b"GET", b"n"],
    [b"DEL", b"k"],
]
PLAIN = b"".join(map(multibulk, PLAIN_COMMANDS))
# What hiredis reads as a reply but redis does not take as a request, each inside an
# array and at the top level: a type byte hiredis knows, in every RESP2 and RESP3 form.
REPLY_TYPES = [
    b"+PING\r\n", b"-ERR x\r\n", b":1\r\n", b"$-1\r\n", b"*1\r\n$1\r\na\r\n", b"*-1\r\n",
    b"_\r\n", b",1.5\r\n", b"#t\r\n", b"(123\r\n", b"=8\r\ntxt:PING\r\n",
    b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b"~1\r\n$1\r\na\r\n", b">1\r\n$1\r\na\r\n",
    b"|1\r\n$1\r\na\r\n$1\r\nb\r\n$4\r\nPING\r\n", b"*0\r\n",
]  # fmt: skip
UNUSUAL = [
    *(b"*2\r\n$4\r\nECHO\r\n" + item for item in REPLY_TYPES),
    *(item + multibulk([b"PING"]) for item in REPLY_TYPES),
    b"PING\r\n",  # inline
    multibulk([b"PING"]) + b"PING\r\n",
    b"*1\rX$4\r\nPING\r\n",  # redis ends a multibulk line at CR and skips the next byte
    b"*1\r\n$4\rXPING\r\n",
    b"*1\r\n$4\r\nPINGxx",  # the two bytes after a payload are not checked
    b"*1\r\n$04\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI",  # ends inside a request
    b"*2\r\n$4\r\nECHO\r\n",
    b"*2\r\n$4\r\nECHO\r\n$3\r\n",
    b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n",  # deeper than hiredis goes
    # hiredis reads a chunk as one array of as many requests as it has CRLF '*': a payload
    # holding one counts a request too many, unchecked bytes before a request one too few,
    # and both together the right number.
    multibulk([b"ECHO", b"a\r\n*1\r\n"]) + multibulk([b"PING"]),
    multibulk([b"ECHO", b"\r\n*"]),
    b"*1\r\n$4\r\nPINGxx" + multibulk([b"PING"]),
    b"*1\r\n$4\r\nPINGxx" + multibulk([b"ECHO", b"\r\n*"]),
]


@pytest.mark.parametrize("data", UNUSUAL, ids=range(len(UNUSUAL)))
def test_hiredis_parser_reads_what_the_python_parser_reads(data):
    """Whole, and cut anywhere: each chunk hiredis takes must read as the reference reads it."""
    assert len(PLAIN) >= HIREDIS_MIN_CHUNK
    for chunks in [[PLAIN, data], [PLAIN + data]] + [
        [PLAIN, PLAIN + data[:cut], data[cut:]] for cut in range(1, len(data))
    ]:
        assert outcome(HiredisParser, chunks) == outcome(RequestParser, chunks)


def test_hiredis_takes_whole_plain_requests_and_leaves_the_rest():
    parser = HiredisParser()
    parser.feed(PLAIN)
    assert parser.commands(1000) == PLAIN_COMMANDS
    assert parser.hiredis_chunks == 1
    parser.feed(PLAIN[:7])  # part of a request: the Python parser's, until it is idle again
    parser.feed(PLAIN[7:] + PLAIN)
    parser.feed(b"PING\r\n")
    assert parser.commands(1000) == PLAIN_COMMANDS * 2 + [[b"PING"]]
    assert parser.hiredis_chunks == 1
    parser.feed(PLAIN)
    assert parser.commands(1000) == PLAIN_COMMANDS
    assert parser.hiredis_chunks == 2
    parser.feed(multibulk([b"GET", b"k"]))  # too small to be worth hiredis's fixed cost
    assert parser.commands(1000) == [[b"GET", b"k"]]
    assert parser.hiredis_chunks == 2


def test_hiredis_only_after_auth():
    """Before AUTH redis refuses more than 10 arguments: hiredis would not."""
    parser = HiredisParser(authenticated=False)
    parser.feed(multibulk([b"AUTH", b"pass"]))
    assert parser.commands(1000) == [[b"AUTH", b"pass"]]
    assert parser.hiredis_chunks == 0
    parser.authenticated = True
    parser.feed(multibulk([b"DEL", *[b"k"] * 20]))
    assert parser.commands(1000) == [[b"DEL", *[b"k"] * 20]]
    assert parser.hiredis_chunks == 1


@pytest.mark.parametrize("parser_class", PARSERS.values(), ids=PARSERS)
def test_commands_come_in_batches_of_the_limit(parser_class):
    parser = parser_class()
    parser.feed(multibulk([b"INCR", b"n"]) * 1200 + b"PING\r\n" * 100)
    batches = []
    while True:
        batch = parser.commands(500)
        if not batch:
            break
        batches.append(batch)
    assert [len(batch) for batch in batches] == [500, 500, 300]
    assert list(chain.from_iterable(batches)) == [[b"INCR", b"n"]] * 1200 + [[b"PING"]] * 100


# Through a session: hiredis's requests run unchecked until one is not plain ---------------------
def session_replies(parser: str, chunks: list[bytes]) -> tuple[bytes, bool, dict]:
    """A session's replies to ``chunks``, fed one by one as a server gets them, whether it
    closed, and the keyspace left."""
    state = ServerState("test", parser=parser)
    session = state.open_session()
    replies = []
    for chunk in chunks:
        if session.closing:
            break
        replies += session.handle(chunk)
        while session.backlogged and not session.closing:
            replies += session.run_batch()
    return b"".join(replies), session.closing, dict(state.data)


SETUP = multibulk([b"SET", b"k", b"v"]) + multibulk([b"GET", b"k"])  # k's reply now stored
# GETs whose keys hold a stored reply (a proof each request is plain), enough for hiredis.
HITS = multibulk([b"GET", b"k"]) * 5
# Where the session runs an unchecked request that is not plain: as an argument of the
# commands it runs without a check (GET, SET) and of one it checks (ECHO), and in a
# chunk that hiredis reads whole only because a top-level item that is no array (hiredis
# takes it as a request: len() of it fails) makes up for a nested array after it.
NOT_PLAIN = [
    *(head + item + tail for head, tail in [
        (b"*2\r\n$3\r\nGET\r\n", b""),
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n", b""),
        (b"*3\r\n$3\r\nSET\r\n", b"$1\r\nw\r\n"),
        (b"*2\r\n$4\r\nECHO\r\n", b""),
    ] for item in REPLY_TYPES),
    *(item + multibulk([b"GET", b"k"]) for item in REPLY_TYPES),
    *(item + b"*2\r\n$4\r\nECHO\r\n*1\r\n$1\r\na\r\n" + multibulk([b"GET", b"k"])
      for item in (b":5\r\n", b"$-1\r\n", b"$3\r\nGET\r\n", b"_\r\n", b"#t\r\n", b",1\r\n")),
    b"*2\r\n$3\r\nGET\r\n*1\r\n$1\r\na\r\n:1\r\n" + multibulk([b"GET", b"k"]),  # unhashable key
]  # fmt: skip


@pytest.mark.parametrize("data", NOT_PLAIN, ids=range(len(NOT_PLAIN)))
def test_a_session_answers_hiredis_requests_as_the_python_parser_does(data):
    """Replies byte for byte, the close, and the keyspace: whole, and cut anywhere (the
    Python parser is the reference, checked against redis-server in test_wire)."""
    assert len(HITS) >= HIREDIS_MIN_CHUNK
    for chunks in [[SETUP, HITS + data]] + [
        [SETUP, HITS + data[:cut], data[cut:]] for cut in range(1, len(data))
    ]:
        assert session_replies("hiredis", chunks) == session_replies("python", chunks)


def test_hiredis_reads_a_chunk_with_a_request_that_is_not_plain():
    """The chunk is hiredis's (the requests before the bad one run unchecked) and the
    Python parser reads it again from the bad one."""
    state = ServerState("test", parser="hiredis")
    session = state.open_session()
    session.handle(SETUP)
    replies = session.handle(HITS + b"*2\r\n$3\r\nGET\r\n:1\r\n" + HITS)
    assert session.parser.hiredis_chunks == 1
    assert replies == [b"$1\r\nv\r\n"] * 5 + [b"-ERR Protocol error: expected '$', got ':'\r\n"]
    assert session.closing


@pytest.mark.parametrize(
    ("bad", "last"),
    [
        (b"*2\r\n$4\r\nECHO\r\n:1\r\n", "ProtocolError: expected '$', got ':'"),
        (b"*0\r\n", [b"PING"]),  # skipped: the Python parser reads on, to what arrived
    ],
)
def test_a_backlog_is_checked_before_the_python_parser_reads_on(bad, last):
    """A chunk of more requests than a batch takes, and more bytes arrive before the rest
    is taken (a threads or gevent server reads on): the rest is checked then, and a bad
    request in it is read by the Python parser, in order with what arrived."""
    for position in (499, 500, 550, 599):
        requests = [multibulk([b"INCR", b"n"])] * 600
        requests.insert(position, bad)
        found = {}
        for parser_class in (HiredisParser, RequestParser):
            parser = parser_class()
            parser.feed(b"".join(requests))
            first = parser.commands(500)
            parser.feed(multibulk([b"PING"]) * 10)
            found[parser_class] = drain(parser, first)
        assert found[HiredisParser] == found[RequestParser]
        assert found[HiredisParser][-1] == last


def test_the_count_guessed_from_the_last_chunk_of_the_same_length():
    """The array header that read the last chunk whole is tried first on a chunk of its
    length: a wrong guess (as many bytes, more requests) costs a second reading, not a
    wrong one."""
    four = multibulk([b"SET", b"key:1", b"x" * 7]) * 4
    five = multibulk([b"GET", b"key:2"]) * 4 + multibulk([b"SET", b"k", b"x" * 25])
    assert len(four) == len(five)
    parser = HiredisParser()
    for chunk, expected in [
        (four, [[b"SET", b"key:1", b"x" * 7]] * 4),
        (four, [[b"SET", b"key:1", b"x" * 7]] * 4),
        (five, [[b"GET", b"key:2"]] * 4 + [[b"SET", b"k", b"x" * 25]]),
        (four, [[b"SET", b"key:1", b"x" * 7]] * 4),
    ]:
        parser.feed(chunk)
        assert parser.commands(1000) == expected
    assert parser.hiredis_chunks == 4
