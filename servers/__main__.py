"""python -m servers --list | --versions
python -m servers --impl NAME --bind ADDR --port PORT [--requirepass SECRET]
    [--parser auto|python|hiredis]

Serves until SIGTERM or SIGINT, then exits 0. Runs on Python 3.9 (Debian's PyPy).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys

from servers import hiredis_parser, registry, runtime
from servers.commands import ServerState

EXIT_USAGE = 2


def parser_problems(impl: registry.Implementation, interpreter: str) -> dict:
    """Each --parser choice that cannot be used for ``impl`` here -> why (as main says it)."""
    problems = {}
    for choice in hiredis_parser.CHOICES:
        try:
            hiredis_parser.choose(
                choice, impl.parser_for(interpreter), registry.HIREDIS_REFUSED.get(interpreter)
            )
        except hiredis_parser.ParserUnavailable as exc:
            problems[choice] = f"--parser {choice}: {exc}"
    return problems


def list_implementations(as_json: bool) -> None:
    interpreter = registry.current_interpreter()
    rows = []
    for impl in registry.IMPLEMENTATIONS.values():
        reason = impl.unsupported_reason(interpreter)
        missing = impl.missing_packages()
        if reason is None and missing:
            reason = f"{sys.executable} cannot import {', '.join(missing)}"
        rows.append(
            {
                "name": impl.name,
                "interpreters": list(impl.interpreters),
                "packages": list(impl.packages),
                "description": impl.description,
                "parsers": dict(impl.parsers),
                # --parser choices that cannot be used here, and why.
                "parser_problems": parser_problems(impl, interpreter),
                "runs_here": reason is None,
                "reason": reason,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['name']}\tinterpreters={','.join(row['interpreters'])}\t{row['description']}")


# Packages whose version changes what a server measures besides the implementations' own
# (registry packages): what gevent pulls in (greenlet), and the request parser the
# implementations use on CPython wherever it is installed (hiredis, servers.hiredis_parser).
RELEVANT_PACKAGES = ("greenlet", "hiredis")


def package_versions() -> dict:
    """The installed version of every package an implementation uses (None: not installed)."""
    from importlib import metadata

    names = sorted(
        {name for impl in registry.IMPLEMENTATIONS.values() for name in impl.packages}
        | set(RELEVANT_PACKAGES)
    )
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def credential(name: str) -> str | None:
    """The path of a systemd credential (LoadCredential=) if the service has it."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory and os.path.exists(os.path.join(directory, name)):
        return os.path.join(directory, name)
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m servers", description="wirebench's Redis-protocol servers"
    )
    parser.add_argument("--list", action="store_true", help="list the implementations and exit")
    parser.add_argument("--json", action="store_true", help="with --list: machine-readable")
    parser.add_argument(
        "--versions",
        action="store_true",
        help="print the versions of the packages the implementations use, as JSON, and exit",
    )
    parser.add_argument("--impl", help="implementation to run (see --list)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6380, help="TCP port (0: pick a free one)")
    parser.add_argument(
        "--requirepass",
        default=os.environ.get("WIREBENCH_REQUIREPASS") or None,
        help="require AUTH with this password (default: $WIREBENCH_REQUIREPASS)",
    )
    parser.add_argument(
        "--requirepass-file",
        default=credential("requirepass"),
        help="read the password from this file; overrides the above (default: the systemd "
        "credential 'requirepass' when the unit loads one)",
    )
    parser.add_argument("--maxclients", type=int, default=10000, help="as redis (10000)")
    parser.add_argument(
        "--parser",
        default=os.environ.get("WIREBENCH_PARSER") or "auto",
        help="the request parser: auto (the registry's for the implementation on this "
        "interpreter, --list --json's parsers), python, or hiredis (an error where hiredis "
        "is not installed or not used); default: $WIREBENCH_PARSER, else auto",
    )
    parser.add_argument("--debug", action="store_true", help="log every disconnect and error")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_implementations(args.json)
        return 0
    if args.versions:
        print(json.dumps(package_versions(), sort_keys=True))
        return 0
    if not args.impl:
        print("python -m servers: --impl NAME is required (or --list)", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        impl = registry.get(args.impl)
    except KeyError as exc:
        print(f"python -m servers: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    reason = impl.unsupported_reason(registry.current_interpreter())
    if reason:
        print(f"python -m servers: {reason}", file=sys.stderr)
        return EXIT_USAGE
    missing = impl.missing_packages()
    if missing:
        print(
            f"python -m servers: implementation {impl.name!r} needs {', '.join(missing)}, "
            f"which {sys.executable} cannot import",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.requirepass_file:
        try:
            with open(args.requirepass_file) as secret:
                args.requirepass = secret.read().strip() or None
        except OSError as exc:
            print(f"python -m servers: cannot read --requirepass-file: {exc}", file=sys.stderr)
            return EXIT_USAGE
    interpreter = registry.current_interpreter()
    try:
        parser, parser_description = hiredis_parser.choose(
            args.parser, impl.parser_for(interpreter), registry.HIREDIS_REFUSED.get(interpreter)
        )
    except hiredis_parser.ParserUnavailable as exc:
        print(f"python -m servers: --parser {args.parser}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = runtime.Options(
        implementation=impl.name,
        variant=impl.variant,
        bind=args.bind,
        port=args.port,
        requirepass=args.requirepass,
        max_clients=args.maxclients,
        parser=parser_description,
    )
    try:
        sock = runtime.listen(options.bind, options.port)
    except OSError as exc:
        print(
            f"python -m servers: cannot listen on {options.bind}:{options.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    runtime.raise_open_files_limit(options.max_clients)
    state = ServerState(
        impl.name,
        password=options.requirepass,
        max_clients=options.max_clients,
        port=sock.getsockname()[1],
        parser=parser,
    )
    module = importlib.import_module(f"servers.{impl.module}")
    runtime.announce(options, sock, impl.packages)
    module.serve(options, sock, state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
