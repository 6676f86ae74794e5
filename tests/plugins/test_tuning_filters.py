"""The tuning plan's filters (plugins/filter/wirebench_tuning.py) with the real built-in
profiles (roles/tuning/vars/main.yml) and user profiles with mistakes: each host's knobs per
profile, the union tune save reads, and every problem named before any host is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from wirebench_tuning import FilterModule, profile_problems, tuning_plan

from agent.tuning.knobs import parse_all

PROFILES_FILE = Path(__file__).resolve().parents[2] / "roles" / "tuning" / "vars" / "main.yml"
BUILTIN = yaml.safe_load(PROFILES_FILE.read_text())["tuning_builtin_profiles"]
KNOWN = "known: baseline, network-latency, network-throughput, pinned"
# The built-in lab: server1 on CPU 0, load1 on CPU 1, the bench NIC eth0, 2 CPUs online.
SERVER1 = {"nic": "eth0", "server_cpus": "0", "load_cpus": "", "all_cpus": "0-1"}
LOAD1 = {"nic": "eth0", "server_cpus": "", "load_cpus": "1", "all_cpus": "0-1"}
RUN = ["baseline", "network-latency", "pinned"]


def ids(knobs: list) -> list:
    return [knob.id for knob in parse_all(knobs)]


def by_id(knobs: list) -> dict:
    return {knob.id: knob.spec for knob in parse_all(knobs)}


def test_the_filters_are_the_ones_the_tuning_role_calls():
    assert FilterModule().filters() == {
        "wirebench_tuning_plan": tuning_plan,
        "wirebench_tuning_profile_problems": profile_problems,
    }


def test_the_lab_server_gets_each_profiles_knobs_and_their_union():
    plan = tuning_plan(RUN, BUILTIN, {}, "server", SERVER1)
    assert plan["problems"] == []
    assert list(plan["profiles"]) == RUN
    assert plan["profiles"]["baseline"] == []
    assert plan["profiles"]["pinned"] == [{"kind": "placement", "process": "server", "cpus": "0"}]
    latency = by_id(plan["profiles"]["network-latency"])
    assert latency["governor:0-1"] == {"kind": "governor", "cpus": "0-1", "value": "performance"}
    # The NIC's interrupts on the CPU the server does not use: all_cpus less server_cpus.
    assert latency["irq_affinity:eth0"] == {"kind": "irq_affinity", "interface": "eth0",
                                            "cpus": "1"}  # fmt: skip
    assert latency["placement:server"]["cpus"] == "0"
    assert "placement:load" not in latency
    # pinned's one knob is also network-latency's: saved once.
    assert ids(plan["union"]) == ids(plan["profiles"]["network-latency"])


def test_the_lab_load_host_places_redis_benchmark_and_moves_irqs_off_its_cpu():
    plan = tuning_plan(RUN, BUILTIN, {}, "load", LOAD1)
    assert plan["problems"] == []
    assert plan["profiles"]["pinned"] == [{"kind": "placement", "process": "load", "cpus": "1"}]
    latency = by_id(plan["profiles"]["network-latency"])
    assert latency["irq_affinity:eth0"]["cpus"] == "0"
    assert latency["placement:load"]["cpus"] == "1"
    assert "placement:server" not in latency


def test_the_union_is_by_knob_and_keeps_every_profiles_knobs_once():
    plan = tuning_plan(["network-latency", "network-throughput"], BUILTIN, {}, "server", SERVER1)
    assert plan["problems"] == []
    latency = ids(plan["profiles"]["network-latency"])
    throughput = ids(plan["profiles"]["network-throughput"])
    union = ids(plan["union"])
    assert len(union) == len(set(union))
    assert set(union) == set(latency) | set(throughput)
    # vm.swappiness is 10 in both, the governor in both: one each.
    assert union.count("sysctl:vm.swappiness") == 1 and union.count("governor:0-1") == 1


def test_a_user_profile_of_a_built_in_name_replaces_it():
    mine = {"pinned": {"description": "mine", "server": [{"kind": "turbo", "value": "off"}]}}
    plan = tuning_plan(["pinned"], BUILTIN, mine, "server", SERVER1)
    assert plan == {"profiles": {"pinned": [{"kind": "turbo", "value": "off"}]},
                    "union": [{"kind": "turbo", "value": "off"}], "problems": []}  # fmt: skip
    assert tuning_plan(["pinned"], BUILTIN, mine, "load", LOAD1)["profiles"] == {"pinned": []}


def test_other_cpus_given_is_used_and_cpu_lists_are_written_as_the_kernel_prints_them():
    facts = {"nic": "eth1", "server_cpus": "3,2", "all_cpus": "0-7", "other_cpus": "0"}
    latency = by_id(tuning_plan(["network-latency"], BUILTIN, {}, "server", facts)["profiles"]
                    ["network-latency"])  # fmt: skip
    assert latency["irq_affinity:eth1"]["cpus"] == "0"
    assert latency["placement:server"]["cpus"] == "2-3"
    worked_out = tuning_plan(
        ["network-latency"], BUILTIN, {}, "server", {**facts, "other_cpus": ""}
    )
    assert (
        by_id(worked_out["profiles"]["network-latency"])["irq_affinity:eth1"]["cpus"] == "0-1,4-7"
    )
    # An integer (YAML's wirebench_server_cpus: 0) is a CPU list of one.
    pinned = tuning_plan(["pinned"], BUILTIN, {}, "server", {"server_cpus": 0})
    assert pinned["profiles"]["pinned"][0]["cpus"] == "0"


def test_a_fact_the_host_does_not_have_names_the_variable_to_set():
    plan = tuning_plan(RUN, BUILTIN, {}, "server", {"all_cpus": "0-1"})
    assert plan["problems"] == [
        "profile network-latency needs nic on this server host: set wirebench_tuning_nic "
        "(the interface carrying the benchmark traffic)",
        "profile network-latency needs server_cpus on this server host: set "
        "wirebench_server_cpus (the CPUs the server under test runs on)",
        "profile pinned needs server_cpus on this server host: set wirebench_server_cpus "
        "(the CPUs the server under test runs on)",
    ]
    assert plan["profiles"] == {"baseline": []}  # what could be resolved; the run stops
    load = tuning_plan(["pinned"], BUILTIN, {}, "load", {**LOAD1, "load_cpus": None})
    assert load["problems"] == [
        "profile pinned needs load_cpus on this load host: set wirebench_load_cpus "
        "(the CPUs redis-benchmark runs on)"
    ]


def test_a_host_without_its_online_cpus_says_where_they_come_from():
    plan = tuning_plan(["network-latency"], BUILTIN, {}, "load", {**LOAD1, "all_cpus": ""})
    assert plan["problems"] == [
        "profile network-latency needs all_cpus on this load host: its host metadata has no "
        "cpus_online (wirebench_host_metadata reads /sys/devices/system/cpu/online); gather "
        "the host metadata first",
        "profile network-latency needs other_cpus on this load host: other_cpus is all_cpus "
        "less server_cpus and load_cpus, and all_cpus is not known",
    ]
    # pinned needs neither.
    assert tuning_plan(["pinned"], BUILTIN, {}, "load", {"load_cpus": "1"})["problems"] == []


@pytest.mark.parametrize(
    "facts, problem",
    [
        ({**SERVER1, "server_cpus": "0-"},
         "profile pinned needs server_cpus on this server host: wirebench_server_cpus: '0-' is "
         "not a CPU list such as 0-3,8 ('0-')"),
        ({**SERVER1, "server_cpus": "2-3"},
         "profile pinned needs server_cpus on this server host: wirebench_server_cpus 2-3 names "
         "CPUs 2-3, which are not online on this host (0-1)"),
        ({**SERVER1, "server_cpus": [0]},
         "profile pinned needs server_cpus on this server host: wirebench_server_cpus must be "
         "text, not [0]"),
    ],
)  # fmt: skip
def test_a_wrong_fact_is_named_with_its_value(facts, problem):
    assert tuning_plan(["pinned"], BUILTIN, {}, "server", facts)["problems"] == [problem]


def test_server_and_load_cpus_that_take_every_cpu_leave_none_for_the_nics_interrupts():
    facts = {**SERVER1, "server_cpus": "0", "load_cpus": "1"}
    plan = tuning_plan(["network-latency", "pinned"], BUILTIN, {}, "server", facts)
    assert plan["problems"] == [
        "profile network-latency needs other_cpus on this server host: other_cpus is empty: "
        "server_cpus and load_cpus take every online CPU (0-1), leaving none for the NIC's "
        "interrupts"
    ]
    assert list(plan["profiles"]) == ["pinned"]


def test_a_knob_the_host_facts_make_wrong_is_named_with_the_knob():
    plan = tuning_plan(["network-latency"], BUILTIN, {}, "server", {**SERVER1, "nic": "eth 0"})
    assert plan["problems"] == [
        "network-latency server knobs[13] (irq_affinity): interface must be an interface name, "
        "not 'eth 0'"
    ]
    assert plan["union"] == []


@pytest.mark.parametrize(
    "names, problem",
    [
        (["fast"], f"unknown tuning profile fast ({KNOWN})"),
        (["pinned", "baseline", "pinned"], "wirebench_tuning_profiles names pinned twice"),
        ([], "wirebench_tuning_profiles is empty: list one profile at least (baseline measures "
             "the hosts as they are)"),
        ("baseline", "wirebench_tuning_profiles must be a list of profile names, not 'baseline'"),
        (["baseline", None], "wirebench_tuning_profiles[1] must be a profile name, not None"),
    ],
)  # fmt: skip
def test_a_wrong_list_of_profiles_is_named_by_both_filters(names, problem):
    assert problem in profile_problems(names, BUILTIN, {})
    assert problem in tuning_plan(names, BUILTIN, {}, "server", SERVER1)["problems"]


def test_baseline_may_come_anywhere_in_the_list():
    for names in (["baseline", "pinned"], ["pinned", "baseline"], ["baseline"]):
        assert profile_problems(names, BUILTIN, None) == []


MISTAKES = {
    "typo-kind": {"server": [{"kind": "sysctls", "key": "vm.swappiness", "value": "10"}]},
    "bad-placeholder": {"load": [{"kind": "rps", "interface": "{nic}", "cpus": "{spare_cpus}"}]},
    "wrong-role": {"server": [{"kind": "placement", "process": "load", "cpus": "{load_cpus}"}]},
    "servers": {"servers": []},
    "not-a-mapping": ["turbo"],
    "fine": {"description": "ok", "load": [{"kind": "turbo", "value": "on"}]},
}


def test_every_user_profile_is_checked_without_any_hosts_facts():
    assert profile_problems(["baseline", "fine"], BUILTIN, MISTAKES) == [
        "typo-kind server knobs[0]: unknown kind 'sysctls' (known: sysctl, governor, epp, "
        "cstate_latency, turbo, thp, irq_affinity, rps, xps, ethtool_coalesce, "
        "ethtool_offload, placement)",
        "bad-placeholder load knobs[0] cpus: unknown placeholder {spare_cpus} (known: nic, "
        "server_cpus, load_cpus, other_cpus, all_cpus)",
        "wrong-role server knobs[0] (placement): a server host has no load to place "
        "(process: load belongs in the profile's load knobs)",
        "servers: unknown field servers (it takes description, server, load)",
        "not-a-mapping must be a mapping of roles to knobs",
    ]


def test_the_built_in_profiles_have_no_problem_for_any_run():
    assert profile_problems(list(BUILTIN), BUILTIN, {}) == []


def test_profiles_that_are_not_a_mapping_are_named_not_raised():
    assert profile_problems(["baseline"], BUILTIN, ["pinned"]) == [
        "the user profiles (wirebench_tuning_user_profiles) must be a mapping of names to "
        "profiles, not list"
    ]
    assert profile_problems(["baseline"], BUILTIN, {3: {}}) == [
        "a user profile's name must be text, not 3"
    ]
    assert tuning_plan(RUN, "not profiles", {}, "server", SERVER1)["problems"][0] == (
        "the built-in profiles (the tuning role's) must be a mapping of names to profiles, not str"
    )


@pytest.mark.parametrize(
    "role, facts", [("client", SERVER1), ("server", None), ("server", "eth0"), ("load", [])]
)
def test_nothing_a_play_can_pass_makes_the_plan_raise(role, facts):
    plan = tuning_plan(RUN, BUILTIN, MISTAKES, role, facts)
    assert set(plan) == {"profiles", "union", "problems"}
    assert plan["problems"]
