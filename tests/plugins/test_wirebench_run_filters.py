"""The cell tasks' filters (plugins/filter/wirebench_run.py): what a task's result says the
agent answered, and what a cell's load hosts answered in all. Results are shaped as Ansible
gives them to a filter (a ``raw`` task, skipped, unreachable, a loop)."""

from __future__ import annotations

import json

import pytest
from wirebench_run import agent_failed, agent_failure, agent_reply, load_replies

ARTEFACTS = {"argv.json": '["redis-benchmark"]\n', "stdout.csv": "", "stderr.txt": "",
             "result.json": "{}\n"}  # fmt: skip
PREPARED = {"verified": {"round_trip": True, "dbsize": 0}, "warmup_rps": 51234.5,
            "requests": 100000, "run_timeout": 30.0}  # fmt: skip
SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
UNREACHABLE = {"changed": False, "unreachable": True,
               "msg": "Failed to connect to the host via ssh: Connection timed out"}  # fmt: skip


def ran(reply, stderr="") -> dict:
    """A ``raw`` task's result whose command printed ``reply`` as the agent does."""
    stdout = json.dumps(reply) + "\n"
    return {"changed": True, "rc": 0, "stdout": stdout, "stdout_lines": stdout.splitlines(),
            "stderr": stderr, "stderr_lines": stderr.splitlines()}  # fmt: skip


def loop(*items) -> dict:
    """A task looped over load hosts: (host, result) pairs."""
    return {"changed": True, "msg": "All items completed",
            "results": [{**result, "item": host, "ansible_loop_var": "item"}
                        for host, result in items]}  # fmt: skip


@pytest.mark.parametrize("result", [None, {}, SKIPPED, "not a result"])
def test_a_task_that_did_not_run_says_nothing(result):
    assert agent_reply(result) == {}
    assert agent_failed(result) is False


def test_an_unreachable_host_is_named_as_such():
    assert agent_reply(UNREACHABLE) == {"unreachable": True, "msg": UNREACHABLE["msg"]}
    # Not a failure of the agent: the run sees a lost load host (load_replies' "lost").
    assert agent_failed(UNREACHABLE) is False


def test_the_agents_reply_is_its_last_line_of_output():
    reply = {"failed": False, "counters": {"main_pid": 42}}
    result = ran(reply)
    result["stdout"] = "Warning: Permanently added '198.18.0.11'\r\n" + result["stdout"]
    assert agent_reply(result) == reply
    assert agent_failed(result) is False


def test_a_failed_reply_gives_its_own_kind():
    result = ran({"failed": True, "failure": "verify_failed", "msg": "SET/GET round trip failed"})
    assert agent_failed(result) is True
    assert agent_failure(result) == "verify_failed"
    assert agent_reply(result)["msg"] == "SET/GET round trip failed"


def test_a_failed_reply_without_a_kind_gets_the_default():
    result = ran({"failed": True, "msg": "wirebench-agent: usage: ..."})
    assert agent_failure(result) == "benchmark_error"
    assert agent_failure(result, "unit_failed") == "unit_failed"


@pytest.mark.parametrize(
    "result, said",
    [
        ({"rc": 127, "stdout": "", "stderr": "sh: 1: wirebench-agent: not found\n"},
         "(exit 127): sh: 1: wirebench-agent: not found"),
        ({"rc": 137, "stdout": "{\"failed\": fal", "stderr": ""}, '(exit 137): {"failed": fal'),
        ({"rc": 0, "stdout": "[1, 2]\n", "stderr": ""}, "(exit 0): [1, 2]"),
        ({"rc": 0, "stdout": '{"started": true}\n', "stderr": ""}, '(exit 0): {"started": true}'),
        ({"failed": True, "msg": "non-zero return code"}, "(exit None): non-zero return code"),
    ],
)  # fmt: skip
def test_output_that_is_no_reply_is_a_failure_saying_what_was_printed(result, said):
    reply = agent_reply(result)
    assert reply["failed"] is True and reply["failure"] == "benchmark_error"
    assert reply["msg"] == f"wirebench-agent gave no reply {said}"
    assert agent_failed(result) is True and agent_failure(result) == "benchmark_error"


def test_what_was_printed_is_cut_to_its_tail():
    reply = agent_reply({"rc": 1, "stdout": "", "stderr": "x" * 5000 + "the end"})
    assert reply["msg"].endswith("the end") and len(reply["msg"]) < 400


def test_one_load_host_measuring_in_one_call():
    cell = ran({"failed": False, **PREPARED, "artefacts": ARTEFACTS})
    replies = load_replies(["load1"], [cell, SKIPPED, {}, SKIPPED])
    assert replies == {"artefacts": {"load1": ARTEFACTS}, "lost": [], "msg": "",
                       "prepared": PREPARED}  # fmt: skip


def test_the_first_host_prepared_and_measured_in_two_calls():
    prepared = ran({"failed": False, **PREPARED})
    measured = ran({"failed": False, "requests": 100000, "run_timeout": 30.0,
                    "artefacts": ARTEFACTS})  # fmt: skip
    replies = load_replies(["load1"], [SKIPPED, prepared, measured, {}])
    assert replies["prepared"] == PREPARED
    assert replies["artefacts"] == {"load1": ARTEFACTS}


def test_several_load_hosts_each_keep_their_own_files():
    others = {"load2": {**ARTEFACTS, "stdout.csv": "2"}, "load3": {**ARTEFACTS, "stdout.csv": "3"}}
    replies = load_replies(
        ["load1", "load2", "load3"],
        [SKIPPED, ran({"failed": False, **PREPARED}), ran({"failed": False,
                                                           "artefacts": ARTEFACTS})],
        launched=loop(("load2", ran({"failed": False, "started": True})),
                      ("load3", ran({"failed": False, "started": True}))),
        collected=loop(("load2", ran({"failed": False, "artefacts": others["load2"]})),
                       ("load3", ran({"failed": False, "artefacts": others["load3"]}))),
    )  # fmt: skip
    assert replies["artefacts"] == {"load1": ARTEFACTS, **others}
    assert replies["lost"] == [] and replies["prepared"] == PREPARED


def test_a_host_lost_twice_is_named_once():
    replies = load_replies(
        ["load1", "load2", "load3"],
        [ran({"failed": False, **PREPARED, "artefacts": ARTEFACTS})],
        launched=loop(("load2", UNREACHABLE), ("load3", ran({"failed": False, "started": True}))),
        collected=loop(("load2", UNREACHABLE),
                       ("load3", ran({"failed": False, "artefacts": ARTEFACTS}))),
    )  # fmt: skip
    assert replies["lost"] == ["load2"]
    assert replies["msg"] == f"load2: {UNREACHABLE['msg']}"
    assert sorted(replies["artefacts"]) == ["load1", "load3"]


def test_the_first_host_lost_before_it_prepared():
    replies = load_replies(["load1", "load2"], [UNREACHABLE, SKIPPED])
    assert replies["lost"] == ["load1"] and replies["prepared"] == {}
    assert replies["artefacts"] == {}


def test_a_failed_preparation_is_neither_lost_nor_prepared():
    failed = ran({"failed": True, "failure": "no_answer", "msg": "did not answer"})
    replies = load_replies(["load1"], [failed, SKIPPED])
    assert replies == {"artefacts": {}, "lost": [], "msg": "", "prepared": {}}


def test_no_load_host_is_no_reply():
    assert load_replies([], [ran({"failed": False})]) == {
        "artefacts": {}, "lost": [], "msg": "", "prepared": {}}  # fmt: skip
