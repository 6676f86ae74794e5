"""The request parser on its own: chunking, the fast path, inline splitting, limits."""

from __future__ import annotations

import random

import pytest

from servers.protocol import (
    ProtocolError,
    QueryBufferOverflow,
    RequestParser,
    split_inline,
)


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


def parse_in_chunks(data: bytes, cuts: list[int], **parser_options) -> list[list[bytes]]:
    parser = RequestParser(**parser_options)
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


@pytest.mark.parametrize("seed", range(40))
def test_any_chunking_gives_the_same_commands(seed):
    rng = random.Random(seed)
    data, expected = random_stream(rng, 60)
    cuts = sorted(rng.sample(range(1, len(data)), min(25, len(data) - 1)))
    assert parse_in_chunks(data, []) == expected
    assert parse_in_chunks(data, cuts) == expected


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
