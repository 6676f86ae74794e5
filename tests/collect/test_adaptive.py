"""Adaptive repetitions on the committed lab runs: a cell stops once the interval the report
gives it is within target, native redis goes on while a cell it is paired with needs it,
and a stopped cell stays stopped."""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import pytest

from collect import adaptive
from collect.model import Cell
from collect.rundir import load_run
from collect.stats import median_confidence_interval
from tests.collect.pairs_by_hand import interpolated_shares

RUNS = Path(__file__).parent / "runs"
SHARE = {"target": 0.03, "min_repetitions": 6, "interval": "share"}


def raw_up_to(run: str, repetitions: int, dest: Path) -> Path:
    """A copy of the run's raw folder holding only its first ``repetitions`` rounds."""
    raw = dest / "raw"
    raw.mkdir()
    for folder in (RUNS / run / "raw").iterdir():
        if Cell.from_dir(folder.name).repetition <= repetitions:
            shutil.copytree(folder, raw / folder.name)
    return raw


def width_by_hand(run: str, implementation: str, interpreter: str, workload: str) -> float:
    """The relative half-width of the cell's share interval, its shares paired by numpy."""
    document = {"samples": [s.to_json() for s in load_run(RUNS / run).samples]}
    shares = interpolated_shares(document, implementation, interpreter, workload)
    low, high = median_confidence_interval(shares)
    middle = statistics.median(shares)
    return max(middle - low, high - middle) / middle


def at(cell: str, repetition: int) -> Cell:
    return Cell.from_id(cell).with_repetition(repetition)


@pytest.mark.parametrize("cell", ["asyncio-protocol@cpython3.11/get-p16#1",
                                  "uvloop@cpython3.11/get#1"])  # fmt: skip
def test_a_cell_stops_once_its_share_interval_is_within_target(tmp_path, cell):
    raw = raw_up_to("default10", 10, tmp_path)
    found = at(cell, 11)
    width = width_by_hand("default10", found.implementation, found.interpreter, found.workload)
    wide = adaptive.verdict(found, raw, {**SHARE, "target": width + 0.001})
    assert wide["needed"] is False
    within = f"share of redis's 95% confidence interval is within ±{100 * width:.1f}%"
    assert within in wide["reason"]
    assert wide["reason"].endswith("after 10 repetitions")
    assert adaptive.verdict(found, raw, {**SHARE, "target": width - 0.001})["needed"] is True


def test_native_redis_goes_on_while_its_twin_needs_pairs(tmp_path):
    raw = raw_up_to("aa", 20, tmp_path)
    width = width_by_hand("aa", "redis-twin", "native", "get-p16")
    redis = at("redis@native/get-p16#1", 21)
    found = adaptive.verdict(redis, raw, {**SHARE, "target": width - 0.001})
    assert found == {"needed": True, "reason": "redis-twin@native still needs pairs"}
    done = adaptive.verdict(redis, raw, {**SHARE, "target": width + 0.001})
    assert done["needed"] is False
    assert "every cell paired with it" in done["reason"]
    # The twin decides the same from the same samples.
    twin = at("redis-twin@native/get-p16#1", 21)
    assert adaptive.verdict(twin, raw, {**SHARE, "target": width - 0.001})["needed"] is True
    assert adaptive.verdict(twin, raw, {**SHARE, "target": width + 0.001})["needed"] is False


def test_native_redis_alone_stops_on_its_own_rates(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for folder in (RUNS / "aa" / "raw").glob("redis@native_get_*"):
        shutil.copytree(folder, raw / folder.name)
    found = adaptive.verdict(at("redis@native/get#1", 21), raw, {**SHARE, "target": 0.5})
    assert found["needed"] is False
    assert "the median's 95% confidence interval" in found["reason"]


def test_the_first_repetitions_are_always_measured(tmp_path):
    raw = raw_up_to("default10", 10, tmp_path)
    cell = at("asyncio-protocol@cpython3.11/get-p16#1", 6)
    assert adaptive.verdict(cell, raw, {**SHARE, "target": 0.99}) == {
        "needed": True, "reason": "fixed repetitions"
    }  # fmt: skip
    assert adaptive.verdict(cell.with_repetition(11), raw, {})["needed"] is True  # off


def test_a_cell_without_pairs_is_still_needed(tmp_path):
    raw = raw_up_to("default10", 10, tmp_path)
    for folder in raw.glob("redis@native_*"):
        shutil.rmtree(folder)
    cell = at("asyncio-protocol@cpython3.11/get-p16#1", 11)
    assert adaptive.verdict(cell, raw, {**SHARE, "target": 0.99})["needed"] is True


def test_a_stopped_cell_stays_stopped(tmp_path):
    # runs/adaptive stopped both cells at repetition 7 (median's interval, target ±50%).
    raw = raw_up_to("adaptive", 8, tmp_path)
    stopped = RUNS / "adaptive" / "raw" / "asyncio-protocol@cpython3.11_get_7" / "sample.json"
    assert '"status": "skipped"' in stopped.read_text()
    # Even where its interval is now too wide for the target, it does not start again.
    found = adaptive.verdict(at("asyncio-protocol@cpython3.11/get#1", 8), raw,
                             {**SHARE, "target": 0.001})  # fmt: skip
    assert found["needed"] is False
    assert found["reason"].startswith("not needed: the median's 95% confidence interval")


def test_the_conditions_line_names_what_is_pinned_down():
    assert adaptive.description({"target": 0.03, "min_repetitions": 6}) == (
        "stop once the median's 95% CI is within ±3%"
    )
    assert adaptive.description(SHARE) == "stop once the share of redis's 95% CI is within ±3%"
