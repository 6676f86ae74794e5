"""Read a run folder's raw files without trusting them.

A run folder holds files fetched from other hosts, and anyone may have put anything there: a
FIFO named stdout.csv (opening it for reading would wait forever), a device, a symbolic link
to /etc/shadow, a file of gigabytes. Only a regular file that really lies inside the folder
given as ``root`` is read, and only up to a size bound; anything else raises RawFileError
naming the file and why.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from collect.shapes import ShapeError, check

# redis-benchmark's whole suite prints a few KB; sample.json and result.json are smaller.
JSON_LIMIT = 1 << 20
TABLE_LIMIT = 4 << 20
# A collected run.json holds every sample: a large run's is some MB.
RUN_JSON_LIMIT = 256 << 20
# stderr and journals can be long; only their end is kept.
TAIL_BYTES = 64 << 10

KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
    stat.S_IFLNK: "a symbolic link",
}


class RawFileError(ValueError):
    """A raw file that cannot be used (the message names it, relative to the cell)."""


class MissingFile(RawFileError):
    """The file is not there at all."""


def name_in(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def kind_of(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: Path, root: Path) -> tuple[int, int]:
    """(file descriptor, size) of a regular file inside ``root``; RawFileError otherwise."""
    name = name_in(path, root)
    real = os.path.realpath(path)
    if os.path.commonpath([real, os.path.realpath(root)]) != os.path.realpath(root):
        raise RawFileError(f"{name} leads out of {Path(root).name}/ (to {real}); not read")
    try:
        # lstat first: a FIFO or a device is refused without being opened at all.
        found = os.lstat(real)
    except FileNotFoundError:
        raise MissingFile(f"{name} is missing") from None
    except OSError as exc:
        raise RawFileError(f"{name} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(found.st_mode):
        raise RawFileError(f"{name} is {kind_of(found.st_mode)}, not a regular file; not read")
    try:
        # O_NONBLOCK and O_NOFOLLOW: if the file was swapped for a FIFO or a link since, the
        # open neither waits nor follows it, and fstat below refuses it.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise RawFileError(f"{name} cannot be read: {exc.strerror}") from None
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
        found.st_dev,
        found.st_ino,
    ):
        os.close(fd)
        raise RawFileError(f"{name} changed while being read; not read")
    return fd, opened.st_size


def read_bytes(path: Path, root: Path, limit: int) -> bytes:
    """The whole file; RawFileError if it is larger than ``limit`` bytes."""
    fd, size = open_regular(path, root)
    try:
        if size > limit:
            raise RawFileError(
                f"{name_in(path, root)} is {size:,} bytes, more than the {limit:,} it may hold"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew after fstat
        raise RawFileError(f"{name_in(path, root)} is more than the {limit:,} bytes it may hold")
    return data


def read_tail(path: Path, root: Path, count: int = TAIL_BYTES) -> str:
    """The file's last ``count`` bytes as text (long logs are cut from the front)."""
    fd, size = open_regular(path, root)
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            handle.seek(max(0, size - count))
            data = handle.read(count)
    finally:
        os.close(fd)
    return data.decode(errors="replace")


def read_text(path: Path, root: Path, limit: int = TABLE_LIMIT) -> str:
    return read_bytes(path, root, limit).decode(errors="replace")


def read_json(path: Path, root: Path, limit: int = JSON_LIMIT):
    """The decoded JSON of a file; RawFileError naming it when it is not JSON."""
    data = read_bytes(path, root, limit)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        # RecursionError: "[[[[..." nested deeper than the decoder goes.
        detail = str(exc) if isinstance(exc, ValueError) else "nested too deep"
        raise RawFileError(f"{name_in(path, root)} is not valid JSON ({detail})") from None


def entries(folder: Path):
    """(name, kind) of each entry of a folder, links not followed: kind is 'dir', 'file',
    'link' or 'other'. Sorted, so every reading of a folder goes the same way."""
    found = []
    with os.scandir(folder) as scan:
        for entry in scan:
            if entry.is_symlink():
                kind = "link"
            elif entry.is_dir(follow_symlinks=False):
                kind = "dir"
            elif entry.is_file(follow_symlinks=False):
                kind = "file"
            else:
                kind = "other"
            found.append((entry.name, kind))
    return sorted(found)


def host_records(root: Path, folder: str, shape, what: str, problems: list[str]):
    """(host, file name, its path in the run, the checked document) of each JSON file in
    ``root/folder/<host>/``, a run's per-host records (network paths, tuning switches). A
    file that is not one, or does not fit ``shape`` (collect.shapes), is named in
    ``problems`` as not ``what`` and left out; nothing here is fatal."""
    base = Path(root) / folder
    if not base.is_dir() or base.is_symlink():
        return
    for host, kind in entries(base):
        if kind != "dir":
            problems.append(f"{folder}/{host}: not a host's folder; not read")
            continue
        for name, inner in entries(base / host):
            file = f"{folder}/{host}/{name}"
            if inner != "file" or not name.endswith(".json"):
                problems.append(f"{file}: not {what}; not read")
                continue
            try:
                document = check(read_json(base / host / name, root), shape)
            except (RawFileError, ShapeError) as exc:
                problems.append(f"{file}: {exc}; not used")
                continue
            yield host, name, file, document
