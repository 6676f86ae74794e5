"""The filters that decide the matrix and the units (plugins/filter/wirebench.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wirebench import matrix_problems, project_pins, server_units

from collect.model import Cell
from tests.collect.cellfolder import write_cell

ROOT = Path(__file__).resolve().parents[2]
KNOWN = ["gevent", "asyncio", "uvloop", "asyncio-protocol"]
INTERPRETERS = [
    {"name": "cpython3.11", "provider": "system", "executable": "/usr/bin/python3"},
    {"name": "pypy3", "provider": "apt", "package": "pypy3", "executable": "/usr/bin/pypy3"},
]
WORKLOADS = [{"name": "get", "tests": "get", "clients": 50, "requests": 1000}]


def test_a_good_matrix_has_no_problems():
    assert matrix_problems(["redis", "uvloop"], INTERPRETERS, WORKLOADS, KNOWN) == []


@pytest.mark.parametrize(
    ("implementations", "interpreters", "workloads", "problem"),
    [
        (["tornado"], INTERPRETERS, WORKLOADS, "unknown implementation 'tornado' (known: redis, gevent"),
        ([], INTERPRETERS, WORKLOADS, "wirebench_implementations is empty"),
        (["asyncio"], [], WORKLOADS, "wirebench_interpreters is empty"),
        (["redis"], [{"name": "py", "provider": "conda"}], WORKLOADS, "unknown provider 'conda'"),
        (["redis"], [{"name": "py", "provider": "uv"}], WORKLOADS, "needs a version"),
        (["redis"], [{"name": "py", "provider": "apt", "executable": "/x"}], WORKLOADS, "needs a package"),
        (["redis"], [INTERPRETERS[0], INTERPRETERS[0]], WORKLOADS, "listed twice"),
        (["redis"], [{"name": "a b", "provider": "system", "executable": "/x"}], WORKLOADS, "may only hold"),
        # '_' ends the interpreter in a cell's folder name: two cells could share one.
        (["redis"], [{"name": "py_3", "provider": "system", "executable": "/x"}], WORKLOADS, "interpreter name 'py_3' may only hold letters, digits, '.' or '-'"),
        (["redis"], INTERPRETERS, [{"name": "../w", "tests": "get", "requests": 1}], "workload name '../w' may only hold"),
        (["redis"], INTERPRETERS, [{"name": "w", "tests": "get"}], "exactly one of requests or seconds"),
        (["redis"], INTERPRETERS, [{"name": "w", "tests": "get", "requests": 5, "seconds": 5}], "exactly one"),
        (["redis"], INTERPRETERS, [{"name": "w", "requests": 5}], "needs tests"),
        (["redis"], INTERPRETERS, [{"name": "w", "tests": "get", "requests": -1}], "requests must be a positive integer"),
        (["redis"], INTERPRETERS, [{"name": "w", "tests": "get", "requests": 1, "colour": 1}], "unknown fields colour"),
    ],
)  # fmt: skip
def test_each_problem_is_named(implementations, interpreters, workloads, problem):
    problems = matrix_problems(implementations, interpreters, workloads, KNOWN)
    assert any(problem in text for text in problems), problems


def listing(runs):
    return [
        {"name": name, "runs_here": ok, "reason": None if ok else f"{name} cannot run"}
        for name, ok in runs
    ]


def test_units_and_skipped_combinations():
    listings = {
        "cpython3.11": listing([("gevent", True), ("asyncio", True), ("uvloop", True)]),
        "pypy3": listing([("gevent", False), ("asyncio", True), ("uvloop", False)]),
    }
    plan = server_units(["redis", "asyncio", "uvloop"], INTERPRETERS, listings, 7000)
    assert [unit["unit"] for unit in plan["units"]] == [
        "wirebench-server@asyncio:cpython3.11.service",
        "wirebench-server@uvloop:cpython3.11.service",
        "wirebench-server@asyncio:pypy3.service",
    ]
    # Ports follow positions in the full listing, so deselecting gevent moves nothing.
    assert [unit["port"] for unit in plan["units"]] == [7001, 7002, 7101]
    assert plan["skipped"] == [
        {"implementation": "uvloop", "interpreter": "pypy3", "reason": "uvloop cannot run"}
    ]


def test_a_missing_interpreter_skips_its_combinations():
    plan = server_units(["redis", "asyncio"], INTERPRETERS, {"cpython3.11": listing([])}, 7000)
    assert plan["skipped"] == [
        {
            "implementation": "asyncio",
            "interpreter": "pypy3",
            "reason": "interpreter pypy3 is not available on this host",
        }
    ]


def test_project_pins_come_from_pyproject():
    pins = project_pins((ROOT / "pyproject.toml").read_text(), "server")
    assert {pin.split("==")[0] for pin in pins} == {"hiredis", "gevent", "uvloop"}
    assert all("==" in pin for pin in pins)
    with pytest.raises(ValueError, match="no optional-dependencies group 'nope'"):
        project_pins((ROOT / "pyproject.toml").read_text(), "nope")


PLAN = {
    "units": [
        {
            "implementation": "asyncio",
            "interpreter": "cpython3.11",
            "unit": "wirebench-server@asyncio:cpython3.11.service",
            "port": 7002,
        },
        {
            "implementation": "asyncio",
            "interpreter": "pypy3",
            "unit": "wirebench-server@asyncio:pypy3.service",
            "port": 7102,
        },
        {
            "implementation": "uvloop",
            "interpreter": "cpython3.11",
            "unit": "wirebench-server@uvloop:cpython3.11.service",
            "port": 7003,
        },
    ],
    "skipped": [
        {
            "implementation": "uvloop",
            "interpreter": "pypy3",
            "reason": "uvloop does not support pypy",
        }
    ],
}
TWO_WORKLOADS = [
    {"name": "get", "tests": "get", "requests": 10},
    {"name": "get-p16", "tests": "get", "requests": 10},
]


def test_cells_cover_the_matrix_with_interleaved_repetitions():
    from wirebench import cells

    ordered = cells(["redis", "asyncio", "uvloop"], INTERPRETERS, TWO_WORKLOADS, 3, PLAN, 6379)
    pending = [cell for cell in ordered if cell["status"] == "pending"]
    assert len(pending) == 4 * 2 * 3  # redis + 3 installed units, 2 workloads, 3 repetitions
    assert len({cell["id"] for cell in ordered}) == len(ordered)
    assert pending[0]["id"] == "redis@native/get#1"
    assert pending[0]["dir"] == "redis@native_get_1"  # the cell's raw folder, from the model
    assert pending[0]["unit"] == "wirebench-redis.service" and pending[0]["port"] == 6379
    # Every repetition 1 comes before any repetition 2, and each round starts elsewhere.
    repetitions = [cell["repetition"] for cell in pending]
    assert repetitions == sorted(repetitions)
    firsts = [next(c["id"] for c in pending if c["repetition"] == r) for r in (1, 2, 3)]
    assert len(set(id_.split("#")[0] for id_ in firsts)) == 3


def test_unsupported_combinations_are_skipped_cells_with_their_reason():
    from wirebench import cells

    ordered = cells(["uvloop"], INTERPRETERS, TWO_WORKLOADS, 2, PLAN, 6379)
    skipped = [cell for cell in ordered if cell["status"] == "skipped"]
    assert [cell["id"] for cell in skipped] == ["uvloop@pypy3/get#1", "uvloop@pypy3/get-p16#1"]
    assert [cell["dir"] for cell in skipped] == ["uvloop@pypy3_get_1", "uvloop@pypy3_get-p16_1"]
    assert skipped[0]["reason"] == "uvloop does not support pypy"


def test_resume_measures_only_the_missing_cells():
    from wirebench import cells, cells_to_measure

    ordered = cells(["redis", "asyncio"], INTERPRETERS, TWO_WORKLOADS[:1], 2, PLAN, 6379)
    done = ["redis@native/get#1", "asyncio@cpython3.11/get#1"]
    remaining = cells_to_measure(ordered, done)
    assert [cell["id"] for cell in remaining] == [
        "asyncio@pypy3/get#1", "asyncio@cpython3.11/get#2", "asyncio@pypy3/get#2", "redis@native/get#2",
    ]  # fmt: skip


def test_sample_ids_skip_unreadable_files(tmp_path):
    from wirebench import sample_ids

    done = write_cell(tmp_path, "redis@native/get#1", {"GET": 50000.0})
    cut = write_cell(tmp_path, "redis@native/get#2", {"GET": 50000.0})
    text = (cut / "sample.json").read_text()
    (cut / "sample.json").write_text(text[:40])  # a sample cut off by a crash
    found = sample_ids(
        [str(done / "sample.json"), str(cut / "sample.json"), str(tmp_path / "none")]
    )
    assert found == ["redis@native/get#1"]
    assert sample_ids([str(done)]) == ["redis@native/get#1"]  # a cell folder does as well


def test_a_cell_lost_with_its_load_host_is_measured_again(tmp_path):
    from wirebench import sample_ids

    def failed(cell_id, failure):
        record = {"failure": failure, "reason": "it went wrong"}
        return str(write_cell(tmp_path, cell_id, record=record, load_hosts=()))

    paths = [
        failed("asyncio@cpython3.11/get#1", "load_host_lost"),
        failed("asyncio@cpython3.11/get#2", "unreachable"),  # older runs' word for it
        failed("redis@native/get#1", "server_crashed"),
        failed("redis@native/get#2", "no_answer"),
        failed("redis@native/get#3", "unit_failed"),
    ]
    assert sample_ids(paths) == ["redis@native/get#1", "redis@native/get#2", "redis@native/get#3"]


def write_samples(raw, rates, workload="get"):
    """Samples of asyncio@cpython3.11/<workload> in a server host's raw folder."""
    for repetition, rate in enumerate(rates, 1):
        write_cell(raw, f"asyncio@cpython3.11/{workload}#{repetition}", {"GET": rate})


def cell_at(repetition, workload="get"):
    return {"id": f"asyncio@cpython3.11/{workload}#{repetition}", "implementation": "asyncio",
            "interpreter": "cpython3.11", "workload": workload, "repetition": repetition}  # fmt: skip


def test_adaptive_repetitions_stop_when_the_median_is_known(tmp_path):
    from wirebench import repetitions_verdict

    adaptive = {"target": 0.03, "min_repetitions": 6}
    assert repetitions_verdict(cell_at(9), str(tmp_path / "raw"), {})["needed"] is True  # off
    write_samples(tmp_path / "raw", [100, 101, 99, 100, 102, 98])
    assert repetitions_verdict(cell_at(3), str(tmp_path / "raw"), adaptive)["needed"] is True
    verdict = repetitions_verdict(cell_at(7), str(tmp_path / "raw"), adaptive)
    assert verdict["needed"] is False
    assert "within ±2.0% (target ±3.0%) after 6 repetitions" in verdict["reason"]


def test_adaptive_repetitions_go_on_while_the_spread_is_wide(tmp_path):
    from wirebench import repetitions_verdict

    write_samples(tmp_path / "raw", [100, 130, 80, 100, 120, 90])
    write_samples(tmp_path / "raw", [100] * 6, workload="get-p16")  # another cell: not counted
    assert repetitions_verdict(
        cell_at(7), str(tmp_path / "raw"), {"target": 0.03, "min_repetitions": 6}
    )["needed"]


def test_adaptive_repetitions_count_only_the_earlier_ok_samples(tmp_path):
    from wirebench import repetitions_verdict

    write_samples(tmp_path, [100, 101, 99, 100, 102, 98, 100])
    # Repetition 3's record looks fine, but its server died mid-run: the reader says so.
    (tmp_path / "asyncio@cpython3.11_get_3" / "load1" / "result.json").write_text(
        '{"exit_code": 0, "timed_out": false, "server_closed": true}'
    )
    verdict = repetitions_verdict(cell_at(8), str(tmp_path), {"target": 0.03, "min_repetitions": 6})
    assert verdict["needed"] is False
    assert "after 6 repetitions" in verdict["reason"]


def test_progress_line_is_read_from_the_cells_raw_folder(tmp_path):
    from wirebench import progress

    from collect.reader import read_cell

    ok = write_cell(
        tmp_path, "uvloop-protocol@cpython3.11/get-p16#2", {"GET": 312345.4}, ("load1", "load2")
    )
    line = "cell 7/40: uvloop-protocol@cpython3.11/get-p16 #2: GET 312,345 requests/s"
    assert progress(str(ok), 7, 40) == line
    assert progress(read_cell(ok), 7, 40) == line  # a Sample already read does as well
    crashed = write_cell(
        tmp_path,
        "asyncio@cpython3.11/get#1",
        {"GET": 1000.0},
        after={"main_pid": 0, "active_state": "failed", "result": "signal"},
    )
    assert progress(str(crashed), 1, 3) == (
        "cell 1/3: asyncio@cpython3.11/get #1: FAILED server_crashed: "
        "wirebench-server@asyncio:cpython3.11.service: MainPID 42 -> 0, state failed (signal), "
        "restarts 0 -> 0"
    )
    unit = write_cell(
        tmp_path,
        "gevent@pypy3/get#1",
        record={"failure": "unit_failed", "reason": "Unable to start service"},
        load_hosts=(),
    )
    (unit / "journal.txt").write_text(
        "Started wirebench-server@gevent:pypy3.service\n"
        "wirebench-server@gevent:pypy3.service: Main process exited, code=exited, status=219/CGROUP\n"
    )
    assert progress(str(unit), 2, 3) == (
        "cell 2/3: gevent@pypy3/get #1: FAILED unit_failed: Unable to start service "
        "(journal: wirebench-server@gevent:pypy3.service: Main process exited, code=exited, "
        "status=219/CGROUP)"
    )
    in_flight = tmp_path / "redis@native_get_1" / "load1"
    in_flight.mkdir(parents=True)
    assert progress(str(in_flight.parent), 3, 3) == (
        "cell 3/3: redis@native_get_1: raw files without a sample.json"
    )


def test_one_server_host_is_driven_by_every_load_host():
    from wirebench import pairs

    found = pairs(["server1"], ["load1", "load2"], {})
    assert found["pairs"] == {"server1": ["load1", "load2"]}
    assert found["server_of"] == {"load1": "server1", "load2": "server1"}
    assert found["problems"] == []
    # Naming a subset is allowed: the other load host stays idle.
    assert pairs(["server1"], ["load1", "load2"], {"server1": "load2"})["pairs"] == {
        "server1": ["load2"]
    }


def test_several_server_hosts_each_name_their_own_load_hosts():
    from wirebench import pairs

    found = pairs(
        ["server1", "server2"],
        ["load1", "load2", "load3"],
        {"server1": ["load1"], "server2": ["load2", "load3"]},
    )
    assert found["pairs"] == {"server1": ["load1"], "server2": ["load2", "load3"]}
    assert found["server_of"]["load3"] == "server2"
    assert found["problems"] == []


@pytest.mark.parametrize(
    ("assigned", "problem"),
    [
        ({"server1": ["load1"]}, "server2 has no load hosts"),
        ({"server1": ["load1"], "server2": ["load9"]}, "names 'load9', which is not a load host"),
        ({"server1": ["load1"], "server2": ["load1", "load2"]}, "load1 is named by both"),
    ],
)
def test_pairing_problems_are_named(assigned, problem):
    from wirebench import pairs

    problems = pairs(["server1", "server2"], ["load1", "load2"], assigned)["problems"]
    assert any(problem in found for found in problems), problems


def test_an_inventory_without_hosts_is_a_problem():
    from wirebench import pairs

    assert pairs([], [], {})["problems"] == ["there is no server host", "there is no load host"]


def test_raw_folder_keeps_the_single_server_layout():
    from wirebench import raw_dir

    assert raw_dir("/r/run1", "server1", ["server1"]) == "/r/run1/raw"
    assert raw_dir("/r/run1", "server2", ["server1", "server2"]) == "/r/run1/raw/server2"


def test_adaptive_repetitions_count_only_the_server_hosts_own_samples(tmp_path):
    from wirebench import raw_dir, repetitions_verdict

    servers = ["server1", "server2"]
    write_samples(tmp_path / "raw" / "server1", [100, 101, 99, 100, 102, 98])
    adaptive = {"target": 0.03, "min_repetitions": 6}
    mine = raw_dir(str(tmp_path), "server1", servers)
    other = raw_dir(str(tmp_path), "server2", servers)
    assert repetitions_verdict(cell_at(7), mine, adaptive)["needed"] is False
    assert repetitions_verdict(cell_at(7), other, adaptive)["needed"] is True


def test_the_example_inventory_of_pairs_is_valid():
    """inventory/examples/cloud-pairs pairs each server host with load hosts of its own."""
    import yaml
    from wirebench import pairs

    inventory = yaml.safe_load((ROOT / "inventory/examples/cloud-pairs/hosts.yml").read_text())
    servers = inventory["bench_server"]["hosts"]
    found = pairs(
        list(servers),
        list(inventory["bench_load"]["hosts"]),
        {name: spec["wirebench_load_hosts"] for name, spec in servers.items()},
    )
    assert found["problems"] == []
    assert found["pairs"]["m7g-server"] == ["m7g-load1", "m7g-load2"]


def test_every_filter_the_yaml_uses_exists_and_every_one_is_used():
    import re

    import local_lab
    import wirebench
    import wirebench_run
    import wirebench_tuning
    import wirebench_tuning_run

    defined = {}
    for module in (wirebench, wirebench_run, wirebench_tuning, wirebench_tuning_run, local_lab):
        defined.update(module.FilterModule().filters())
    root = Path(__file__).resolve().parents[2]
    yaml = list(root.glob("*.yml"))
    for folder in ("playbooks", "roles", "inventory", "presets"):
        yaml += (root / folder).rglob("*.yml")
    used = set()
    for path in yaml:
        used |= set(re.findall(r"\|\s*((?:wirebench|local_lab)_\w+)", path.read_text()))
    assert used - set(defined) == set()  # an Ansible run would stop at an unknown filter
    assert set(defined) - used == set()  # a filter nothing calls is dead code


def default_preset_cells(profiles=None):
    """The cells of presets/default.yml (3 repetitions, uvloop not on pypy3), with by-hand and
    A/A twins, as tests/plugins/golden/cells-default.json recorded them from the filters as
    they were before runs had tuning profiles."""
    import yaml
    from wirebench import cells, server_units
    from wirebench_run import with_by_hand, with_twin

    root = Path(__file__).resolve().parents[2]
    preset = yaml.safe_load((root / "presets" / "default.yml").read_text())
    golden = json.loads((Path(__file__).parent / "golden" / "cells-default.json").read_text())
    implementations = preset["wirebench_implementations"]
    interpreters = preset["wirebench_interpreters"]
    plan = server_units(implementations, interpreters, golden["listings"], 7000)
    made = cells(
        implementations, interpreters, preset["wirebench_workloads"], 3, plan, 6379, profiles
    )
    return with_twin(with_by_hand(made, True), True), golden["cells"]


def test_a_baseline_run_has_the_cells_it_had_before_profiles():
    for profiles in (None, ["baseline"]):
        made, before = default_preset_cells(profiles)
        assert [{k: v for k, v in cell.items() if k != "profile"} for cell in made] == before
        assert {cell["profile"] for cell in made} == {"baseline"}


def test_profiles_come_in_blocks_per_round_and_take_turns_at_going_first():
    from wirebench import cells

    profiles = ["baseline", "network-latency", "pinned"]
    ordered = cells(["redis", "asyncio"], INTERPRETERS, TWO_WORKLOADS, 4, PLAN, 6379, profiles)
    pending = [cell for cell in ordered if cell["status"] == "pending"]
    per_block = 3 * 2  # redis and two installed asyncio units, two workloads
    assert len(pending) == 4 * len(profiles) * per_block
    assert len({cell["id"] for cell in ordered}) == len(ordered)
    assert len({cell["dir"] for cell in ordered}) == len(ordered)
    blocks = [pending[i : i + per_block] for i in range(0, len(pending), per_block)]
    order = []
    for index, block in enumerate(blocks):
        # One profile and one repetition per block; the rounds follow each other.
        assert len({(c["profile"], c["repetition"]) for c in block}) == 1
        assert block[0]["repetition"] == index // len(profiles) + 1
        order.append(block[0]["profile"])
    rounds = [order[i : i + 3] for i in range(0, len(order), 3)]
    assert rounds == [
        ["baseline", "network-latency", "pinned"],
        ["network-latency", "pinned", "baseline"],
        ["pinned", "baseline", "network-latency"],
        ["baseline", "network-latency", "pinned"],
    ]

    # Within a round every profile measures the same cells in the same order.
    def combinations(block):
        return [(c["implementation"], c["interpreter"], c["workload"]) for c in block]

    for repetition in range(4):
        same_round = blocks[3 * repetition : 3 * repetition + 3]
        assert all(combinations(b) == combinations(same_round[0]) for b in same_round)


def test_a_profiles_cell_carries_it_in_its_id_and_folder():
    from wirebench import cells

    ordered = cells(["redis"], INTERPRETERS, TWO_WORKLOADS[:1], 2, PLAN, 6379,
                    ["baseline", "network-latency"])  # fmt: skip
    assert [(c["id"], c["dir"], c["profile"]) for c in ordered] == [
        ("redis@native/get#1", "redis@native_get_1", "baseline"),
        ("redis@native/get+network-latency#1", "redis@native_get+network-latency_1",
         "network-latency"),
        ("redis@native/get+network-latency#2", "redis@native_get+network-latency_2",
         "network-latency"),
        ("redis@native/get#2", "redis@native_get_2", "baseline"),
    ]  # fmt: skip
    for cell in ordered:
        model = Cell.from_id(cell["id"])
        assert model == Cell.from_dir(cell["dir"]) == Cell.of(cell)
        assert (model.id, model.dir, model.profile) == (cell["id"], cell["dir"], cell["profile"])


def test_skipped_combinations_are_skipped_once_per_profile():
    from wirebench import cells

    ordered = cells(["uvloop"], INTERPRETERS, TWO_WORKLOADS, 2, PLAN, 6379, ["baseline", "b"])
    skipped = [cell["id"] for cell in ordered if cell["status"] == "skipped"]
    assert skipped == ["uvloop@pypy3/get#1", "uvloop@pypy3/get-p16#1",
                       "uvloop@pypy3/get+b#1", "uvloop@pypy3/get-p16+b#1"]  # fmt: skip


def test_twins_resume_and_adaptive_repetitions_keep_the_profile(tmp_path):
    from wirebench import cells, cells_to_measure, repetitions_verdict
    from wirebench_run import with_by_hand, with_twin

    ordered = cells(["redis"], INTERPRETERS, TWO_WORKLOADS[:1], 1, PLAN, 6379, ["baseline", "b"])
    twins = with_twin(with_by_hand(ordered, True), True)
    assert [cell["id"] for cell in twins] == [
        "redis@native/get#1", "redis-twin@native/get#1", "redis@by-hand/get#1",
        "redis@native/get+b#1", "redis-twin@native/get+b#1", "redis@by-hand/get+b#1",
    ]  # fmt: skip
    assert [cell["profile"] for cell in twins] == ["baseline"] * 3 + ["b"] * 3
    for cell in twins:
        assert (cell["id"], cell["dir"]) == (Cell.of(cell).id, Cell.of(cell).dir)
    remaining = cells_to_measure(twins, ["redis@native/get+b#1", "redis@native/get#1"])
    assert "redis@native/get+b#1" not in [c["id"] for c in remaining]
    assert "redis-twin@native/get+b#1" in [c["id"] for c in remaining]
    # Adaptive repetitions read the earlier repetitions of the cell's own profile only.
    for repetition in (1, 2):
        write_cell(tmp_path, f"asyncio@cpython3.11/get+b#{repetition}", {"GET": 50000.0})
    cell = {"implementation": "asyncio", "interpreter": "cpython3.11", "workload": "get",
            "profile": "b", "repetition": 3}  # fmt: skip
    adaptive = {"target": 0.5, "min_repetitions": 2}
    assert repetitions_verdict(cell, tmp_path, adaptive)["needed"] is True  # no CI from 2
    for repetition in range(3, 8):
        write_cell(tmp_path, f"asyncio@cpython3.11/get+b#{repetition}", {"GET": 50000.0})
    cell["repetition"] = 8
    assert repetitions_verdict(cell, tmp_path, adaptive)["needed"] is False
    assert repetitions_verdict({**cell, "profile": "baseline"}, tmp_path, adaptive)["needed"]


@pytest.mark.parametrize(
    ("profiles", "problem"),
    [
        ("baseline", "wirebench_tuning_profiles must be a list"),
        ([], "wirebench_tuning_profiles is empty"),
        (["baseline", "baseline"], "tuning profile 'baseline' is listed twice"),
        (["a.b"], "tuning profile 'a.b' may only hold letters, digits, '_' or '-'"),
        (["a+b"], "tuning profile 'a+b' may only hold"),
        ([3], "tuning profile 3 may only hold"),
    ],
)
def test_the_profiles_are_checked_with_the_matrix(profiles, problem):
    from wirebench import matrix_problems

    found = matrix_problems(["redis"], [], [{"name": "get", "tests": "get", "requests": 1}],
                            [], profiles)  # fmt: skip
    assert [text for text in found if problem in text], found
    assert matrix_problems(["redis"], [], [{"name": "get", "tests": "get", "requests": 1}], [],
                           ["baseline", "network-latency", "my_profile"]) == []  # fmt: skip
