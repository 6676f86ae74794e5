"""Each host's settings (collect/snapshots.py): read, reported and compared, on REAL snapshots.

golden/snapshots/first.json and second.json are two `tune snapshot --interface eth0` replies of
the agent on the machine these tests were written on, 3 s apart with activity between
(golden/snapshots/README.md). They are put into copies of real lab runs (runs/quick-a,
runs/quick-b) as the run keeps them, tuning-snapshot/<host>/<label>-<time>.json. Where a test
needs a host whose settings differ, it CHANGES A COPY of first.json (a sysctl, THP, the
governors, ...) and says which; nothing here asserts a speed.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from collect import snapshots

HERE = Path(__file__).parent
RUNS = HERE / "runs"
GOLDEN = HERE / "golden" / "snapshots"
FIRST = json.loads((GOLDEN / "first.json").read_text())
SECOND = json.loads((GOLDEN / "second.json").read_text())
ROLES = {"server1": "server", "load1": "load"}
START = "20261128T000000Z"


def put(run: Path, host: str, label: str, reply: dict, when: str = START, **record) -> Path:
    """Keep ``reply`` in ``run`` as the run does; ``record`` overrides the record's fields."""
    folder = run / snapshots.FOLDER / host
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}-{when}.json"
    document = {"host": host, "role": ROLES[host], "label": label, "reply": reply, **record}
    path.write_text(json.dumps(document))
    return path


def changed(reply: dict, sysctl=None, **fields) -> dict:
    """A copy of a real reply with these sysctls and snapshot fields set."""
    found = copy.deepcopy(reply)
    found["snapshot"]["sysctl"].update(sysctl or {})
    found["snapshot"].update(fields)
    return found


@pytest.fixture
def run(tmp_path):
    """A copy of the real quick-a run with both hosts' as-found snapshot (first.json)."""
    path = Path(shutil.copytree(RUNS / "quick-a", tmp_path / "quick-a"))
    for host in ROLES:
        put(path, host, snapshots.AS_FOUND, FIRST)
    return path


# Taken on the measured machine: one profile's changes, by hand.
LATENCY_SYSCTLS = {"net.core.busy_poll": "50", "net.core.busy_read": "50"}
LATENCY_FIELDS = {
    "thp": {"enabled": "never", "defrag": "madvise"},
    "cstate_latency_held_us": 2,
}


def test_the_volatile_list_is_what_two_real_snapshots_taken_apart_differ_in():
    first, second = FIRST["snapshot"], SECOND["snapshot"]
    moved = {k for k in first["sysctl"] | second["sysctl"]
             if first["sysctl"].get(k) != second["sysctl"].get(k)}  # fmt: skip
    assert moved == snapshots.MEASURED_VOLATILE
    # Everything else the agent read is the same: the two are one host's settings.
    assert {k: v for k, v in first.items() if k != "sysctl"} == {
        k: v for k, v in second.items() if k != "sysctl"
    }
    a = snapshots.snapshot_of(
        {"host": "h", "role": "server", "label": "as-found", "reply": FIRST}, "h", "as-found-1", "a"
    )
    b = snapshots.snapshot_of(
        {"host": "h", "role": "server", "label": "as-found", "reply": SECOND}, "h", "as-found-", "b"
    )
    assert not snapshots.differences(a, b)
    assert snapshots.MEASURED_VOLATILE <= snapshots.VOLATILE
    assert "fs.quota.warnings" not in snapshots.VOLATILE  # a setting, not a counter


def test_a_real_snapshot_is_read_field_by_field(run):
    found, problems = snapshots.read_snapshots(run)
    assert problems == []
    assert [(s.host, s.role, s.label) for s in found] == [
        ("load1", "load", "as-found"),
        ("server1", "server", "as-found"),
    ]
    server = found[1]
    taken = FIRST["snapshot"]
    assert server.file == f"tuning-snapshot/server1/as-found-{START}.json"
    assert server.failure is None
    assert server.cmdline == taken["cmdline"]
    assert (server.smt, server.smt_control) == (taken["smt"]["active"], taken["smt"]["control"])
    assert server.numa_nodes == taken["numa_nodes"]
    assert (server.nic, server.nic_node) == ("eth0", taken["nic"]["numa_node"])
    assert server.irqs == taken["nic"]["irqs"] and server.irqs
    assert server.irqbalance == taken["irqbalance"]
    assert server.thp == taken["thp"]
    assert server.governors == taken["governors"]
    assert server.turbo == taken["turbo"]
    assert server.cstate_latency_us == taken["cstate_latency_held_us"]
    assert server.sysctl == taken["sysctl"] and len(server.sysctl) > 1000
    assert list(server.sysctl_withheld) == taken["sysctl_withheld"]
    assert list(server.absent) == FIRST["absent"]


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda p: p.write_text("{"), "is not valid JSON"),
        (
            lambda p: p.write_text(json.dumps({"host": "server1", "label": "as-found"})),
            "reply must be an object, not null",
        ),
        (
            lambda p: p.write_text(
                json.dumps(
                    {
                        "host": "server1",
                        "label": "as-found",
                        "reply": changed(FIRST, sysctl={"net.core.somaxconn": 4096}),
                    }
                )
            ),
            "reply.snapshot.sysctl.net.core.somaxconn must be a string, not an integer (4096)",
        ),
        (
            lambda p: p.write_text(
                json.dumps({"host": "load1", "role": "load", "label": "as-found", "reply": FIRST})
            ),
            "host 'load1' is not its folder's 'server1'",
        ),
        (
            lambda p: p.write_text(
                json.dumps(
                    {"host": "server1", "role": "server", "label": "baseline", "reply": FIRST}
                )
            ),
            "label 'baseline' is not the one its name starts with",
        ),
        (
            lambda p: p.write_text(
                json.dumps(
                    {"host": "server1", "role": "client", "label": "as-found", "reply": FIRST}
                )
            ),
            "role 'client' is not one of server, load",
        ),
    ],
)
def test_a_corrupt_snapshot_is_named_and_the_others_still_read(run, damage, named):
    damage(run / snapshots.FOLDER / "server1" / f"as-found-{START}.json")
    found, problems = snapshots.read_snapshots(run)
    (problem,) = problems
    assert problem.startswith(f"tuning-snapshot/server1/as-found-{START}.json: ")
    assert named in problem and problem.endswith("; not used")
    assert [s.host for s in found] == ["load1"]


def test_anything_else_in_the_folder_is_named_not_read(run):
    folder = run / snapshots.FOLDER
    (folder / "stray.json").write_text("{}")
    (folder / "server1" / "notes.txt").write_text("")
    (folder / "server1" / "inner.json").mkdir()
    (folder / "server1" / "linked.json").symlink_to(GOLDEN / "first.json")
    found, problems = snapshots.read_snapshots(run)
    assert sorted(problems) == sorted(
        [
            "tuning-snapshot/stray.json: not a host's folder; not read",
            "tuning-snapshot/server1/notes.txt: not a settings snapshot; not read",
            "tuning-snapshot/server1/inner.json: not a settings snapshot; not read",
            "tuning-snapshot/server1/linked.json: not a settings snapshot; not read",
        ]
    )
    assert len(found) == 2


def test_a_second_snapshot_under_one_label_is_named_and_the_first_kept(run):
    later = put(run, "server1", snapshots.AS_FOUND, changed(FIRST, thp={"enabled": "never"}),
                when="20261128T010000Z")  # fmt: skip
    found, problems = snapshots.read_snapshots(run)
    assert problems == [
        f"tuning-snapshot/server1/{later.name}: a second as-found snapshot of server1 (the "
        f"first is tuning-snapshot/server1/as-found-{START}.json); not used"
    ]
    (server,) = [s for s in found if s.host == "server1"]
    assert server.thp == FIRST["snapshot"]["thp"]
