"""Write a report's files so that a failure leaves the previous ones whole.

Every output (run.json, summary.csv, report.md, the plots, compare.md/png) is first written
to a new temporary file in its folder, and only once all of them are written and flushed is
each renamed over its name. A full disk or an unwritable folder therefore changes nothing,
and a rename replaces a symbolic link planted under an output's name instead of writing
through it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputError(OSError):
    """An output could not be written (names the file and why); nothing was replaced."""


def write_all(folder: Path, contents: dict[str, bytes | str]) -> list[Path]:
    """Write every ``name -> content`` into ``folder``, all or none; the paths written."""
    folder = Path(folder)
    staged: list[tuple[str, Path]] = []
    try:
        for name, content in contents.items():
            data = content.encode() if isinstance(content, str) else content
            staged.append((name, stage(folder, name, data)))
        for name, temporary in staged:
            try:
                os.replace(temporary, folder / name)
            except OSError as exc:
                raise OutputError(f"cannot write {folder / name}: {describe(exc)}") from None
    finally:
        for _, temporary in staged:
            temporary.unlink(missing_ok=True)
    return [folder / name for name in contents]


def stage(folder: Path, name: str, data: bytes) -> Path:
    """A new temporary file in ``folder`` holding ``data``, flushed to disk."""
    try:
        # mkstemp creates the file exclusively (O_EXCL): it never opens an existing path.
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {folder / name}: {describe(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from others
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write {folder / name}: {describe(exc)}") from None
    return Path(temporary)


def describe(exc: OSError) -> str:
    return exc.strerror or str(exc)
