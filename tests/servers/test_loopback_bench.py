"""tools.loopback_bench's parser choice: target names, the --parser list, the paired gains.

Arithmetic on made-up samples only: no speed is asserted.
"""

from __future__ import annotations

import argparse

import pytest

from tools import loopback_bench
from tools.loopback_bench import Sample, Workload

WORKLOADS = [Workload("get", 1, 1000), Workload("get-P16", 16, 2000)]


def sample(target, workload, repetition, rps, server_cpu_s, requests=1000):
    return Sample(target=target, workload=workload, repetition=repetition, rps=rps,
                  p50_ms=0.1, p99_ms=0.2, elapsed_s=1.0, server_cpu_s=server_cpu_s,
                  client_cpu_s=0.5, requests=requests)  # fmt: skip


def test_targets_carry_the_parser_only_when_the_run_chose_one():
    assert loopback_bench.target_name("uvloop", "auto", ["auto"]) == "uvloop"
    assert loopback_bench.target_name("uvloop", "python", ["python"]) == "uvloop/python"
    assert loopback_bench.split_target("uvloop") == ("uvloop", "auto")
    assert loopback_bench.split_target("uvloop-protocol/hiredis") == ("uvloop-protocol", "hiredis")


def test_each_round_rotates_the_implementations_and_which_parser_goes_first():
    parsers = ["python", "hiredis"]
    assert loopback_bench.round_order(["a", "b"], parsers, 0) == [
        "redis", "a/python", "a/hiredis", "b/python", "b/hiredis",
    ]  # fmt: skip
    assert loopback_bench.round_order(["a", "b"], parsers, 1) == [
        "a/hiredis", "a/python", "b/hiredis", "b/python", "redis",
    ]  # fmt: skip
    assert loopback_bench.round_order(["a", "b"], ["auto"], 2) == ["b", "redis", "a"]


def test_parser_list():
    assert loopback_bench.parser_list("python,hiredis") == ["python", "hiredis"]
    for bad in ["C", "python,python", "python,"]:
        with pytest.raises(argparse.ArgumentTypeError):
            loopback_bench.parser_list(bad)
    assert loopback_bench.parse_args([]).parser == ["auto"]


def test_server_cpu_per_request():
    assert sample("a", "get", 0, 1.0, 0.002, requests=1000).server_us_per_request == 2.0
    assert sample("a", "get", 0, 1.0, None).server_us_per_request is None


def test_gains_pair_hiredis_and_python_within_a_repetition():
    samples = [
        # repetition 0: hiredis 1.2x the rps, 0.75x the CPU per request
        sample("x/hiredis", "get-P16", 0, 120.0, 0.0015),
        sample("x/python", "get-P16", 0, 100.0, 0.0020),
        # repetition 1: 1.1x, 0.8x
        sample("x/hiredis", "get-P16", 1, 220.0, 0.0016),
        sample("x/python", "get-P16", 1, 200.0, 0.0020),
        # repetition 2: the python sample failed, so no pair
        sample("x/hiredis", "get-P16", 2, 999.0, 0.0001),
    ]
    gains = loopback_bench.parser_gains(samples, ["x"], WORKLOADS)
    assert [(g["workload"], len(g["rps_ratios"])) for g in gains] == [("get", 0), ("get-P16", 2)]
    p16 = gains[1]
    assert p16["rps_ratios"] == pytest.approx([1.2, 1.1])
    assert p16["cpu_per_request_ratios"] == pytest.approx([0.75, 0.8])
    table = loopback_bench.format_gains(gains)
    line = table.splitlines()[-1]
    assert line.split()[:3] == ["x", "get-P16", "2"]
    assert line.endswith("1.150 (1.100-1.200)      0.775 (0.750-0.800)")
