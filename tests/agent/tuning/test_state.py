"""Save, apply, restore and status on a host's tree: everything a run changes is saved first
and put back byte for byte; a host with unrestored state is refused; switching profiles
leaves nothing of the one before."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from agent.tuning import placement, profiles, state
from agent.tuning.knobs import parse_all
from tests.agent.tuning.conftest import tree_files

LATENCY = [
    {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"},
    {"kind": "sysctl", "key": "net.core.busy_read", "value": "50"},
    {"kind": "thp", "setting": "enabled", "value": "never"},
    {"kind": "governor", "cpus": "0-3", "value": "performance"},
    {"kind": "cstate_latency", "value": 3},
    {"kind": "irq_affinity", "interface": "eth1", "cpus": "2-3"},
    {"kind": "placement", "process": "server", "cpus": "0-1"},
]
THROUGHPUT = [
    {"kind": "sysctl", "key": "net.core.somaxconn", "value": "8192"},
    {"kind": "governor", "cpus": "0-3", "value": "performance"},
    {"kind": "rps", "interface": "eth1", "cpus": "0-3"},
]


def union(*lists):
    """What the run saves: every knob of its profiles, once."""
    return parse_all(profiles.union(*lists))


def saved_document(host) -> dict:
    return json.loads(Path(state.saved_file(host)).read_text())


def by_id(reply: dict) -> dict:
    return {entry["id"]: entry for entry in reply["knobs"]}


def test_save_apply_restore_leaves_the_host_as_it_was(intel, system):
    system.active["irqbalance"] = ["/usr/sbin/irqbalance"]
    original = tree_files(intel.root)
    saved = state.save(intel, union(LATENCY, THROUGHPUT))
    assert "failed" not in saved, saved
    assert saved["saved"] == "/var/lib/wirebench/tuning/saved.json"
    document = saved_document(intel)
    assert document["format"] == "wirebench-tuning/1"
    values = {entry["id"]: entry.get("value") for entry in document["knobs"]}
    assert values["sysctl:net.core.busy_poll"] == "0"
    assert values["thp:enabled"] == "always"
    assert values["cstate_latency"] is None
    assert values["irq_affinity:eth1"]["irqbalance"] == "active"
    assert values["placement:server"] == {"wirebench-server@.service": "",
                                          "wirebench-redis.service": ""}  # fmt: skip

    applied = state.apply(intel, "network-latency", parse_all(LATENCY))
    assert "failed" not in applied, applied
    statuses = {knob_id: entry["status"] for knob_id, entry in by_id(applied).items()}
    assert statuses == {
        "sysctl:net.core.busy_poll": "applied", "sysctl:net.core.busy_read": "unavailable",
        "thp:enabled": "applied", "governor:0-3": "applied", "cstate_latency": "applied",
        "irq_affinity:eth1": "applied", "placement:server": "applied",
        # saved, not in this profile, already at their saved values
        "sysctl:net.core.somaxconn": "unchanged", "rps:eth1": "unchanged",
    }  # fmt: skip
    assert by_id(applied)["sysctl:net.core.busy_read"]["reason"].endswith("absent (ENOENT)")
    assert isinstance(applied["switch_seconds"], float) and applied["switch_seconds"] >= 0
    assert tree_files(intel.root) != original
    assert Path(intel.path(placement.drop_in("wirebench-redis.service"))).read_text() == (
        "[Service]\nCPUAffinity=0-1\n"
    )

    restored = state.restore(intel)
    assert "failed" not in restored, restored
    assert restored["removed"] == "/var/lib/wirebench/tuning/saved.json"
    assert tree_files(intel.root) == original
    assert system.active == {"irqbalance": ["irqbalance"]}  # running again, no latency holder
    assert not os.path.exists(state.saved_file(intel))
    assert os.listdir(intel.path(state.STATE_DIR)) == []
    assert os.listdir(intel.path(placement.UNIT_FOLDER)) == [".present"]  # no drop-in folders


def test_applying_b_after_a_puts_back_what_a_set_and_b_does_not(intel, system):
    state.save(intel, union(LATENCY, THROUGHPUT))
    state.apply(intel, "network-latency", parse_all(LATENCY))
    busy_poll = Path(intel.path("proc/sys/net/core/busy_poll"))
    assert busy_poll.read_text() == "50\n"
    assert "wirebench-cpu-dma-latency" in system.active

    switched = state.apply(intel, "network-throughput", parse_all(THROUGHPUT))
    assert "failed" not in switched, switched
    entries = by_id(switched)
    for knob_id in (
        "sysctl:net.core.busy_poll",
        "thp:enabled",
        "cstate_latency",
        "irq_affinity:eth1",
    ):
        assert entries[knob_id]["reset"] is True
        assert entries[knob_id]["status"] == "applied"
    assert entries["governor:0-3"]["status"] == "unchanged"  # in both profiles
    assert entries["sysctl:net.core.somaxconn"]["status"] == "applied"
    assert busy_poll.read_text() == "0\n"
    assert Path(intel.path("sys/kernel/mm/transparent_hugepage/enabled")).read_text() == (
        "[always] madvise never\n"
    )
    assert Path(intel.path("proc/irq/120/smp_affinity_list")).read_text() == "0-3\n"
    assert "wirebench-cpu-dma-latency" not in system.active
    status = state.status(intel)
    assert status["applied_profile"] == "network-throughput"
    differs = {entry["id"] for entry in status["knobs"] if entry.get("differs")}
    assert differs == {"sysctl:net.core.somaxconn", "governor:0-3", "rps:eth1"}


def test_save_refuses_a_host_with_unrestored_state(intel):
    state.save(intel, union(LATENCY))
    state.apply(intel, "network-latency", parse_all(LATENCY))
    before = Path(state.saved_file(intel)).read_bytes()
    refused = state.save(intel, union(THROUGHPUT))
    assert refused["failed"] is True
    assert refused["msg"] == (
        "this host has tuning an earlier run did not restore "
        "(/var/lib/wirebench/tuning/saved.json): run playbooks/untune.yml first, or save with "
        "--restore-first"
    )
    assert Path(state.saved_file(intel)).read_bytes() == before  # the state untune needs


def test_save_with_restore_first_restores_and_says_so(intel):
    original = tree_files(intel.root)
    state.save(intel, union(LATENCY))
    state.apply(intel, "network-latency", parse_all(LATENCY))
    saved = state.save(intel, union(THROUGHPUT), restore_first=True)
    assert "failed" not in saved
    assert saved["note"] == "an earlier run's tuning was restored first"
    assert "removed" in saved["restored_first"]
    assert tree_files(intel.root) == original
    ids = [entry["id"] for entry in saved_document(intel)["knobs"]]
    assert ids == ["sysctl:net.core.somaxconn", "governor:0-3", "rps:eth1"]


def test_restore_keeps_saved_json_and_names_what_did_not_come_back(intel, kernel):
    state.save(intel, union(LATENCY, THROUGHPUT))
    state.apply(intel, "network-latency", parse_all(LATENCY))
    kernel.fail_writes["net/core/busy_poll"] = errno.EROFS  # e.g. /proc/sys remounted read-only
    restored = state.restore(intel)
    assert restored["failed"] is True
    assert restored["kept"] == "/var/lib/wirebench/tuning/saved.json"
    assert restored["msg"] == (
        "not restored (saved.json kept): sysctl:net.core.busy_poll: could not restore: "
        "cannot write /proc/sys/net/core/busy_poll: read-only file system (EROFS)"
    )
    assert os.path.exists(state.saved_file(intel))
    # Everything else did come back, and a second restore, once it can, finishes the job.
    assert by_id(restored)["thp:enabled"]["status"] == "applied"
    del kernel.fail_writes["net/core/busy_poll"]
    again = state.restore(intel)
    assert "failed" not in again
    assert by_id(again)["sysctl:net.core.busy_poll"]["status"] == "applied"
    assert by_id(again)["thp:enabled"]["status"] == "unchanged"
    assert not os.path.exists(state.saved_file(intel))


def test_a_restore_that_reads_back_something_else_is_not_restored(intel):
    state.save(intel, union(THROUGHPUT))
    state.apply(intel, "network-throughput", parse_all(THROUGHPUT))
    original_write = intel.write

    def sticky_write(path, text):  # the kernel takes the write and keeps its own value
        if not path.endswith("somaxconn"):
            original_write(path, text)

    intel.write = sticky_write
    restored = state.restore(intel)
    assert restored["failed"] is True
    assert "sysctl:net.core.somaxconn: read back '8192', wanted '4096'" in restored["msg"]
    assert os.path.exists(state.saved_file(intel))


def test_restore_with_nothing_saved_is_not_a_failure(intel):
    assert state.restore(intel) == {"knobs": [], "note": "nothing saved: nothing to restore"}
    assert state.status(intel) == {"unrestored": False}


def test_a_required_knob_the_host_cannot_change_stops_the_save(vm):
    knobs = parse_all([
        {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"},
        {"kind": "governor", "cpus": "0-1", "value": "performance", "required": True},
    ])  # fmt: skip
    saved = state.save(vm, knobs)
    assert saved["failed"] is True
    assert saved["msg"].startswith(
        "cannot save: governor:0-1: required, but unavailable: cpu0 has no cpufreq"
    )
    assert not os.path.exists(state.saved_file(vm))  # nothing changed, nothing to restore


def test_a_required_knob_that_becomes_unavailable_fails_the_apply(vm, kernel):
    knobs = parse_all([
        {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50", "required": True},
        {"kind": "sysctl", "key": "net.core.somaxconn", "value": "8192"},
    ])  # fmt: skip
    state.save(vm, knobs)
    kernel.fail_writes["busy_poll"] = errno.EROFS
    applied = state.apply(vm, "latency", knobs)
    assert applied["failed"] is True
    assert applied["msg"] == (
        "profile latency: sysctl:net.core.busy_poll: required, but unavailable: "
        "cannot write /proc/sys/net/core/busy_poll: read-only file system (EROFS)"
    )
    assert by_id(applied)["sysctl:net.core.somaxconn"]["status"] == "applied"


def test_an_unavailable_knob_is_saved_as_such_and_skipped_on_restore(vm):
    knobs = parse_all(
        [
            {"kind": "turbo", "value": "off"},
            {"kind": "sysctl", "key": "vm.swappiness", "value": "10"},
        ]
    )
    saved = state.save(vm, knobs)
    assert by_id(saved)["turbo"]["status"] == "unavailable"
    assert saved_document(vm)["knobs"][0]["status"] == "unavailable"
    state.apply(vm, "p", knobs)
    restored = state.restore(vm)
    assert [entry["id"] for entry in restored["knobs"]] == ["sysctl:vm.swappiness"]


def test_apply_needs_a_save_and_every_knob_saved(intel):
    refused = state.apply(intel, "network-latency", parse_all(LATENCY))
    assert refused == {
        "failed": True, "profile": "network-latency",
        "msg": "nothing is saved: tune save must run before a profile is applied",
    }  # fmt: skip
    state.save(intel, union(THROUGHPUT))
    refused = state.apply(intel, "network-latency", parse_all(LATENCY))
    assert refused["failed"] is True
    assert refused["msg"] == (
        "not saved, so it could not be restored: sysctl:net.core.busy_poll, "
        "sysctl:net.core.busy_read, thp:enabled, cstate_latency, irq_affinity:eth1, placement:server "
        "(save the knobs of every profile of the run first)"
    )
    assert Path(intel.path("proc/sys/net/core/busy_poll")).read_text() == "0\n"


def test_saved_json_is_written_whole_with_nothing_left_beside_it(intel):
    state.save(intel, union(THROUGHPUT))
    assert os.listdir(intel.path(state.STATE_DIR)) == ["saved.json"]
    document = saved_document(intel)
    assert [entry["knob"] for entry in document["knobs"]] == [
        {"kind": "sysctl", "key": "net.core.somaxconn", "value": "8192"},
        {"kind": "governor", "cpus": "0-3", "value": "performance"},
        {"kind": "rps", "interface": "eth1", "cpus": "0-3"},
    ]
    assert document["saved_at"].endswith("Z")


def test_a_damaged_saved_json_is_reported_and_kept(intel):
    os.makedirs(intel.path(state.STATE_DIR))
    Path(state.saved_file(intel)).write_text('{"format": "wirebench-tuning/1", "knobs": [')
    for action in (state.restore, state.status):
        try:
            action(intel)
        except state.TuningFailure as exc:
            assert str(exc).startswith("cannot read /var/lib/wirebench/tuning/saved.json")
        else:
            raise AssertionError(f"{action.__name__} read a damaged saved.json")
    assert os.path.exists(state.saved_file(intel))


def test_status_says_what_is_saved_and_what_differs_now(vm):
    knobs = parse_all([
        {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"},
        {"kind": "sysctl", "key": "vm.swappiness", "value": "10"},
        {"kind": "turbo", "value": "on"},
    ])  # fmt: skip
    state.save(vm, knobs)
    state.apply(vm, "p", knobs[:1])
    status = state.status(vm)
    assert status["unrestored"] is True
    assert status["applied_profile"] == "p"
    assert status["knobs"][0] == {
        "id": "sysctl:net.core.busy_poll",
        "saved": "0",
        "now": "50",
        "differs": True,
    }
    assert status["knobs"][1] == {
        "id": "sysctl:vm.swappiness",
        "saved": "60",
        "now": "60",
        "differs": False,
    }
    assert status["knobs"][2]["status"] == "unavailable"
