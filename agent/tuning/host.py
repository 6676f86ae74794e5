"""What a knob works on: a root directory, a way to read and write files under it, and a
runner for commands. The tests give a copy of a captured /proc and /sys tree, a writer that
fails as a read-only file system does, and a runner that records each argv."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

COMMAND_TIMEOUT = 60.0

# Errors that mean the host will not let this knob change (or has no such setting), not that
# the run went wrong: no file, a read-only /proc/sys (a container), a value the kernel refuses
# for this host (EINVAL), a setting fixed by another (EBUSY: intel_pstate's EPP under the
# performance governor), an IRQ whose affinity the kernel manages itself (EIO).
UNAVAILABLE_ERRNOS = {
    errno.ENOENT: "absent",
    errno.ENOTDIR: "absent",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EROFS: "read-only file system",
    errno.EINVAL: "the kernel refused the value",
    errno.EBUSY: "busy: fixed by another setting",
    errno.EIO: "the kernel refused the change",
    errno.EOPNOTSUPP: "not supported",
    errno.ENODEV: "no such device",
    errno.ENXIO: "no such device",
}


class Unavailable(Exception):
    """This host cannot read or change the knob; the message says why."""


class TuningFailure(Exception):
    """A change that should have worked did not (a command failed in an unexpected way)."""


@dataclass(frozen=True)
class Completed:
    """What a command did: its exit status and output."""

    returncode: int
    stdout: str = ""
    stderr: str = ""


def run_command(argv: Sequence[str]) -> Completed:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT
        )
    except FileNotFoundError:
        return Completed(127, "", f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return Completed(124, "", f"{argv[0]}: no answer in {COMMAND_TIMEOUT:.0f}s")
    return Completed(done.returncode, done.stdout, done.stderr)


def sync_folder(folder: str) -> None:
    """Make a rename or unlink in ``folder`` survive a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_file(path: str, text: str) -> None:
    """Write a whole file or nothing (a temporary file, fsync, rename, fsync of the folder),
    making its folder if needed: a crash at any moment leaves the old file or the new one."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    sync_folder(folder)


def read_file(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def write_file(path: str, text: str) -> None:
    """Write ``text`` to an existing file in one write(2): /proc and /sys take a value per
    write, and an absent file is never created (it would only look like a knob)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


@dataclass
class Host:
    root: str = "/"
    run: Callable[[Sequence[str]], Completed] = run_command
    read: Callable[[str], str] = read_file
    write: Callable[[str, str], None] = write_file
    # The Python that runs the agent, for the unit that holds a C-state latency limit.
    python: str = sys.executable

    def path(self, *parts: str) -> str:
        """A path under the root: ``path("proc", "sys", "vm/swappiness")``."""
        return os.path.join(self.root, *(part.strip("/") for part in parts))

    def exists(self, *parts: str) -> bool:
        return os.path.exists(self.path(*parts))

    def read_text(self, *parts: str) -> str:
        """A file's text without its final newline; Unavailable with the reason when it
        cannot be read."""
        path = self.path(*parts)
        try:
            return self.read(path).rstrip("\n")
        except OSError as exc:
            raise Unavailable(describe(exc, self.display(*parts), "read")) from None

    def write_text(self, text: str, *parts: str) -> None:
        """Write a value and its newline, as /proc and /sys print it back."""
        path = self.path(*parts)
        try:
            self.write(path, text + "\n")
        except OSError as exc:
            raise Unavailable(describe(exc, self.display(*parts), "write")) from None

    def put_file(self, text: str, *parts: str) -> None:
        """Create or replace a file of wirebench's own (a drop-in, a note for another step),
        whole or not at all; Unavailable when the host will not let it be written."""
        try:
            replace_file(self.path(*parts), text)
        except OSError as exc:
            raise Unavailable(describe(exc, self.display(*parts), "write")) from None

    def remove_file(self, *parts: str) -> None:
        """Remove a file of wirebench's own (gone already is fine), and its folder when that
        is left empty; Unavailable when the host will not let it be removed."""
        path = self.path(*parts)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise Unavailable(describe(exc, self.display(*parts), "remove")) from None
        folder = os.path.dirname(path)
        sync_folder(folder)
        with contextlib.suppress(OSError):  # not empty: another drop-in is there, keep it
            os.rmdir(folder)

    def display(self, *parts: str) -> str:
        """A path as it is on the host, for messages: without the tests' root."""
        return "/" + os.path.relpath(self.path(*parts), self.root)


def describe(exc: OSError, path: str, action: str) -> str:
    reason = UNAVAILABLE_ERRNOS.get(exc.errno)
    if reason is None:
        raise exc  # not something a host's configuration explains: the caller reports it
    return f"cannot {action} {path}: {reason} ({errno.errorcode.get(exc.errno, exc.errno)})"
