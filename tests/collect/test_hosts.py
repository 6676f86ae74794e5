"""Server hosts side by side, VM identity and price-performance, on the lab's two-servers run.

The committed run (tests/collect/runs/two-servers) was recorded before hosts had a VM
identity. ``with_vms`` copies it and adds one to run-meta.json's servers (as
wirebench_host_metadata now records it from wirebench_vm): only identity and price metadata,
never a measurement; every rate below is the lab's own. No test asserts a speed: only that
the numbers exist, agree with each other, and come with their conditions.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from collect import report
from collect.significance import median_ratio
from collect.stats import student_t_quantile, two_sided_t_probability

RUNS = Path(__file__).parent / "runs"
ROOT = Path(__file__).parents[2]

VMS = {
    "server1": {
        "provider": "aws",
        "type": "m7i.large",
        "region": "eu-west-1",
        "zone": "eu-west-1b",
        "image": "ami-0a1b2c3d4e5f67890",
        "cpu_platform": None,
        "price_per_hour": 0.2016,
        "sources": {
            "provider": "aws metadata",
            "type": "aws metadata",
            "region": "aws metadata",
            "zone": "aws metadata",
            "image": "aws metadata",
            "price_per_hour": "inventory",
        },
        "probe": "aws instance metadata at http://169.254.169.254",
    },
    "server2": {
        "provider": "aws",
        "type": "m7g.large",
        "region": None,
        "zone": "eu-west-1b",
        "image": None,
        "cpu_platform": None,
        "price_per_hour": 0.1632,
        "sources": {
            "provider": "inventory",
            "type": "inventory",
            "zone": "inventory",
            "price_per_hour": "inventory",
        },
        "probe": "not probed (vm_probe: false)",
    },
}


def copy_run(tmp_path: Path, name: str = "two-servers") -> Path:
    return Path(shutil.copytree(RUNS / name, tmp_path / name))


def edit_meta(path: Path, change) -> None:
    meta = json.loads((path / "run-meta.json").read_text())
    change(meta)
    (path / "run-meta.json").write_text(json.dumps(meta))


def with_vms(path: Path, vms=VMS) -> Path:
    def add(meta):
        for name, vm in vms.items():
            meta["servers"][name]["vm"] = vm

    edit_meta(path, add)
    return path


def collected(path: Path):
    found, text = report.report(path, with_plots=False)
    document = json.loads((path / "run.json").read_text())
    rows = list(csv.DictReader((path / "summary.csv").open()))
    return found, text, document, rows


@pytest.fixture(scope="module")
def two_vms(tmp_path_factory):
    return collected(with_vms(copy_run(tmp_path_factory.mktemp("hosts"))))


def test_every_cell_is_side_by_side_with_its_ratio(two_vms):
    _, _, document, _ = two_vms
    hosts = document["hosts"]
    assert hosts["base"] == "server1"
    assert hosts["servers"]["server1"]["label"] == "server1 (aws m7i.large, eu-west-1b)"
    assert hosts["servers"]["server2"]["label"] == "server2 (aws m7g.large, eu-west-1b)"
    cells = {(c["server_host"], c["implementation"]): c for c in document["cells"]}
    assert [(r["implementation"], sorted(r["hosts"])) for r in hosts["cells"]] == [
        ("redis", ["server1", "server2"]),
        ("asyncio-protocol", ["server1", "server2"]),
    ]
    for row in hosts["cells"]:
        base = cells[("server1", row["implementation"])]["rps"]["values"]
        other = cells[("server2", row["implementation"])]["rps"]["values"]
        assert row["hosts"]["server1"]["ratio_to_base"] is None  # the base itself
        ratio = row["hosts"]["server2"]["ratio_to_base"]
        # The ratio is the two medians' ratio, as the table's rates show them.
        assert ratio["ratio"] == pytest.approx(statistics.median(other) / statistics.median(base))
        assert row["hosts"]["server2"]["rps"] == statistics.median(other)
        assert ratio["ci_low"] < ratio["ratio"] < ratio["ci_high"]
        # Each host's share is its own cell's, paired with redis on that host.
        for host in ("server1", "server2"):
            own = cells[(host, row["implementation"])]
            assert row["hosts"][host]["share_of_redis"] == own["share_of_redis"]


def test_price_performance_and_per_vcpu(two_vms):
    _, _, document, rows = two_vms
    meta = document["run"]
    for row in document["hosts"]["cells"]:
        for host, entry in row["hosts"].items():
            vcpus = meta["servers"][host]["cpus_usable"]
            assert document["hosts"]["servers"][host]["vcpus"] == vcpus
            assert entry["rps_per_vcpu"] == pytest.approx(entry["rps"] / vcpus)
            price = VMS[host]["price_per_hour"]
            assert entry["rps_per_dollar_hour"] == pytest.approx(entry["rps"] / price)
    assert len(rows) == 4
    for row in rows:
        assert float(row["rps_per_vcpu"]) == pytest.approx(
            float(row["median_rps"]) / int(row["vcpus"])
        )
        assert float(row["rps_per_dollar_hour"]) == pytest.approx(
            float(row["median_rps"]) / float(row["price_per_hour"])
        )
        assert row["vm_type"] == VMS[row["server_host"]]["type"]
        assert row["base_host"] == "server1"
        if row["server_host"] == "server1":
            assert row["ratio_to_base"] == ""
        else:
            low, ratio, high = (
                float(row[k]) for k in ("ratio_ci_low", "ratio_to_base", "ratio_ci_high")
            )
            assert low < ratio < high
            assert row["ratio_significant"] in ("True", "False")


def test_the_report_names_each_vm_and_how_ratios_are_made(two_vms):
    found, text, document, _ = two_vms
    markdown = (found.run.path / "report.md").read_text()
    # The conditions say which VM each server is, and where its identity came from.
    assert (
        "- server server1: VM aws m7i.large, eu-west-1b, image ami-0a1b2c3d4e5f67890, $0.2016/h "
        "(price_per_hour from the inventory; the rest from aws metadata); AMD EPYC" in markdown
    )
    assert "- server server2: VM aws m7g.large, eu-west-1b, $0.1632/h (price_per_hour, " in markdown
    assert "## get: GET on server1 (aws m7i.large, eu-west-1b)" in markdown
    assert "## Server hosts side by side" in markdown
    assert (
        "| implementation | server host | requests/s | share of redis on the host (95% CI) | "
        "ratio to server1 (95% CI) | different? | requests/s per vCPU | requests/s per $/h |"
    ) in markdown
    assert "Welch–Satterthwaite" in markdown and "the first server host by name" in markdown
    # Every ratio in the table is the one in run.json, with its degrees of freedom.
    for row in document["hosts"]["cells"]:
        ratio = row["hosts"]["server2"]["ratio_to_base"]
        shown = f"{ratio['ratio']:.3f} ({ratio['ci_low']:.3f}–{ratio['ci_high']:.3f})"
        assert f"| {shown} | " in markdown
        assert f"df {ratio['degrees_of_freedom']})" in markdown
    assert "server hosts side by side" in text
    assert "server2 (aws m7g.large, eu-west-1b)" in text


def test_a_run_without_vm_identity_still_compares(tmp_path):
    found, _, document, rows = collected(copy_run(tmp_path))
    servers = document["hosts"]["servers"]
    assert servers["server1"]["label"] == "server1"
    assert servers["server1"]["vm"]["provider"] is None
    assert all(row["rps_per_dollar_hour"] == "" and row["rps_per_vcpu"] for row in rows)
    markdown = (found.run.path / "report.md").read_text()
    assert "## Server hosts side by side" in markdown
    assert "| redis@native | server2 | " in markdown
    assert markdown.count("| – |") >= 4  # no price: no requests/s per $/h, a dash each


def test_one_server_host_gets_per_vcpu_and_no_side_by_side(tmp_path):
    found, _, document, rows = collected(copy_run(tmp_path, "quick-b"))
    assert len(document["hosts"]["servers"]) == 1
    assert "side by side" not in (found.run.path / "report.md").read_text()
    measured = [row for row in rows if row["median_rps"]]
    assert measured
    for row in measured:
        assert float(row["rps_per_vcpu"]) == pytest.approx(
            float(row["median_rps"]) / int(row["vcpus"])
        )
        assert row["base_host"] == "" and row["ratio_to_base"] == ""


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: m["servers"]["server2"]["vm"].update(price_per_hour=None), None),
        (
            lambda m: m["servers"]["server2"]["vm"].update(price_per_hour=0),
            "server2: price_per_hour 0 is not a positive number; not used.",
        ),
        (
            lambda m: m["servers"]["server2"]["vm"].update(price_per_hour=-0.5),
            "server2: price_per_hour -0.5 is not a positive number; not used.",
        ),
        (
            lambda m: [m["servers"]["server2"].pop(k) for k in ("cpu_count", "cpus_usable")],
            "server2: no CPU count recorded, so no requests/s per vCPU.",
        ),
    ],
)
def test_missing_metadata_is_a_dash_and_a_reason(tmp_path, change, words):
    path = with_vms(copy_run(tmp_path))
    edit_meta(path, change)
    found, _, document, rows = collected(path)
    markdown = (found.run.path / "report.md").read_text()
    server2 = [row for row in rows if row["server_host"] == "server2"]
    lost = "rps_per_vcpu" if words and "CPU count" in words else "rps_per_dollar_hour"
    assert all(row[lost] == "" for row in server2)
    assert all(row[lost] for row in rows if row["server_host"] == "server1")
    for row in document["hosts"]["cells"]:
        assert row["hosts"]["server2"][lost] is None
        assert row["hosts"]["server1"][lost] is not None
    if words:
        assert f"- {words}" in markdown


def test_a_host_without_redis_or_without_the_cell(tmp_path):
    path = with_vms(copy_run(tmp_path))
    for folder in (path / "raw" / "server2").glob("redis@native_*"):
        shutil.rmtree(folder)
    for folder in (path / "raw" / "server1").glob("asyncio-protocol@*"):
        shutil.rmtree(folder)
    found, _, document, _ = collected(path)
    redis, ours = document["hosts"]["cells"]
    assert sorted(redis["hosts"]) == ["server1"]  # redis measured on server1 only
    entry = ours["hosts"]["server2"]
    assert entry["share_of_redis"] is None  # no redis on server2 to pair with
    assert entry["ratio_to_base"] is None  # the base host has no rate of this cell
    markdown = (found.run.path / "report.md").read_text()
    assert "| asyncio-protocol@cpython3.11 | server2 (aws m7g.large, eu-west-1b) | " in markdown
    assert "| – | no rate on both hosts |" in markdown


def test_a_price_that_is_not_a_number_is_named(tmp_path):
    path = with_vms(copy_run(tmp_path))
    edit_meta(path, lambda m: m["servers"]["server1"]["vm"].update(price_per_hour="cheap"))
    done = subprocess.run(
        [sys.executable, "-m", "collect", "report", str(path), "--no-plots"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "servers.server1.vm.price_per_hour must be a number, not a string ('cheap')" in (
        done.stderr
    )


def welch_by_hand(base, other):
    """The interval and p-value from the textbook formulas, written out again."""
    a, b = [math.log(v) for v in base], [math.log(v) for v in other]
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    df = math.floor((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))
    ratio = statistics.median(other) / statistics.median(base)
    t = student_t_quantile(0.95, df)
    p = 1 - two_sided_t_probability(abs(math.log(ratio)) / se, df)
    return ratio, ratio / math.exp(t * se), ratio * math.exp(t * se), p, df


@pytest.mark.parametrize(
    ("base", "other"),
    [
        ([100.0, 104.0, 97.0, 101.0, 99.0], [120.0, 118.0, 125.0, 119.0, 131.0]),
        ([100.0, 130.0, 80.0], [101.0, 99.0, 100.5, 98.0, 102.0, 100.0]),
        ([50_000.0, 51_000.0], [49_000.0, 60_000.0]),
    ],
)
def test_the_ratio_interval_is_welchs_on_log_rates(base, other):
    found = median_ratio(base, other)
    ratio, low, high, p, df = welch_by_hand(base, other)
    assert found.ratio == pytest.approx(ratio)
    assert (found.ci_low, found.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert found.p_value == pytest.approx(p) and found.degrees_of_freedom == df
    assert found.ci_low < found.ratio < found.ci_high
    # One verdict: significant exactly when the interval leaves out 1.
    assert found.significant == (not found.ci_low <= 1 <= found.ci_high)


def test_a_ratio_without_an_interval_says_why():
    assert median_ratio([100.0], [110.0, 120.0]).reason == (
        "an interval needs 2 repetitions on each side"
    )
    same = median_ratio([100.0, 100.0], [120.0, 120.0])
    assert same.ratio == pytest.approx(1.2) and same.ci_low is None
    assert same.reason == "every repetition gave the same rate: no spread to go by"
    with pytest.raises(ValueError, match="positive"):
        median_ratio([], [1.0])


def test_compare_names_a_different_vm(tmp_path):
    from collect.compare import compare

    first = with_vms(copy_run(tmp_path))
    second = Path(shutil.copytree(first, tmp_path / "other"))
    edit_meta(second, lambda m: m["servers"]["server2"]["vm"].update(type="m7g.xlarge"))
    text = compare([first, second], tmp_path / "compared", with_plots=False)
    assert (
        "WARNING: server 2 vm.type differs: 'm7g.large' (two-servers) vs 'm7g.xlarge' (other)"
        in text
    )
