"""The instrument against the bare client: pairs of a wirebench cell and its by-hand twin,
their ratio's confidence interval and the verdict, on a real lab run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from collect import __main__ as cli
from collect.instrument import Check, checks, instrument
from collect.rundir import RunDirError, load_run

RUNS = Path(__file__).parent / "runs"


def check_of(ratios):
    bare = [100_000.0] * len(ratios)
    return Check("server1", "get", "GET", [r * b for r, b in zip(ratios, bare)], bare,
                 [0.5] * len(ratios), [0.5] * len(ratios))  # fmt: skip


def test_pairs_that_agree_are_within_the_tolerance():
    check = check_of([0.99, 1.0, 1.01, 0.995, 1.005, 1.0, 0.998, 1.002])
    assert check.verdict(0.03) == "within ±3%"


def test_pairs_that_disagree_are_named():
    check = check_of([0.80, 0.82, 0.81, 0.79, 0.83, 0.80, 0.81, 0.82])
    assert check.verdict(0.03).startswith("DIFFERS")


def test_a_spread_too_wide_to_tell_is_undecided():
    check = check_of([0.90, 1.10, 0.95, 1.05, 0.92, 1.08, 1.0, 0.97])
    assert check.verdict(0.03).startswith("undecided")


def test_too_few_pairs_give_no_interval():
    assert "too few pairs" in check_of([1.0, 1.0, 1.0]).verdict(0.03)


def test_a_real_instrument_run_pairs_each_cell_with_its_twin(tmp_path):
    run_dir = tmp_path / "instrument"
    shutil.copytree(RUNS / "instrument", run_dir)
    found = checks(load_run(run_dir))
    assert {(check.workload, check.test) for check in found} == {("get", "GET"), ("get-p16", "GET")}
    for check in found:
        assert len(check.ratios) == len(check.wirebench) == len(check.by_hand) >= 8
        assert all(rate > 0 for rate in check.wirebench + check.by_hand)
        assert all(p99 and p99 > 0 for p99 in check.wirebench_p99 + check.by_hand_p99)
    text = instrument(run_dir)
    assert (run_dir / "instrument.md").read_text() == text
    assert "| get-p16 | GET |" in text and "ratio (95% CI)" in text


def test_a_run_without_by_hand_twins_is_refused_with_exit_2(tmp_path, capsys):
    shutil.copytree(RUNS / "quick-a", tmp_path / "quick")
    with pytest.raises(RunDirError, match="wirebench_by_hand"):
        instrument(tmp_path / "quick")
    assert cli.main(["instrument", str(tmp_path / "quick")]) == 2
    assert "no pair of redis@native and redis@by-hand" in capsys.readouterr().err
