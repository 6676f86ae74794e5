"""The report's Resolution section: the smallest difference in share of redis a run resolves,
from its paired spread, and the false-positive count over identical cells (A/A), on the
committed lab runs."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from collect import report
from collect.significance import mann_whitney
from collect.stats import student_t_quantile, two_sided_t_probability
from tests.collect.pairs_by_hand import interpolated_shares

RUNS = Path(__file__).parent / "runs"


@pytest.fixture
def run_copy(tmp_path):
    def copy(name, as_name=None):
        return Path(shutil.copytree(RUNS / name, tmp_path / (as_name or name)))

    return copy


def test_student_t_quantiles_match_the_printed_tables():
    # Two-sided 95%: the 0.975 column of any t table.
    for df, t in (
        (1, 12.706),
        (2, 4.303),
        (4, 2.776),
        (9, 2.262),
        (40, 2.021),
        (120, 1.980),
        (1000, 1.962),
    ):
        assert student_t_quantile(0.95, df) == pytest.approx(t, abs=5e-4)
    assert student_t_quantile(0.99, 10) == pytest.approx(3.169, abs=5e-4)
    # Past 200 degrees of freedom the expansion takes over from the series: still the same t.
    assert student_t_quantile(0.95, 201) == pytest.approx(1.97184, abs=1e-5)
    # One degree of freedom is the Cauchy distribution: P(|T| < 1) = 1/2.
    assert two_sided_t_probability(1.0, 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        student_t_quantile(0.95, 0)


def test_default_run_resolves_each_workload_from_its_pooled_paired_spread(run_copy):
    path = run_copy("default")
    _, text = report.report(path, with_plots=False)
    document = json.loads((path / "run.json").read_text())
    found = {(r["workload"], r["test"]): r for r in document["resolution"]}
    assert set(found) == {("get", "GET"), ("get-p16", "GET")}
    for workload in ("get", "get-p16"):
        cells = [
            c
            for c in document["cells"]
            if c["workload"] == workload and c["implementation"] != "redis"
        ]
        logs = [
            np.log(interpolated_shares(document, c["implementation"], c["interpreter"], workload))
            for c in cells
        ]
        # By hand: 10 cells of 5 pairs pool 10 x 4 = 40 degrees of freedom; t(40) = 2.0211.
        pooled = sum(4 * np.var(values, ddof=1) for values in logs) / 40
        spread = math.sqrt(pooled)
        item = found[(workload, "GET")]
        assert (item["cells"], item["pairs_per_cell"], item["degrees_of_freedom"]) == (10, 5, 40)
        assert item["spread_of_log_share"] == pytest.approx(spread)
        assert item["share_half_width"] == pytest.approx(
            math.exp(2.0211 * spread / math.sqrt(5)) - 1, rel=1e-3
        )
        assert item["resolvable_difference"] == pytest.approx(
            math.exp(2.0211 * spread * math.sqrt(2 / 5)) - 1, rel=1e-3
        )
        assert 0 < item["share_half_width"] < item["resolvable_difference"]
    markdown = (path / "report.md").read_text()
    # The report ends with the section, which says how it is computed and what it means.
    assert markdown.rindex("\n## ") == markdown.index("\n## Resolution")
    difference = tables_percent(found[("get-p16", "GET")]["resolvable_difference"])
    assert (
        f"- get-p16: GET on server1: two cells whose shares of redis differ by more than "
        f"{difference} are told apart at 95% confidence" in markdown
    )
    assert "pooled standard deviation of ln(paired share)" in markdown
    assert (
        f"get-p16: GET on server1: two cells whose shares of redis differ by more than {difference}"
        in text
    )
    # No twin in the default run: no A/A part.
    assert document["identical_cells"] == [] and "Identical cells" not in markdown


def tables_percent(value):
    return f"{100 * value:.1f}%"


def test_a_run_of_single_repetitions_says_it_cannot_resolve(run_copy):
    path = run_copy("quick-a")
    report.report(path, with_plots=False)
    document = json.loads((path / "run.json").read_text())
    assert document["resolution"] == [
        {
            "server_host": "server1",
            "profile": "baseline",
            "workload": "get",
            "test": "GET",
            "cells": 0,
            "pairs_per_cell": None,
            "spread_of_log_share": None,
            "degrees_of_freedom": 0,
            "share_half_width": None,
            "resolvable_difference": None,
        }
    ]
    markdown = (path / "report.md").read_text()
    assert "not computable: no cell other than native redis has two paired shares" in markdown


def test_every_golden_run_has_a_resolution_for_every_workload(run_copy):
    for name in ("seed", "seed-timed", "adaptive", "two-servers", "crash", "odd"):
        collected, _ = report.report(run_copy(name), with_plots=False)
        sections = {(c["server_host"], c["workload"], c["test"]) for c in collected.cells}
        found = {(r.server_host, r.workload, r.test) for r in collected.resolutions}
        assert found == sections, name
        for item in collected.resolutions:
            if item.difference is not None:
                assert item.degrees_of_freedom > 0 and item.half_width < item.difference
                assert item.pairs_for(0.05) >= 2


def twins_of(collected):
    return {(c.workload, c.test): c for c in collected.twin_checks}


def test_the_instrument_run_is_an_a_a_run_with_no_false_positive(run_copy):
    path = run_copy("instrument")
    collected, text = report.report(path, with_plots=False)
    checks = twins_of(collected)
    assert set(checks) == {("get", "GET"), ("get-p16", "GET")}
    document = json.loads((path / "run.json").read_text())
    for check in checks.values():
        assert check.twin == "redis@by-hand"
        assert check.reference_n == check.twin_n == 10
        cells = {
            c["interpreter"]: c["rps"]["values"]
            for c in document["cells"]
            if c["workload"] == check.workload and c["implementation"] == "redis"
        }
        # compare's own test on the two cells' rates, called here directly.
        assert check.difference.p_value == mann_whitney(cells["native"], cells["by-hand"]).p_value
        assert check.difference.testable and not check.compare_false_positive
        share = check.share
        assert share["pairs"] == 10
        assert share["ci_low"] <= share["median"] <= share["ci_high"]
        assert share["ci_low"] <= 1.0 <= share["ci_high"] and not check.share_false_positive
    false_positives = sum(c.compare_false_positive for c in collected.twin_checks)
    assert isinstance(false_positives, int) and false_positives <= len(collected.resolutions)
    markdown = (path / "report.md").read_text()
    assert "### Identical cells (A/A)" in markdown
    assert (
        "False positives: compare's test 0 of 2 testable; the twin's share interval 0 of 2 "
        "with an interval." in markdown
    )
    assert "Identical cells (A/A): False positives: compare's test 0 of 2 testable" in text
    assert len(document["identical_cells"]) == 2


def as_twin_run(path: Path) -> Path:
    """The instrument run with its by-hand cells renamed redis-twin@native, as the A/A preset
    names the second measurement of native redis (identical raw files otherwise)."""
    for folder in sorted((path / "raw").glob("redis@by-hand_*")):
        record = json.loads((folder / "sample.json").read_text())
        record["implementation"], record["interpreter"] = "redis-twin", "native"
        record["id"] = f"redis-twin@native/{record['workload']}#{record['repetition']}"
        (folder / "sample.json").write_text(json.dumps(record))
        folder.rename(folder.with_name(folder.name.replace("redis@by-hand", "redis-twin@native")))
    return path


def test_a_redis_twin_cell_is_checked_like_the_by_hand_one(run_copy):
    by_hand = twins_of(report.report(run_copy("instrument"), with_plots=False)[0])
    path = as_twin_run(run_copy("instrument", "aa"))
    collected, _ = report.report(path, with_plots=False)
    twins = twins_of(collected)
    assert set(twins) == set(by_hand)
    for key, twin in twins.items():
        assert twin.twin == "redis-twin@native"
        assert twin.share == by_hand[key].share
        assert twin.difference == by_hand[key].difference
    assert "| redis@native vs redis-twin@native |" in (path / "report.md").read_text()


def scale_rates(path: Path, pattern: str, factor: float) -> None:
    """Multiply the rate redis-benchmark printed in every cell matching ``pattern``."""
    for stdout in (path / "raw").glob(f"{pattern}/load1/stdout.csv"):
        rows = list(csv.reader(stdout.read_text().splitlines()))
        for row in rows[1:]:
            row[1] = f"{float(row[1]) * factor:.2f}"
        stdout.write_text("\n".join(",".join(f'"{v}"' for v in row) for row in rows) + "\n")


def test_a_twin_that_differs_is_counted_as_a_false_positive(run_copy):
    path = run_copy("instrument")
    scale_rates(path, "redis@by-hand_get-p16_*", 0.8)  # a twin 20% slower is no twin
    collected, _ = report.report(path, with_plots=False)
    checks = twins_of(collected)
    assert checks[("get-p16", "GET")].compare_false_positive
    assert checks[("get-p16", "GET")].share_false_positive
    assert checks[("get-p16", "GET")].share["ci_high"] < 1.0
    assert not checks[("get", "GET")].compare_false_positive
    markdown = (path / "report.md").read_text()
    assert (
        "False positives: compare's test 1 of 2 testable; the twin's share interval 1 of 2 "
        "with an interval." in markdown
    )
    assert "excludes 100%: a false positive" in markdown


def test_too_few_repetitions_are_named_not_counted(run_copy):
    path = as_twin_run(run_copy("instrument", "aa"))
    for folder in (path / "raw").glob("*_get*_*"):
        if int(folder.name.rsplit("_", 1)[1]) > 3:
            shutil.rmtree(folder)
    collected, _ = report.report(path, with_plots=False)
    for check in collected.twin_checks:
        assert (check.reference_n, check.twin_n) == (3, 3)
        assert not check.difference.testable and not check.share_interval
    markdown = (path / "report.md").read_text()
    assert (
        "False positives: compare's test 0 of 0 testable (2 with too few repetitions); the "
        "twin's share interval 0 of 0 with an interval (2 with too few pairs)." in markdown
    )
    assert "too few pairs for a 95% interval (3)" in markdown


def test_the_aa_run_finds_its_identical_cells_the_same(run_copy):
    # presets/aa.yml on the lab with 20 repetitions: redis and redis-twin, the twin first in
    # even rounds.
    path = run_copy("aa")
    collected, text = report.report(path, with_plots=False)
    checks = twins_of(collected)
    assert set(checks) == {("get", "GET"), ("get-p16", "GET")}
    for check in checks.values():
        assert check.twin == "redis-twin@native"
        assert check.reference_n == check.twin_n == 20
        assert check.difference.testable and not check.compare_false_positive
        share = check.share
        assert share["pairs"] == 20 and share["ci_low"] <= share["median"] <= share["ci_high"]
        assert share["ci_low"] <= 1.0 <= share["ci_high"] and not check.share_false_positive
    assert "compare's test 0 of 2 testable; the twin's share interval 0 of 2" in text
    resolved = {(item.workload, item.test): item for item in collected.resolutions}
    assert set(resolved) == set(checks)
    for item in resolved.values():
        assert item.cells == 1 and item.difference > item.half_width > 0
