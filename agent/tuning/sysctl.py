"""Any sysctl, read and written through /proc/sys as sysctl(8) does.

Values are compared after the whitespace is normalised: the kernel prints a vector of numbers
with tabs ("4096\\t131072\\t6291456") and a profile writes spaces. A vector of numbers is
written back with tabs, as the kernel prints it, so a restored file reads back byte for byte;
text values (a qdisc's name, core_pattern) are kept exactly as they are.
"""

from __future__ import annotations

from .host import Host
from .knobs import SWAP_DOTS_AND_SLASHES, Knob

PROC_SYS = "proc/sys"


def path_of(key: str) -> str:
    """net.core.somaxconn -> net/core/somaxconn (net.ipv4.conf.eth0/1.rp_filter -> ...eth0.1...)."""
    return key.translate(SWAP_DOTS_AND_SLASHES)


def is_number(field: str) -> bool:
    return field.lstrip("-").isdigit()


def normalise(value: str) -> str:
    fields = value.split()
    if fields and all(is_number(field) for field in fields):
        return " ".join(fields)
    return value


def written(value: str) -> str:
    fields = value.split()
    if len(fields) > 1 and all(is_number(field) for field in fields):
        return "\t".join(fields)
    return value


def read(host: Host, knob: Knob) -> str:
    return normalise(host.read_text(PROC_SYS, path_of(knob.target)))


def wanted(knob: Knob, before: str) -> str:
    return normalise(knob.value)


def write(host: Host, knob: Knob, state: str, before: str) -> None:
    host.write_text(written(state), PROC_SYS, path_of(knob.target))
