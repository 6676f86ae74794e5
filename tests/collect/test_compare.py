"""collect compare on real runs, and the significance test it relies on."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collect import compare
from collect.rundir import RunDirError
from collect.significance import EXACT, NORMAL, mann_whitney, smallest_p_value

RUNS = Path(__file__).parent / "runs"
ROOT = Path(__file__).parents[2]


@pytest.fixture
def runs(tmp_path):
    def copy(*names):
        return [Path(shutil.copytree(RUNS / name, tmp_path / name)) for name in names]

    return copy


def test_exact_p_values_match_the_hand_counted_distribution():
    # 3 vs 3 fully separated: 2 of the C(6,3) = 20 arrangements are as extreme.
    assert mann_whitney([1, 2, 3], [4, 5, 6]).p_value == pytest.approx(0.1)
    # 5 vs 5 fully separated: 2 / C(10,5) = 2/252.
    result = mann_whitney([10, 11, 12, 13, 14], [20, 21, 22, 23, 24])
    assert (result.u, result.method) == (0, EXACT)
    assert result.p_value == pytest.approx(2 / 252)
    # One swap at the boundary (15 > 14): U = 1, P(U <= 1) = 2/252 per side.
    assert mann_whitney([10, 11, 12, 13, 15], [14, 20, 22, 23, 24]).p_value == pytest.approx(
        4 / 252
    )
    # Two pairs out of order: U = 2, P(U <= 2) = (1 + 1 + 2)/252 per side.
    assert mann_whitney([10, 11, 12, 13, 21], [14, 20, 22, 23, 24]).p_value == pytest.approx(
        8 / 252
    )
    # Interleaved: no evidence at all.
    assert mann_whitney([1, 3, 5, 7], [2, 4, 6, 8]).p_value > 0.5
    assert smallest_p_value(3, 3) == pytest.approx(0.1)
    assert smallest_p_value(5, 5) < 0.05


def test_ties_use_the_normal_approximation():
    result = mann_whitney([1, 1, 2, 2, 3], [3, 4, 4, 5, 5])
    assert result.method == NORMAL
    assert 0 < result.p_value < 0.05
    assert mann_whitney([7, 7, 7], [7, 7, 7]).p_value == 1.0
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney([], [1])


def test_p_values_are_symmetric():
    a, b = [5.0, 9.0, 7.0, 6.0], [8.0, 10.0, 11.0, 12.0]
    assert math.isclose(mann_whitney(a, b).p_value, mann_whitney(b, a).p_value)


def test_two_quick_runs_side_by_side(runs, tmp_path):
    first, second = runs("quick-a", "quick-b")
    out = tmp_path / "cmp"
    text = compare.compare([first, second], out)
    markdown = (out / "compare.md").read_text()
    assert (out / "compare.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "Mann–Whitney U" in markdown and "α = 0.05" in markdown
    # quick-a: 37,500 / 30,000 for redis; one repetition each cannot be significant.
    assert (
        "| redis@native get:GET | 30,000 (n=1), 100% of redis | 37,500 (n=1), 100% of redis "
        "| 1.250 | too few repetitions |" in markdown
    )
    # Each median with its paired share of native redis in its own run: one pair gives no
    # interval, and the table says so rather than print one.
    assert (
        "| uvloop@cpython3.11 get:GET | 35,294 (n=1), 118% of redis (no 95% CI: 1 pair) "
        "| 25,862 (n=1), 69% of redis (no 95% CI: 1 pair) |" in markdown
    )
    assert "too few repetitions" in text
    # Same lab, same code, same preset: nothing to warn about.
    assert "- none: same workloads and conditions" in markdown
    # quick-a lost two cells to an earlier resume test: they are named, not dropped silently.
    assert (
        "## Cells in only some runs\n\n- asyncio@cpython3.11 get:GET\n- threads@pypy3 get:GET"
        in markdown
    )


def test_repetitions_make_a_difference_testable(runs, tmp_path):
    adaptive, default = runs("adaptive", "default")
    out = tmp_path / "cmp"
    compare.compare([adaptive, default], out, with_plots=False)
    markdown = (out / "compare.md").read_text()
    # adaptive (-c 10, -n 3000, 1,000 keys) vs default (-c 50, -n 100000): named, not hidden.
    assert "WARNING: workload get: clients differs: 10 (adaptive) vs 50 (default)" in markdown
    assert (
        "WARNING: workload get: keyspace differs: 1000 (adaptive) vs 100000 (default)" in markdown
    )
    assert "WARNING: workload get-p16 is not in adaptive" in markdown
    # 6 vs 5 repetitions of the same cell: testable, and these differ far beyond the noise.
    line = next(x for x in markdown.splitlines() if x.startswith("| redis@native get:GET "))
    assert "(n=6)" in line and "(n=5)" in line and "| yes (p=" in line
    # Six pairs give a share its 95% interval (the 1st and 6th of the six paired shares);
    # five do not.
    line = next(
        x for x in markdown.splitlines() if x.startswith("| asyncio-protocol@cpython3.11 get:GET ")
    )
    assert "89% of redis (CI 78.9–102.4%)" in line and "98% of redis (no 95% CI: 5 pairs)" in line
    assert "## Cells in only some runs" in markdown
    assert "- asyncio@cpython3.11 get-p16:GET" in markdown


def test_different_format_versions_are_refused(runs):
    first, second = runs("quick-a", "quick-b")
    meta = json.loads((second / "run-meta.json").read_text())
    meta["format"] = "wirebench/2"
    (second / "run-meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        RunDirError,
        match="different format versions: quick-a is wirebench/1, quick-b is wirebench/2",
    ):
        compare.compare([first, second])
    # A collected run.json declares the format too, and it is what counts.
    (first / "run.json").write_text('{"format": "wirebench/0"}')
    with pytest.raises(RunDirError, match="quick-a is wirebench/0"):
        compare.compare([first, second])


def test_command_line_compare_and_its_errors(runs, tmp_path):
    first, second = runs("quick-a", "quick-b")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "collect",
            "compare",
            str(first),
            str(second),
            "--out",
            str(tmp_path / "c"),
            "--no-plots",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "compare quick-a vs quick-b" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "collect", "compare", str(first)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2 and "at least two run folders" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "collect", "compare", str(first), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2 and "not a wirebench run folder" in done.stderr


def test_compare_warns_when_the_server_parser_differs(tmp_path):
    """wirebench_server_parser=python against the default (auto): the same cells, another
    parser in every Python server; a run from before the setting reads as auto."""
    auto = Path(shutil.copytree(RUNS / "default10", tmp_path / "auto"))
    python = Path(shutil.copytree(RUNS / "default10", tmp_path / "python"))
    meta_path = python / "run-meta.json"
    meta = json.loads(meta_path.read_text())
    assert "server_parser" not in meta["matrix"]
    meta["matrix"]["server_parser"] = "python"
    meta_path.write_text(json.dumps(meta))
    text = compare.compare([auto, python], tmp_path / "out", with_plots=False)
    assert "WARNING: server parser differs: 'auto' (auto) vs 'python' (python)" in text
    text = compare.compare([auto, auto], tmp_path / "same", with_plots=False)
    assert "server parser" not in text
