"""Where the measured processes run: the server under test on its CPUs, redis-benchmark on
a load host's.

server: the CPUAffinity= of both units a server host starts per cell (every Python server
instance, wirebench-server@.service, and native redis, wirebench-redis.service), set by a
runtime drop-in, <root>/run/systemd/system/<unit>.d/50-wirebench-placement.conf, followed by
``systemctl daemon-reload``. A unit takes its affinity when it starts, and the run starts the
server per cell, so a drop-in in place before a cell's start applies to it. Under /run, the
drop-ins go with a reboot, as the tuning they belong to does.
The state: {unit: its drop-in's CPU list, "" without one} (the two can differ only after a
crash between the two writes; restore puts each back).

load: <root>/run/wirebench/tuning/load-cpus holds the CPU list; agent/loadgen.py reads it
before it starts redis-benchmark and pins it there. Absent: not pinned.
The state: the CPU list, or "".
"""

from __future__ import annotations

import re

from . import cpus as cpu_lists
from .host import Host, TuningFailure, Unavailable
from .knobs import Knob

UNIT_FOLDER = "run/systemd/system"  # the runtime unit path; also what sd_booted(3) checks
SERVER_UNITS = ("wirebench-server@.service", "wirebench-redis.service")
DROP_IN = "50-wirebench-placement.conf"
LOAD_CPUS = "run/wirebench/tuning/load-cpus"
# What write() puts in a drop-in; systemd also takes CPUs separated by spaces.
DROP_IN_TEXT = re.compile(r"\[Service\]\nCPUAffinity=([0-9, \-]+)\n")


def drop_in(unit: str) -> str:
    return f"{UNIT_FOLDER}/{unit}.d/{DROP_IN}"


def drop_in_text(cpus: str) -> str:
    return f"[Service]\nCPUAffinity={cpus}\n"


def check_systemd(host: Host) -> None:
    if not host.exists(UNIT_FOLDER):
        raise Unavailable(
            f"systemd is not running here (no {host.display(UNIT_FOLDER)}): "
            "no unit to place the server with"
        )


def read_drop_in(host: Host, unit: str) -> str:
    if not host.exists(drop_in(unit)):
        return ""
    text = host.read_text(drop_in(unit)) + "\n"
    found = DROP_IN_TEXT.fullmatch(text)
    if found is None:
        raise TuningFailure(
            f"{host.display(drop_in(unit))} is not the drop-in wirebench writes "
            f"([Service] and one CPUAffinity= line): {text[:120]!r}; remove it and run again"
        )
    return cpu_lists.canonical_list(found.group(1).replace(" ", ","))


def read_load_cpus(host: Host) -> str:
    if not host.exists(LOAD_CPUS):
        return ""
    text = host.read_text(LOAD_CPUS)
    try:
        return cpu_lists.canonical_list(text)
    except ValueError as exc:
        raise TuningFailure(f"{host.display(LOAD_CPUS)}: {exc}") from None


def read(host: Host, knob: Knob):
    if knob.target == "load":
        return read_load_cpus(host)
    check_systemd(host)
    return {unit: read_drop_in(host, unit) for unit in SERVER_UNITS}


def wanted(knob: Knob, before):
    if knob.target == "load":
        return knob.value
    return {unit: knob.value for unit in SERVER_UNITS}


def write(host: Host, knob: Knob, state, before) -> None:
    if knob.target == "load":
        put_or_remove(host, LOAD_CPUS, state + "\n" if state else "")
        return
    check_systemd(host)
    changed = [unit for unit in SERVER_UNITS if before.get(unit) != state[unit]]
    for unit in changed:
        put_or_remove(host, drop_in(unit), drop_in_text(state[unit]) if state[unit] else "")
    if changed:
        reloaded = host.run(["systemctl", "daemon-reload"])
        if reloaded.returncode != 0:
            raise TuningFailure(f"systemctl daemon-reload: {reloaded.stderr.strip()}")


def put_or_remove(host: Host, path: str, text: str) -> None:
    """The file holds ``text``; "" means no file (the state before the run)."""
    if text:
        host.put_file(text, path)
    else:
        host.remove_file(path)
