"""Transparent hugepages: /sys/kernel/mm/transparent_hugepage/enabled and defrag.

The kernel prints every choice with the one in force in brackets ("always [madvise] never")
and takes the bare word on write.
"""

from __future__ import annotations

import re

from .host import Host, TuningFailure, Unavailable
from .knobs import Knob

THP = "sys/kernel/mm/transparent_hugepage"
CHOSEN = re.compile(r"\[([^\]]+)\]")


def chosen(text: str) -> str:
    match = CHOSEN.search(text)
    if match is None:
        raise TuningFailure(f"no [choice] in {text!r}")
    return match.group(1)


def read(host: Host, knob: Knob) -> str:
    return chosen(host.read_text(THP, knob.target))


def wanted(knob: Knob, before: str) -> str:
    return knob.value


def write(host: Host, knob: Knob, state: str, before: str) -> None:
    offered = host.read_text(THP, knob.target).replace("[", "").replace("]", "").split()
    if state not in offered:
        where = host.display(THP, knob.target)
        raise Unavailable(f"{where} offers {' '.join(offered)}, not {state}")
    host.write_text(state, THP, knob.target)
