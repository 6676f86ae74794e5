"""The units on a real kernel, in a network namespace of the test's own (``unshare --net``):
a per-namespace sysctl (net.core.somaxconn) and a veth's offloads through the real ethtool,
set, read back and restored under root /. Nothing outside the namespace changes; the
namespace and its veth go away with the process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.servers.conftest import ROOT

needs_namespace_tools = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("unshare", "ip", "ethtool")),
    reason="needs root, unshare, ip and ethtool (.ci/run installs ethtool)",
)

IN_NAMESPACE = r"""
import json, subprocess
from agent.tuning.host import Host
from agent.tuning.knobs import parse
from agent.tuning.state import set_knob
from agent.tuning.units import UNITS

subprocess.run(["ip", "link", "add", "wbtune0", "type", "veth", "peer", "name", "wbtune1"], check=True)
host = Host(root="/")
results = {}
for raw in (
    {"kind": "sysctl", "key": "net.core.somaxconn", "value": "1234"},
    {"kind": "ethtool_offload", "interface": "wbtune0", "feature": "gro", "value": "on"},
    {"kind": "ethtool_offload", "interface": "wbtune0", "feature": "lro", "value": "on"},
    {"kind": "ethtool_coalesce", "interface": "wbtune0", "setting": "rx-usecs", "value": 10},
    {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"},
):
    knob = parse(raw, "knob")
    try:
        saved = UNITS[knob.kind].read(host, knob)
    except Exception as exc:
        saved = repr(exc)
    applied = set_knob(host, knob)
    restored = set_knob(host, knob, to=saved, restoring=True) if applied["status"] == "applied" else None
    results[knob.id] = {"saved": saved, "applied": applied, "restored": restored}
print(json.dumps(results))
"""


@needs_namespace_tools
def test_units_on_a_real_kernel_in_a_namespace_of_their_own():
    with open("/proc/sys/net/core/somaxconn") as handle:
        outside = handle.read()
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", IN_NAMESPACE], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)

    somaxconn = results["sysctl:net.core.somaxconn"]
    assert somaxconn["applied"]["status"] == "applied"
    assert somaxconn["applied"]["read_back"] == "1234"
    assert somaxconn["restored"]["read_back"] == somaxconn["saved"]

    gro = results["ethtool_offload:wbtune0:generic-receive-offload"]
    assert (gro["saved"], gro["applied"]["status"], gro["applied"]["read_back"]) == (
        "off",
        "applied",
        "on",
    )
    assert gro["restored"]["read_back"] == "off"

    lro = results["ethtool_offload:wbtune0:large-receive-offload"]
    assert lro["applied"]["status"] == "unavailable"
    assert lro["applied"]["reason"] == "large-receive-offload is [fixed] off by the driver"

    coalesce = results["ethtool_coalesce:wbtune0:rx-usecs"]
    assert coalesce["applied"]["status"] == "unavailable"
    assert "Operation not supported" in coalesce["applied"]["reason"]

    # busy_poll exists only in the machine's first network namespace.
    busy = results["sysctl:net.core.busy_poll"]
    assert busy["applied"]["status"] == "unavailable"
    assert busy["applied"]["reason"] == "cannot read /proc/sys/net/core/busy_poll: absent (ENOENT)"

    with open("/proc/sys/net/core/somaxconn") as handle:
        assert handle.read() == outside
