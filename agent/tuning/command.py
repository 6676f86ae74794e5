"""``wirebench-agent tune ...``: read the call, do it, return the reply (agent/__main__.py
prints it).

    tune save KNOBS_FILE [--restore-first]    {"knobs": [...]}: every profile's knobs
    tune apply PROFILE_FILE                   {"profile": "network-latency", "knobs": [...]}
    tune restore
    tune status
    tune snapshot [--interface IF]
    tune hold-latency MICROSECONDS            (what the C-state latency unit runs)

Every action takes ``--root DIR`` (default /): the tree the knobs are read and written under.
The files are JSON written by the run; they hold knobs resolved for this host, never secrets.
"""

from __future__ import annotations

import json

from . import latency, snapshot, state
from .host import Host, TuningFailure, Unavailable
from .knobs import KnobError, parse_all

USAGE = (
    "usage: tune save KNOBS_FILE [--restore-first] | tune apply PROFILE_FILE | tune restore | "
    "tune status | tune snapshot [--interface IF] | tune hold-latency MICROSECONDS "
    "(each with [--root DIR])"
)
ACTIONS = {
    # action: (how many positional arguments, the flags it takes, the options with a value)
    "save": (1, ("--restore-first",), ("--root",)),
    "apply": (1, (), ("--root",)),
    "restore": (0, (), ("--root",)),
    "status": (0, (), ("--root",)),
    "snapshot": (0, (), ("--root", "--interface")),
    "hold-latency": (1, (), ("--root",)),
}


def split(args: list):
    """(action, positional arguments, flags, options) of a tune call; KnobError if wrong."""
    if not args or args[0] not in ACTIONS:
        raise KnobError(USAGE)
    action, rest = args[0], args[1:]
    count, flags, with_value = ACTIONS[action]
    positional, given, options = [], set(), {}
    while rest:
        word = rest.pop(0)
        if word in flags:
            given.add(word)
        elif word in with_value:
            if not rest:
                raise KnobError(f"{word} needs a value")
            options[word] = rest.pop(0)
        elif word.startswith("--"):
            raise KnobError(f"tune {action} does not take {word}; {USAGE}")
        else:
            positional.append(word)
    if len(positional) != count:
        raise KnobError(USAGE)
    return action, positional, given, options


def read_document(path: str, needs_profile: bool):
    """(profile name or None, knobs) from a JSON file the run wrote; KnobError if unusable."""
    try:
        with open(path) as handle:
            document = json.load(handle)
    except OSError as exc:
        raise KnobError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise KnobError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise KnobError(f"{path} must hold an object with knobs")
    allowed = {"profile", "knobs"} if needs_profile else {"knobs"}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise KnobError(f"{path}: unknown field {', '.join(unknown)}")
    profile = document.get("profile")
    if needs_profile and (not isinstance(profile, str) or not profile):
        raise KnobError(f"{path}: profile must name the profile applied")
    if "knobs" not in document:
        raise KnobError(f"{path}: knobs is missing")
    return profile, parse_all(document["knobs"])


def run(args: list) -> dict:
    action, positional, flags, options = split(list(args))
    host = Host(root=options.get("--root", "/"))
    if action == "hold-latency":
        if not positional[0].isdigit():
            raise KnobError(f"hold-latency takes whole microseconds, not {positional[0]!r}")
        try:
            return latency.hold(int(positional[0]), host.root)
        except OSError as exc:  # no device, or not root: the unit fails and says why
            return {"failed": True, "msg": f"tune hold-latency: {exc}"}
    try:
        if action == "save":
            _, knobs = read_document(positional[0], needs_profile=False)
            return state.save(host, knobs, restore_first="--restore-first" in flags)
        if action == "apply":
            profile, knobs = read_document(positional[0], needs_profile=True)
            return state.apply(host, profile, knobs)
        if action == "restore":
            return state.restore(host)
        if action == "status":
            return state.status(host)
        return snapshot.take(host, options.get("--interface"))
    except (TuningFailure, Unavailable) as exc:
        return {"failed": True, "msg": f"tune {action}: {exc}"}
