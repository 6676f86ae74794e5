"""A knob as the run gives it to the agent, checked once: its kind, what it touches (its
target) and the value wanted. A knob's id is its kind and target, so the knob a run saved,
the one a profile applies and the one restored are recognised as one.

    {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"}
    {"kind": "governor", "cpus": "0-3", "value": "performance", "required": true}
    {"kind": "epp", "cpus": "0-3", "value": "performance"}
    {"kind": "cstate_latency", "value": 3}                      (microseconds)
    {"kind": "turbo", "value": "on"}                            (on | off)
    {"kind": "thp", "setting": "enabled", "value": "never"}     (enabled | defrag)
    {"kind": "irq_affinity", "interface": "eth0", "cpus": "2,3"}
    {"kind": "rps", "interface": "eth0", "cpus": "0-3"}         ("" turns it off)
    {"kind": "xps", "interface": "eth0", "cpus": "0-3"}
    {"kind": "ethtool_coalesce", "interface": "eth0", "setting": "rx-usecs", "value": 0}
    {"kind": "ethtool_offload", "interface": "eth0", "feature": "gro", "value": "off"}
    {"kind": "placement", "process": "server", "cpus": "2,3"}   (the server units' CPUAffinity=)
    {"kind": "placement", "process": "load", "cpus": "1"}       (where redis-benchmark runs)

``required`` (default false) turns "this host cannot" into a failure of the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import cpus as cpu_lists

ON_OFF = ("on", "off")
THP_CHOICES = {
    "enabled": ("always", "madvise", "never"),
    "defrag": ("always", "defer", "defer+madvise", "madvise", "never"),
}
PLACED_PROCESSES = ("server", "load")
# ethtool -k prints these features by their old long names; -K also takes the short ones.
OFFLOAD_ALIASES = {
    "rx": "rx-checksumming",
    "tx": "tx-checksumming",
    "sg": "scatter-gather",
    "tso": "tcp-segmentation-offload",
    "ufo": "udp-fragmentation-offload",
    "gso": "generic-segmentation-offload",
    "gro": "generic-receive-offload",
    "lro": "large-receive-offload",
    "rxvlan": "rx-vlan-offload",
    "txvlan": "tx-vlan-offload",
    "ntuple": "ntuple-filters",
    "rxhash": "receive-hashing",
}
# What ethtool -C takes (ethtool(8)); -c prints the same names, but for its two "RX: … TX: …"
# lines and the singular "rx-frame-low" family (see ethtool.parse_coalesce).
COALESCE_SETTINGS = (
    "adaptive-rx", "adaptive-tx", "sample-interval", "stats-block-usecs", "pkt-rate-low",
    "pkt-rate-high", "rx-usecs", "rx-frames", "rx-usecs-irq", "rx-frames-irq", "tx-usecs",
    "tx-frames", "tx-usecs-irq", "tx-frames-irq", "rx-usecs-low", "rx-frames-low",
    "tx-usecs-low", "tx-frames-low", "rx-usecs-high", "rx-frames-high", "tx-usecs-high",
    "tx-frames-high", "cqe-mode-rx", "cqe-mode-tx", "tx-aggr-max-bytes", "tx-aggr-max-frames",
    "tx-aggr-time-usecs",
)  # fmt: skip
ON_OFF_COALESCE = ("adaptive-rx", "adaptive-tx", "cqe-mode-rx", "cqe-mode-tx")
SYSCTL_KEY = re.compile(r"[A-Za-z0-9_\-]+([./][A-Za-z0-9_\-]+)*")
INTERFACE = re.compile(r"[A-Za-z0-9_.:@\-]{1,15}")  # IFNAMSIZ - 1, never a path
WORD = re.compile(r"[A-Za-z0-9_+\-]+")
FEATURE = re.compile(r"[a-z0-9_\-]+")
SWAP_DOTS_AND_SLASHES = str.maketrans("./", "/.")

# Each kind's fields: (name, what it is). "required" is allowed on every kind.
KINDS = {
    "sysctl": ("key", "value"),
    "governor": ("cpus", "value"),
    "epp": ("cpus", "value"),
    "cstate_latency": ("value",),
    "turbo": ("value",),
    "thp": ("setting", "value"),
    "irq_affinity": ("interface", "cpus"),
    "rps": ("interface", "cpus"),
    "xps": ("interface", "cpus"),
    "ethtool_coalesce": ("interface", "setting", "value"),
    "ethtool_offload": ("interface", "feature", "value"),
    "placement": ("process", "cpus"),
}
# Kinds whose value is a CPU list; the ones that may be empty (no CPUs: the feature off).
CPU_VALUED = ("irq_affinity", "rps", "xps", "placement")
MAY_BE_EMPTY = ("rps", "xps")


class KnobError(ValueError):
    """A knob or a document the agent cannot use; the message names it."""


@dataclass(frozen=True)
class Knob:
    kind: str
    target: str  # what it touches: a sysctl key, CPUs, an interface and setting, "" for one
    value: object  # wanted: text, or an int (cstate_latency), or a CPU list (CPU_VALUED)
    required: bool
    spec: dict  # the knob as checked, for saved.json and the replies

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @property
    def cpus(self) -> frozenset:
        """The CPUs a knob names (its target or its value), empty for the others."""
        if "cpus" not in self.spec:
            return frozenset()
        return cpu_lists.parse_list(self.spec["cpus"], allow_empty=True)


def parse(raw, where: str) -> Knob:
    """One knob, checked; KnobError naming ``where`` (e.g. ``knobs[2]``) and the field."""
    if not isinstance(raw, dict):
        raise KnobError(f"{where} must be an object, not {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in KINDS:
        known = ", ".join(KINDS)
        raise KnobError(f"{where}: unknown kind {kind!r} (known: {known})")
    where = f"{where} ({kind})"
    fields = KINDS[kind]
    unknown = sorted(set(raw) - set(fields) - {"kind", "required"})
    if unknown:
        takes = ", ".join(fields)
        raise KnobError(f"{where}: unknown field {', '.join(unknown)} (it takes {takes})")
    missing = [name for name in fields if raw.get(name) is None]
    if missing:
        raise KnobError(f"{where}: missing {', '.join(missing)}")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise KnobError(f"{where}: required must be true or false, not {required!r}")
    try:
        spec = {"kind": kind, **CHECKS[kind]({name: raw[name] for name in fields})}
    except (KnobError, ValueError) as exc:
        raise KnobError(f"{where}: {exc}") from None
    if required:
        spec["required"] = True
    return Knob(kind, target_of(spec), value_of(spec), required, spec)


def target_of(spec: dict) -> str:
    kind = spec["kind"]
    if kind == "sysctl":
        return spec["key"]
    if kind in ("governor", "epp"):
        return spec["cpus"]
    if kind == "thp":
        return spec["setting"]
    if kind in ("irq_affinity", "rps", "xps"):
        return spec["interface"]
    if kind == "ethtool_coalesce":
        return f"{spec['interface']}:{spec['setting']}"
    if kind == "ethtool_offload":
        return f"{spec['interface']}:{spec['feature']}"
    if kind == "placement":
        return spec["process"]
    return ""


def value_of(spec: dict):
    return spec["cpus"] if spec["kind"] in CPU_VALUED else spec["value"]


def text(value, name: str) -> str:
    """A scalar as text: numbers become their digits; booleans are refused, since YAML's
    ``off`` arrives as false and would be written as ``False``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise KnobError(f"{name} must be text or a whole number, not {value!r}")
    out = str(value).strip()
    if not out:
        raise KnobError(f"{name} is empty")
    return out


def on_off(value, name: str) -> str:
    """on or off; YAML's true and false (what an unquoted on/off becomes) are taken too."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value not in ON_OFF:
        raise KnobError(f"{name} must be on or off, not {value!r}")
    return value


def cpu_list(value, kind: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # a single CPU written as a number
    if not isinstance(value, str):
        raise KnobError(f"cpus must be a CPU list such as 0-3,8, not {value!r}")
    return cpu_lists.canonical_list(value, allow_empty=kind in MAY_BE_EMPTY)


def interface(value) -> str:
    if not isinstance(value, str) or not INTERFACE.fullmatch(value):
        raise KnobError(f"interface must be an interface name, not {value!r}")
    return value


def check_sysctl(raw: dict) -> dict:
    key = raw["key"]
    if not isinstance(key, str) or not SYSCTL_KEY.fullmatch(key):
        raise KnobError(f"key must be a sysctl name such as net.core.somaxconn, not {key!r}")
    return {"key": dotted(key), "value": text(raw["value"], "value")}


def dotted(key: str) -> str:
    """A sysctl name with dots between its parts. sysctl(8) takes net/core/somaxconn too
    (a key whose first separator is a slash has dots and slashes swapped, as in
    net/ipv4/conf/eth0.1/rp_filter); one spelling keeps one id."""
    first = re.search(r"[./]", key)
    if first is not None and first.group() == "/":
        return key.translate(SWAP_DOTS_AND_SLASHES)
    return key


def check_cpu_word(raw: dict) -> dict:
    value = text(raw["value"], "value")
    if not WORD.fullmatch(value):
        raise KnobError(f"value must be one word such as performance, not {value!r}")
    return {"cpus": cpu_list(raw["cpus"], "governor"), "value": value}


def check_latency(raw: dict) -> dict:
    value = raw["value"]
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise KnobError(f"value must be whole microseconds (0 or more), not {value!r}")
    return {"value": value}


def check_turbo(raw: dict) -> dict:
    return {"value": on_off(raw["value"], "value")}


def check_thp(raw: dict) -> dict:
    setting = raw["setting"]
    if setting not in THP_CHOICES:
        raise KnobError(f"setting must be enabled or defrag, not {setting!r}")
    value = text(raw["value"], "value")
    if value not in THP_CHOICES[setting]:
        raise KnobError(f"{setting} takes {', '.join(THP_CHOICES[setting])}, not {value!r}")
    return {"setting": setting, "value": value}


def check_nic_cpus(kind: str):
    def check(raw: dict) -> dict:
        return {"interface": interface(raw["interface"]), "cpus": cpu_list(raw["cpus"], kind)}

    return check


def check_coalesce(raw: dict) -> dict:
    setting = raw["setting"]
    if setting not in COALESCE_SETTINGS:
        raise KnobError(f"setting {setting!r} is not one ethtool -C takes")
    if setting in ON_OFF_COALESCE:
        value = on_off(raw["value"], "value")
    else:
        value = text(raw["value"], "value")
        if not value.isdigit():
            raise KnobError(f"{setting} must be a whole number, not {value!r}")
    return {"interface": interface(raw["interface"]), "setting": setting, "value": value}


def check_offload(raw: dict) -> dict:
    feature = raw["feature"]
    if not isinstance(feature, str) or not FEATURE.fullmatch(feature):
        raise KnobError(f"feature must be a name ethtool -k prints, not {feature!r}")
    return {
        "interface": interface(raw["interface"]),
        "feature": OFFLOAD_ALIASES.get(feature, feature),
        "value": on_off(raw["value"], "value"),
    }


def check_placement(raw: dict) -> dict:
    process = raw["process"]
    if process not in PLACED_PROCESSES:
        raise KnobError(f"process must be server or load, not {process!r}")
    return {"process": process, "cpus": cpu_list(raw["cpus"], "placement")}


CHECKS = {
    "sysctl": check_sysctl,
    "governor": check_cpu_word,
    "epp": check_cpu_word,
    "cstate_latency": check_latency,
    "turbo": check_turbo,
    "thp": check_thp,
    "irq_affinity": check_nic_cpus("irq_affinity"),
    "rps": check_nic_cpus("rps"),
    "xps": check_nic_cpus("xps"),
    "ethtool_coalesce": check_coalesce,
    "ethtool_offload": check_offload,
    "placement": check_placement,
}


def parse_all(raw, where: str = "knobs") -> list:
    """A list of knobs, each checked, no two with one id."""
    if not isinstance(raw, list):
        raise KnobError(f"{where} must be a list of knobs")
    knobs = [parse(item, f"{where}[{index}]") for index, item in enumerate(raw)]
    seen = {}
    for index, knob in enumerate(knobs):
        if knob.id in seen:
            raise KnobError(f"{where}[{seen[knob.id]}] and {where}[{index}] both set {knob.id}")
        seen[knob.id] = index
    return knobs
