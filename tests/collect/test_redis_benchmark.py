"""Parsing real redis-benchmark output (golden files captured from redis-benchmark 7.0.15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collect.redis_benchmark import ParseError, parse_csv
from collect.stats import summarize

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def test_single_test_run():
    output = parse_csv(golden("get_c50.csv"))
    row = output.row("GET")
    assert row.usable
    assert row.metrics["rps"] == 85763.29
    assert row.metrics["p99_latency_ms"] == 0.615
    assert output.warnings == ()


def test_default_suite_has_every_test():
    output = parse_csv(golden("default_suite.csv"))
    assert len(output.rows) == 20
    assert output.rows[0].test == "PING_INLINE"
    assert output.row("MSET (10 keys)").usable


def test_pipelined_two_tests():
    output = parse_csv(golden("get_set_p16.csv"))
    assert [row.test for row in output.rows] == ["SET", "GET"]
    assert output.row("GET").metrics["rps"] > output.row("SET").metrics["rps"] > 0


def test_inf_rate_is_kept_as_a_problem_not_a_number():
    row = parse_csv(golden("tiny_inf.csv")).row("GET")
    assert not row.usable
    assert "rps" not in row.metrics
    assert row.problems == ("rps is 'inf'",)
    assert row.metrics["avg_latency_ms"] > 0


def test_interrupted_run_still_reports_what_it_measured():
    # redis-benchmark interrupted by SIGINT half-way prints its partial table.
    assert parse_csv(golden("killed.csv")).row("GET").usable


@pytest.mark.parametrize("name", ["noauth.csv", "refused.csv"])
def test_no_table_is_a_clear_error(name):
    with pytest.raises(ParseError, match="no CSV table"):
        parse_csv(golden(name))


def test_warning_lines_in_stdout_are_set_aside():
    text = "WARNING: Could not fetch server CONFIG\n" + golden("get_c50.csv")
    output = parse_csv(text)
    assert output.warnings == ("WARNING: Could not fetch server CONFIG",)
    assert output.row("GET").usable


def test_missing_test_names_what_was_found():
    with pytest.raises(KeyError, match="found: GET"):
        parse_csv(golden("get_c50.csv")).row("SET")


def test_summary_statistics():
    summary = summarize([100.0, 110.0, 90.0])
    assert summary.median == 100.0
    assert (summary.minimum, summary.maximum) == (90.0, 110.0)
    assert summary.cv == pytest.approx(0.1)
    assert summary.spread == pytest.approx(0.2)
    assert summarize([5.0]).cv == 0.0
    with pytest.raises(ValueError, match="no values"):
        summarize([])


def test_median_confidence_interval_from_order_statistics():
    from collect.stats import median_confidence_interval, relative_half_width

    assert median_confidence_interval([1, 2, 3, 4, 5]) is None  # too few for 95%
    assert median_confidence_interval([6, 1, 5, 2, 4, 3]) == (1.0, 6.0)
    # With 20 values the 95% interval is the 6th to the 15th (binomial tail 0.0207).
    assert median_confidence_interval(range(1, 21)) == (6.0, 15.0)
    assert relative_half_width([100, 101, 99, 100, 102, 98]) == pytest.approx(0.02)
    assert relative_half_width([100, 101]) is None
