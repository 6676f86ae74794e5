"""Filters of the run's cell tasks: what the agent's replies say, and what a cell's load
hosts answered in all.

Logic lives here (tested by tests/plugins/test_wirebench_run_filters.py); YAML only calls it.
"""

from __future__ import annotations

import json

PREPARED_FIELDS = ("verified", "warmup_rps", "requests", "run_timeout")
TAIL = 300


def agent_reply(result):
    """The agent's reply in a task's result (a ``raw`` call of wirebench-agent).

    {} for a task that did not run; {"unreachable": True, "msg"} for a host that did not
    answer; the agent's own JSON reply (it always has ``failed``); or, when the agent
    printed no reply (not installed, killed), a failure naming what it did print.
    """
    if not isinstance(result, dict) or not result or result.get("skipped"):
        return {}
    if result.get("unreachable"):
        return {"unreachable": True, "msg": str(result.get("msg", ""))}
    stdout = str(result.get("stdout", "")).strip()
    try:
        reply = json.loads(stdout.splitlines()[-1]) if stdout else None
    except ValueError:
        reply = None
    if isinstance(reply, dict) and "failed" in reply:
        return reply
    said = (str(result.get("stderr", "")).strip() or stdout or result.get("msg", ""))[-TAIL:]
    return {
        "failed": True,
        "failure": "benchmark_error",
        "msg": f"wirebench-agent gave no reply (exit {result.get('rc')}): {said}",
    }


def load_replies(load_hosts, first, launched=None, collected=None):
    """What every load host of a cell answered.

    ``first``: the first load host's task results this cell (its cell call, or its prepare
    and measure calls; those that did not run are empty or skipped). ``launched``: starting
    the other load hosts' runs in the background, ``collected``: reading their replies
    back (each a loop over those hosts).

    Returns {"artefacts": {host: {file name: text}}, "lost": [hosts that did not answer],
    "msg": why they did not, "prepared": what the first load host's preparation found
    (verified, warmup_rps, requests; empty if it did not get that far)}.
    """
    load_hosts = list(load_hosts or [])
    replies = [(load_hosts[0], agent_reply(result)) for result in first or []] if load_hosts else []
    for loop in (launched, collected):
        for result in (loop or {}).get("results", []):
            replies.append((result.get("item"), agent_reply(result)))
    prepared = next(
        ({key: reply.get(key) for key in PREPARED_FIELDS} for _, reply in replies if "verified" in reply),
        {},
    )
    artefacts, lost, messages = {}, [], []
    for host, reply in replies:
        if reply.get("unreachable"):
            if host not in lost:
                lost.append(host)
                messages.append(f"{host}: {reply.get('msg', '')}".strip())
        elif isinstance(reply.get("artefacts"), dict):
            artefacts[host] = reply["artefacts"]
    return {"artefacts": artefacts, "lost": lost, "msg": "; ".join(messages), "prepared": prepared}


def agent_failed(result) -> bool:
    """Whether the agent reported a failure (or gave no reply) in a task's result."""
    return bool(agent_reply(result).get("failed"))


def agent_failure(result, default="benchmark_error"):
    """The failure kind a failed task stands for: the agent's own, else ``default``."""
    return agent_reply(result).get("failure") or default


class FilterModule:
    def filters(self):
        return {
            "wirebench_agent_reply": agent_reply,
            "wirebench_load_replies": load_replies,
            "wirebench_agent_failure": agent_failure,
            "wirebench_agent_failed": agent_failed,
        }
