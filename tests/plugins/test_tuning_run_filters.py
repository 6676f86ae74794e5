"""The tuning role's filters: which hosts are tuned, their knob files, what the agent's
replies say, and the records the controller keeps. The replies are the agent's own, made by
running its tune commands on a copy of a tree captured from this VM."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from wirebench_run import agent_reply
from wirebench_tuning_run import (
    UNION_FILE,
    failure_message,
    knob_files,
    left_tuned,
    outcome,
    plan_problems,
    records,
    tuned_hosts,
)

SOMAXCONN = {"kind": "sysctl", "key": "net.core.somaxconn", "value": "8192"}
PLANS = {
    "server1": {
        "profiles": {"baseline": [], "network-latency": [SOMAXCONN]},
        "union": [SOMAXCONN],
        "problems": [],
    },
    "load1": {"profiles": {"baseline": [], "network-latency": []}, "union": [], "problems": []},
}


ROOT = Path(__file__).resolve().parents[2]
TREE = ROOT / "tests" / "agent" / "trees" / "debian12-vm"


def agent(*args) -> dict:
    done = subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return json.loads(done.stdout)


@pytest.fixture
def tuned_tree(tmp_path):
    """A copy of the tree captured from this VM, and the agent's --root option for it."""
    root = tmp_path / "root"
    shutil.copytree(TREE, root, symlinks=True)
    (tmp_path / "knobs.json").write_text(json.dumps({"knobs": [SOMAXCONN]}))
    (tmp_path / "p.json").write_text(json.dumps({"profile": "network-latency",
                                                 "knobs": [SOMAXCONN]}))  # fmt: skip
    return tmp_path, ("--root", str(root))


@pytest.fixture
def tuned_tree_replies(tuned_tree):
    """(save, apply, restore): the agent's replies, each step run for real on the tree."""
    folder, on_root = tuned_tree
    save = agent("tune", "save", str(folder / "knobs.json"), *on_root)
    apply = agent("tune", "apply", str(folder / "p.json"), *on_root)
    restore = agent("tune", "restore", *on_root)
    assert not any(reply["failed"] for reply in (save, apply, restore))
    return save, apply, restore


@pytest.fixture
def tuned_tree_status(tuned_tree):
    """(status while tuned, status after restore), the agent's own replies."""
    folder, on_root = tuned_tree
    agent("tune", "save", str(folder / "knobs.json"), *on_root)
    agent("tune", "apply", str(folder / "p.json"), *on_root)
    unrestored = agent("tune", "status", *on_root)
    agent("tune", "restore", *on_root)
    return unrestored, agent("tune", "status", *on_root)


def raw_result(reply: dict, host: str) -> dict:
    """A looped `raw` task's result for one host, as Ansible registers it."""
    return {"item": host, "rc": 0, "stdout": json.dumps(reply) + "\r\n", "stderr": ""}


def test_only_hosts_with_knobs_are_tuned_and_each_gets_its_files():
    assert tuned_hosts(PLANS) == ["server1"]
    files = knob_files(PLANS, "/var/lib/wirebench/tuning-plan")
    assert [f["dest"] for f in files] == [
        f"/var/lib/wirebench/tuning-plan/{UNION_FILE}",
        "/var/lib/wirebench/tuning-plan/baseline.json",
        "/var/lib/wirebench/tuning-plan/network-latency.json",
    ]
    assert {f["host"] for f in files} == {"server1"}
    assert files[0]["content"] == {"knobs": [SOMAXCONN]}
    # baseline's file has no knobs: applying it sets every saved knob back.
    assert files[1]["content"] == {"profile": "baseline", "knobs": []}


@pytest.mark.parametrize("name", ["../etc", "knobs", "a b", ""])
def test_a_profile_name_that_is_not_a_plain_name_makes_no_file(name):
    plans = {"h": {**PLANS["server1"], "profiles": {name: [SOMAXCONN]}}}
    with pytest.raises(ValueError, match="not a plain name"):
        knob_files(plans, "/x")


def test_problems_name_their_host():
    plans = {**PLANS, "load1": {**PLANS["load1"], "problems": ["set wirebench_load_cpus"]}}
    assert plan_problems(plans) == ["load1: set wirebench_load_cpus"]


def test_outcome_and_records_of_real_agent_replies(tuned_tree_replies):
    _save, apply, restore = tuned_tree_replies
    lost = {"item": "load1", "unreachable": True, "msg": "ssh: connect timed out"}
    results = [raw_result(apply, "server1"), lost, {"item": "load2", "skipped": True}]
    replies = [agent_reply(r) for r in results]
    hosts = [r["item"] for r in results]
    found = outcome(replies, hosts)
    assert found == {"ok": ["server1"], "failed": {"load1": "ssh: connect timed out"}}
    assert failure_message(found, "profile x is not in effect") == (
        "profile x is not in effect: load1: ssh: connect timed out"
    )
    roles = {"server1": "server", "load1": "load"}
    kept = records(replies, hosts, "apply", roles, "network-latency", 0.25)
    assert [(k["host"], k["folder"], k["stem"]) for k in kept] == [
        ("server1", "tuning/server1", "network-latency"),
        ("load1", "tuning/load1", "network-latency"),
    ]
    assert kept[0]["content"]["reply"] == apply and kept[0]["content"]["role"] == "server"
    assert kept[0]["content"]["controller_seconds"] == 0.25
    (state,) = records([agent_reply(raw_result(restore, "server1"))], ["server1"], "restore",
                       roles)  # fmt: skip
    assert (state["folder"], state["stem"]) == ("tuning-state/server1", "restore")
    assert "profile" not in state["content"]
    (snapshot,) = records([{"failed": False, "snapshot": {}}], ["load1"], "snapshot", roles,
                          "as-found")  # fmt: skip
    assert (snapshot["folder"], snapshot["stem"]) == ("tuning-snapshot/load1", "as-found")
    assert snapshot["content"]["label"] == "as-found" and snapshot["content"]["role"] == "load"


def test_a_host_left_tuned_or_silent_is_named(tuned_tree_status):
    unrestored, clean = tuned_tree_status
    replies = [unrestored, clean, {"failed": True, "msg": "wirebench-agent gave no reply"}]
    found = left_tuned(replies, ["server1", "load1", "load2"])
    assert found["hosts"] == ["server1", "load2"]
    assert "server1 (saved at " in found["msg"] and "sysctl:net.core.somaxconn" in found["msg"]
    assert "load2 (tune status failed: wirebench-agent gave no reply)" in found["msg"]
    assert left_tuned([clean], ["load1"]) == {"hosts": [], "msg": ""}
