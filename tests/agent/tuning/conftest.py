"""The tuning units' test bench: a fresh copy of a captured /proc and /sys tree per test, a
writer that behaves as the kernel's files do where a plain file cannot (and fails as a
read-only or refusing kernel does, when told to), and a runner standing in for systemctl,
systemd-run and ethtool that records every argv.

The stand-ins hold state as the real programs do (a unit started is active until stopped;
ethtool -C changes what -c prints next) and answer from real captured output
(golden/ethtool/), so what the units parse is what ethtool printed on a real machine.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import pytest

from agent.tuning.host import Completed, Host, read_file, write_file

TREES = Path(__file__).resolve().parent.parent / "trees"
ETHTOOL = Path(__file__).resolve().parent / "golden" / "ethtool"
CHOSEN = re.compile(r"\[([^\]]+)\]")


def copy_tree(name: str, destination: Path) -> Path:
    """A writable copy of a committed tree; its one kind of link (a NIC's device) kept as a
    link inside the copy, as the kernel lays it out."""
    target = destination / name
    shutil.copytree(TREES / name, target, symlinks=True)
    return target


def captured(name: str) -> Completed:
    """What ethtool printed and returned in one captured call."""
    return Completed(
        int((ETHTOOL / f"{name}.rc").read_text()),
        (ETHTOOL / f"{name}.stdout").read_text(),
        (ETHTOOL / f"{name}.stderr").read_text(),
    )


class KernelFiles:
    """Reads and writes files as /proc and /sys answer them.

    A file that lists choices with the one in force in brackets ("always [madvise] never")
    takes a bare word and moves the brackets, and refuses a word it does not list (EINVAL),
    as the kernel's transparent_hugepage files do; other files keep what was written. Errors
    can be injected per file: ``fail_writes[path suffix] = errno``.
    """

    def __init__(self, events: list):
        self.fail_writes = {}
        self.fail_reads = {}
        self.events = events  # ("write", path, text), shared with FakeSystem's calls

    def error_for(self, table: dict, path: str):
        for suffix, number in table.items():
            if path.endswith(suffix):
                return OSError(number, os.strerror(number), path)
        return None

    def read(self, path: str) -> str:
        error = self.error_for(self.fail_reads, path)
        if error:
            raise error
        return read_file(path)

    def write(self, path: str, text: str) -> None:
        error = self.error_for(self.fail_writes, path)
        if error:
            raise error
        current = read_file(path) if os.path.isfile(path) else ""
        if CHOSEN.search(current):
            word = text.strip()
            choices = current.replace("[", "").replace("]", "").split()
            if word not in choices:
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)
            text = " ".join(f"[{c}]" if c == word else c for c in choices) + "\n"
        write_file(path, text)
        self.events.append(("write", path, text))

    @property
    def writes(self) -> list:
        return [event[1:] for event in self.events if event[0] == "write"]


class FakeSystem:
    """systemctl, systemd-run and ethtool as far as the units use them, with every argv kept
    in ``calls`` (and in ``events``, in order with the files written)."""

    def __init__(self, events: list):
        self.events = events  # ("run", argv), in order with KernelFiles' writes
        self.active = {}  # unit -> its ExecStart argv while it runs
        self.coalesce = {}  # interface -> ethtool -c text, or the captured call of a NIC without
        self.features = {}  # interface -> ethtool -k text
        self.fail = {}  # (program, first argument) -> Completed, to make a call fail
        self.reloads = 0  # systemctl daemon-reload calls

    def __call__(self, argv) -> Completed:
        argv = list(argv)
        self.events.append(("run", argv))
        injected = self.fail.get(tuple(argv[:2]))
        if injected is not None:
            return injected
        program = argv[0]
        if argv[:2] == ["systemctl", "daemon-reload"]:
            self.reloads += 1
            return Completed(0)
        if program == "systemctl":
            return self.systemctl(argv[1], argv[2], argv[3:])
        if program == "systemd-run":
            unit = next(a.split("=", 1)[1] for a in argv if a.startswith("--unit="))
            start = next(i for i, a in enumerate(argv) if i > 0 and not a.startswith("--"))
            self.active[unit] = argv[start:]  # the program and its arguments, after the options
            return Completed(0)
        if program == "ethtool":
            return self.ethtool(argv[1], argv[2], argv[3:])
        raise AssertionError(f"unexpected command {argv}")

    def systemctl(self, action: str, unit: str, rest: list) -> Completed:
        if action == "is-active":
            return Completed(0 if unit in self.active else 3,
                             "active\n" if unit in self.active else "inactive\n")  # fmt: skip
        if action == "show":
            if unit not in self.active:
                return Completed(0, "ActiveState=inactive\nExecStart=\n")
            argv = " ".join(self.active[unit])
            return Completed(0, f"ActiveState=active\nExecStart={{ path={self.active[unit][0]} ; "
                                f"argv[]={argv} ; ignore_errors=no ; start_time=[n/a] }}\n")  # fmt: skip
        if action == "stop":
            if unit not in self.active:
                return Completed(
                    5, "", f"Failed to stop {unit}.service: Unit {unit}.service not loaded.\n"
                )
            del self.active[unit]
            return Completed(0)
        if action == "start":
            self.active[unit] = [unit]
            return Completed(0)
        raise AssertionError(f"unexpected systemctl {action}")

    def ethtool(self, option: str, interface: str, rest: list) -> Completed:
        if option == "-c":
            found = self.coalesce.get(interface)
            return found if isinstance(found, Completed) else (
                Completed(0, found) if found is not None else captured("nosuch-k"))  # fmt: skip
        if option == "-C":
            setting, value = rest
            found = self.coalesce.get(interface)
            if isinstance(found, Completed) or found is None:
                return captured("veth-C-rx-usecs")
            self.coalesce[interface] = re.sub(rf"(?m)^{setting}: .*$", f"{setting}: {value}", found)
            return Completed(0)
        if option == "-k":
            found = self.features.get(interface)
            return Completed(0, found) if found is not None else captured("nosuch-k")
        if option == "-K":
            feature, value = rest
            text = self.features[interface]
            line = re.search(rf"(?m)^(\s*){re.escape(feature)}: (on|off)( \[fixed\])?$", text)
            if line is None or line.group(3):
                return captured("veth-K-lro-fixed")
            self.features[interface] = text.replace(
                line.group(0), f"{line.group(1)}{feature}: {value}"
            )
            return Completed(0)
        raise AssertionError(f"unexpected ethtool {option}")

    @property
    def calls(self) -> list:
        return [event[1] for event in self.events if event[0] == "run"]


@pytest.fixture
def events():
    return []


@pytest.fixture
def kernel(events):
    return KernelFiles(events)


@pytest.fixture
def system(events):
    return FakeSystem(events)


@pytest.fixture
def vm(tmp_path, kernel, system) -> Host:
    """This Debian 12 VM, as captured (tests/agent/trees/debian12-vm)."""
    return Host(root=str(copy_tree("debian12-vm", tmp_path)), run=system,
                read=kernel.read, write=kernel.write, python="/usr/bin/python3")  # fmt: skip


@pytest.fixture
def intel(tmp_path, kernel, system) -> Host:
    """A bare-metal Intel host laid out by hand (tests/agent/trees/laid-out-intel)."""
    return Host(root=str(copy_tree("laid-out-intel", tmp_path)), run=system,
                read=kernel.read, write=kernel.write, python="/usr/bin/python3")  # fmt: skip


def tree_files(root) -> dict:
    """{relative path: bytes} of every file in a tree but the saved state, to compare a tree
    after a restore with the tree before, byte for byte."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            if relative.startswith("var/lib/wirebench"):
                continue
            found[relative] = Path(path).read_bytes()
    return found
