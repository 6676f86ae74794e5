"""The wheelhouse mode end to end: wheels downloaded from PyPI on the controller install with
--no-index into Debian's CPython 3.11 and PyPy 3.9 venvs (what the lab hosts run)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from .labtools import BIN, ROOT, ansible_env

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    dest = tmp_path_factory.mktemp("wheelhouse")
    runs = [
        subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "tests/lab/wheelhouse.yml",
                "-e",
                f"wheelhouse_dir={dest}",
            ],
            cwd=ROOT,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        for _ in range(2)
    ]
    return dest, runs


def manifest(dest, target):
    return json.loads((dest / target / "manifest.json").read_text())["requirements"]


def test_wheelhouse_is_made_once(wheelhouse):
    _dest, (first, second) = wheelhouse
    assert first.returncode == 0, first.stdout[-3000:]
    assert "changed=1" in first.stdout
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]


def test_cpython_has_every_server_package_and_pypy_only_hiredis(wheelhouse):
    dest, _runs = wheelhouse
    assert {entry["status"] for entry in manifest(dest, "cpython3.11").values()} == {"ok"}
    pypy = manifest(dest, "pypy3")
    assert pypy["hiredis==3.2.1"]["status"] == "ok"
    assert pypy["gevent==26.9.0"]["status"] == "unavailable"
    assert pypy["uvloop==0.23.0"]["status"] == "unavailable"


@pytest.mark.parametrize(
    ("interpreter", "target", "modules"),
    [("python3.11", "cpython3.11", "hiredis, gevent, uvloop"), ("pypy3", "pypy3", "hiredis")],
)
def test_wheels_install_without_an_index(wheelhouse, tmp_path, interpreter, target, modules):
    dest, _runs = wheelhouse
    python = shutil.which(interpreter, path="/usr/bin")
    if python is None:
        pytest.skip(f"/usr/bin/{interpreter} is not installed")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    wheels = [w for e in manifest(dest, target).values() for w in e.get("wheels", [])]
    packages = sorted({w.split("-")[0] for w in wheels})
    subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(dest / target),
            *packages,
        ],
        check=True,
        timeout=300,
    )
    subprocess.run([str(venv / "bin/python"), "-c", f"import {modules}"], check=True, timeout=60)
