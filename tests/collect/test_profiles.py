"""Tuning profiles side by side (collect/profiles.py, collect/tuning.py) on a RELABELLED real run.

There is no lab run of two profiles yet. ``relabelled`` copies the lab's default10 run
(tests/collect/runs/default10: 10 interleaved rounds, nothing tuned) and calls its odd rounds
baseline and its even rounds network-latency: round 2k-1 becomes baseline's repetition k and
round 2k network-latency's repetition k, folders, ids and sample.json renamed as a run of two
profiles writes them. It tests the arithmetic (pairing by repetition, the interval, the
verdict, the shares paired within a profile), not tuning: both "profiles" measured the same
untuned hosts, so no test here asserts a speed or a direction. The tuning records are the
agent's real replies on the committed test trees (tests/collect/tuning/make_records.py).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
from pathlib import Path

import pytest

from collect import compare, report
from collect.model import Cell
from tests.collect.pairs_by_hand import interpolated_shares

RUNS = Path(__file__).parent / "runs"
RECORDS = Path(__file__).parent / "tuning" / "records"
# Student's t, 97.5% quantile, 4 degrees of freedom (five pairs), from the tables.
T_4 = 2.7764451051977987


def relabel(path: Path, profiles=("baseline", "network-latency")) -> Path:
    """Rename every cell of round r to repetition (r + 1) // 2 of profiles[(r + 1) % 2]."""
    raw = path / "raw"
    for folder in sorted(raw.iterdir()):
        old = Cell.from_dir(folder.name)
        profile = profiles[0] if old.repetition % 2 else profiles[1]
        new = Cell(old.implementation, old.interpreter, old.workload,
                   (old.repetition + 1) // 2, profile)  # fmt: skip
        record = json.loads((folder / "sample.json").read_text())
        record.update(id=new.id, repetition=new.repetition, profile=new.profile)
        (folder / "sample.json").write_text(json.dumps(record))
        folder.rename(raw / new.dir)
    meta = json.loads((path / "run-meta.json").read_text())
    meta["matrix"]["tuning_profiles"] = list(profiles)
    meta["matrix"]["repetitions"] = 5
    (path / "run-meta.json").write_text(json.dumps(meta))
    return path


def collected(path: Path):
    found, text = report.report(path, with_plots=False)
    document = json.loads((path / "run.json").read_text())
    rows = list(csv.DictReader((path / "summary.csv").open()))
    return found, text, document, rows, (path / "report.md").read_text()


@pytest.fixture(scope="module")
def two_profiles(tmp_path_factory):
    path = relabel(Path(shutil.copytree(RUNS / "default10", tmp_path_factory.mktemp("p") / "r")))
    shutil.copytree(RECORDS, path / "tuning")
    # Too few pairs: asyncio on cpython3.11, get, keeps one repetition under network-latency.
    for repetition in range(2, 6):
        cell = Cell("asyncio", "cpython3.11", "get", repetition, "network-latency")
        shutil.rmtree(path / "raw" / cell.dir)
    return collected(path)


def rates(document, implementation, interpreter, workload, profile):
    return {
        s["repetition"]: s["tests"]["GET"]["rps"]
        for s in document["samples"]
        if s["status"] == "ok"
        and (s["implementation"], s["interpreter"], s["workload"], s["profile"])
        == (implementation, interpreter, workload, profile)
    }


def test_every_ratio_is_the_paired_computation_by_hand(two_profiles):
    _, _, document, _, _ = two_profiles
    block = document["profiles"]
    assert block["reference"] == "baseline"
    assert block["profiles"] == ["baseline", "network-latency"]
    checked = 0
    for row in block["cells"]:
        key = (row["implementation"], row["interpreter"], row["workload"])
        assert row["profiles"]["baseline"]["ratio_to_reference"] is None  # the reference
        base = rates(document, *key, "baseline")
        other = rates(document, *key, "network-latency")
        pairs = [(base[r], other[r]) for r in sorted(set(base) & set(other))]
        ratio = row["profiles"]["network-latency"]["ratio_to_reference"]
        assert ratio["pairs"] == len(pairs)
        logs = [math.log(b / a) for a, b in pairs]
        assert ratio["ratio"] == pytest.approx(math.exp(sum(logs) / len(logs)))
        if len(pairs) == 5:
            half = T_4 * statistics.stdev(logs) / math.sqrt(5)
            assert ratio["ci_low"] == pytest.approx(ratio["ratio"] * math.exp(-half))
            assert ratio["ci_high"] == pytest.approx(ratio["ratio"] * math.exp(half))
            assert ratio["ci_low"] < ratio["ratio"] < ratio["ci_high"]
            assert ratio["degrees_of_freedom"] == 4
            assert ratio["significant"] == (not ratio["ci_low"] <= 1 <= ratio["ci_high"])
            assert ratio["significant"] == (ratio["p_value"] < 0.05)
            checked += 1
        # Each profile's median is its own cell's.
        cell = next(
            c for c in document["cells"]
            if (c["implementation"], c["interpreter"], c["workload"], c["profile"])
            == (*key, "network-latency")
        )  # fmt: skip
        assert row["profiles"]["network-latency"]["rps"] == cell["rps"]["median"]
    assert checked == len(block["cells"]) - 1  # all but the cell left with one pair


def test_too_few_pairs_give_no_interval_and_say_so(two_profiles):
    _, _text, document, rows, markdown = two_profiles
    row = next(
        r for r in document["profiles"]["cells"]
        if (r["implementation"], r["interpreter"], r["workload"]) == ("asyncio", "cpython3.11", "get")
    )  # fmt: skip
    ratio = row["profiles"]["network-latency"]["ratio_to_reference"]
    assert ratio["pairs"] == 1
    assert ratio["ci_low"] is ratio["ci_high"] is ratio["significant"] is None
    assert ratio["reason"] == "an interval needs 2 pairs; there is 1"
    assert "| asyncio@cpython3.11 | network-latency |" in markdown
    assert "– (an interval needs 2 pairs; there is 1)" in markdown
    csv_row = next(
        r for r in rows
        if (r["implementation"], r["interpreter"], r["workload"], r["profile"])
        == ("asyncio", "cpython3.11", "get", "network-latency")
    )  # fmt: skip
    assert csv_row["profile_ratio_pairs"] == "1" and csv_row["profile_ratio_ci_low"] == ""


def test_shares_are_paired_with_redis_of_the_same_profile(two_profiles):
    _, _, document, _, _ = two_profiles
    for profile in ("baseline", "network-latency"):
        own = {"samples": [s for s in document["samples"] if s["profile"] == profile]}
        for cell in document["cells"]:
            if cell["profile"] != profile or cell["implementation"] == "redis":
                continue
            expected = interpolated_shares(
                own, cell["implementation"], cell["interpreter"], cell["workload"]
            )
            assert cell["share_of_redis"]["pairs"] == len(expected)
            assert cell["share_of_redis"]["median"] == pytest.approx(statistics.median(expected))
    redis = [c for c in document["cells"] if c["implementation"] == "redis"]
    assert sorted((c["profile"], c["workload"]) for c in redis) == [
        ("baseline", "get"), ("baseline", "get-p16"),
        ("network-latency", "get"), ("network-latency", "get-p16"),
    ]  # fmt: skip


def test_the_tables_never_mix_profiles_and_the_csv_names_each_rows(two_profiles):
    found, text, document, rows, markdown = two_profiles
    sections = [(profile, workload) for _, profile, workload, _, _ in found.sections()]
    assert sections == [("baseline", "get"), ("baseline", "get-p16"),
                        ("network-latency", "get"), ("network-latency", "get-p16")]  # fmt: skip
    for _, profile, _, _, cells in found.sections():
        assert {c["profile"] for c in cells} == {profile}
    assert "## get: GET under network-latency on server1" in markdown
    assert "## get-p16: GET under baseline on server1" in markdown
    assert {r["profile"] for r in rows} == {"baseline", "network-latency"}
    assert len(rows) == len(document["cells"])
    for row in rows:
        assert row["profile_reference"] == "baseline"
        if row["profile"] == "baseline":
            assert row["profile_ratio"] == ""
        elif row["profile_ratio_ci_low"]:
            low, high = float(row["profile_ratio_ci_low"]), float(row["profile_ratio_ci_high"])
            assert low < float(row["profile_ratio"]) < high
            assert row["profile_ratio_significant"] == str(not low <= 1 <= high)
    assert "## Profiles side by side" in markdown
    assert "Reference: baseline (the hosts as found, nothing changed)" in markdown
    assert "profiles side by side (ratio to baseline, paired by repetition)" in text
    # The resolution is each profile's own.
    assert sorted((r["profile"], r["workload"]) for r in document["resolution"]) == sections


def test_what_each_profile_set_on_each_host_is_reported(two_profiles):
    _, text, document, _, markdown = two_profiles
    tuned = document["profiles"]["tuning"]
    server = tuned["network-latency"]["server1"]
    assert server["role"] == "server" and server["switches"] == 2
    assert server["failed"] == {
        "thp:enabled": "required, but unavailable: cannot write "
        "/sys/kernel/mm/transparent_hugepage/enabled: the kernel refused the change (EIO)"
    }
    assert "sysctl:net.core.busy_read" in server["unavailable"]
    assert "governor:0-3" in server["in_force"]
    assert len(server["failed_switches"]) == 1
    load = tuned["network-latency"]["load1"]
    assert load["unavailable"]["cstate_latency"] == (
        "systemd is not running here: no unit can hold the limit"
    )
    assert load["failed"] == {}
    # The median of the recorded switch costs, from the files themselves.
    for _profile, by_host in tuned.items():
        for host, done in by_host.items():
            seconds = [
                json.loads((RECORDS / host / Path(file).name).read_text())["reply"][
                    "switch_seconds"
                ]
                for file in done["files"]
            ]
            assert done["switch_seconds_median"] == pytest.approx(statistics.median(seconds))
    assert tuned["baseline"]["server1"]["in_force"] == []  # baseline sets nothing of its own
    assert tuned["baseline"]["server1"]["put_back"]
    assert "- `network-latency` on server1 (server): in force: " in markdown
    assert "FAILED: thp:enabled (required, but unavailable" in markdown
    assert (
        "Tuning knobs that FAILED (see report.md): network-latency on server1: thp:enabled" in text
    )


def test_a_corrupt_tuning_record_is_named_never_fatal(tmp_path):
    path = relabel(Path(shutil.copytree(RUNS / "default10", tmp_path / "r")))
    shutil.copytree(RECORDS, path / "tuning")
    (path / "tuning" / "server1" / "network-latency-20261128T102000Z.json").write_text("{")
    moved = json.loads((RECORDS / "load1" / "baseline-20261128T100000Z.json").read_text())
    (path / "tuning" / "server1" / "baseline-20261128T100000Z.json").write_text(json.dumps(moved))
    (path / "tuning" / "stray.txt").write_text("")
    _, _, document, _, markdown = collected(path)
    problems = document["problems"]
    assert any(p.startswith("tuning/server1/network-latency-20261128T102000Z.json: ")
               and p.endswith("; not used") for p in problems)  # fmt: skip
    assert ("tuning/server1/baseline-20261128T100000Z.json: host 'load1' is not its folder's "
            "'server1'; not used") in problems  # fmt: skip
    assert "tuning/stray.txt: not a host's folder; not read" in problems
    assert document["profiles"]["tuning"]["network-latency"]["server1"]["switches"] == 1
    assert "## Problems reading the run" in markdown


def test_without_baseline_the_first_profile_listed_is_the_reference(tmp_path):
    path = relabel(Path(shutil.copytree(RUNS / "default10", tmp_path / "r")), ("pinned", "fast"))
    _, _, document, _rows, markdown = collected(path)
    assert document["profiles"]["reference"] == "pinned"
    assert document["profiles"]["profiles"] == ["pinned", "fast"]
    assert "Reference: pinned (the first profile listed: this run has no baseline)" in markdown
    assert "No tuning record was kept" in markdown
    for row in document["profiles"]["cells"]:
        assert row["profiles"]["pinned"]["ratio_to_reference"] is None
        assert row["profiles"]["fast"]["ratio_to_reference"]["pairs"] == 5


def test_compare_matches_cells_under_the_same_profile(two_profiles, tmp_path):
    found, *_ = two_profiles
    base = Path(shutil.copytree(RUNS / "default10", tmp_path / "default10"))
    text = compare.compare([base, found.run.path], tmp_path / "out", with_plots=False)
    written = (tmp_path / "out" / "compare.md").read_text()
    assert "WARNING: tuning profiles differs: ['baseline'] (default10)" in text
    # Baseline cells are compared; network-latency ones exist in one run only.
    assert "| redis@native get:GET |" in written
    assert "- redis@native get:GET under network-latency" in written


def test_a_baseline_run_has_no_profiles_block(tmp_path):
    path = Path(shutil.copytree(RUNS / "quick-a", tmp_path / "quick-a"))
    _, _, document, rows, markdown = collected(path)
    assert document["profiles"] is None
    assert {r["profile"] for r in rows} == {"baseline"}
    assert all(s["profile"] == "baseline" for s in document["samples"])
    assert "Profiles side by side" not in markdown and "under baseline" not in markdown
