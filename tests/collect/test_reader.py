"""The one reader of a cell's raw folder, on folders in the format the run writes from now on
(tests/collect/cellfolder.py), and the cell model it builds on."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from collect import report
from collect.model import FAILURE_KINDS, Cell, ModelError, Sample
from collect.reader import NoRecord, read_cell
from tests.collect.cellfolder import write_cell

RUNS = Path(__file__).parent / "runs"


def test_a_cells_id_and_folder_are_computed_in_one_place_and_read_back():
    cell = Cell("uvloop-protocol", "cpython3.11", "get_p16", 2)
    assert cell.id == "uvloop-protocol@cpython3.11/get_p16#2"
    assert cell.dir == "uvloop-protocol@cpython3.11_get_p16_2"
    assert Cell.from_id(cell.id) == cell and Cell.from_dir(cell.dir) == cell


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: Cell("redis", "native", "get", 0), "repetition 0 must be at least 1"),
        (lambda: Cell("redis", "native", "../x", 1), "workload '../x' may only hold"),
        (lambda: Cell("redis", "py_3", "get", 1), "interpreter 'py_3' may only hold letters"),
        # '$' alone would let a final newline through: a name is matched whole.
        (lambda: Cell("redis", "native", "get\n", 1), "workload 'get\\n' may only hold"),
        (lambda: Cell("redis", "native", "get", True), "repetition True must be an integer"),
        (lambda: Cell.from_id("redis/get#1"), "is not <impl>@<interpreter>/<workload>#<rep>"),
        (lambda: Cell.from_dir("redis@native_get"), "is not named <impl>@<interpreter>_"),
    ],
)
def test_a_cell_refuses_what_would_not_make_one_folder(make, problem):
    with pytest.raises(ModelError, match=re.escape(problem)):
        make()


def test_a_sample_with_no_rates_is_never_ok():
    with pytest.raises(ModelError, match="a sample with no rates is never ok"):
        Sample(cell=Cell("redis", "native", "get", 1), status="ok")


def test_an_ok_cell_sums_its_load_hosts_and_takes_the_servers_cpu_from_them(tmp_path):
    folder = write_cell(
        tmp_path, "redis@native/get#1", {"GET": 70000.0}, ("load1", "load2"), result={}
    )
    second = folder / "load2" / "result.json"
    second.write_text(json.dumps({**json.loads(second.read_text()), "server_cpu_s": 1.9}))
    sample = read_cell(folder)
    assert (sample.status, sample.failure) == ("ok", None)
    assert sample.rps == {"GET": pytest.approx(70000.0)}
    assert set(sample.tests["GET"].hosts) == {"load1", "load2"}
    # Each host read the server's CPU over its own run: the longer window covers the other.
    assert sample.server.cpu_s == 1.9 and sample.server.restarted is False
    assert sample.server_host == "server1"
    assert sample.timing.cell_s == 3.5 and sample.timing.measured_s == 1.5
    assert sample.load_overlap == 1.0


@pytest.mark.parametrize(
    "failure", ["unit_failed", "no_answer", "verify_failed", "load_host_lost", "timeout"]
)
def test_a_failure_the_run_saw_is_the_samples_kind(tmp_path, failure):
    folder = write_cell(
        tmp_path, "gevent@pypy3/get#1", record={"failure": failure, "reason": "it said so"}
    )
    sample = read_cell(folder)
    assert (sample.status, sample.failure, sample.reason) == ("failed", failure, "it said so")


def test_the_journal_of_a_unit_that_would_not_start_is_kept(tmp_path):
    folder = write_cell(
        tmp_path,
        "gevent@pypy3/get#1",
        record={"failure": "unit_failed", "reason": "Unable to start service"},
        load_hosts=(),
    )
    lines = [f"line {n}" for n in range(30)] + ["Main process exited, status=219/CGROUP"]
    (folder / "journal.txt").write_text("\n".join(lines) + "\n")
    sample = read_cell(folder)
    assert sample.failure == "unit_failed"
    assert sample.journal_tail == [*lines[-10:]]


@pytest.mark.parametrize(
    ("change", "failure", "reason"),
    [
        ({"result": {"server_closed": True}}, "server_crashed", "closed the watch connection of load1"),
        ({"after": {"main_pid": 43}}, "server_crashed", "MainPID 42 -> 43"),
        ({"after": {"n_restarts": 1}}, "server_crashed", "restarts 0 -> 1"),
        ({"after": {"active_state": "inactive"}}, "server_crashed", "state inactive"),
        ({"result": {"timed_out": True, "exit_code": None}}, "timeout", "load1: redis-benchmark ran past its timeout"),
        ({"result": {"exit_code": 1}}, "benchmark_error", "load1: redis-benchmark exited with 1"),
        ({"rates": {}}, "benchmark_error", "load1: stdout.csv has 0 rows for the 1 tests asked (-t get)"),
        ({"load_hosts": ()}, "benchmark_error", "no load host's raw files were fetched"),
    ],
)  # fmt: skip
def test_the_reader_decides_what_the_raw_files_show(tmp_path, change, failure, reason):
    arguments = {"rates": {"GET": 1000.0}, **change}
    folder = write_cell(tmp_path, "asyncio@cpython3.11/get#1", **arguments)
    sample = read_cell(folder)
    assert (sample.status, sample.failure) == ("failed", failure)
    assert reason in sample.reason


def test_a_table_without_rates_is_a_benchmark_error_even_without_t(tmp_path):
    folder = write_cell(tmp_path, "redis@native/get#1", {})
    (folder / "load1" / "argv.json").write_text('["redis-benchmark", "--csv"]')
    sample = read_cell(folder)
    assert (sample.failure, sample.reason) == ("benchmark_error", "redis-benchmark printed no rate")


def test_a_skipped_cell_and_a_cell_in_flight(tmp_path):
    folder = write_cell(
        tmp_path, "uvloop@pypy3/get#1", record={"status": "skipped", "reason": "no"}
    )
    assert (read_cell(folder).status, read_cell(folder).reason) == ("skipped", "no")
    in_flight = tmp_path / "redis@native_get_1" / "load1"
    in_flight.mkdir(parents=True)
    with pytest.raises(NoRecord, match=r"raw files without a sample\.json"):
        read_cell(in_flight.parent)


def test_the_report_shows_each_kind_and_the_units_journal(tmp_path):
    run = Path(shutil.copytree(RUNS / "crash", tmp_path / "run"))
    raw = run / "raw"
    folder = write_cell(
        raw,
        "asyncio-protocol@cpython3.11/long-get#2",
        record={"failure": "unit_failed", "reason": "Unable to start service"},
        load_hosts=(),
    )
    (folder / "journal.txt").write_text("Main process exited, code=exited, status=219/CGROUP\n")
    write_cell(
        raw,
        "redis@native/long-get#2",
        record={"failure": "no_answer", "reason": "198.18.0.10:6379 did not answer within 10s"},
        load_hosts=(),
    )
    collected, _ = report.report(run, with_plots=False)
    markdown = (run / "report.md").read_text()
    assert (
        "- FAILED `asyncio-protocol@cpython3.11/long-get#2` on server1: unit_failed: "
        "Unable to start service\n\n  ```\n"
        "  Main process exited, code=exited, status=219/CGROUP\n  ```" in markdown
    )
    assert "FAILED `redis@native/long-get#2` on server1: no_answer: 198.18.0.10:6379" in markdown
    legend = markdown[markdown.index("## How to read this") :]
    for kind in FAILURE_KINDS:
        assert f"  - `{kind}`: " in legend, kind
    redis = next(c for c in collected.cells if c["implementation"] == "redis")
    assert redis["failures"] == ["no_answer"] and redis["samples_ok"] == 1
