"""The A/A twins of native redis cells (wirebench_aa): the same unit measured again next to
each native redis cell, second in odd repetitions and first in even ones."""

from __future__ import annotations

from wirebench_run import with_by_hand, with_twin

from collect.model import Cell


def cell(implementation, interpreter, repetition, status="pending"):
    found = Cell(implementation, interpreter, "get", repetition)
    return {"id": found.id, "dir": found.dir, "implementation": implementation,
            "interpreter": interpreter, "workload": "get", "repetition": repetition,
            "unit": f"unit-of-{implementation}", "port": 6379, "status": status}  # fmt: skip


CELLS = [
    cell("redis", "native", 1), cell("asyncio", "cpython3.11", 1),
    cell("asyncio", "cpython3.11", 2), cell("redis", "native", 2),
    cell("uvloop", "pypy3", 1, status="skipped"),
]  # fmt: skip


def test_without_aa_the_cells_are_unchanged():
    assert with_twin(CELLS, False) == CELLS


def test_each_native_cell_has_its_twin_on_alternating_sides():
    ids = [found["id"] for found in with_twin(CELLS, True)]
    assert ids == [
        "redis@native/get#1", "redis-twin@native/get#1", "asyncio@cpython3.11/get#1",
        "asyncio@cpython3.11/get#2", "redis-twin@native/get#2", "redis@native/get#2",
        "uvloop@pypy3/get#1",
    ]  # fmt: skip


def test_the_twin_is_the_same_unit_port_and_workload_under_its_own_name():
    twin = with_twin(CELLS, True)[1]
    assert (twin["unit"], twin["port"], twin["workload"]) == ("unit-of-redis", 6379, "get")
    assert twin["implementation"] == "redis-twin" and twin["interpreter"] == "native"
    assert twin["dir"] == Cell("redis-twin", "native", "get", 1).dir == "redis-twin@native_get_1"
    assert twin["status"] == "pending"


def test_a_by_hand_cell_gets_no_twin_of_its_own():
    cells = with_twin(with_by_hand(CELLS[:1], True), True)
    assert [found["id"] for found in cells] == [
        "redis@native/get#1", "redis-twin@native/get#1", "redis@by-hand/get#1",
    ]  # fmt: skip
