"""What every implementation does the same way around its I/O loop.

Runs on Python 3.9 (Debian's PyPy).
"""

from __future__ import annotations

import errno
import logging
import platform
import socket
import sys
from dataclasses import dataclass

try:
    import resource
except ImportError:  # pragma: no cover - not on Linux
    resource = None

from servers import __version__

log = logging.getLogger("servers")

LISTEN_BACKLOG = 1024
# Errors a client causes by going away; none is worth more than a debug line.
DISCONNECT_ERRORS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)
RECV_SIZE = 65536


@dataclass(frozen=True)
class Options:
    implementation: str
    variant: str
    bind: str
    port: int
    requirepass: str | None
    max_clients: int
    parser: str  # the request parser in use, as hiredis_parser.describe() names it


def listen(bind: str, port: int) -> socket.socket:
    """A listening TCP socket on exactly ``bind`` (never a wildcard the caller did not ask for)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def tune_connection(sock: socket.socket) -> None:
    """Per accepted connection: no Nagle, or pipelined replies wait for delayed ACKs."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:  # the peer may already be gone
        if exc.errno not in (errno.EINVAL, errno.ECONNRESET):
            raise


def raise_open_files_limit(max_clients: int) -> None:
    """Like redis-server: make room for max_clients sockets plus a few of our own."""
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_clients + 32
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))


def package_versions(packages) -> str:
    from importlib import metadata

    versions = []
    for package in packages:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (version unknown)")
    return ", ".join(versions) if versions else "none"


def announce(options: Options, sock: socket.socket, packages) -> None:
    """The one start line: implementation, interpreter, packages, the address really bound."""
    host, port = sock.getsockname()[:2]
    print(
        f"wirebench-server {__version__}: implementation={options.implementation} "
        f"interpreter={platform.python_implementation()} {platform.python_version()} "
        f"packages=[{package_versions(packages)}] parser=[{options.parser}] "
        f"listening={host}:{port} "
        f"maxclients={options.max_clients} auth={'on' if options.requirepass else 'off'}",
        file=sys.stderr,
        flush=True,
    )
