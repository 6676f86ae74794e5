"""The one command core: the keyspace and every command, shared by all implementations.

Replies and error texts follow redis-server 7 word for word where a client could tell the
difference (tests/servers compare against a real redis-server). Only database 0 exists.
Runs on Python 3.9 (Debian's PyPy).
"""

from __future__ import annotations

import fnmatch
import heapq
import hmac
import itertools
import os
import platform
import resource
import sys
import time
from collections import deque

from servers import __version__, hiredis_parser, protocol
from servers.hiredis_parser import is_request
from servers.protocol import (
    EMPTY_ARRAY,
    NULL_ARRAY,
    NULL_BULK,
    OK,
    ONE,
    PONG,
    ZERO,
    array,
    bulk,
    bulk_or_null,
    error,
    integer,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

WRONGTYPE = error("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INTEGER = error("ERR value is not an integer or out of range")
NOT_FLOAT = error("ERR value is not a valid float")
SYNTAX = error("ERR syntax error")
NOAUTH = error("NOAUTH Authentication required.")
WRONGPASS = error("WRONGPASS invalid username-password pair or user is disabled.")
NO_PASSWORD_SET = error(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
MAX_CLIENTS = error("ERR max number of clients reached")
NOT_POSITIVE = error("ERR value is out of range, must be positive")
OVERFLOW = error("ERR increment or decrement would overflow")
DB_OUT_OF_RANGE = error("ERR DB index is out of range")


class StringReply(bytes):
    """A string value kept as its bulk reply ($<length>\r\n<bytes>\r\n).

    A write stores a string as the bytes it was given; the first GET to read it stores its
    reply in its place, and every later GET answers with those bytes as they are (a lookup
    and an append: GET is the benchmark's hottest command). The reply replaces the value, so
    it cannot outlive it: any write puts plain bytes back. Writes pay nothing for it.
    """

    __slots__ = ()


# What a string may be in the keyspace: as written, or as its reply once read.
STRING_TYPES = (bytes, StringReply)


def string_reply(value: bytes) -> bytes:
    """The bulk reply of a string value in either form."""
    return value if type(value) is StringReply else bulk(value)


def string_bytes(value: bytes) -> bytes:
    """The bytes a string value holds, in either form."""
    if type(value) is StringReply:
        return value[value.index(b"\n") + 1 : -2]
    return value


class CommandError(Exception):
    """Raised inside a command to answer with an error reply (already encoded)."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(reply)
        self.reply = reply


def wrong_arity(name: str) -> bytes:
    return error(f"ERR wrong number of arguments for '{name}' command")


def unknown_subcommand(subcommand: bytes, command: str) -> bytes:
    return error(
        f"ERR unknown subcommand '{subcommand.decode('latin-1')[:128]}'. "
        f"Try {command.upper()} HELP."
    )


def parse_int(raw: bytes) -> int:
    """redis's strict string2ll: optional '-', digits, no spaces, no '+', within int64."""
    value = protocol._parse_length(raw)
    if value is None or not INT64_MIN <= value <= INT64_MAX:
        raise CommandError(NOT_INTEGER)
    return value


def parse_float(raw: bytes) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise CommandError(NOT_FLOAT) from None
    if value != value or raw != raw.strip():  # NaN, or spaces redis would refuse
        raise CommandError(NOT_FLOAT)
    return value


def format_float(value: float) -> bytes:
    """Shortest round-trip form, integral values without '.0', as redis 7 prints scores."""
    if value == float("inf"):
        return b"inf"
    if value == float("-inf"):
        return b"-inf"
    text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    return text.encode()


class SortedSet:
    """Members with scores; pops in (score, member) order like redis's skiplist.

    A heap with lazy deletion: updating a member pushes a new entry and leaves the old one,
    which a pop recognises as stale because the member's current score differs.
    """

    __slots__ = ("heap", "scores")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.heap: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self.scores)

    def set(self, member: bytes, score: float) -> None:
        self.scores[member] = score
        heapq.heappush(self.heap, (score, member))
        if len(self.heap) > 2 * len(self.scores) + 64:
            self.heap = [(s, m) for m, s in self.scores.items()]
            heapq.heapify(self.heap)

    def pop_min(self) -> tuple[bytes, float]:
        while True:
            score, member = heapq.heappop(self.heap)
            if self.scores.get(member) == score:
                del self.scores[member]
                return member, score


class ServerState:
    """Everything one server process shares across its connections."""

    def __init__(
        self,
        implementation: str,
        password: str | None = None,
        max_clients: int = 10000,
        port: int = 0,
        parser: str = "python",
    ) -> None:
        self.implementation = implementation
        self.parser = parser  # as hiredis_parser.parser_in_use names it
        self.password = password.encode() if password else None
        self.max_clients = max_clients
        self.port = port
        self.data: dict[bytes, object] = {}
        self.expires: dict[bytes, float] = {}  # key -> deadline, Unix time in seconds
        self.connected_clients = 0
        self.total_connections = 0
        self.rejected_connections = 0
        self.total_commands = 0
        self.started = time.time()
        self._next_client_id = itertools.count(1)
        self.config = {
            b"save": b"",
            b"appendonly": b"no",
            b"databases": b"1",
            b"maxclients": str(max_clients).encode(),
            b"port": str(port).encode(),
            b"proto-max-bulk-len": str(protocol.MAX_BULK_LEN).encode(),
            b"client-query-buffer-limit": str(protocol.MAX_QUERY_BUFFER).encode(),
        }

    def new_parser(self, authenticated: bool):
        return hiredis_parser.new_parser(self.parser, authenticated)

    def open_session(self) -> Session | None:
        """A session for a new connection, or None when max clients is reached.

        On None the caller sends MAX_CLIENTS and closes, as redis does.
        """
        self.total_connections += 1
        if self.connected_clients >= self.max_clients:
            self.rejected_connections += 1
            return None
        self.connected_clients += 1
        return Session(self, next(self._next_client_id))

    def close_session(self, session: Session) -> None:
        if not session.closed:
            session.closed = True
            self.connected_clients -= 1

    # The keyspace ---------------------------------------------------------------------
    def lookup(self, key: bytes) -> object:
        if self.expires:
            self._expire_if_due(key)
        return self.data.get(key)

    def _expire_if_due(self, key: bytes) -> None:
        deadline = self.expires.get(key)
        if deadline is not None and deadline <= time.time():
            del self.expires[key]
            self.data.pop(key, None)

    def delete(self, key: bytes) -> bool:
        if self.expires:
            self._expire_if_due(key)
            self.expires.pop(key, None)
        return self.data.pop(key, None) is not None

    def typed(self, key: bytes, kind: type, create: bool = False):
        """The value at key if it is a ``kind``; a new empty one if ``create``; else None."""
        value = self.lookup(key)
        if value is None:
            if not create:
                return None
            value = kind()
            self.data[key] = value
        elif type(value) is not kind:
            raise CommandError(WRONGTYPE)
        return value

    def drop_if_empty(self, key: bytes, value) -> None:
        if not value:
            self.delete(key)


# At most this many commands run for one client before its replies go out and the event
# loop (or the other greenlets, or threads) gets its turn: one client's pipeline of any size
# holds the others for about a millisecond at a time at most.
COMMANDS_PER_BATCH = 500


class Session:
    """One client connection: its parser, its authentication, and command dispatch."""

    __slots__ = (
        "authenticated",
        "backlogged",
        "closed",
        "closing",
        "id",
        "name",
        "parser",
        "state",
    )

    def __init__(self, state: ServerState, client_id: int) -> None:
        self.state = state
        self.id = client_id
        self.name: bytes | None = None
        self.authenticated = state.password is None
        self.parser = state.new_parser(self.authenticated)
        self.closing = False  # reply, then close (QUIT, protocol error)
        self.closed = False
        # The last batch stopped at COMMANDS_PER_BATCH: received commands may be waiting
        # for run_batch(), which the I/O loop calls after giving the others their turn.
        self.backlogged = False

    def handle(self, data: bytes) -> list[bytes]:
        """Take ``data`` in and reply to the first batch of the requests it completes.

        After it returns with ``closing`` set, the caller writes the replies and closes;
        with ``backlogged`` set, it writes them, lets others run, then calls run_batch().
        """
        try:
            self.parser.feed(data)
        except protocol.QueryBufferOverflow:
            self.closing = True  # redis closes such a client without a reply
            return []
        return self.run_batch()

    def run_batch(self) -> list[bytes]:
        """Replies to the next COMMANDS_PER_BATCH complete requests at most, in order."""
        replies: list[bytes] = []
        parser = self.parser
        try:
            while not self.closing and len(replies) < COMMANDS_PER_BATCH:
                commands = parser.unchecked_commands(COMMANDS_PER_BATCH - len(replies))
                if not commands:
                    break
                self._run(commands, replies, parser.unchecked)
                if parser.idle:  # it holds nothing more: no need to ask again
                    break
        except protocol.ProtocolError as exc:
            replies.append(exc.reply())
            self.closing = True
        self.backlogged = len(replies) >= COMMANDS_PER_BATCH and not self.closing
        self.state.total_commands += len(replies)
        return replies

    def _run(self, commands: list, replies: list[bytes], unchecked: bool) -> None:
        """Append the reply to each command in turn; stop after one that closes.

        ``unchecked`` (hiredis's requests, see HiredisParser): each command must be proven a
        plain request (a non-empty list of bytes) before it runs; the first that is not goes
        back to the parser, which reads it again as redis would, and the batch ends there.
        """
        append = replies.append
        state = self.state
        data = state.data
        table = COMMANDS
        string_reply_type = StringReply
        # GET and SET without options are run right here, with no call (the benchmark's
        # hot path), while nothing can make them answer otherwise than cmd_get/cmd_set:
        # once authenticated and while no key has an expiry. Any other command may change
        # either, so ``plain`` is worked out again after each.
        plain = self.authenticated and not state.expires
        for argv in commands:
            try:
                if plain and len(argv) == 2 and argv[0] == b"GET":
                    value = data.get(argv[1])
                    # A string found proves an unchecked request plain, at no cost: only
                    # bytes equal a stored key.
                    if type(value) is string_reply_type:  # read before: its reply as it is
                        append(value)
                        continue
                    if type(value) is bytes:  # as cmd_get, without the call
                        append(first_read(data, argv[1], value))
                        continue
                    # a missing key or another type: cmd_get
            except TypeError:  # len() of a scalar, or an unhashable key: not a request
                self.parser.reread(argv)
                return
            if unchecked and not is_request(argv):
                self.parser.reread(argv)
                return
            if plain and len(argv) == 3 and argv[0] == b"SET":
                data[argv[1]] = argv[2]
                append(OK)
                continue
            # A known command at its exact arity once authenticated: no arity checks. AUTH
            # and HELLO have variable arity, so they (the only commands that change
            # authentication) always go through execute().
            entry = table.get(argv[0])
            if entry is not None and entry[1] == len(argv) and self.authenticated:
                try:
                    append(entry[0](self, argv))
                except CommandError as exc:
                    append(exc.reply)
            else:
                append(self.execute(argv))
                if self.closing:
                    return
            plain = self.authenticated and not state.expires

    def handle_eof(self) -> bytes | None:
        """The client half-closed: an error if it stopped in the middle of a request."""
        if self.parser.in_request:
            return protocol.error("ERR Protocol error: connection closed inside a request")
        return None

    def execute(self, argv: list[bytes]) -> bytes:
        name = argv[0]
        entry = COMMANDS.get(name)
        if entry is None:
            entry = COMMANDS.get(name.upper())
            if entry is None:
                return unknown_command(argv)
        handler, arity, needs_auth = entry
        count = len(argv)
        if (arity >= 0 and count != arity) or count < -arity:
            return wrong_arity(handler.__name__[4:])
        if needs_auth and not self.authenticated:
            return NOAUTH
        try:
            return handler(self, argv)
        except CommandError as exc:
            return exc.reply


def _c_string(value: bytes) -> str:
    """What redis's %s prints of a value: up to the first NUL byte."""
    return value.split(b"\x00", 1)[0].decode("latin-1")


def unknown_command(argv: list[bytes]) -> bytes:
    # redis quotes the arguments, each cut so the whole list stays near 128 characters.
    args = ""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += "'" + _c_string(arg)[: 128 - len(args)] + "' "
    name = _c_string(argv[0])[:128]
    return error(f"ERR unknown command '{name}', with args beginning with: {args}")


# Connection and server commands -----------------------------------------------------------
def cmd_ping(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) == 1:
        return PONG
    if len(argv) == 2:
        return bulk(argv[1])
    return wrong_arity("ping")


def cmd_echo(session: Session, argv: list[bytes]) -> bytes:
    return bulk(argv[1])


def cmd_quit(session: Session, argv: list[bytes]) -> bytes:
    session.closing = True
    return OK


def cmd_auth(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return SYNTAX
    password = session.state.password
    if password is None:
        return NO_PASSWORD_SET
    user_ok = len(argv) == 2 or argv[1] == b"default"
    # compare_digest runs in time independent of where the guess differs.
    if hmac.compare_digest(argv[-1], password) and user_ok:
        session.authenticated = True
        session.parser.authenticated = True
        return OK
    return WRONGPASS


def cmd_hello(session: Session, argv: list[bytes]) -> bytes:
    """HELLO [protover [AUTH user pass] [SETNAME name]]: these servers speak RESP2 only."""
    version = 2
    if len(argv) >= 2:
        try:
            version = parse_int(argv[1])
        except CommandError:
            return error("ERR Protocol version is not an integer or out of range")
        if version not in (2, 3):
            return error("NOPROTO unsupported protocol version")
    options = argv[2:]
    name = None
    while options:
        option = options[0].upper()
        if option == b"AUTH" and len(options) >= 3:
            reply = cmd_auth(session, [b"AUTH", options[1], options[2]])
            if reply != OK:
                return reply
            options = options[3:]
        elif option == b"SETNAME" and len(options) >= 2:
            name = options[1]
            options = options[2:]
        else:
            return error(f"ERR Syntax error in HELLO option '{_c_string(options[0])}'")
    if not session.authenticated:
        return error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
            "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
            "select the RESP protocol version at the same time"
        )
    if version == 3:  # a protocol redis knows, but these servers do not speak
        return error("NOPROTO unsupported protocol version")
    if name is not None:
        session.name = name or None
    fields = [
        (b"server", bulk(b"wirebench")),
        (b"version", bulk(__version__.encode())),
        (b"proto", integer(2)),
        (b"id", integer(session.id)),
        (b"mode", bulk(b"standalone")),
        (b"role", bulk(b"master")),
        (b"modules", EMPTY_ARRAY),
    ]
    return b"*%d\r\n" % (2 * len(fields)) + b"".join(bulk(key) + value for key, value in fields)


def cmd_select(session: Session, argv: list[bytes]) -> bytes:
    if parse_int(argv[1]) != 0:
        return DB_OUT_OF_RANGE
    return OK


def cmd_dbsize(session: Session, argv: list[bytes]) -> bytes:
    state = session.state
    if state.expires:
        for key in list(state.expires):
            state._expire_if_due(key)
    return integer(len(state.data))


def _flush(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        return SYNTAX
    session.state.data.clear()
    session.state.expires.clear()
    return OK


def cmd_flushall(session: Session, argv: list[bytes]) -> bytes:
    return _flush(session, argv)


def cmd_flushdb(session: Session, argv: list[bytes]) -> bytes:
    return _flush(session, argv)


def cmd_command(session: Session, argv: list[bytes]) -> bytes:
    # Clients (redis-cli, redis-benchmark) only use COMMAND to discover optional features;
    # an empty answer makes them fall back to the basics, which is all we offer.
    if len(argv) >= 2 and argv[1].upper() == b"COUNT":
        return integer(len(COMMANDS))
    return EMPTY_ARRAY


def cmd_config(session: Session, argv: list[bytes]) -> bytes:
    subcommand = argv[1].upper()
    if subcommand != b"GET":
        return unknown_subcommand(argv[1], "config")
    if len(argv) < 3:
        return wrong_arity("config|get")
    found: dict[bytes, bytes] = {}
    for pattern in argv[2:]:
        pattern_text = pattern.decode("latin-1").lower()
        for key, value in session.state.config.items():
            if fnmatch.fnmatchcase(key.decode(), pattern_text):
                found[key] = value
    return array([item for pair in found.items() for item in pair])


def cmd_client(session: Session, argv: list[bytes]) -> bytes:
    subcommand = argv[1].upper()
    if subcommand == b"SETNAME" and len(argv) == 3:
        session.name = argv[2] or None
        return OK
    if subcommand == b"GETNAME" and len(argv) == 2:
        return bulk_or_null(session.name)
    if subcommand == b"ID" and len(argv) == 2:
        return integer(session.id)
    if subcommand == b"SETINFO" and len(argv) == 4:
        return OK
    return unknown_subcommand(argv[1], "client")


def cpu_fields() -> list:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return [("used_cpu_sys", f"{usage.ru_stime:.6f}"), ("used_cpu_user", f"{usage.ru_utime:.6f}")]


def cmd_info(session: Session, argv: list[bytes]) -> bytes:
    state = session.state
    sections = {
        "server": [
            ("wirebench_implementation", state.implementation),
            ("python_implementation", platform.python_implementation()),
            ("python_version", platform.python_version()),
            ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
            ("process_id", os.getpid()),
            ("tcp_port", state.port),
            ("uptime_in_seconds", int(time.time() - state.started)),
            ("executable", sys.executable),
        ],
        "clients": [
            ("connected_clients", state.connected_clients),
            ("maxclients", state.max_clients),
        ],
        "stats": [
            ("total_connections_received", state.total_connections),
            ("total_commands_processed", state.total_commands),
            ("rejected_connections", state.rejected_connections),
        ],
        # As redis reports it (getrusage of the whole process, every thread): the load host
        # reads it right before and after a measured run, so the server's CPU seconds cover
        # the measured window only, on any host, with no call to the server host in between.
        "cpu": cpu_fields(),
        "keyspace": (
            [("db0", f"keys={len(state.data)},expires={len(state.expires)},avg_ttl=0")]
            if state.data
            else []
        ),
    }
    wanted = {arg.decode("latin-1").lower() for arg in argv[1:]}
    if not wanted or wanted & {"all", "everything", "default"}:
        wanted = set(sections)
    lines = []
    for section, fields in sections.items():
        if section in wanted:
            lines.append(f"# {section.capitalize()}")
            lines.extend(f"{key}:{value}" for key, value in fields)
            lines.append("")
    return bulk("\r\n".join(lines).encode())


# Strings ---------------------------------------------------------------------------------
def cmd_get(session: Session, argv: list[bytes]) -> bytes:
    state = session.state
    if state.expires:
        state._expire_if_due(argv[1])
    value = state.data.get(argv[1])
    if value is None:
        return NULL_BULK
    if type(value) is bytes:
        return first_read(state.data, argv[1], value)
    if type(value) is not StringReply:
        return WRONGTYPE
    return value


def first_read(data: dict, key: bytes, value: bytes) -> StringReply:
    """A string read for the first time: its reply, kept in its place for the next GET."""
    reply = data[key] = StringReply(bulk(value))
    return reply


def cmd_set(session: Session, argv: list[bytes]) -> bytes:
    state = session.state
    key, value = argv[1], argv[2]
    if len(argv) == 3:  # the benchmark's case: no options
        state.data[key] = value
        if state.expires:
            state.expires.pop(key, None)
        return OK
    condition = None
    return_old = keep_ttl = False
    deadline = None
    options = iter(argv[3:])
    for option in options:
        upper = option.upper()
        if upper in (b"NX", b"XX") and condition is None:
            condition = upper
        elif upper == b"GET" and not return_old:
            return_old = True
        elif upper == b"KEEPTTL" and deadline is None and not keep_ttl:
            keep_ttl = True
        elif upper in (b"EX", b"PX", b"EXAT", b"PXAT") and deadline is None and not keep_ttl:
            raw = next(options, None)
            if raw is None:
                return SYNTAX
            amount = parse_int(raw)
            if amount <= 0:
                return error("ERR invalid expire time in 'set' command")
            seconds = amount / 1000 if upper in (b"PX", b"PXAT") else amount
            deadline = seconds + time.time() if upper in (b"EX", b"PX") else seconds
        else:
            return SYNTAX
    old = state.lookup(key)
    if return_old and old is not None and type(old) not in STRING_TYPES:
        return WRONGTYPE
    old_reply = NULL_BULK if old is None else string_reply(old)
    if (condition == b"NX" and old is not None) or (condition == b"XX" and old is None):
        return old_reply if return_old else NULL_BULK
    state.data[key] = value
    if deadline is not None:
        state.expires[key] = deadline
    elif not keep_ttl:
        state.expires.pop(key, None)
    return old_reply if return_old else OK


def cmd_mset(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) % 2 == 0:
        return wrong_arity("mset")
    state = session.state
    for i in range(1, len(argv), 2):
        state.data[argv[i]] = argv[i + 1]
        if state.expires:
            state.expires.pop(argv[i], None)
    return OK


def cmd_mget(session: Session, argv: list[bytes]) -> bytes:
    state = session.state
    replies = [b"*%d\r\n" % (len(argv) - 1)]
    for key in argv[1:]:
        value = state.lookup(key)
        replies.append(string_reply(value) if type(value) in STRING_TYPES else NULL_BULK)
    return b"".join(replies)


def _increment(session: Session, key: bytes, delta: int) -> bytes:
    state = session.state
    current = state.lookup(key)
    if current is None:
        number = 0
    elif type(current) not in STRING_TYPES:
        return WRONGTYPE
    else:
        number = parse_int(string_bytes(current))
    result = number + delta
    if not INT64_MIN <= result <= INT64_MAX:
        return OVERFLOW
    state.data[key] = b"%d" % result
    return integer(result)


def cmd_incr(session: Session, argv: list[bytes]) -> bytes:
    return _increment(session, argv[1], 1)


def cmd_decr(session: Session, argv: list[bytes]) -> bytes:
    return _increment(session, argv[1], -1)


def cmd_incrby(session: Session, argv: list[bytes]) -> bytes:
    return _increment(session, argv[1], parse_int(argv[2]))


def cmd_decrby(session: Session, argv: list[bytes]) -> bytes:
    delta = parse_int(argv[2])
    if delta == INT64_MIN:
        return error("ERR decrement would overflow")
    return _increment(session, argv[1], -delta)


# Keys ------------------------------------------------------------------------------------
def cmd_del(session: Session, argv: list[bytes]) -> bytes:
    delete = session.state.delete
    return integer(sum(1 for key in argv[1:] if delete(key)))


def cmd_exists(session: Session, argv: list[bytes]) -> bytes:
    lookup = session.state.lookup
    return integer(sum(1 for key in argv[1:] if lookup(key) is not None))


_TYPE_NAMES = {
    bytes: b"string",
    StringReply: b"string",
    deque: b"list",
    set: b"set",
    dict: b"hash",
    SortedSet: b"zset",
}


def cmd_type(session: Session, argv: list[bytes]) -> bytes:
    value = session.state.lookup(argv[1])
    return b"+" + (b"none" if value is None else _TYPE_NAMES[type(value)]) + b"\r\n"


# Lists -----------------------------------------------------------------------------------
def cmd_lpush(session: Session, argv: list[bytes]) -> bytes:
    items = session.state.typed(argv[1], deque, create=True)
    items.extendleft(argv[2:])
    return integer(len(items))


def cmd_rpush(session: Session, argv: list[bytes]) -> bytes:
    items = session.state.typed(argv[1], deque, create=True)
    items.extend(argv[2:])
    return integer(len(items))


def optional_count(argv: list[bytes]) -> int | None:
    """The optional COUNT of LPOP/RPOP/SPOP/ZPOPMIN (argv[2]); None when it is absent."""
    if len(argv) < 3:
        return None
    count = parse_int(argv[2])
    if count < 0:
        raise CommandError(NOT_POSITIVE)
    return count


def popped(pop, count: int | None, size: int) -> bytes:
    """Without a count, one item as a bulk reply; with one, up to count items as an array."""
    if count is None:
        return bulk(pop())
    return array([pop() for _ in range(min(count, size))])


def _pop(session: Session, argv: list[bytes], from_left: bool) -> bytes:
    if len(argv) > 3:
        return wrong_arity("lpop" if from_left else "rpop")
    count = optional_count(argv)
    state = session.state
    items = state.typed(argv[1], deque)
    if items is None:
        return NULL_BULK if count is None else NULL_ARRAY
    reply = popped(items.popleft if from_left else items.pop, count, len(items))
    state.drop_if_empty(argv[1], items)
    return reply


def cmd_lpop(session: Session, argv: list[bytes]) -> bytes:
    return _pop(session, argv, from_left=True)


def cmd_rpop(session: Session, argv: list[bytes]) -> bytes:
    return _pop(session, argv, from_left=False)


def cmd_llen(session: Session, argv: list[bytes]) -> bytes:
    items = session.state.typed(argv[1], deque)
    return integer(len(items) if items else 0)


def cmd_lrange(session: Session, argv: list[bytes]) -> bytes:
    start, stop = parse_int(argv[2]), parse_int(argv[3])
    items = session.state.typed(argv[1], deque)
    if not items:
        return EMPTY_ARRAY
    size = len(items)
    if start < 0:
        start = max(size + start, 0)
    if stop < 0:
        stop += size
    stop = min(stop, size - 1)
    if start > stop:
        return EMPTY_ARRAY
    return array(list(itertools.islice(items, start, stop + 1)))


# Sets ------------------------------------------------------------------------------------
def cmd_sadd(session: Session, argv: list[bytes]) -> bytes:
    members = session.state.typed(argv[1], set, create=True)
    before = len(members)
    members.update(argv[2:])
    return integer(len(members) - before)


def cmd_spop(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return SYNTAX
    count = optional_count(argv)
    state = session.state
    members = state.typed(argv[1], set)
    if members is None:
        return NULL_BULK if count is None else EMPTY_ARRAY
    # set.pop() takes an arbitrary member rather than a uniformly random one: cheap, and
    # no client of a benchmark can rely on the distribution.
    reply = popped(members.pop, count, len(members))
    state.drop_if_empty(argv[1], members)
    return reply


def cmd_scard(session: Session, argv: list[bytes]) -> bytes:
    members = session.state.typed(argv[1], set)
    return integer(len(members) if members else 0)


def cmd_sismember(session: Session, argv: list[bytes]) -> bytes:
    members = session.state.typed(argv[1], set)
    return ONE if members and argv[2] in members else ZERO


def cmd_smembers(session: Session, argv: list[bytes]) -> bytes:
    members = session.state.typed(argv[1], set)
    return array(sorted(members)) if members else EMPTY_ARRAY


# Hashes ----------------------------------------------------------------------------------
def cmd_hset(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) % 2:
        return wrong_arity("hset")
    fields = session.state.typed(argv[1], dict, create=True)
    before = len(fields)
    for i in range(2, len(argv), 2):
        fields[argv[i]] = argv[i + 1]
    return integer(len(fields) - before)


def cmd_hget(session: Session, argv: list[bytes]) -> bytes:
    fields = session.state.typed(argv[1], dict)
    return bulk_or_null(fields.get(argv[2]) if fields else None)


def cmd_hgetall(session: Session, argv: list[bytes]) -> bytes:
    fields = session.state.typed(argv[1], dict)
    if not fields:
        return EMPTY_ARRAY
    return array([item for pair in fields.items() for item in pair])


# Sorted sets -----------------------------------------------------------------------------
def cmd_zadd(session: Session, argv: list[bytes]) -> bytes:
    flags = set()
    i = 2
    while i < len(argv) and argv[i].upper() in (b"NX", b"XX", b"CH", b"GT", b"LT", b"INCR"):
        flags.add(argv[i].upper())
        i += 1
    unsupported = flags & {b"GT", b"LT", b"INCR"}
    if unsupported:
        option = sorted(unsupported)[0].decode()
        return error(f"ERR ZADD {option} is not implemented by wirebench servers")
    pairs = argv[i:]
    if not pairs or len(pairs) % 2:
        return SYNTAX
    if b"NX" in flags and b"XX" in flags:
        return error("ERR XX and NX options at the same time are not compatible")
    scored = [(parse_float(pairs[j]), pairs[j + 1]) for j in range(0, len(pairs), 2)]
    state = session.state
    zset = state.typed(argv[1], SortedSet, create=b"XX" not in flags)
    if zset is None:
        return ZERO
    added = changed = 0
    for score, member in scored:
        current = zset.scores.get(member)
        if current is None:
            if b"XX" in flags:
                continue
            added += 1
        elif b"NX" in flags or current == score:
            continue
        else:
            changed += 1
        zset.set(member, score)
    state.drop_if_empty(argv[1], zset)
    return integer(added + changed if b"CH" in flags else added)


def cmd_zpopmin(session: Session, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return SYNTAX
    count = optional_count(argv)
    count = 1 if count is None else count
    state = session.state
    zset = state.typed(argv[1], SortedSet)
    if zset is None:
        return EMPTY_ARRAY
    reply = []
    for _ in range(min(count, len(zset))):
        member, score = zset.pop_min()
        reply += (member, format_float(score))
    state.drop_if_empty(argv[1], zset)
    return array(reply)


def cmd_zcard(session: Session, argv: list[bytes]) -> bytes:
    zset = session.state.typed(argv[1], SortedSet)
    return integer(len(zset) if zset else 0)


# name -> (handler, arity as redis counts it (negative: at least), needs authentication)
# A handler's name after "cmd_" is the command name redis uses in its error messages.
COMMANDS = {
    name.upper().encode(): (handler, arity, name not in ("auth", "hello", "quit"))
    for name, handler, arity in [
        ("ping", cmd_ping, -1),
        ("echo", cmd_echo, 2),
        ("quit", cmd_quit, -1),
        ("auth", cmd_auth, -2),
        ("hello", cmd_hello, -1),
        ("select", cmd_select, 2),
        ("dbsize", cmd_dbsize, 1),
        ("flushall", cmd_flushall, -1),
        ("flushdb", cmd_flushdb, -1),
        ("command", cmd_command, -1),
        ("config", cmd_config, -2),
        ("client", cmd_client, -2),
        ("info", cmd_info, -1),
        ("get", cmd_get, 2),
        ("set", cmd_set, -3),
        ("mset", cmd_mset, -3),
        ("mget", cmd_mget, -2),
        ("incr", cmd_incr, 2),
        ("decr", cmd_decr, 2),
        ("incrby", cmd_incrby, 3),
        ("decrby", cmd_decrby, 3),
        ("del", cmd_del, -2),
        ("exists", cmd_exists, -2),
        ("type", cmd_type, 2),
        ("lpush", cmd_lpush, -3),
        ("rpush", cmd_rpush, -3),
        ("lpop", cmd_lpop, -2),
        ("rpop", cmd_rpop, -2),
        ("llen", cmd_llen, 2),
        ("lrange", cmd_lrange, 4),
        ("sadd", cmd_sadd, -3),
        ("spop", cmd_spop, -2),
        ("scard", cmd_scard, 2),
        ("sismember", cmd_sismember, 3),
        ("smembers", cmd_smembers, 2),
        ("hset", cmd_hset, -4),
        ("hget", cmd_hget, 3),
        ("hgetall", cmd_hgetall, 2),
        ("zadd", cmd_zadd, -4),
        ("zpopmin", cmd_zpopmin, -2),
        ("zcard", cmd_zcard, 2),
    ]
}
