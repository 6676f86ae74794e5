"""CPU lists and masks, and the checking of knobs: what the run hands the agent is refused,
naming the knob and the field, before anything is read or written."""

from __future__ import annotations

import re

import pytest

from agent.tuning import cpus
from agent.tuning.knobs import KnobError, parse, parse_all


@pytest.mark.parametrize(
    "text, expected",
    [("0", {0}), ("0-3", {0, 1, 2, 3}), ("0-1,4,6-7", {0, 1, 4, 6, 7}), (" 2, 3 ", {2, 3}),
     ("5,1", {1, 5})],
)  # fmt: skip
def test_a_cpu_list_is_read_as_a_set(text, expected):
    assert cpus.parse_list(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [("", "empty"), ("a", "not a CPU list"), ("3-1", "runs backwards"), ("1,,2", "not a CPU list"),
     ("0x3", "not a CPU list"), ("-1", "not a CPU list"), ("1-", "not a CPU list")],
)  # fmt: skip
def test_a_bad_cpu_list_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        cpus.parse_list(text)


@pytest.mark.parametrize(
    "cpu_set, text",
    [({0, 1}, "0-1"), ({2, 3}, "2-3"), ({0, 2}, "0,2"), ({0, 1, 2, 5, 7, 8}, "0-2,5,7-8"), (set(), "")],
)  # fmt: skip
def test_a_cpu_list_is_written_as_the_kernel_prints_one(cpu_set, text):
    assert cpus.format_list(cpu_set) == text
    assert cpus.canonical_list(text, allow_empty=True) == text


@pytest.mark.parametrize(
    "mask, cpu_set",
    [("0", set()), ("3", {0, 1}), ("f0", {4, 5, 6, 7}), ("00000000,00000003", {0, 1}),
     ("00000001,80000000", {31, 32}), ("ff,00000000", set(range(32, 40)))],
)  # fmt: skip
def test_a_mask_is_read_as_a_set(mask, cpu_set):
    assert cpus.parse_mask(mask) == cpu_set


@pytest.mark.parametrize(
    "cpu_set, like, mask",
    [({0, 1}, "0", "3"), ({1}, "0", "2"), (set(), "3", "0"), ({0, 1}, "00000000,00000000", "00000000,00000003"),
     ({33}, "00,00000000", "02,00000000"), ({2, 3}, "00", "0c")],
)  # fmt: skip
def test_a_mask_is_written_in_the_width_the_kernel_printed(cpu_set, like, mask):
    assert cpus.format_mask(cpu_set, like) == mask
    assert cpus.parse_mask(mask) == cpu_set


def test_cpus_a_mask_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        cpus.format_mask({4}, "0")  # a 2-CPU host prints one hex digit: CPUs 0-3 at most
    with pytest.raises(ValueError, match="do not fit"):
        cpus.format_mask({40}, "00000000")


@pytest.mark.parametrize(
    "raw, knob_id, value",
    [
        ({"kind": "sysctl", "key": "net.core.busy_poll", "value": 50}, "sysctl:net.core.busy_poll", "50"),
        ({"kind": "sysctl", "key": "net/core/busy_poll", "value": "50"}, "sysctl:net.core.busy_poll", "50"),
        ({"kind": "sysctl", "key": "net/ipv4/conf/eth0.1/rp_filter", "value": "1"},
         "sysctl:net.ipv4.conf.eth0/1.rp_filter", "1"),
        ({"kind": "governor", "cpus": "3,0-2", "value": "performance"}, "governor:0-3", "performance"),
        ({"kind": "epp", "cpus": 1, "value": "power"}, "epp:1", "power"),
        ({"kind": "cstate_latency", "value": "3"}, "cstate_latency", 3),
        ({"kind": "turbo", "value": False}, "turbo", "off"),
        ({"kind": "thp", "setting": "defrag", "value": "defer+madvise"}, "thp:defrag", "defer+madvise"),
        ({"kind": "irq_affinity", "interface": "eth0", "cpus": "2,3"}, "irq_affinity:eth0", "2-3"),
        ({"kind": "rps", "interface": "eth0", "cpus": ""}, "rps:eth0", ""),
        ({"kind": "xps", "interface": "eth0", "cpus": "0-1"}, "xps:eth0", "0-1"),
        ({"kind": "ethtool_coalesce", "interface": "eth0", "setting": "rx-usecs", "value": 0},
         "ethtool_coalesce:eth0:rx-usecs", "0"),
        ({"kind": "ethtool_coalesce", "interface": "eth0", "setting": "adaptive-rx", "value": True},
         "ethtool_coalesce:eth0:adaptive-rx", "on"),
        ({"kind": "ethtool_offload", "interface": "eth0", "feature": "gro", "value": "off"},
         "ethtool_offload:eth0:generic-receive-offload", "off"),
        ({"kind": "placement", "process": "server", "cpus": "1"}, "placement:server", "1"),
    ],
)  # fmt: skip
def test_a_knob_has_one_id_whichever_way_it_is_written(raw, knob_id, value):
    knob = parse(raw, "knobs[0]")
    assert knob.id == knob_id
    assert knob.value == value
    assert parse(knob.spec, "again").id == knob_id  # what saved.json holds reads back the same


@pytest.mark.parametrize(
    "raw, message",
    [
        ("sysctl", "knobs[0] must be an object"),
        ({"kind": "sysctls", "key": "a.b", "value": "1"}, "knobs[0]: unknown kind 'sysctls'"),
        ({"key": "a.b", "value": "1"}, "knobs[0]: unknown kind None"),
        ({"kind": "sysctl", "value": "1"}, "knobs[0] (sysctl): missing key"),
        ({"kind": "governor", "cpus": "0-3"}, "knobs[0] (governor): missing value"),
        ({"kind": "sysctl", "key": "a.b", "value": "1", "requried": True}, "unknown field requried"),
        ({"kind": "sysctl", "key": "a.b", "value": "1", "required": "yes"}, "required must be true or false"),
        ({"kind": "sysctl", "key": "../../etc/passwd", "value": "1"}, "key must be a sysctl name"),
        ({"kind": "sysctl", "key": "net.core.busy_poll", "value": False}, "must be text or a whole number"),
        ({"kind": "sysctl", "key": "net.core.busy_poll", "value": " "}, "value is empty"),
        ({"kind": "governor", "cpus": "0-3a", "value": "performance"}, "knobs[0] (governor): '0-3a' is not a CPU list"),
        ({"kind": "governor", "cpus": "", "value": "performance"}, "the CPU list is empty"),
        ({"kind": "governor", "cpus": "0", "value": "per formance"}, "one word"),
        ({"kind": "irq_affinity", "interface": "eth0", "cpus": "3-1"}, "runs backwards"),
        ({"kind": "irq_affinity", "interface": "eth0", "cpus": ""}, "the CPU list is empty"),
        ({"kind": "irq_affinity", "interface": "../eth0", "cpus": "1"}, "interface must be an interface name"),
        ({"kind": "cstate_latency", "value": -1}, "whole microseconds"),
        ({"kind": "cstate_latency", "value": "fast"}, "whole microseconds"),
        ({"kind": "turbo", "value": "yes"}, "on or off"),
        ({"kind": "thp", "setting": "enabled", "value": "defer"}, "enabled takes always, madvise, never"),
        ({"kind": "thp", "setting": "shmem_enabled", "value": "never"}, "setting must be enabled or defrag"),
        ({"kind": "ethtool_coalesce", "interface": "eth0", "setting": "rx-usec", "value": 0}, "not one ethtool -C takes"),
        ({"kind": "ethtool_coalesce", "interface": "eth0", "setting": "rx-usecs", "value": "fast"}, "whole number"),
        ({"kind": "ethtool_offload", "interface": "eth0", "feature": "GRO off", "value": "off"}, "feature must be"),
        ({"kind": "placement", "process": "client", "cpus": "1"}, "process must be server or load"),
    ],
)  # fmt: skip
def test_a_bad_knob_is_named_with_what_is_wrong(raw, message):
    with pytest.raises(KnobError, match=re.escape(message)):
        parse(raw, "knobs[0]")


def test_two_knobs_with_one_id_are_refused():
    with pytest.raises(
        KnobError, match=r"knobs\[0\] and knobs\[2\] both set sysctl:net.core.busy_poll"
    ):
        parse_all([
            {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"},
            {"kind": "turbo", "value": "on"},
            {"kind": "sysctl", "key": "net/core/busy_poll", "value": "0"},
        ])  # fmt: skip
    with pytest.raises(KnobError, match="knobs must be a list"):
        parse_all({"kind": "turbo"})
