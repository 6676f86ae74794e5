"""Filters of the run's cell tasks: what the agent's replies say, and what a cell's load
hosts answered in all.

Logic lives here (tested by tests/plugins/test_wirebench_run_filters.py); YAML only calls it.
"""

from __future__ import annotations

import json

BY_HAND = "by-hand"
NATIVE = "redis"
# The A/A twin: native redis measured again as a second, identically configured cell.
TWIN = "redis-twin"
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
    preparations = [reply for _, reply in replies if "verified" in reply]
    prepared = {key: preparations[0].get(key) for key in PREPARED_FIELDS} if preparations else {}
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


def with_by_hand(cells, enabled):
    """The run's cells, each native redis cell followed by its by-hand twin when ``enabled``.

    A by-hand cell (``redis@by-hand/<workload>#<rep>``) measures the same unit with bare
    redis-benchmark run from the load host's shell with the same flags, right after the
    cell wirebench measured: the pair checks the instrument against the bare client.
    """
    if not enabled:
        return list(cells)
    from collect.model import Cell  # the controller's venv has the project installed

    out = []
    for cell in cells:
        out.append(cell)
        if cell.get("implementation") == NATIVE and cell.get("status") == "pending":
            twin = Cell.of({**cell, "interpreter": BY_HAND})
            out.append({**cell, "id": twin.id, "dir": twin.dir, "interpreter": BY_HAND,
                        "by_hand": True})  # fmt: skip
    return out


def with_twin(cells, enabled):
    """The run's cells with an A/A twin of each native redis cell when ``enabled``.

    The twin (``redis-twin@native/<workload>#<rep>``) is the same unit, port and workload
    measured again right next to it, so the pair shows the instrument's noise floor: two
    identical cells that the report must not call different. The twin comes after native
    redis in odd repetitions and before it in even ones, so being second (a warmer machine,
    a later moment) favours neither.
    """
    if not enabled:
        return list(cells)
    from collect.model import Cell  # the controller's venv has the project installed

    out = []
    for cell in cells:
        native = cell.get("implementation") == NATIVE and cell.get("interpreter") == "native"
        if not native or cell.get("status") != "pending":  # by-hand twins have their own
            out.append(cell)
            continue
        twin = Cell.of({**cell, "implementation": TWIN})  # of the same profile
        twin_cell = {**cell, "id": twin.id, "dir": twin.dir, "implementation": TWIN}
        out += [cell, twin_cell] if cell["repetition"] % 2 else [twin_cell, cell]
    return out


def benchmark_argv(params, requests):
    """The redis-benchmark argument list the agent would run for these cell parameters."""
    from agent.loadgen import benchmark_argv as argv_of

    return argv_of(params["host"], params["port"], params["workload"], int(requests))


def by_hand_artefacts(result, argv, started, ended, threads=1):
    """A by-hand run's raw files, as the agent writes a measured run's: argv, stdout, stderr
    and a result.json with what can be known from outside (exit code, controller times)."""
    reply = result if isinstance(result, dict) else {}
    document = {
        "exit_code": reply.get("rc"),
        "timed_out": False,
        "started": float(started),
        "ended": float(ended),
        # Seen from the controller: it includes the ssh round trip (the rates do not).
        "elapsed_s": float(ended) - float(started),
        "threads": int(threads or 1),
        "by_hand": True,
    }
    return {
        "argv.json": json.dumps(list(argv)) + "\n",
        "stdout.csv": str(reply.get("stdout", "")),
        "stderr.txt": str(reply.get("stderr", "")),
        "result.json": json.dumps(document, indent=2, sort_keys=True) + "\n",
    }


class FilterModule:
    def filters(self):
        return {
            "wirebench_agent_reply": agent_reply,
            "wirebench_load_replies": load_replies,
            "wirebench_agent_failure": agent_failure,
            "wirebench_agent_failed": agent_failed,
            "wirebench_with_by_hand": with_by_hand,
            "wirebench_with_twin": with_twin,
            "wirebench_benchmark_argv": benchmark_argv,
            "wirebench_by_hand_artefacts": by_hand_artefacts,
        }
