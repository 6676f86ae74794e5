"""CPU lists (``0-3,8``, cpuset(7)) and CPU masks (``ff,00000000``, as /sys prints them).

A profile names CPUs as a list; the kernel takes some files as a list (smp_affinity_list) and
some as a hex mask (rps_cpus, xps_cpus). Both are compared as sets, and written in the form
the kernel prints, so a value written back reads back byte for byte.
"""

from __future__ import annotations

import re

LIST_PART = re.compile(r"(\d+)(?:-(\d+))?")
MASK_GROUP_BITS = 32  # the kernel prints masks in comma-separated groups of 32 bits
MASK_GROUP = re.compile(r"[0-9a-fA-F]{1,8}")


def parse_list(text: str, allow_empty: bool = False) -> frozenset:
    """The CPUs of a CPU list; ValueError saying what is wrong with it."""
    text = str(text).strip()
    if not text:
        if allow_empty:
            return frozenset()
        raise ValueError("the CPU list is empty")
    cpus = set()
    for part in text.split(","):
        match = LIST_PART.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a CPU list such as 0-3,8 ({part!r})")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise ValueError(f"{text!r} has a range that runs backwards ({part!r})")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_list(cpus) -> str:
    """A CPU list as the kernel prints one: runs as ranges, ``0-3,8`` ("" for none)."""
    ordered = sorted(cpus)
    parts = []
    start = previous = None
    for cpu in [*ordered, None]:
        if start is not None and cpu == previous + 1:
            previous = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = cpu
    return ",".join(parts)


def canonical_list(text: str, allow_empty: bool = False) -> str:
    return format_list(parse_list(text, allow_empty))


def parse_mask(text: str) -> frozenset:
    """The CPUs of a hex mask such as ``3`` or ``00000000,00000003``."""
    groups = text.strip().split(",")
    if not all(MASK_GROUP.fullmatch(group) for group in groups):
        raise ValueError(f"{text!r} is not a CPU mask")
    value = 0
    for group in groups:
        value = (value << MASK_GROUP_BITS) | int(group, 16)
    return frozenset(bit for bit in range(value.bit_length()) if value >> bit & 1)


def format_mask(cpus, like: str) -> str:
    """A mask of ``cpus`` in the layout of ``like`` (a mask the kernel printed: its width
    and grouping follow the host's CPU count), so the file reads back the same."""
    value = sum(1 << cpu for cpu in cpus)
    groups = like.strip().split(",")
    digits = [len(group) for group in groups]
    out = []
    for index, width in enumerate(reversed(digits)):
        shift = index * MASK_GROUP_BITS
        part = (value >> shift) & ((1 << MASK_GROUP_BITS) - 1)
        if part >> (4 * width):
            raise ValueError(f"CPUs {format_list(cpus)} do not fit a mask like {like!r}")
        out.append(f"{part:0{width}x}")
    if value >> (len(digits) * MASK_GROUP_BITS):
        raise ValueError(f"CPUs {format_list(cpus)} do not fit a mask like {like!r}")
    return ",".join(reversed(out))
