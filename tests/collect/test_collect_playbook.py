"""playbooks/collect.yml (the end of bench.yml) runs the real collect on a real run folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

RUNS = Path(__file__).parent / "runs"
ROOT = Path(__file__).parents[2]


def collect_playbook(run: Path, *extra: str) -> subprocess.CompletedProcess:
    playbook = Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run(
        [str(playbook), "playbooks/collect.yml", *extra, "-e", f"wirebench_collect_dir={run}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_collect_playbook_reports_a_run_and_shows_the_table(tmp_path):
    run = Path(shutil.copytree(RUNS / "crash", tmp_path / "crash"))
    done = collect_playbook(run)
    assert "long-get: GET on server1" in done.stdout
    assert "failed: server_crashed" in done.stdout
    for name in ("run.json", "summary.csv", "report.md", "throughput.png", "latency.png"):
        assert (run / name).exists(), name


def test_collect_playbook_in_check_mode_writes_nothing(tmp_path):
    run = Path(shutil.copytree(RUNS / "crash", tmp_path / "crash"))
    done = collect_playbook(run, "--check")
    assert "check mode: the report was not written" in done.stdout
    assert not (run / "run.json").exists() and not (run / "report.md").exists()


def test_bench_playbook_ends_with_collect():
    text = (ROOT / "bench.yml").read_text()
    imports = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if "import_playbook" in line
    ]
    # The whole order is tests/plugins/test_builtin_lab.py's: here, that collect comes last.
    assert imports[-2:] == ["playbooks/run.yml", "playbooks/collect.yml"]
