"""Make the tuning records of tests/collect/tuning/records/ with the agent's real code.

The run keeps each `tune apply` reply as tuning/<host>/<profile>-<UTC time>.json
({host, role, action, profile, controller_seconds, reply}: plugins/filter/wirebench_tuning_run.py's
records). These come from agent/tuning/state.py itself, run on the committed test trees
(tests/agent/trees) through the agent tests' stand-ins for the kernel's files and systemctl
(tests/agent/tuning/conftest.py): server1 is the laid-out Intel host (every knob applies but
busy_read, absent there), load1 the captured Debian 12 VM (no cpufreq, no C-states: those are
unavailable). The built-in network-latency profile, resolved for each role, alternates with
baseline as a two-profile run switches; on server1's last switch the kernel refuses the write
of transparent_hugepage/enabled (EIO) while the profile marks that knob required, so the knob
fails (and the apply with it) as a real one would. Run from the repository's root:

    .venv/bin/python -m tests.collect.tuning.make_records
"""

from __future__ import annotations

import errno
import json
import tempfile
from pathlib import Path

import yaml

from agent.tuning import profiles, state
from agent.tuning.host import Host
from agent.tuning.knobs import parse_all
from tests.agent.tuning.conftest import FakeSystem, KernelFiles, copy_tree

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "records"
# Each host's facts, as the tuning role gathers them: its NIC and CPUs (the VM has two).
HOSTS = {
    "server1": ("laid-out-intel", "server", {"nic": "eth1", "server_cpus": "2-3",
                "load_cpus": "2-3", "other_cpus": "0-1", "all_cpus": "0-3"}),
    "load1": ("debian12-vm", "load", {"nic": "eth0", "server_cpus": "1", "load_cpus": "1",
              "other_cpus": "0", "all_cpus": "0-1"}),
}  # fmt: skip
# The profile applied before each block of a two-profile run of three rounds (baseline,
# network-latency | network-latency, baseline | baseline, network-latency): a profile is
# applied when the block before was the other one's.
SWITCHES = ["baseline", "network-latency", "baseline", "network-latency"]
TIMES = ["20261128T100000Z", "20261128T100500Z", "20261128T101500Z", "20261128T102000Z"]


def main() -> None:
    builtin = yaml.safe_load((ROOT / "roles/tuning/vars/main.yml").read_text())
    builtin = builtin["tuning_builtin_profiles"]
    for name, (tree, role, facts) in HOSTS.items():
        knobs = {p: profiles.resolve(builtin[p], role, facts, p) for p in set(SWITCHES)}
        with tempfile.TemporaryDirectory() as folder:
            events = []
            kernel = KernelFiles(events)
            host = Host(root=str(copy_tree(tree, Path(folder))), run=FakeSystem(events),
                        read=kernel.read, write=kernel.write, python="/usr/bin/python3")  # fmt: skip
            saved = state.save(host, parse_all(profiles.union(*knobs.values())))
            assert "failed" not in saved, saved
            for index, (profile, time) in enumerate(zip(SWITCHES, TIMES)):
                if name == "server1" and index == len(SWITCHES) - 1:
                    kernel.fail_writes["transparent_hugepage/enabled"] = errno.EIO
                    knobs[profile] = [
                        {**knob, "required": True} if knob["kind"] == "thp" else knob
                        for knob in knobs[profile]
                    ]
                reply = state.apply(host, profile, parse_all(knobs[profile]))
                record = {"host": name, "role": role, "action": "apply", "profile": profile,
                          "controller_seconds": None, "reply": reply}  # fmt: skip
                target = OUT / name / f"{profile}-{time}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
            state.restore(host)


if __name__ == "__main__":
    main()
