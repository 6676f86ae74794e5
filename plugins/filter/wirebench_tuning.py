"""Filters that make the run's tuning profiles into each host's knobs, and check them, on
the controller before any host is touched (issue 14).

    wirebench_tuning_profile_problems(names, builtin, user) -> [problem, ...]
        the run's list of profiles and every profile it may use, before any host is asked
    wirebench_tuning_plan(names, builtin, user, role, facts) -> {"profiles", "union",
        "problems"}
        one host's knobs: per profile, and the union `tune save` saves first

A problem is a sentence naming what is wrong and what to set; neither filter raises for bad
input (Ansible would show a traceback). The profiles themselves are resolved by
agent/tuning/profiles.py, the one place that knows their format.
"""

from __future__ import annotations

from agent.tuning import cpus as cpu_lists
from agent.tuning import profiles

BASELINE = "baseline"
# Where each fact of a host comes from: what the user sets when a profile needs it.
FACT_SOURCES = {
    "nic": "set wirebench_tuning_nic (the interface carrying the benchmark traffic)",
    "server_cpus": "set wirebench_server_cpus (the CPUs the server under test runs on)",
    "load_cpus": "set wirebench_load_cpus (the CPUs redis-benchmark runs on)",
    "all_cpus": (
        "its host metadata has no cpus_online (wirebench_host_metadata reads "
        "/sys/devices/system/cpu/online); gather the host metadata first"
    ),
    "other_cpus": "other_cpus is all_cpus less server_cpus and load_cpus",
}
# What the user knows each fact as, in the problems with its value.
FACT_NAMES = {
    "nic": "wirebench_tuning_nic",
    "server_cpus": "wirebench_server_cpus",
    "load_cpus": "wirebench_load_cpus",
    "all_cpus": "the host metadata's cpus_online",
    "other_cpus": "other_cpus",
}
CPU_FACTS = ("server_cpus", "load_cpus", "other_cpus", "all_cpus")
# Stand-ins for every fact, to find a profile's mistakes without any host's facts.
PLACEHOLDER_FACTS = {
    "nic": "eth0",
    "server_cpus": "0",
    "load_cpus": "0",
    "other_cpus": "0",
    "all_cpus": "0",
}


def profile_problems(profile_names, builtin_profiles, user_profiles) -> list:
    """What is wrong with the run's profiles, before any host is touched: the list of
    names (a non-empty list of distinct names, ``baseline`` anywhere in it), a name no
    profile has, and each user profile (and each built-in one the run uses) that could not
    be made into knobs for either role, whatever the host."""
    definitions, problems = known_profiles(builtin_profiles, user_profiles)
    problems += name_problems(profile_names, definitions)
    if not isinstance(user_profiles, dict):
        user_profiles = {}
    listed = profile_names if isinstance(profile_names, list) else []
    to_check = [*user_profiles, *(name for name in listed if name not in user_profiles)]
    for name in dict.fromkeys(to_check):  # each once, user profiles first
        if isinstance(name, str) and name in definitions:
            problems += structure_problems(name, definitions[name])
    return problems


def tuning_plan(profile_names, builtin_profiles, user_profiles, role, facts) -> dict:
    """One host's knobs: {"profiles": {name: [knob, ...]}, "union": [knob, ...],
    "problems": [...]}.

    ``role`` is server or load; ``facts`` {"nic", "server_cpus", "load_cpus", "all_cpus",
    and optionally "other_cpus"} (any may be missing or ""). other_cpus, when not given, is
    all_cpus less server_cpus and load_cpus. ``union`` holds every knob any listed profile
    may set, once by its id (what `tune save` reads: it saves the host's original value, so
    which profile's value the knob document carries does not matter). A profile with a
    problem is left out of ``profiles`` and ``union``; the run stops on any problem.
    """
    plan = {"profiles": {}, "union": [], "problems": []}
    if role not in profiles.ROLES:
        plan["problems"].append(f"the host's role must be server or load, not {role!r}")
        return plan
    definitions, problems = known_profiles(builtin_profiles, user_profiles)
    problems += name_problems(profile_names, definitions)
    host_facts, fact_problems = with_other_cpus(facts)
    resolved = {}
    for name in profile_names if isinstance(profile_names, list) else []:
        if not isinstance(name, str) or name not in definitions or name in resolved:
            continue  # name_problems said why
        definition = definitions[name]
        unusable = [
            f"profile {name} needs {fact} on this {role} host: "
            f"{fact_problems.get(fact) or FACT_SOURCES[fact]}"
            for fact in profiles.facts_used(definition, role)
            if fact in FACT_SOURCES and fact not in host_facts
        ]
        if unusable:
            problems += unusable
            continue
        try:
            resolved[name] = profiles.resolve(definition, role, host_facts, name)
        except profiles.ProfileError as exc:
            problems.append(str(exc))
    plan["profiles"] = resolved
    plan["union"] = profiles.union(*resolved.values())
    plan["problems"] = list(dict.fromkeys(problems))  # a problem said once
    return plan


def known_profiles(builtin_profiles, user_profiles) -> tuple:
    """({name: definition}, problems): the built-in profiles, each replaced by a user
    profile of its name, and the user profiles."""
    problems = []
    definitions = {}
    for what, given in (("built-in", builtin_profiles), ("user", user_profiles)):
        if given is None:
            continue
        if not isinstance(given, dict):
            variable = "wirebench_tuning_user_profiles" if what == "user" else "the tuning role's"
            problems.append(
                f"the {what} profiles ({variable}) must be a mapping of names to "
                f"profiles, not {type(given).__name__}"
            )
            continue
        for name, definition in given.items():
            if not isinstance(name, str) or not name:
                problems.append(f"a {what} profile's name must be text, not {name!r}")
                continue
            definitions[name] = definition
    return definitions, problems


def name_problems(profile_names, definitions: dict) -> list:
    if not isinstance(profile_names, list):
        return [f"wirebench_tuning_profiles must be a list of profile names, not {profile_names!r}"]
    if not profile_names:
        return [
            f"wirebench_tuning_profiles is empty: list one profile at least ({BASELINE} "
            "measures the hosts as they are)"
        ]
    problems = []
    known = ", ".join(definitions) or "none"
    for index, name in enumerate(profile_names):
        if not isinstance(name, str) or not name:
            problems.append(
                f"wirebench_tuning_profiles[{index}] must be a profile name, not {name!r}"
            )
        elif name in profile_names[:index]:
            problems.append(f"wirebench_tuning_profiles names {name} twice")
        elif name not in definitions:
            problems.append(f"unknown tuning profile {name} (known: {known})")
    return problems


def structure_problems(name: str, definition) -> list:
    """What keeps a profile from being knobs on any host: resolved for both roles with
    stand-in facts, so only the profile's own mistakes show."""
    problems = []
    for role in profiles.ROLES:
        try:
            profiles.resolve(definition, role, PLACEHOLDER_FACTS, name)
        except profiles.ProfileError as exc:
            problems.append(str(exc))
    return list(dict.fromkeys(problems))  # a mistake outside the roles shows for both


def with_other_cpus(facts) -> tuple:
    """(the host's usable facts as text, with other_cpus worked out; {fact: why it cannot be
    used}). A fact that is wrong (not a CPU list, CPUs not online) is a problem only for a
    profile that uses it."""
    if not isinstance(facts, dict):
        facts = {}
    found, problems = {}, {}
    for fact in profiles.FACTS:
        value = facts.get(fact)
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems[fact] = f"{FACT_NAMES[fact]} must be text, not {value!r}"
            continue
        found[fact] = str(value).strip()
    cpus = {}
    for fact in CPU_FACTS:
        if fact in found:
            try:
                cpus[fact] = cpu_lists.parse_list(found.pop(fact))
            except ValueError as exc:
                problems[fact] = f"{FACT_NAMES[fact]}: {exc}"
    online = cpus.get("all_cpus")
    for fact in ("server_cpus", "load_cpus", "other_cpus"):
        if online is None or not cpus.get(fact, frozenset()) - online:
            continue
        listed = cpus.pop(fact)
        problems[fact] = (
            f"{FACT_NAMES[fact]} {cpu_lists.format_list(listed)} names CPUs "
            f"{cpu_lists.format_list(listed - online)}, which are not online on this host "
            f"({cpu_lists.format_list(online)})"
        )
    if "other_cpus" not in cpus and "other_cpus" not in problems:
        why = other_cpus_problem(online, cpus, problems)
        if why:
            problems["other_cpus"] = why
        else:
            cpus["other_cpus"] = (
                online - cpus.get("server_cpus", frozenset()) - cpus.get("load_cpus", frozenset())
            )
    # CPU lists as the kernel prints them, so a knob's id is the same whoever wrote the fact.
    found.update({fact: cpu_lists.format_list(listed) for fact, listed in cpus.items()})
    return found, problems


def other_cpus_problem(online, cpus: dict, problems: dict):
    """Why other_cpus (the online CPUs less server_cpus and load_cpus) cannot be worked out,
    or None."""
    if online is None:
        return "other_cpus is all_cpus less server_cpus and load_cpus, and all_cpus is not known"
    for fact in ("server_cpus", "load_cpus"):
        if fact in problems:
            return f"other_cpus cannot be worked out: {problems[fact]}"
    taken = cpus.get("server_cpus", frozenset()) | cpus.get("load_cpus", frozenset())
    if not online - taken:
        return (
            f"other_cpus is empty: server_cpus and load_cpus take every online CPU "
            f"({cpu_lists.format_list(online)}), leaving none for the NIC's interrupts"
        )
    return None


class FilterModule:
    def filters(self):
        return {
            "wirebench_tuning_plan": tuning_plan,
            "wirebench_tuning_profile_problems": profile_problems,
        }
