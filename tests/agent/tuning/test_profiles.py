"""The built-in profiles (roles/tuning/vars/main.yml) and resolve(): every profile becomes
valid knobs for both roles, placeholders are filled from the host's facts, and a missing
or unknown fact is named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.tuning import profiles
from agent.tuning.knobs import parse_all

PROFILES_FILE = Path(__file__).resolve().parents[3] / "roles" / "tuning" / "vars" / "main.yml"
FACTS = {"nic": "eth1", "server_cpus": "2-3", "load_cpus": "2-3", "other_cpus": "0-1",
         "all_cpus": "0-3"}  # fmt: skip


@pytest.fixture(scope="module")
def builtin() -> dict:
    return yaml.safe_load(PROFILES_FILE.read_text())["tuning_builtin_profiles"]


def test_the_built_in_profiles_are_the_four_the_issue_names(builtin):
    assert list(builtin) == ["baseline", "network-latency", "network-throughput", "pinned"]


@pytest.mark.parametrize("role", profiles.ROLES)
@pytest.mark.parametrize("name", ["baseline", "network-latency", "network-throughput", "pinned"])
def test_every_built_in_profile_resolves_to_knobs_the_agent_takes(builtin, name, role):
    knobs = profiles.resolve(builtin[name], role, FACTS, name)
    parsed = parse_all(knobs)
    assert [knob.spec for knob in parsed] == knobs
    assert all("{" not in str(value) for spec in knobs for value in spec.values())


def test_baseline_changes_nothing_and_pinned_only_places(builtin):
    assert profiles.resolve(builtin["baseline"], "server", {}) == []
    assert profiles.resolve(builtin["pinned"], "server", FACTS) == [
        {"kind": "placement", "process": "server", "cpus": "2-3"}
    ]
    assert profiles.resolve(builtin["pinned"], "load", FACTS) == [
        {"kind": "placement", "process": "load", "cpus": "2-3"}
    ]


def test_network_latency_is_tuneds_in_spirit(builtin):
    knobs = {
        parse_all([spec])[0].id: spec
        for spec in profiles.resolve(builtin["network-latency"], "server", FACTS)
    }
    assert knobs["governor:0-3"]["value"] == "performance"
    assert knobs["cstate_latency"]["value"] == 3
    assert knobs["sysctl:net.core.busy_poll"]["value"] == "50"
    assert knobs["sysctl:net.core.busy_read"]["value"] == "50"
    assert knobs["thp:enabled"]["value"] == "never"
    assert knobs["irq_affinity:eth1"]["cpus"] == "0-1"  # away from the server's 2-3
    assert knobs["placement:server"]["cpus"] == "2-3"


def test_network_throughput_raises_the_tcp_buffers(builtin):
    knobs = {
        parse_all([spec])[0].id: spec
        for spec in profiles.resolve(builtin["network-throughput"], "load", FACTS)
    }
    assert knobs["sysctl:net.ipv4.tcp_rmem"]["value"] == "4096 131072 16777216"
    assert knobs["sysctl:net.ipv4.tcp_wmem"]["value"] == "4096 16384 16777216"
    assert knobs["sysctl:net.core.rmem_max"]["value"] == "16777216"


def test_a_missing_fact_is_named_with_the_knob_that_needs_it(builtin):
    facts = {key: value for key, value in FACTS.items() if key != "other_cpus"}
    with pytest.raises(profiles.ProfileError) as raised:
        profiles.resolve(builtin["network-latency"], "server", facts, "network-latency")
    assert str(raised.value) == (
        "network-latency server knobs[13] cpus needs the host fact other_cpus, which this host does not have"
    )
    with pytest.raises(profiles.ProfileError, match="needs the host fact nic"):
        profiles.resolve(builtin["network-latency"], "load", {**FACTS, "nic": ""})
    # A role a profile does not use needs none of its facts.
    assert profiles.resolve({"server": [{"kind": "turbo", "value": "on"}]}, "load", {}) == []


@pytest.mark.parametrize(
    "profile, role, message",
    [
        ({"server": [{"kind": "rps", "interface": "{nic}", "cpus": "{spare_cpus}"}]}, "server",
         "p server knobs[0] cpus: unknown placeholder {spare_cpus} (known: nic, server_cpus, load_cpus, other_cpus, all_cpus)"),
        ({"server": [{"kind": "governor", "cpus": "{server_cpus}", "value": "fast lane"}]}, "server",
         "p server knobs[0] (governor): value must be one word"),
        ({"server": [{"kind": "governor", "cpus": "{nic}", "value": "performance"}]}, "server",
         "p server knobs[0] (governor): 'eth1' is not a CPU list"),
        ({"server": [{"kind": "turbo", "value": "on"}, {"kind": "turbo", "value": "off"}]}, "server",
         "p server: more than one knob sets turbo"),
        ({"server": {"kind": "turbo"}}, "server", "p: server must be a list of knobs"),
        ({"servers": []}, "server", "p: unknown field servers (it takes description, server, load)"),
        ({"server": []}, "client", "p: role must be server or load, not 'client'"),
        ({"load": ["turbo"]}, "load", "p load knobs[0] must be a mapping, not 'turbo'"),
        ({"load": [{"kind": "placement", "process": "server", "cpus": "{load_cpus}"}]}, "load",
         "p load knobs[0] (placement): a load host has no server to place (process: server "
         "belongs in the profile's server knobs)"),
    ],
)  # fmt: skip
def test_a_profile_that_cannot_be_resolved_says_why(profile, role, message):
    with pytest.raises(profiles.ProfileError) as raised:
        profiles.resolve(profile, role, {**FACTS, "all_cpus": "0-3"}, "p")
    assert str(raised.value).startswith(message)


def test_a_fact_that_is_not_text_is_refused():
    with pytest.raises(
        profiles.ProfileError, match=r"the host fact server_cpus must be text, not \[2, 3\]"
    ):
        profiles.resolve({"server": [{"kind": "placement", "process": "server", "cpus": "{server_cpus}"}]},
                         "server", {"server_cpus": [2, 3]})  # fmt: skip


def test_the_union_of_a_runs_profiles_is_every_knob_once(builtin):
    latency = profiles.resolve(builtin["network-latency"], "server", FACTS)
    throughput = profiles.resolve(builtin["network-throughput"], "server", FACTS)
    both = profiles.union(latency, throughput)
    ids = [knob.id for knob in parse_all(both)]
    assert len(ids) == len(set(ids))
    assert set(ids) == {knob.id for knob in parse_all(latency)} | {
        knob.id for knob in parse_all(throughput)
    }
    assert "sysctl:vm.swappiness" in ids and "sysctl:net.ipv4.tcp_rmem" in ids


def test_the_facts_a_profile_uses_are_listed_per_role_in_order(builtin):
    assert profiles.facts_used(builtin["network-latency"], "server") == [
        "all_cpus", "nic", "other_cpus", "server_cpus"
    ]  # fmt: skip
    assert profiles.facts_used(builtin["pinned"], "load") == ["load_cpus"]
    assert profiles.facts_used(builtin["baseline"], "server") == []
    # Whatever the profile's shape: resolve says what is wrong with it.
    assert profiles.facts_used({"server": [{"cpus": "{spare}"}, "turbo"]}, "server") == ["spare"]
    assert profiles.facts_used(["not a profile"], "server") == []
