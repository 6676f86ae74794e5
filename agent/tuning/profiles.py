"""A tuning profile made into one host's knobs.

A profile (roles/tuning/vars/main.yml holds the built-in ones) lists knobs per host role, with
facts of the host in braces: ``{"kind": "irq_affinity", "interface": "{nic}", "cpus":
"{other_cpus}"}``.
``resolve`` fills them in from the host's facts and checks every knob, so the agent gets knobs
it can apply and a mistake is named before anything on a host is touched. Pure: no files, no
host.
"""

from __future__ import annotations

import re

from .knobs import KnobError, parse

ROLES = ("server", "load")
FACTS = ("nic", "server_cpus", "load_cpus", "other_cpus", "all_cpus")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PROFILE_FIELDS = ("description", *ROLES)


class ProfileError(ValueError):
    """A profile that cannot be made into knobs for this host; the message names it."""


def resolve(profile_def: dict, role: str, facts: dict, name: str = "profile") -> list:
    """The knobs of ``profile_def`` for a host of ``role``, its placeholders filled from
    ``facts`` and each knob checked: a list of knob documents for the agent."""
    if role not in ROLES:
        raise ProfileError(f"{name}: role must be server or load, not {role!r}")
    if not isinstance(profile_def, dict):
        raise ProfileError(f"{name} must be a mapping of roles to knobs")
    unknown = sorted(set(profile_def) - set(PROFILE_FIELDS))
    if unknown:
        takes = ", ".join(PROFILE_FIELDS)
        raise ProfileError(f"{name}: unknown field {', '.join(unknown)} (it takes {takes})")
    raw_knobs = profile_def.get(role) or []
    if not isinstance(raw_knobs, list):
        raise ProfileError(f"{name}: {role} must be a list of knobs")
    resolved = []
    for index, raw in enumerate(raw_knobs):
        where = f"{name} {role} knobs[{index}]"
        if not isinstance(raw, dict):
            raise ProfileError(f"{where} must be a mapping, not {raw!r}")
        knob = {field: fill(value, facts, f"{where} {field}") for field, value in raw.items()}
        try:
            spec = parse(knob, where).spec
        except KnobError as exc:
            raise ProfileError(str(exc)) from None
        if spec["kind"] == "placement" and spec["process"] != role:
            # A server host runs no redis-benchmark, a load host no server under test.
            process = spec["process"]
            raise ProfileError(
                f"{where} (placement): a {role} host has no {process} to place "
                f"(process: {process} belongs in the profile's {process} knobs)"
            )
        resolved.append(spec)
    ids = [parse(spec, name).id for spec in resolved]
    twice = sorted({knob_id for knob_id in ids if ids.count(knob_id) > 1})
    if twice:
        raise ProfileError(f"{name} {role}: more than one knob sets {', '.join(twice)}")
    return resolved


def fill(value, facts: dict, where: str):
    """A field with its {fact} placeholders replaced; other values as they are."""
    if not isinstance(value, str):
        return value

    def fact(match):
        key = match.group(1)
        if key not in FACTS:
            known = ", ".join(FACTS)
            raise ProfileError(f"{where}: unknown placeholder {{{key}}} (known: {known})")
        found = facts.get(key)
        if found is None or found == "":
            raise ProfileError(f"{where} needs the host fact {key}, which this host does not have")
        if isinstance(found, bool) or not isinstance(found, (str, int)):
            raise ProfileError(f"{where}: the host fact {key} must be text, not {found!r}")
        return str(found)

    return PLACEHOLDER.sub(fact, value)


def facts_used(profile_def, role: str) -> list:
    """The facts a profile's knobs for ``role`` name in braces, in the order they first
    appear (unknown names too: resolve says they are unknown)."""
    raw_knobs = profile_def.get(role) if isinstance(profile_def, dict) else None
    found = []
    for raw in raw_knobs if isinstance(raw_knobs, list) else []:
        for value in raw.values() if isinstance(raw, dict) else []:
            for key in PLACEHOLDER.findall(value) if isinstance(value, str) else []:
                if key not in found:
                    found.append(key)
    return found


def union(*knob_lists: list) -> list:
    """Every knob any of the lists sets, once per id (the first one's document): what
    ``tune save`` needs before a run that applies several profiles."""
    found = {}
    for knobs in knob_lists:
        for spec in knobs:
            found.setdefault(parse(spec, "union").id, spec)
    return list(found.values())
