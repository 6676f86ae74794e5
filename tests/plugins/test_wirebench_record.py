"""What the controller keeps of a cell (plugins/action/wirebench_record.py): its files written
atomically, never through a link, and the run's record of the cell."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.errors import AnsibleActionFail
from wirebench_record import make_folder, record, safe_name, skipped_record, write_all

from collect.outputs import OutputError

CELL = {"id": "asyncio@cpython3.11/get#2", "dir": "asyncio@cpython3.11_get_2",
        "implementation": "asyncio", "interpreter": "cpython3.11", "workload": "get",
        "repetition": 2, "unit": "wirebench-server@asyncio:cpython3.11.service", "port": 7002,
        "status": "pending"}  # fmt: skip
IDENTITY = {key: CELL[key] for key in ("id", "implementation", "interpreter", "workload",
                                       "repetition", "unit", "port")}  # fmt: skip


def test_a_file_is_written_whole_and_readable(tmp_path):
    path = tmp_path / "sample.json"
    write_all(tmp_path, {"sample.json": "first\n"})
    write_all(tmp_path, {"sample.json": "second\n"})
    assert path.read_text() == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["sample.json"]  # no temporary file left


def test_a_link_in_the_way_is_replaced_never_written_through(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not wirebench's\n")
    folder = tmp_path / "cell"
    folder.mkdir()
    (folder / "stdout.csv").symlink_to(outside)
    write_all(folder, {"stdout.csv": "measured\n"})
    assert outside.read_text() == "not wirebench's\n"
    assert not (folder / "stdout.csv").is_symlink()
    assert (folder / "stdout.csv").read_text() == "measured\n"


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old\n")
    (tmp_path / "stdout.csv").mkdir()  # a name nothing can be renamed over
    with pytest.raises(OutputError):
        write_all(tmp_path, {"stdout.csv": "measured\n", "result.json": "new\n"})
    assert path.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["result.json", "stdout.csv"]


def test_a_folder_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cell").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AnsibleActionFail, match="is a symlink"):
        make_folder(str(tmp_path / "cell"))
    make_folder(str(tmp_path / "raw" / "cell"))  # a real one is made with its parents
    assert (tmp_path / "raw" / "cell").is_dir()


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "/etc", "load1/"])
def test_a_name_that_is_not_one_folder_entry_is_refused(name):
    with pytest.raises(AnsibleActionFail, match="cannot be a folder or file name"):
        safe_name(name, "load host")


@pytest.mark.parametrize("name", ["load1", "asyncio@cpython3.11_get_2", "result.json", "..x"])
def test_a_plain_name_is_kept(name):
    assert safe_name(name, "file") == name


def test_the_record_holds_the_cell_where_and_when_and_what_the_run_saw():
    counters = {"before": {"main_pid": 42, "cpu_seconds": 1.0},
                "after": {"main_pid": 42, "cpu_seconds": 2.5}}  # fmt: skip
    outcome = {"requests": 100000, "warmup_rps": 51234.5, "verified": {"round_trip": True},
               "counters": counters, "artefacts": {"load1": {"stdout.csv": "..."}},
               "journal": "lines"}  # fmt: skip
    made = record(CELL, "server1", "1700000000.5", outcome)
    assert {key: made[key] for key in IDENTITY} == IDENTITY
    assert made["server_host"] == "server1"
    assert made["cell_started"] == 1700000000.5
    assert isinstance(made["cell_ended"], float)
    assert made["requests"] == 100000 and made["warmup_rps"] == 51234.5
    assert made["verified"] == {"round_trip": True}
    assert made["failure"] is None and made["reason"] is None
    assert made["counters"] == counters
    # The raw files are kept beside it, not in it; the cell's own bookkeeping is not kept.
    assert not {"artefacts", "journal", "dir", "status"} & set(made)


def test_a_failed_cell_records_its_kind_and_reason_without_counters():
    made = record(CELL, "server1", 1.0, {"failure": "unit_failed", "reason": "exit 219"})
    assert made["failure"] == "unit_failed" and made["reason"] == "exit 219"
    assert made["counters"] == {"before": None, "after": None}
    assert made["requests"] is None


def test_a_skipped_cell_says_why():
    cell = {key: CELL[key] for key in ("id", "dir", "implementation", "interpreter", "workload",
                                       "repetition")}  # fmt: skip
    made = skipped_record(cell, "server1", "uvloop does not support pypy")
    assert made == {
        "id": CELL["id"], "implementation": "asyncio", "interpreter": "cpython3.11",
        "workload": "get", "repetition": 2, "profile": "baseline", "server_host": "server1",
        "status": "skipped", "reason": "uvloop does not support pypy",
    }  # fmt: skip


def test_the_record_keeps_the_cells_profile_and_the_reader_reads_it_back(tmp_path):
    """A cell of a tuning profile: its id and folder carry the profile, sample.json names it,
    and collect's reader makes the same cell of the folder."""
    from collect.model import Cell
    from collect.reader import read_cell

    cell_model = Cell("asyncio", "cpython3.11", "get", 2, "network-latency")
    cell = {**CELL, "id": cell_model.id, "dir": cell_model.dir, "profile": "network-latency"}
    made = skipped_record(cell, "server1", "not needed")
    assert made["profile"] == "network-latency" and made["id"] == cell_model.id
    folder = tmp_path / cell["dir"]
    folder.mkdir()
    write_all(folder, {"sample.json": json.dumps(made)})
    sample = read_cell(folder)
    assert sample.cell == cell_model and sample.profile == "network-latency"
    assert sample.to_json()["profile"] == "network-latency"


def test_a_cell_dict_without_a_profile_is_baseline():
    made = record(CELL, "server1", 1.0, {})
    assert made["profile"] == "baseline" and made["id"] == "asyncio@cpython3.11/get#2"


@pytest.mark.parametrize(
    "change",
    [
        {"profile": "network-latency"},  # the id says baseline
        {"id": "asyncio@cpython3.11/get+pinned#2"},  # the id says another profile
        {"dir": "asyncio@cpython3.11_get_3"},
        {"profile": "a.b"},
    ],
)
def test_a_cell_whose_id_is_not_its_fields_is_refused(change):
    with pytest.raises(AnsibleActionFail, match=r"cell 'asyncio@cpython3\.11/get"):
        record({**CELL, **change}, "server1", 1.0, {})
