"""Save, apply, restore: a host's tuning and the file that lets it be put back.

    save(knobs)          before the first change: every knob the run may touch (the union
                         of its profiles), read and written to saved.json; refused while an
                         earlier run's saved.json is still there
    apply(profile, knobs)  one profile's knobs set and read back; a saved knob the profile
                         does not set goes back to its saved value, so nothing of the
                         profile before stays
    restore()            every saved knob back and verified equal to its saved value;
                         saved.json removed only when all are
    status()             what is saved and what differs from it now

saved.json lives under <root>/var/lib/wirebench/tuning/ and is written whole or not at all
(a temporary file, fsync, rename, fsync of the folder), so a crash at any moment leaves
either no state or a complete one for untune to restore from.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import datetime, timezone

from . import cpus as cpu_lists
from .host import Host, TuningFailure, Unavailable, replace_file, sync_folder
from .knobs import Knob, KnobError, parse
from .units import UNITS

STATE_DIR = "var/lib/wirebench/tuning"
SAVED = "saved.json"
APPLIED = "applied.json"  # which profile is applied now, for status
FORMAT = "wirebench-tuning/1"
UNTUNE = "playbooks/untune.yml"
ONLINE = "sys/devices/system/cpu/online"

APPLIED_STATUS = "applied"
UNCHANGED = "unchanged"
UNAVAILABLE = "unavailable"
FAILED = "failed"
PROFILE_VALUE = object()  # set_knob's default target (a saved state may itself be None)


def saved_file(host: Host) -> str:
    return host.path(STATE_DIR, SAVED)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_atomically(path: str, document: dict) -> None:
    replace_file(path, json.dumps(document, indent=1, sort_keys=True) + "\n")


def load_saved(host: Host):
    """The saved document, or None when there is none; TuningFailure when it is unreadable
    (never removed: it is what untune needs)."""
    path = saved_file(host)
    try:
        with open(path) as handle:
            document = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TuningFailure(f"cannot read {host.display(STATE_DIR, SAVED)}: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TuningFailure(f"{host.display(STATE_DIR, SAVED)} is not a {FORMAT} document")
    return document


def saved_knobs(document: dict) -> list:
    """[(knob, entry)] of a saved document, in the order they were saved."""
    found = []
    for index, entry in enumerate(document.get("knobs", [])):
        try:
            found.append((parse(entry["knob"], f"saved knobs[{index}]"), entry))
        except (KnobError, KeyError, TypeError) as exc:
            raise TuningFailure(f"saved.json: {exc}") from None
    return found


def check_cpus(host: Host, knob: Knob) -> None:
    """A knob naming CPUs this host does not have online is a mistake in the run's facts,
    not something the host cannot do."""
    if not knob.cpus or not host.exists(ONLINE):
        return
    online = cpu_lists.parse_list(host.read_text(ONLINE))
    missing = knob.cpus - online
    if missing:
        raise TuningFailure(
            f"CPUs {cpu_lists.format_list(missing)} are not online here "
            f"(online: {cpu_lists.format_list(online)})"
        )


def outcome(knob: Knob, **fields) -> dict:
    return {"id": knob.id, "kind": knob.kind, "target": knob.target,
            "required": knob.required, **fields}  # fmt: skip


def set_knob(host: Host, knob: Knob, to=PROFILE_VALUE, restoring: bool = False) -> dict:
    """Set a knob to its profile's value (or to the state ``to``, a saved one), read it back
    and compare. A host that cannot is ``unavailable``, unless the knob is required or this
    is a restore: then it is a failure."""
    before = read_back = wanted = None
    try:
        check_cpus(host, knob)
        unit = UNITS[knob.kind]
        before = unit.read(host, knob)
        wanted = unit.wanted(knob, before) if to is PROFILE_VALUE else to
        if before == wanted:
            return outcome(knob, wanted=wanted, before=before, read_back=before,
                           status=UNCHANGED, reason="")  # fmt: skip
        unit.write(host, knob, wanted, before)
        read_back = unit.read(host, knob)
    except Unavailable as exc:
        if knob.required or restoring:
            why = "required, but unavailable" if knob.required else "could not restore"
            return outcome(knob, wanted=wanted, before=before, read_back=read_back,
                           status=FAILED, reason=f"{why}: {exc}")  # fmt: skip
        return outcome(knob, wanted=wanted, before=before, read_back=read_back,
                       status=UNAVAILABLE, reason=str(exc))  # fmt: skip
    except (TuningFailure, OSError) as exc:
        return outcome(knob, wanted=wanted, before=before, read_back=read_back,
                       status=FAILED, reason=str(exc))  # fmt: skip
    if read_back != wanted:
        return outcome(knob, wanted=wanted, before=before, read_back=read_back, status=FAILED,
                       reason=f"read back {read_back!r}, wanted {wanted!r}")  # fmt: skip
    return outcome(knob, wanted=wanted, before=before, read_back=read_back,
                   status=APPLIED_STATUS, reason="")  # fmt: skip


def failures(entries: list) -> list:
    return [f"{entry['id']}: {entry['reason']}" for entry in entries if entry["status"] == FAILED]


def save(host: Host, knobs: list, restore_first: bool = False) -> dict:
    reply = {}
    if load_saved(host) is not None:
        if not restore_first:
            return {"failed": True, "msg": (
                f"this host has tuning an earlier run did not restore "
                f"({host.display(STATE_DIR, SAVED)}): run {UNTUNE} first, or save with "
                "--restore-first")}  # fmt: skip
        restored = {"failed": False, **restore(host)}
        if restored["failed"]:
            why = f"restoring an earlier run's tuning first failed: {restored['msg']}"
            return {"failed": True, "restored_first": restored, "msg": why}
        reply["restored_first"] = restored
        reply["note"] = "an earlier run's tuning was restored first"
    entries, saved = [], []
    for knob in knobs:
        try:
            check_cpus(host, knob)
            value = UNITS[knob.kind].read(host, knob)
        except Unavailable as exc:
            status = FAILED if knob.required else UNAVAILABLE
            reason = f"required, but unavailable: {exc}" if knob.required else str(exc)
            entries.append(outcome(knob, status=status, reason=reason))
            saved.append({"id": knob.id, "knob": knob.spec, "status": UNAVAILABLE,
                          "reason": str(exc)})  # fmt: skip
            continue
        except (TuningFailure, OSError) as exc:
            entries.append(outcome(knob, status=FAILED, reason=str(exc)))
            continue
        entries.append(outcome(knob, status="saved", value=value, reason=""))
        saved.append({"id": knob.id, "knob": knob.spec, "status": "saved", "value": value})
    problems = failures(entries)
    if problems:
        # Nothing has changed yet: no state to keep, and the run stops before it tunes.
        return {**reply, "failed": True, "knobs": entries,
                "msg": "cannot save: " + "; ".join(problems)}  # fmt: skip
    write_atomically(saved_file(host), {"format": FORMAT, "saved_at": now(), "knobs": saved})
    return {**reply, "saved": host.display(STATE_DIR, SAVED), "knobs": entries}


def apply(host: Host, profile: str, knobs: list) -> dict:
    began = time.monotonic()
    document = load_saved(host)
    if document is None:
        why = "nothing is saved: tune save must run before a profile is applied"
        return {"failed": True, "profile": profile, "msg": why}
    saved = {knob.id: (knob, entry) for knob, entry in saved_knobs(document)}
    unsaved = [knob.id for knob in knobs if knob.id not in saved]
    if unsaved:
        return {"failed": True, "profile": profile, "msg": (
            f"not saved, so it could not be restored: {', '.join(unsaved)} "
            "(save the knobs of every profile of the run first)")}  # fmt: skip
    wanted_ids = {knob.id for knob in knobs}
    entries = []
    # The previous profile's knobs this one leaves alone go back first.
    for knob_id, (knob, entry) in saved.items():
        if knob_id not in wanted_ids and entry["status"] == "saved":
            entries.append({**set_knob(host, knob, to=entry["value"]), "reset": True})
    for knob in knobs:
        entries.append(set_knob(host, knob))
    seconds = round(time.monotonic() - began, 3)
    write_atomically(host.path(STATE_DIR, APPLIED), {"profile": profile, "applied_at": now()})
    reply = {"profile": profile, "switch_seconds": seconds, "knobs": entries}
    problems = failures(entries)
    if problems:
        return {**reply, "failed": True, "msg": f"profile {profile}: " + "; ".join(problems)}
    return reply


def restore(host: Host) -> dict:
    document = load_saved(host)
    if document is None:
        return {"knobs": [], "note": "nothing saved: nothing to restore"}
    entries = []
    # In the reverse order of saving, so what was changed last goes back first.
    for knob, entry in reversed(saved_knobs(document)):
        if entry["status"] == "saved":
            entries.append(set_knob(host, knob, to=entry["value"], restoring=True))
    problems = failures(entries)
    if problems:
        return {"failed": True, "knobs": entries, "kept": host.display(STATE_DIR, SAVED),
                "msg": "not restored (saved.json kept): " + "; ".join(problems)}  # fmt: skip
    for name in (APPLIED, SAVED):  # saved.json last: while it is there, untune can rerun
        with contextlib.suppress(FileNotFoundError):
            os.unlink(host.path(STATE_DIR, name))
    sync_folder(host.path(STATE_DIR))
    return {"knobs": entries, "removed": host.display(STATE_DIR, SAVED)}


def status(host: Host) -> dict:
    document = load_saved(host)
    if document is None:
        return {"unrestored": False}
    applied = None
    try:
        with open(host.path(STATE_DIR, APPLIED)) as handle:
            applied = json.load(handle).get("profile")
    except (OSError, ValueError):
        pass  # saved but no profile applied yet, or a crash while it was written
    entries = []
    for knob, entry in saved_knobs(document):
        if entry["status"] != "saved":
            entries.append({"id": knob.id, "status": UNAVAILABLE, "reason": entry["reason"]})
            continue
        try:
            current = UNITS[knob.kind].read(host, knob)
        except (Unavailable, TuningFailure, OSError) as exc:
            entries.append({"id": knob.id, "saved": entry["value"], "now": None,
                            "differs": True, "reason": str(exc)})  # fmt: skip
            continue
        entries.append({"id": knob.id, "saved": entry["value"], "now": current,
                        "differs": current != entry["value"]})  # fmt: skip
    return {"unrestored": True, "saved_at": document.get("saved_at"),
            "saved": host.display(STATE_DIR, SAVED), "applied_profile": applied,
            "knobs": entries}  # fmt: skip
