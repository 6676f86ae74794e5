"""Filters of the tuning role's tasks: which hosts a run tunes, the knob files each gets,
what the agent's save/apply/restore replies say, and the records the controller keeps.

A plan is what wirebench_tuning_plan made for one host: {"profiles": {name: [knob, ...]},
"union": [knob, ...], "problems": [...]}. Logic lives here (tested by
tests/plugins/test_tuning_run_filters.py); YAML only calls it.
"""

from __future__ import annotations

import re

# The file `tune save` reads: every knob any of the run's profiles may touch on the host.
UNION_FILE = "knobs.json"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def tuned_hosts(plans: dict) -> list:
    """The hosts with anything to tune, in the plans' order (baseline only: none)."""
    return [host for host, plan in plans.items() if plan.get("union")]


def plan_problems(plans: dict) -> list:
    return [f"{host}: {problem}" for host, plan in plans.items() for problem in plan["problems"]]


def profile_file(profile: str) -> str:
    if not SAFE_NAME.match(profile) or profile == UNION_FILE.removesuffix(".json"):
        raise ValueError(f"tuning profile {profile!r} is not a plain name")
    return f"{profile}.json"


def knob_files(plans: dict, folder: str) -> list:
    """[{host, dest, content}]: each tuned host's union file and one file per profile (the
    document `tune apply` reads; an empty knob list sets every saved knob back)."""
    files = []
    for host in tuned_hosts(plans):
        plan = plans[host]
        files.append({"host": host, "dest": f"{folder}/{UNION_FILE}",
                      "content": {"knobs": plan["union"]}})  # fmt: skip
        for profile, knobs in plan["profiles"].items():
            files.append({"host": host, "dest": f"{folder}/{profile_file(profile)}",
                          "content": {"profile": profile, "knobs": knobs}})  # fmt: skip
    return files


def outcome(replies: list, hosts: list) -> dict:
    """{"ok": [hosts], "failed": {host: why}} of a looped agent call: ``replies`` are the
    wirebench_agent_reply of each result, ``hosts`` the loop's items."""
    ok, failed = [], {}
    for reply, host in zip(replies, hosts):
        if not reply:
            continue  # skipped
        if reply.get("failed") or reply.get("unreachable"):
            failed[host] = reply.get("msg") or "the agent gave no reason"
        else:
            ok.append(host)
    return {"ok": ok, "failed": failed}


def left_tuned(replies: list, hosts: list) -> dict:
    """{"hosts": [...], "msg"}: the hosts whose `tune status` says an earlier run's tuning
    is still there (or that did not answer it: a host that cannot say is not assumed clean)."""
    found = {}
    for reply, host in zip(replies, hosts):
        if reply.get("failed") or reply.get("unreachable"):
            found[host] = f"tune status failed: {reply.get('msg') or 'no reason given'}"
        elif reply.get("unrestored"):
            knobs = [knob["id"] for knob in reply.get("knobs", []) if knob.get("differs")]
            found[host] = f"saved at {reply.get('saved_at')}, differing now: " + (
                ", ".join(knobs) or "none"
            )
    return {"hosts": list(found), "msg": "; ".join(f"{h} ({why})" for h, why in found.items())}


def failure_message(found: dict, what: str) -> str:
    """``what``, then each failed host of an outcome and why."""
    return f"{what}: " + "; ".join(f"{host}: {why}" for host, why in found["failed"].items())


def records(replies, hosts, action: str, roles: dict, profile: str = "", seconds=None) -> list:
    """[{host, folder, stem, content}]: what the controller keeps of each host's reply, as
    tuning/<host>/<profile>-<time>.json for an apply (collect/tuning.py reads them),
    tuning-snapshot/<host>/<profile>-<time>.json for a snapshot (``profile``: its label, read
    by collect/snapshots.py) and tuning-state/<host>/<action>-<time>.json for a save or a
    restore."""
    kept = []
    for reply, host in zip(replies, hosts):
        if not reply:
            continue
        content = {"host": host, "role": roles.get(host), "action": action, "reply": reply}
        if action == "apply":
            content.update(profile=profile, controller_seconds=seconds)
            folder, stem = f"tuning/{host}", profile
        elif action == "snapshot":
            content.update(label=profile)
            folder, stem = f"tuning-snapshot/{host}", profile
        else:
            folder, stem = f"tuning-state/{host}", action
        kept.append({"host": host, "folder": folder, "stem": stem, "content": content})
    return kept


class FilterModule:
    def filters(self):
        return {
            "wirebench_tuning_hosts": tuned_hosts,
            "wirebench_tuning_plan_problems": plan_problems,
            "wirebench_tuning_files": knob_files,
            "wirebench_tuning_outcome": outcome,
            "wirebench_tuning_failure_message": failure_message,
            "wirebench_tuning_left_tuned": left_tuned,
            "wirebench_tuning_records": records,
        }
