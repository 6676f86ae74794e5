"""The snapshot of a host under a profile, from the captured trees: what is there is
recorded, what is absent is named, and no root-only sysctl (a secret key) leaves the host."""

from __future__ import annotations

import os
from pathlib import Path

from agent.tuning import snapshot
from agent.tuning.host import Host
from tests.agent.tuning.conftest import TREES


def test_the_vm_is_recorded_as_captured(vm):
    taken = snapshot.take(vm, "eth0")
    found = taken["snapshot"]
    assert found["cpus_online"] == "0-1"
    assert found["cmdline"] == (TREES / "debian12-vm/proc/cmdline").read_text().strip()
    assert found["smt"] == {"active": False, "control": "notsupported", "from": "smt/active"}
    assert found["numa_nodes"] == {"node0": "0-1"}
    assert found["thp"] == {"enabled": "madvise", "defrag": "madvise"}
    assert found["nic"] == {
        "interface": "eth0",
        "numa_node": -1,
        "irqs": {"38": "0-1", "39": "0-1"},
    }
    assert found["irqbalance"] == "unknown"
    assert (found["governors"], found["turbo"], found["cstate_latency_held_us"]) == ({}, None, None)
    assert taken["absent"] == ["/sys/devices/system/cpu/cpu0/cpufreq"]
    assert found["sysctl"]["net.ipv4.tcp_rmem"] == "4096 131072 33554432"
    assert found["sysctl"]["net.core.default_qdisc"] == "pfifo_fast"
    captured = {
        str(path.relative_to(TREES / "debian12-vm/proc/sys")).replace("/", ".")
        for path in (TREES / "debian12-vm/proc/sys").rglob("*") if path.is_file()
    }  # fmt: skip
    assert set(found["sysctl"]) == captured


def test_a_root_only_sysctl_is_withheld_by_name(vm):
    key = Path(vm.path("proc/sys/net/ipv4/tcp_fastopen_key"))
    key.write_text("00000000-00000000-00000000-00000000\n")
    key.chmod(0o600)
    found = snapshot.take(vm)["snapshot"]
    assert "net.ipv4.tcp_fastopen_key" not in found["sysctl"]
    assert found["sysctl_withheld"] == ["net.ipv4.tcp_fastopen_key"]


def test_a_bare_metal_host_with_smt_from_its_siblings_and_two_nodes(intel, system):
    system.active["irqbalance"] = ["/usr/sbin/irqbalance"]
    system.active["wirebench-cpu-dma-latency"] = ["/usr/bin/python3", "-m", "agent", "tune",
                                                  "hold-latency", "3"]  # fmt: skip
    taken = snapshot.take(intel, "ens1f0")
    found = taken["snapshot"]
    assert found["smt"] == {"active": True, "from": "thread_siblings_list"}
    assert found["numa_nodes"] == {"node0": "0,2", "node1": "1,3"}
    assert found["governors"] == {str(cpu): "powersave" for cpu in range(4)}
    assert found["turbo"] == "on"
    assert found["thp"] == {"enabled": "always", "defrag": "madvise"}
    assert found["nic"] == {"interface": "ens1f0", "numa_node": 1,
                            "irqs": {"139": "0-3", "140": "0-3", "141": "0-3"}}  # fmt: skip
    assert found["irqbalance"] == "active"
    assert found["cstate_latency_held_us"] == 3
    assert "/sys/devices/system/cpu/smt/active" in taken["absent"]


def test_what_a_container_lacks_is_absent_not_an_error(tmp_path):
    # A container's view: /proc/sys only, no /sys at all, no NIC IRQs.
    os.makedirs(tmp_path / "proc/sys/net/core")
    (tmp_path / "proc/sys/net/core/somaxconn").write_text("4096\n")
    taken = snapshot.take(Host(root=str(tmp_path)), "host0")
    found = taken["snapshot"]
    assert found["sysctl"] == {"net.core.somaxconn": "4096"}
    assert found["nic"] == {"interface": "host0", "numa_node": None, "irqs": None,
                            "irqs_reason": "there is no interface host0 here"}  # fmt: skip
    assert found["thp"] == {"enabled": None, "defrag": None}
    assert found["smt"] == {"active": None, "from": None}
    assert taken["absent"] == [
        "/sys/devices/system/cpu/online", "/proc/cmdline", "/sys/devices/system/cpu/smt/active",
        "/sys/devices/system/node", "/sys/devices/system/cpu/cpu0/cpufreq",
        "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/transparent_hugepage/defrag",
    ]  # fmt: skip
