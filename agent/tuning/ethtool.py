"""A NIC's interrupt coalescing (ethtool -c/-C) and offloads (ethtool -k/-K), one setting
per knob, through the host's runner.

What ethtool says decides: "Operation not supported" (a driver without coalescing, such as
veth or lo), a setting shown as n/a, a feature marked [fixed] or "Could not change any device
features", no such device, no ethtool installed: each makes the knob unavailable on this
host. Any other error is a failure.
"""

from __future__ import annotations

import re

from .host import Host, TuningFailure, Unavailable
from .knobs import Knob

NOT_AVAILABLE = "n/a"
# ethtool's own words for "this host cannot" (its netlink and ioctl paths say it differently).
UNAVAILABLE_WORDS = (
    ("Operation not supported", "not supported by the driver"),
    ("Could not change any device features", "the driver would not change it"),
    ("No such device", "no such interface"),
    ("no device matches name", "no such interface"),
    ("command not found", "ethtool is not installed"),
)
# "Adaptive RX: off  TX: n/a" and "CQE mode RX: n/a  TX: n/a": two settings on one line.
PAIRED_LINE = re.compile(r"(Adaptive|CQE mode) RX:\s*(\S+)\s+TX:\s*(\S+)")
PAIRED_NAMES = {
    "Adaptive": ("adaptive-rx", "adaptive-tx"),
    "CQE mode": ("cqe-mode-rx", "cqe-mode-tx"),
}
# -c prints "rx-frame-low" where -C takes "rx-frames-low" (ethtool 6.1).
SINGULAR_FRAMES = re.compile(r"^([rt]x)-frame-(low|high)$")
FEATURE_LINE = re.compile(r"^\s*([a-z0-9_\-]+):\s+(on|off)(\s+\[fixed\])?")


def parse_coalesce(text: str) -> dict:
    """{setting as -C names it: value as printed} from ``ethtool -c`` (n/a kept)."""
    found = {}
    for line in text.splitlines():
        paired = PAIRED_LINE.match(line.strip())
        if paired:
            rx_name, tx_name = PAIRED_NAMES[paired.group(1)]
            found[rx_name], found[tx_name] = paired.group(2), paired.group(3)
            continue
        name, colon, value = line.partition(":")
        if not colon or name.startswith(("Coalesce parameters", " ")) or not value.strip():
            continue
        found[SINGULAR_FRAMES.sub(r"\1-frames-\2", name.strip())] = value.strip()
    return found


def parse_features(text: str) -> dict:
    """{feature: (on or off, fixed)} from ``ethtool -k``."""
    found = {}
    for line in text.splitlines():
        match = FEATURE_LINE.match(line)
        if match:
            found[match.group(1)] = (match.group(2), match.group(3) is not None)
    return found


def ethtool(host: Host, *args: str) -> str:
    """ethtool's output; Unavailable or TuningFailure from what it says when it fails."""
    done = host.run(["ethtool", *args])
    if done.returncode == 0:
        return done.stdout
    said = " ".join((done.stderr or done.stdout).split())
    for words, reason in UNAVAILABLE_WORDS:
        if words in said:
            raise Unavailable(f"ethtool {' '.join(args)}: {reason} ({said})")
    raise TuningFailure(f"ethtool {' '.join(args)} failed ({done.returncode}): {said}")


class Coalesce:
    def read(self, host: Host, knob: Knob) -> str:
        interface, setting = knob.spec["interface"], knob.spec["setting"]
        value = parse_coalesce(ethtool(host, "-c", interface)).get(setting, NOT_AVAILABLE)
        if value == NOT_AVAILABLE:
            raise Unavailable(f"ethtool -c {interface} shows {setting} as n/a: no such setting")
        return value

    def wanted(self, knob: Knob, before: str) -> str:
        return knob.value

    def write(self, host: Host, knob: Knob, state: str, before: str) -> None:
        ethtool(host, "-C", knob.spec["interface"], knob.spec["setting"], state)


class Offload:
    def features(self, host: Host, knob: Knob) -> tuple:
        interface, feature = knob.spec["interface"], knob.spec["feature"]
        features = parse_features(ethtool(host, "-k", interface))
        if feature not in features:
            raise Unavailable(f"ethtool -k {interface} shows no feature {feature}")
        return features[feature]

    def read(self, host: Host, knob: Knob) -> str:
        return self.features(host, knob)[0]

    def wanted(self, knob: Knob, before: str) -> str:
        return knob.value

    def write(self, host: Host, knob: Knob, state: str, before: str) -> None:
        if self.features(host, knob)[1]:
            raise Unavailable(f"{knob.spec['feature']} is [fixed] {before} by the driver")
        ethtool(host, "-K", knob.spec["interface"], knob.spec["feature"], state)


coalesce = Coalesce()
offload = Offload()
