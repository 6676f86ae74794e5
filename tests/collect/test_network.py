"""Each pair's network path, from the real lab run in runs/quick-network (its reading under
network/server1/) and from copies of that reading changed to show each problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from collect import network
from collect.aggregate import Thresholds
from collect.report import Collected, markdown_report, run_json, terminal_report
from collect.rundir import load_run

RUN = Path(__file__).parent / "runs" / "quick-network"


def reading_file(run: Path) -> Path:
    (found,) = (run / "network" / "server1").glob("load1-*.json")
    return found


@pytest.fixture
def run_copy(tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(RUN, copy)
    return copy


def rewrite(run: Path, change) -> None:
    path = reading_file(run)
    reading = json.loads(path.read_text())
    change(reading)
    path.write_text(json.dumps(reading))


def test_the_lab_path_is_read_with_its_statistics_and_no_problem():
    run = load_run(RUN)
    (path,) = run.network
    raw = json.loads(reading_file(RUN).read_text())
    assert (path.server_host, path.load_host) == ("server1", "load1")
    assert path.file == reading_file(RUN).relative_to(RUN).as_posix()
    assert path.sent == raw["round_trips"]["sent"] == 50 and path.lost == 0
    times = sorted(raw["round_trips"]["ms"])
    assert path.rtt_max_ms == times[-1] and times[0] <= path.rtt_median_ms <= times[-1]
    assert path.rtt_median_ms <= path.rtt_p90_ms <= path.rtt_max_ms
    # The server's MTU comes from its own metadata, the load host's from its route.
    assert path.server_mtu == run.meta["servers"]["server1"]["nic"]["mtu"] == path.load_mtu
    assert path.same_subnet is True and path.gateway is None
    assert path.problems() == [] and run.problems == []


def test_the_report_shows_the_path_above_the_tables_and_run_json_keeps_it():
    collected = Collected(load_run(RUN), Thresholds())
    report = markdown_report(collected, [])
    assert report.index("## Network paths") < report.index("## get")
    assert "| server1 | load1 | eth0, 198.18.0.0/24 | 1500 / 1500 | crossed |" in report
    assert "Every path is direct, alike at both ends." in report
    (entry,) = run_json(collected)["network"]
    assert entry["round_trips"]["answered"] == 50 and entry["problems"] == []
    assert entry["round_trips"]["median_ms"] == collected.run.network[0].rtt_median_ms
    terminal = terminal_report(collected, [])
    assert "network load1 → server1: round trip " in terminal and "direct path" in terminal


def test_a_routed_path_a_smaller_mtu_and_lost_echoes_are_each_said(run_copy):
    def routed(reading):
        reading["route"].update(gateway="198.18.0.1", same_subnet=False, mtu=1400)
        reading["full_size_packet"].update(passed=False, msg="ping: local error: message too long")
        reading["round_trips"]["ms"] = reading["round_trips"]["ms"][:45]

    rewrite(run_copy, routed)
    (path,) = load_run(run_copy).network
    problems = path.problems()
    assert problems == [
        "routed through 198.18.0.1, not on the server's subnet",
        "MTU 1400 on the load host, 1500 on the server",
        "a full-size packet (1400 bytes) did not cross: ping: local error: message too long",
        "5 of 50 echoes lost",
    ]
    report = markdown_report(Collected(load_run(run_copy), Thresholds()), [])
    assert "- **load1 → server1**: routed through 198.18.0.1" in report
    assert "| via 198.18.0.1 |" in report and "| 5 of 50 |" in report


def test_a_server_that_answers_no_echo_has_no_round_trip_but_a_reason(run_copy):
    rewrite(run_copy, lambda reading: reading["round_trips"].update(ms=[]))
    (path,) = load_run(run_copy).network
    assert path.rtt_median_ms is None and path.problems() == [
        "no echo answered of 50 (ICMP blocked?)"
    ]
    assert "– (–, –) | 50 of 50 |" in markdown_report(
        Collected(load_run(run_copy), Thresholds()), []
    )


def test_a_reading_the_agent_could_not_take_is_shown_as_not_measured(run_copy):
    path = reading_file(run_copy)
    path.write_text(json.dumps({"failed": True, "load_host": "load1",
                                "msg": "network baseline to 198.18.0.10: ping is not installed"}))  # fmt: skip
    (found,) = load_run(run_copy).network
    assert found.failure.endswith("ping is not installed")
    report = markdown_report(Collected(load_run(run_copy), Thresholds()), [])
    assert "| server1 | load1 | not measured: network baseline" in report


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda p: p.write_text("{not json"), "is not valid JSON"),
        (lambda p: p.write_text(json.dumps({"load_host": 3})), "load_host must be a string"),
        (
            lambda p: p.write_text(
                json.dumps({"load_host": "load1", "round_trips": {"sent": 5, "ms": ["fast"]}})
            ),
            "round_trips.ms[0] must be a number",
        ),
    ],
)
def test_a_corrupt_reading_is_named_and_the_run_still_reads(run_copy, damage, named):
    damage(reading_file(run_copy))
    run = load_run(run_copy)
    assert run.network == [] and len(run.samples) == len(load_run(RUN).samples)
    assert any(named in problem and "network/server1/load1-" in problem for problem in run.problems)


def test_anything_else_in_the_network_folder_is_named_not_read(run_copy):
    (run_copy / "network" / "notes.txt").write_text("x")
    (run_copy / "network" / "server1" / "extra").mkdir()
    problems = load_run(run_copy).problems
    assert "network/notes.txt: not a host's folder; not read" in problems
    assert "network/server1/extra: not a network reading; not read" in problems


def test_a_run_without_a_network_folder_has_no_section():
    run = load_run(RUN.parent / "quick-a")
    assert run.network == []
    assert "## Network paths" not in markdown_report(Collected(run, Thresholds()), [])
    assert network.section([]) == []
