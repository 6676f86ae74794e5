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

from collect import compare, snapshots
from collect.aggregate import Thresholds
from collect.report import Collected, markdown_report, run_json
from collect.rundir import load_run

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


# What network-latency changes on a host, set by hand in copies of first.json.
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
        {"host": "h", "role": "server", "label": "as-found", "reply": FIRST},
        "h",
        f"as-found-{START}.json",
        "a",
    )
    b = snapshots.snapshot_of(
        {"host": "h", "role": "server", "label": "as-found", "reply": SECOND},
        "h",
        f"as-found-{START}.json",
        "b",
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


def test_a_label_that_is_only_the_start_of_the_name_is_named(run):
    """A record labelled network in network-latency's file (the lead's time format, with
    microseconds): its name's rest is not a time."""
    folder = run / snapshots.FOLDER / "load1"
    name = "network-latency-20261128T000100.123456Z.json"
    record = {"host": "load1", "role": "load", "label": "network", "reply": FIRST}
    (folder / name).write_text(json.dumps(record))
    record["label"] = "network-latency"
    (folder / "network-latency-20261128T000200.5Z.json").write_text(json.dumps(record))
    found, problems = snapshots.read_snapshots(run)
    assert problems == [
        f"tuning-snapshot/load1/{name}: label 'network' is not the one its name starts with; "
        "not used"
    ]
    assert sorted((s.host, s.label) for s in found) == [
        ("load1", "as-found"),
        ("load1", "network-latency"),
        ("server1", "as-found"),
    ]


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


def with_profile(run: Path) -> Path:
    """network-latency on server1: a copy of first.json changed as that profile changes a
    host (busy_poll and busy_read 50, THP never, a C-state latency held); load1's copy
    unchanged (the profile could change nothing there)."""
    put(run, "server1", "network-latency",
        changed(FIRST, LATENCY_SYSCTLS, **LATENCY_FIELDS), when="20261128T000100Z")  # fmt: skip
    put(run, "load1", "network-latency", FIRST, when="20261128T000100Z")
    return run


def test_the_report_shows_each_host_as_found_and_what_each_profile_changed(run):
    collected = Collected(load_run(with_profile(run)), Thresholds())
    assert collected.run.problems == []
    markdown = markdown_report(collected, [])
    taken = FIRST["snapshot"]
    section = markdown[markdown.index("## Host settings") :]
    section = section[: section.index("\n## ")]
    assert markdown.index("## Host settings") < markdown.index("## get")
    assert "| as found | load1 (load) | server1 (server) |" in section
    assert f"- Kernel command line of load1, server1: `{taken['cmdline']}`" in section
    assert "| SMT | off (notsupported) | off (notsupported) |" in section
    assert "| NUMA nodes | node0: 0-1 | node0: 0-1 |" in section
    assert "| NIC's node | eth0: none (-1) | eth0: none (-1) |" in section
    assert "| governors | none (no cpufreq) | none (no cpufreq) |" in section
    assert "| THP | enabled madvise, defrag madvise | enabled madvise, defrag madvise |" in section
    assert "| irqbalance | unknown | unknown |" in section
    irqs = sorted(int(irq) for irq in taken["nic"]["irqs"])
    assert (
        f"| NIC IRQ → CPUs | {irqs[0]}-{irqs[-1]} → 0-1 | {irqs[0]}-{irqs[-1]} → 0-1 |" in section
    )
    assert "| C-state latency held | none | none |" in section
    count = f"{len(taken['sysctl']):,} ({len(taken['sysctl_withheld'])} withheld)"
    assert f"| sysctls recorded | {count} | {count} |" in section
    assert "- `network-latency` on load1: the same as found." in section
    assert (
        "- `network-latency` on server1: net.core.busy_poll 0 → 50; net.core.busy_read 0 → 50; "
        "thp enabled madvise → never; cstate latency held none → 2 µs."
    ) in section


def test_a_profile_that_changed_many_sysctls_names_the_first_twenty(run):
    keys = sorted(k for k in FIRST["snapshot"]["sysctl"] if k.startswith("net.ipv4.tcp_"))[:25]
    many = {key: "12345" for key in keys}
    put(run, "server1", "network-throughput", changed(FIRST, many), when="20261128T000100Z")
    markdown = markdown_report(Collected(load_run(run), Thresholds()), [])
    (line,) = [ln for ln in markdown.splitlines() if ln.startswith("- `network-throughput`")]
    for key in keys[:20]:
        assert f"{key} {FIRST['snapshot']['sysctl'][key]} → 12345" in line
    assert keys[20] not in line
    assert "and 5 more sysctls (run.json's snapshots)" in line


def test_a_snapshot_the_agent_could_not_take_is_said(run):
    put(run, "server1", snapshots.AS_FOUND, {"failed": True, "msg": "tune snapshot: no /proc"})
    markdown = markdown_report(Collected(load_run(run), Thresholds()), [])
    assert "| snapshot | — | not taken: tune snapshot: no /proc |" in markdown


def test_run_json_keeps_every_field_and_what_a_profile_changed(run):
    document = run_json(Collected(load_run(with_profile(run)), Thresholds()))
    block = document["snapshots"]
    assert sorted(block) == ["load1", "server1"]
    assert sorted(block["server1"]) == ["as-found", "network-latency"]
    found = block["server1"]["as-found"]
    taken = FIRST["snapshot"]
    assert found["sysctl"] == taken["sysctl"]
    assert found["cmdline"] == taken["cmdline"] and found["role"] == "server"
    assert found["nic"] == {**taken["nic"], "irqs_reason": None}
    assert found["file"] == f"tuning-snapshot/server1/as-found-{START}.json"
    assert "differs_from_as_found" not in found
    assert block["server1"]["network-latency"]["differs_from_as_found"] == {
        "sysctl": {"net.core.busy_poll": ["0", "50"], "net.core.busy_read": ["0", "50"]},
        "fields": {
            "thp": [taken["thp"], LATENCY_FIELDS["thp"]],
            "cstate latency held": [None, 2],
        },
    }
    assert block["load1"]["network-latency"]["differs_from_as_found"] == {
        "sysctl": {},
        "fields": {},
    }
    json.dumps(document, allow_nan=False)


def test_a_run_without_snapshots_has_no_section_and_an_empty_block():
    collected = Collected(load_run(RUNS / "quick-a"), Thresholds())
    assert "## Host settings" not in markdown_report(collected, [])
    assert run_json(collected)["snapshots"] == {}


# compare


@pytest.fixture
def two_runs(tmp_path, run):
    """quick-a with first.json on both hosts, and the real quick-b (to be given snapshots)."""
    return run, Path(shutil.copytree(RUNS / "quick-b", tmp_path / "quick-b"))


def warnings_of(paths, tmp_path) -> list[str]:
    text = compare.compare(paths, out=tmp_path / "out", with_plots=False)
    return [
        line.removeprefix("WARNING: ") for line in text.splitlines() if line.startswith("WARNING: ")
    ]


def settings_warnings(paths, tmp_path) -> list[str]:
    hosts = ("server1 ", "load1 ", "server1:", "host settings")
    return [w for w in warnings_of(paths, tmp_path) if w.startswith(hosts)]


def test_the_same_host_read_again_is_no_difference(two_runs, tmp_path):
    a, b = two_runs
    for host in ROLES:
        put(b, host, snapshots.AS_FOUND, SECOND)  # only the volatile counters moved
    assert settings_warnings([a, b], tmp_path) == []
    assert settings_warnings([b, a], tmp_path) == []


def test_each_difference_is_named_with_both_values_both_ways(two_runs, tmp_path):
    """quick-b's server1 is a copy of SECOND changed: somaxconn, a key only it has, one it lacks,
    the command line, SMT, the NUMA layout, the NIC's node, its IRQs, irqbalance, THP, the
    governors and turbo."""
    a, b = two_runs
    other = changed(
        SECOND,
        {"net.core.somaxconn": "1024", "net.ipv4.conf.eth9.forwarding": "0"},
        cmdline=FIRST["snapshot"]["cmdline"] + " isolcpus=1",
        smt={"active": True, "control": "on", "from": "smt/active"},
        numa_nodes={"node0": "0", "node1": "1"},
        nic={"interface": "eth0", "numa_node": 1, "irqs": {"38": "1", "39": "1"}},
        irqbalance="inactive",
        thp={"enabled": "never", "defrag": "never"},
        governors={"0": "performance", "1": "performance"},
        turbo="off",
    )
    del other["snapshot"]["sysctl"]["net.core.busy_poll"]
    put(b, "server1", snapshots.AS_FOUND, other)
    put(b, "load1", snapshots.AS_FOUND, SECOND)
    somaxconn = FIRST["snapshot"]["sysctl"]["net.core.somaxconn"]
    assert somaxconn != "1024"
    expected = [
        f"server1 as-found: cmdline differs: {FIRST['snapshot']['cmdline']!r} (quick-a) vs "
        f"{FIRST['snapshot']['cmdline'] + ' isolcpus=1'!r} (quick-b)",
        "server1 as-found: smt differs: 'off' (quick-a) vs 'on' (quick-b)",
        "server1 as-found: smt control differs: 'notsupported' (quick-a) vs 'on' (quick-b)",
        "server1 as-found: numa_nodes differs: 'node0: 0-1' (quick-a) vs 'node0: 0; node1: 1' "
        "(quick-b)",
        "server1 as-found: nic node differs: 'none (-1)' (quick-a) vs '1' (quick-b)",
        "server1 as-found: irqs differs: '38-39 → 0-1' (quick-a) vs '38-39 → 1' (quick-b)",
        "server1 as-found: irqbalance differs: 'unknown' (quick-a) vs 'inactive' (quick-b)",
        "server1 as-found: thp differs: 'enabled madvise, defrag madvise' (quick-a) vs "
        "'enabled never, defrag never' (quick-b)",
        "server1 as-found: governors differs: 'none (no cpufreq)' (quick-a) vs "
        "'0-1 → performance' "
        "(quick-b)",
        "server1 as-found: turbo differs: 'not read' (quick-a) vs 'off' (quick-b)",
        "server1 as-found: sysctl net.core.busy_poll differs: '0' (quick-a) vs 'absent' (quick-b)",
        f"server1 as-found: sysctl net.core.somaxconn differs: '{somaxconn}' (quick-a) vs "
        "'1024' (quick-b)",
        "server1 as-found: sysctl net.ipv4.conf.eth9.forwarding differs: 'absent' (quick-a) vs "
        "'0' (quick-b)",
    ]
    assert FIRST["snapshot"]["irqbalance"] == "unknown" and FIRST["snapshot"]["turbo"] is None
    assert settings_warnings([a, b], tmp_path) == expected
    # Backwards: the same differences, each value now on the other run's side.
    backwards = []
    for line in expected:
        what, values = line.split(" differs: ")
        base, other = values.removesuffix(" (quick-b)").split(" (quick-a) vs ")
        backwards.append(f"{what} differs: {other} (quick-b) vs {base} (quick-a)")
    assert settings_warnings([b, a], tmp_path) == backwards


def test_a_profile_is_compared_under_its_own_label_without_repeating_as_found(two_runs, tmp_path):
    """Both runs read server1 under network-latency: quick-b's copy holds busy_poll 100 where
    quick-a's holds 50 (and as-found is the same)."""
    a, b = two_runs
    with_profile(a)
    for host in ROLES:
        put(b, host, snapshots.AS_FOUND, SECOND)
    put(b, "server1", "network-latency",
        changed(SECOND, {**LATENCY_SYSCTLS, "net.core.busy_poll": "100"}, **LATENCY_FIELDS),
        when="20261128T000100Z")  # fmt: skip
    put(b, "load1", "network-latency", SECOND, when="20261128T000100Z")
    assert settings_warnings([a, b], tmp_path) == [
        "server1 network-latency: sysctl net.core.busy_poll differs: '50' (quick-a) vs '100' "
        "(quick-b)"
    ]


def test_many_sysctl_differences_are_capped_per_host(two_runs, tmp_path):
    """quick-b's server1 is SECOND with 30 tcp sysctls set to 12345, also under a profile."""
    a, b = two_runs
    keys = sorted(k for k in SECOND["snapshot"]["sysctl"] if k.startswith("net.ipv4.tcp_"))[:30]
    many = changed(SECOND, dict.fromkeys(keys, "12345"))
    put(b, "server1", snapshots.AS_FOUND, many)
    put(b, "load1", snapshots.AS_FOUND, SECOND)
    found = settings_warnings([a, b], tmp_path)
    assert len(found) == 21
    assert [w.split(" differs")[0] for w in found[:20]] == [
        f"server1 as-found: sysctl {key}" for key in keys[:20]
    ]
    assert found[20] == (
        "server1: 10 more sysctl differences (quick-a vs quick-b; run.json's snapshots have "
        "them all)"
    )


def test_a_run_without_snapshots_is_said_not_compared(two_runs, tmp_path):
    a, b = two_runs
    assert settings_warnings([a, b], tmp_path) == [
        "host settings not compared: quick-b kept no snapshot"
    ]
    assert settings_warnings([RUNS / "quick-a", RUNS / "quick-b"], tmp_path) == []
