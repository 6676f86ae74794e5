"""The wheelhouse module: per-requirement downloads, unavailable wheels recorded, manifest reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wheelhouse_download import (
    WheelhouseError,
    fill_target,
    pinned,
    pip_argv,
    requirements_from_pyproject,
    unavailable_reason,
)

ROOT = Path(__file__).resolve().parents[2]
CP311 = {"name": "cpython3.11", "python_version": "3.11", "implementation": "cp", "abi": "cp311"}
PP39 = {
    "name": "pypy3",
    "python_version": "3.9",
    "implementation": "pp",
    "abi": "pypy39_pp73",
    "pins": {"hiredis": "3.2.1"},
}
NO_MATCH = (
    "ERROR: Could not find a version that satisfies the requirement gevent==26.9.0 "
    "(from versions: none)\nERROR: No matching distribution found for gevent==26.9.0\n"
)


class FakePip:
    """Writes a wheel for the requirements it knows, answers like pip for the others."""

    def __init__(self, wheels):
        self.wheels = wheels  # requirement -> wheel file names
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        requirement, dest = argv[-1], Path(argv[argv.index("--dest") + 1])
        if requirement not in self.wheels:
            return 1, "", NO_MATCH.replace("gevent==26.9.0", requirement)
        for name in self.wheels[requirement]:
            (dest / name).write_text("")
        return 0, "".join(f"Saved {dest / name}\n" for name in self.wheels[requirement]), ""


def test_requirements_come_from_the_projects_server_extra():
    requirements = requirements_from_pyproject(ROOT / "pyproject.toml", "server")
    assert {r.split("==")[0] for r in requirements} == {"hiredis", "gevent", "uvloop"}
    with pytest.raises(WheelhouseError, match="no optional dependency group"):
        requirements_from_pyproject(ROOT / "pyproject.toml", "nope")


def test_a_target_pin_replaces_the_projects_pin():
    assert pinned(["hiredis==3.5.0", "gevent==26.9.0"], {"Hiredis": "3.2.1"}) == [
        "hiredis==3.2.1",
        "gevent==26.9.0",
    ]


def test_pip_gets_the_target_interpreter_and_platforms():
    argv = pip_argv(["pip"], CP311, ["manylinux_2_17_x86_64"], "/w", "uvloop==0.23.0")
    assert argv[:3] == ["pip", "download", "--disable-pip-version-check"]
    assert "--only-binary=:all:" in argv
    joined = " ".join(argv)
    assert "--python-version 3.11 --implementation cp --abi cp311 --abi none" in joined
    assert "--platform manylinux_2_17_x86_64 --platform any" in joined
    assert argv[-3:] == ["--dest", "/w", "uvloop==0.23.0"]


def test_missing_wheels_are_recorded_not_fatal(tmp_path):
    pip = FakePip({"hiredis==3.2.1": ["hiredis-3.2.1-pp39-pypy39_pp73-manylinux_2_17_x86_64.whl"]})
    manifest, changed = fill_target(
        pip,
        ["pip"],
        PP39,
        ["hiredis==3.5.0", "gevent==26.9.0", "uvloop==0.23.0"],
        [],
        str(tmp_path),
    )
    assert changed
    records = manifest["requirements"]
    assert records["hiredis==3.2.1"]["status"] == "ok"
    assert records["gevent==26.9.0"]["status"] == "unavailable"
    assert "versions with one: none" in records["uvloop==0.23.0"]["reason"]
    on_disk = json.loads((tmp_path / "pypy3" / "manifest.json").read_text())
    assert on_disk == manifest and on_disk["format"] == "wirebench-wheelhouse/1"


def test_a_complete_wheelhouse_is_not_downloaded_again(tmp_path):
    pip = FakePip({"hiredis==3.5.0": ["hiredis-3.5.0-cp311-cp311-manylinux_2_17_x86_64.whl"]})
    fill_target(pip, ["pip"], CP311, ["hiredis==3.5.0"], [], str(tmp_path))
    calls = len(pip.calls)
    _manifest, changed = fill_target(pip, ["pip"], CP311, ["hiredis==3.5.0"], [], str(tmp_path))
    assert not changed and len(pip.calls) == calls
    # A wheel removed by hand, or a changed request, downloads again.
    next((tmp_path / "cpython3.11").glob("*.whl")).unlink()
    _manifest, changed = fill_target(pip, ["pip"], CP311, ["hiredis==3.5.0"], [], str(tmp_path))
    assert changed


def test_other_pip_errors_fail(tmp_path):
    def broken(_argv):
        return 1, "", "ERROR: HTTP error 503 while getting https://pypi.org/simple/hiredis/\n"

    with pytest.raises(WheelhouseError, match="503"):
        fill_target(broken, ["pip"], CP311, ["hiredis==3.5.0"], [], str(tmp_path))


def test_unavailable_reason_names_the_versions_that_exist():
    stderr = (
        "ERROR: Could not find a version that satisfies the requirement hiredis==3.5.0 "
        "(from versions: 3.2.0, 3.2.1)"
    )
    assert "3.2.0, 3.2.1" in unavailable_reason(stderr)
    assert unavailable_reason("ERROR: connection refused") is None
