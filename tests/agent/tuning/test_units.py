"""Every kind of knob against captured trees: read, apply, read back, restore byte for byte,
and unavailable (absent, refused) as a host that cannot shows it.

``vm`` is this Debian 12 VM as captured (no cpufreq, no turbo, no systemd as init, a virtio
NIC with one queue); ``intel`` a bare-metal host laid out by hand from the kernel's
documentation (tests/agent/trees/README.md).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from agent.tuning import ethtool, latency, nic, placement
from agent.tuning.host import Completed, Host, run_command
from agent.tuning.knobs import parse
from agent.tuning.state import set_knob
from agent.tuning.units import UNITS
from tests.agent.tuning.conftest import captured, tree_files


def knob(**raw):
    return parse(raw, "knobs[0]")


def round_trip(host: Host, the_knob):
    """Save, apply, restore: (applied entry, restored entry), with the tree checked to be
    back byte for byte after the restore."""
    before_files = tree_files(host.root)
    saved = UNITS[the_knob.kind].read(host, the_knob)
    applied = set_knob(host, the_knob)
    restored = set_knob(host, the_knob, to=saved, restoring=True)
    assert restored["status"] == "applied", restored
    assert restored["read_back"] == saved
    assert tree_files(host.root) == before_files
    return applied, restored


def file_text(host: Host, path: str) -> str:
    return Path(host.path(path)).read_text()


# sysctl


def test_a_sysctl_vector_is_set_compared_and_restored_byte_for_byte(vm):
    rmem = knob(kind="sysctl", key="net.ipv4.tcp_rmem", value="4096 131072 16777216")
    assert file_text(vm, "proc/sys/net/ipv4/tcp_rmem") == "4096\t131072\t33554432\n"
    applied, _ = round_trip(vm, rmem)
    assert applied["status"] == "applied"
    assert applied["before"] == "4096 131072 33554432"
    assert applied["wanted"] == applied["read_back"] == "4096 131072 16777216"


def test_a_sysctl_written_as_the_kernel_prints_it(vm):
    rmem = knob(kind="sysctl", key="net.ipv4.tcp_rmem", value="4096   131072 16777216")
    assert set_knob(vm, rmem)["status"] == "applied"
    assert file_text(vm, "proc/sys/net/ipv4/tcp_rmem") == "4096\t131072\t16777216\n"


def test_a_text_sysctl_keeps_its_spaces(vm):
    pattern = knob(kind="sysctl", key="kernel.core_pattern", value="|/usr/bin/x %p  %u")
    applied, _ = round_trip(vm, pattern)
    assert applied["read_back"] == "|/usr/bin/x %p  %u"
    qdisc, _ = round_trip(vm, knob(kind="sysctl", key="net.core.default_qdisc", value="fq"))
    assert (qdisc["before"], qdisc["read_back"]) == ("pfifo_fast", "fq")


def test_a_sysctl_already_at_its_value_is_unchanged_and_not_written(vm, kernel):
    entry = set_knob(vm, knob(kind="sysctl", key="net.core.somaxconn", value=4096))
    assert (entry["status"], entry["before"], entry["read_back"]) == ("unchanged", "4096", "4096")
    assert kernel.writes == []


def test_a_sysctl_this_host_has_not_is_unavailable(vm):
    entry = set_knob(vm, knob(kind="sysctl", key="net.ipv4.tcp_no_such_thing", value="1"))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == "cannot read /proc/sys/net/ipv4/tcp_no_such_thing: absent (ENOENT)"


@pytest.mark.parametrize(
    "number, words",
    [(errno.EROFS, "read-only file system (EROFS)"), (errno.EACCES, "permission denied (EACCES)"),
     (errno.EPERM, "not permitted (EPERM)"), (errno.EINVAL, "the kernel refused the value (EINVAL)")],
)  # fmt: skip
def test_a_sysctl_the_kernel_will_not_change_is_unavailable(vm, kernel, number, words):
    # A container's read-only /proc/sys: root cannot be stopped by a chmod, so the error is
    # made where the write happens.
    kernel.fail_writes["net/core/busy_poll"] = number
    busy = knob(kind="sysctl", key="net.core.busy_poll", value="50")
    entry = set_knob(vm, busy)
    assert entry["status"] == "unavailable"
    assert entry["reason"] == f"cannot write /proc/sys/net/core/busy_poll: {words}"
    assert entry["before"] == "0"
    assert file_text(vm, "proc/sys/net/core/busy_poll") == "0\n"


def test_a_required_knob_the_host_cannot_change_is_a_failure(vm, kernel):
    kernel.fail_writes["net/core/busy_poll"] = errno.EROFS
    busy = knob(kind="sysctl", key="net.core.busy_poll", value="50", required=True)
    entry = set_knob(vm, busy)
    assert entry["status"] == "failed"
    assert entry["reason"].startswith(
        "required, but unavailable: cannot write /proc/sys/net/core/busy_poll"
    )


def test_an_error_no_host_setting_explains_is_a_failure(vm, kernel):
    kernel.fail_writes["net/core/busy_poll"] = errno.ENOSPC
    entry = set_knob(vm, knob(kind="sysctl", key="net.core.busy_poll", value="50"))
    assert entry["status"] == "failed"
    assert "No space left on device" in entry["reason"]


def test_a_value_that_does_not_read_back_is_a_failure(vm, kernel):
    # The kernel clamps some values (somaxconn above 2^31 - 1 is refused, a port range is
    # checked): what it keeps is what counts.
    def clamping_write(path, text):
        original_write(path, "65535\n")

    original_write, vm.write = vm.write, clamping_write
    entry = set_knob(vm, knob(kind="sysctl", key="net.core.somaxconn", value="100000"))
    assert entry["status"] == "failed"
    assert entry["reason"] == "read back '65535', wanted '100000'"


# governor, epp, turbo


def test_the_governor_is_set_on_each_cpu_and_restored(intel):
    applied, _ = round_trip(intel, knob(kind="governor", cpus="0-3", value="performance"))
    assert applied["before"] == {str(cpu): "powersave" for cpu in range(4)}
    assert applied["read_back"] == {str(cpu): "performance" for cpu in range(4)}


def test_the_governor_of_the_cpus_not_named_is_left_alone(intel, kernel):
    set_knob(intel, knob(kind="governor", cpus="1,3", value="performance"))
    changed = sorted(Path(path).parts[-3] for path, _ in kernel.writes)
    assert changed == ["cpu1", "cpu3"]
    assert file_text(intel, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") == "powersave\n"


def test_a_governor_the_cpus_do_not_offer_is_unavailable(intel):
    entry = set_knob(intel, knob(kind="governor", cpus="0", value="ondemand"))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == "cpu0 offers performance powersave, not ondemand"


def test_a_vm_without_cpufreq_has_no_governor_epp_or_turbo(vm):
    for raw in ({"kind": "governor", "cpus": "0-1", "value": "performance"},
                {"kind": "epp", "cpus": "0-1", "value": "performance"}):  # fmt: skip
        entry = set_knob(vm, parse(raw, "knobs[0]"))
        assert entry["status"] == "unavailable"
        assert entry["reason"].startswith(
            "cpu0 has no cpufreq (/sys/devices/system/cpu/cpu0/cpufreq absent)"
        )
    turbo = set_knob(vm, knob(kind="turbo", value="off"))
    assert turbo["status"] == "unavailable"
    assert "neither /sys/devices/system/cpu/intel_pstate/no_turbo nor" in turbo["reason"]


def test_cpus_the_host_has_not_are_a_failure_not_unavailable(intel):
    entry = set_knob(intel, knob(kind="governor", cpus="0-7", value="performance"))
    assert entry["status"] == "failed"
    assert entry["reason"] == "CPUs 4-7 are not online here (online: 0-3)"


def test_epp_is_set_and_restored(intel):
    applied, _ = round_trip(intel, knob(kind="epp", cpus="0-3", value="performance"))
    assert set(applied["read_back"].values()) == {"performance"}


def test_epp_fixed_by_the_performance_governor_is_unavailable(intel, kernel):
    # intel_pstate refuses EPP changes with EBUSY while the governor is performance.
    kernel.fail_writes["cpu2/cpufreq/energy_performance_preference"] = errno.EBUSY
    entry = set_knob(intel, knob(kind="epp", cpus="0-3", value="power"))
    assert entry["status"] == "unavailable"
    assert "busy: fixed by another setting (EBUSY)" in entry["reason"]


def test_turbo_off_is_no_turbo_1_on_intel_pstate(intel):
    applied, _ = round_trip(intel, knob(kind="turbo", value="off"))
    assert (applied["before"], applied["read_back"]) == ("on", "off")
    set_knob(intel, knob(kind="turbo", value="off"))
    assert file_text(intel, "sys/devices/system/cpu/intel_pstate/no_turbo") == "1\n"


def test_turbo_off_is_boost_0_where_cpufreq_has_boost(intel):
    # acpi-cpufreq and amd-pstate: /sys/devices/system/cpu/cpufreq/boost, 1 when on
    # (Documentation/admin-guide/pm/cpufreq.rst), and no intel_pstate folder.
    pstate = Path(intel.path("sys/devices/system/cpu/intel_pstate"))
    for child in pstate.iterdir():
        child.unlink()
    pstate.rmdir()
    boost = Path(intel.path("sys/devices/system/cpu/cpufreq/boost"))
    boost.parent.mkdir()
    boost.write_text("1\n")
    applied, _ = round_trip(intel, knob(kind="turbo", value="off"))
    assert (applied["before"], applied["read_back"]) == ("on", "off")
    set_knob(intel, knob(kind="turbo", value="off"))
    assert boost.read_text() == "0\n"


# transparent hugepages


def test_thp_moves_the_brackets_and_comes_back(vm):
    applied, _ = round_trip(vm, knob(kind="thp", setting="enabled", value="never"))
    assert (applied["before"], applied["read_back"]) == ("madvise", "never")
    set_knob(vm, knob(kind="thp", setting="enabled", value="never"))
    assert file_text(vm, "sys/kernel/mm/transparent_hugepage/enabled") == "always madvise [never]\n"
    defrag, _ = round_trip(vm, knob(kind="thp", setting="defrag", value="defer+madvise"))
    assert (defrag["before"], defrag["read_back"]) == ("madvise", "defer+madvise")


def test_a_thp_choice_this_kernel_does_not_offer_is_unavailable(vm):
    Path(vm.path("sys/kernel/mm/transparent_hugepage/defrag")).write_text(
        "always defer [madvise] never\n"
    )
    entry = set_knob(vm, knob(kind="thp", setting="defrag", value="defer+madvise"))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == (
        "/sys/kernel/mm/transparent_hugepage/defrag offers always defer madvise never, not defer+madvise"
    )


# C-state latency


def test_the_latency_limit_is_held_by_a_transient_unit_and_stopped_on_restore(intel, system):
    limit = knob(kind="cstate_latency", value=3)
    applied = set_knob(intel, limit)
    assert (applied["status"], applied["before"], applied["read_back"]) == ("applied", None, 3)
    assert system.calls[-2] == [
        "systemd-run", "--unit=wirebench-cpu-dma-latency", "--collect", "--quiet",
        "--description=wirebench: C-state latency limit for a tuning profile",
        "--property=Type=notify", f"--working-directory={latency.AGENT_PARENT}",
        "/usr/bin/python3", "-m", "agent", "tune", "hold-latency", "3", "--root", intel.root,
    ]  # fmt: skip
    assert system.calls[-1] == ["systemctl", "show", "wirebench-cpu-dma-latency",
                                "--property=ActiveState,ExecStart"]  # fmt: skip
    restored = set_knob(intel, limit, to=None, restoring=True)
    assert (restored["status"], restored["read_back"]) == ("applied", None)
    assert ["systemctl", "stop", "wirebench-cpu-dma-latency"] in system.calls
    assert system.active == {}


def test_a_new_latency_limit_replaces_the_one_held(intel, system):
    set_knob(intel, knob(kind="cstate_latency", value=3))
    entry = set_knob(intel, knob(kind="cstate_latency", value=0))
    assert (entry["before"], entry["read_back"]) == (3, 0)
    stop = system.calls.index(["systemctl", "stop", "wirebench-cpu-dma-latency"])
    assert system.calls[stop + 1][0] == "systemd-run"


def test_the_held_value_is_read_from_the_units_command_line():
    shown = ("{ path=/usr/bin/python3 ; argv[]=/usr/bin/python3 -m agent tune hold-latency 20 "
             "--root /tmp/x ; ignore_errors=no ; start_time=[Thu 2025-11-27] ; pid=4242 }")  # fmt: skip
    assert latency.held_value(shown) == 20
    assert latency.held_value("") is None
    assert latency.held_value("{ argv[]=/usr/bin/sleep 1 ; }") is None


def test_no_latency_limit_without_the_pm_qos_device_or_systemd(vm, intel):
    entry = set_knob(vm, knob(kind="cstate_latency", value=3))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == "systemd is not running here: no unit can hold the limit"
    os.unlink(intel.path("dev/cpu_dma_latency"))
    entry = set_knob(intel, knob(kind="cstate_latency", value=3))
    assert entry["status"] == "unavailable"
    assert entry["reason"].startswith("/dev/cpu_dma_latency is absent")


def test_a_holder_that_will_not_start_is_a_failure(intel, system):
    system.fail[("systemd-run", "--unit=wirebench-cpu-dma-latency")] = Completed(
        1, "", "Job for wirebench-cpu-dma-latency.service failed.\n"
    )
    entry = set_knob(intel, knob(kind="cstate_latency", value=3))
    assert entry["status"] == "failed"
    assert entry["reason"] == (
        "systemd-run could not start wirebench-cpu-dma-latency: "
        "Job for wirebench-cpu-dma-latency.service failed."
    )


# placement

SERVER_DROP_INS = {unit: placement.drop_in(unit) for unit in placement.SERVER_UNITS}


def test_the_servers_cpus_are_both_units_drop_ins_reloaded_before_the_cell_starts(intel, system):
    seen_at_reload = []

    def run(argv):  # what systemd finds in its runtime folder when it reloads
        if list(argv) == ["systemctl", "daemon-reload"]:
            seen_at_reload.append({unit: Path(intel.path(path)).read_text()
                                   if os.path.exists(intel.path(path)) else None
                                   for unit, path in SERVER_DROP_INS.items()})  # fmt: skip
        return system(argv)

    host = Host(root=intel.root, run=run, read=intel.read, write=intel.write)
    pinned = knob(kind="placement", process="server", cpus="2,3")
    applied, restored = round_trip(host, pinned)
    empty = {"wirebench-server@.service": "", "wirebench-redis.service": ""}
    both = {"wirebench-server@.service": "2-3", "wirebench-redis.service": "2-3"}
    assert (applied["status"], applied["before"], applied["read_back"]) == ("applied", empty, both)
    assert SERVER_DROP_INS == {
        "wirebench-server@.service":
            "run/systemd/system/wirebench-server@.service.d/50-wirebench-placement.conf",
        "wirebench-redis.service":
            "run/systemd/system/wirebench-redis.service.d/50-wirebench-placement.conf",
    }  # fmt: skip
    written = "[Service]\nCPUAffinity=2-3\n"
    assert seen_at_reload == [
        {"wirebench-server@.service": written, "wirebench-redis.service": written},
        {"wirebench-server@.service": None, "wirebench-redis.service": None},  # the restore's
    ]
    assert restored["read_back"] == empty
    assert sorted(os.listdir(intel.path(placement.UNIT_FOLDER))) == [".present"]


def test_a_placement_already_in_place_is_not_written_or_reloaded(intel, system):
    pinned = knob(kind="placement", process="server", cpus="1")
    assert set_knob(intel, pinned)["status"] == "applied"
    assert set_knob(intel, pinned)["status"] == "unchanged"
    assert system.reloads == 1


def test_a_drop_in_left_half_written_is_put_back_unit_by_unit(intel, system):
    # A crash between the two writes: only the Python servers' drop-in is there.
    Path(intel.path(SERVER_DROP_INS["wirebench-server@.service"])).parent.mkdir(parents=True)
    Path(intel.path(SERVER_DROP_INS["wirebench-server@.service"])).write_text(
        "[Service]\nCPUAffinity=1\n"
    )
    pinned = knob(kind="placement", process="server", cpus="1")
    half = {"wirebench-server@.service": "1", "wirebench-redis.service": ""}
    assert UNITS["placement"].read(intel, pinned) == half
    empty = {"wirebench-server@.service": "", "wirebench-redis.service": ""}
    restored = set_knob(intel, pinned, to=empty, restoring=True)
    assert (restored["status"], restored["before"], restored["read_back"]) == (
        "applied",
        half,
        empty,
    )


def test_server_placement_needs_systemd_and_names_a_drop_in_it_did_not_write(vm, intel):
    entry = set_knob(vm, knob(kind="placement", process="server", cpus="1"))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == (
        "systemd is not running here (no /run/systemd/system): no unit to place the server with"
    )
    foreign = Path(intel.path(SERVER_DROP_INS["wirebench-redis.service"]))
    foreign.parent.mkdir(parents=True)
    foreign.write_text("[Service]\nNice=-5\n")
    entry = set_knob(intel, knob(kind="placement", process="server", cpus="1"))
    assert entry["status"] == "failed"
    assert entry["reason"].startswith(
        "/run/systemd/system/wirebench-redis.service.d/50-wirebench-placement.conf is not the "
        "drop-in wirebench writes ([Service] and one CPUAffinity= line): '[Service]\\nNice=-5\\n'"
    )
    assert foreign.read_text() == "[Service]\nNice=-5\n"  # not touched


def test_a_daemon_reload_that_fails_is_a_failure(intel, system):
    system.fail[("systemctl", "daemon-reload")] = Completed(1, "", "Access denied\n")
    entry = set_knob(intel, knob(kind="placement", process="server", cpus="1"))
    assert (entry["status"], entry["reason"]) == (
        "failed",
        "systemctl daemon-reload: Access denied",
    )


def test_placement_on_cpus_the_host_has_not_is_a_failure(intel):
    entry = set_knob(intel, knob(kind="placement", process="load", cpus="3-5"))
    assert (entry["status"], entry["reason"]) == (
        "failed",
        "CPUs 4-5 are not online here (online: 0-3)",
    )
    assert not os.path.exists(intel.path(placement.LOAD_CPUS))


def test_the_load_cpus_are_a_file_for_loadgen_and_gone_on_restore(vm, system):
    # No systemd needed: loadgen reads the file itself.
    applied, restored = round_trip(vm, knob(kind="placement", process="load", cpus="1"))
    assert (applied["status"], applied["before"], applied["read_back"]) == ("applied", "", "1")
    assert restored["read_back"] == ""
    assert not os.path.exists(vm.path("run/wirebench/tuning"))  # its folder too
    set_knob(vm, knob(kind="placement", process="load", cpus="0,1"))
    assert file_text(vm, "run/wirebench/tuning/load-cpus") == "0-1\n"
    assert system.calls == []


def test_a_load_cpus_file_that_is_not_a_cpu_list_is_named(vm):
    Path(vm.path("run/wirebench/tuning")).mkdir(parents=True)
    Path(vm.path(placement.LOAD_CPUS)).write_text("all\n")
    entry = set_knob(vm, knob(kind="placement", process="load", cpus="1"))
    assert entry["status"] == "failed"
    assert entry["reason"] == (
        "/run/wirebench/tuning/load-cpus: 'all' is not a CPU list such as 0-3,8 ('all')"
    )


def test_a_placement_the_host_will_not_let_be_written_is_unavailable(vm):
    Path(vm.path("run")).mkdir()
    Path(vm.path("run/wirebench")).write_text("")  # a file where the folder should be
    entry = set_knob(vm, knob(kind="placement", process="load", cpus="1"))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == "cannot write /run/wirebench/tuning/load-cpus: absent (ENOTDIR)"


# NIC queue IRQs


def test_a_virtio_nics_queue_irqs_are_found_by_its_device_name(vm):
    # eth0 is virtio2: virtio2-input.0 (38) and virtio2-output.0 (39); virtio2-config (37)
    # is the device's control vector.
    assert nic.queue_irqs(vm, "eth0") == [38, 39]


def test_a_nics_irqs_are_found_by_its_name_and_not_its_neighbours(intel):
    assert nic.queue_irqs(intel, "eth1") == [120, 121, 122, 123, 124]  # not eth10's 125
    assert nic.queue_irqs(intel, "eth10") == [125]


def test_a_nic_naming_its_irqs_after_its_pci_address_is_found_by_msi_irqs(intel):
    assert nic.queue_irqs(intel, "ens1f0") == [139, 140, 141]


def test_irq_affinity_without_systemd_leaves_irqbalance_alone(vm, system):
    applied, _ = round_trip(vm, knob(kind="irq_affinity", interface="eth0", cpus="1"))
    assert applied["before"] == {"irqs": {"38": "0-1", "39": "0-1"}, "irqbalance": "unknown"}
    assert applied["read_back"] == {"irqs": {"38": "1", "39": "1"}, "irqbalance": "unknown"}
    assert system.calls == []


def test_irqbalance_is_stopped_before_the_irqs_move_and_started_after_they_are_back(
    intel, system, events
):
    system.active["irqbalance"] = ["/usr/sbin/irqbalance"]
    pin = knob(kind="irq_affinity", interface="eth1", cpus="2-3")
    saved = UNITS["irq_affinity"].read(intel, pin)
    assert saved["irqbalance"] == "active"
    del events[:]
    applied = set_knob(intel, pin)
    assert applied["status"] == "applied"
    assert applied["read_back"]["irqbalance"] == "inactive"
    kinds = [(event[0], event[1][:2] if event[0] == "run" else "") for event in events]
    stop = kinds.index(("run", ["systemctl", "stop"]))
    first_write = next(i for i, event in enumerate(events) if event[0] == "write")
    assert stop < first_write
    assert file_text(intel, "proc/irq/120/smp_affinity_list") == "2-3\n"
    del events[:]
    restored = set_knob(intel, pin, to=saved, restoring=True)
    assert restored["read_back"] == saved
    last_write = max(i for i, event in enumerate(events) if event[0] == "write")
    start = events.index(("run", ["systemctl", "start", "irqbalance"]))
    assert last_write < start


def test_irqbalance_not_running_before_is_not_started_on_restore(intel, system):
    pin = knob(kind="irq_affinity", interface="eth1", cpus="2-3")
    round_trip(intel, pin)
    assert [call for call in system.calls if call[1] in ("start", "stop")] == []


def test_irq_affinity_is_unavailable_without_the_nic_or_its_irqs(intel, kernel):
    os.makedirs(intel.path("sys/class/net/veth0/queues/rx-0"))
    entry = set_knob(intel, knob(kind="irq_affinity", interface="veth0", cpus="1"))
    assert entry["status"] == "unavailable"
    assert entry["reason"].startswith("no IRQ of veth0 in /proc/interrupts")
    entry = set_knob(intel, knob(kind="irq_affinity", interface="eth9", cpus="1"))
    assert (entry["status"], entry["reason"]) == ("unavailable", "there is no interface eth9 here")
    # A managed IRQ (the kernel spreads it itself) refuses with EIO.
    kernel.fail_writes["irq/140/smp_affinity_list"] = errno.EIO
    entry = set_knob(intel, knob(kind="irq_affinity", interface="ens1f0", cpus="1"))
    assert entry["status"] == "unavailable"
    assert (
        entry["reason"]
        == "cannot write /proc/irq/140/smp_affinity_list: the kernel refused the change (EIO)"
    )


# RPS and XPS


def test_rps_masks_are_written_and_restored_byte_for_byte(vm):
    applied, _ = round_trip(vm, knob(kind="rps", interface="eth0", cpus="0-1"))
    assert (applied["before"], applied["read_back"]) == ({"rx-0": ""}, {"rx-0": "0-1"})
    set_knob(vm, knob(kind="rps", interface="eth0", cpus="1"))
    assert file_text(vm, "sys/class/net/eth0/queues/rx-0/rps_cpus") == "2\n"


def test_xps_masks_of_every_queue_come_back_as_they_were(intel):
    applied, _ = round_trip(intel, knob(kind="xps", interface="eth1", cpus="0-3"))
    assert applied["before"] == {"tx-0": "0", "tx-1": "1", "tx-2": "2", "tx-3": "3"}
    assert set(applied["read_back"].values()) == {"0-3"}


def test_xps_of_a_single_queue_virtio_nic_is_unavailable(vm, kernel):
    entry = set_knob(vm, knob(kind="xps", interface="eth0", cpus="0-1"))
    assert (entry["status"], entry["reason"]) == ("unavailable", "eth0 has no tx-*/xps_cpus")
    # Where the file is listed, reading it fails with ENOENT (kernel 6.18, one tx queue).
    os.makedirs(vm.path("sys/class/net/eth0/queues/tx-0"))
    Path(vm.path("sys/class/net/eth0/queues/tx-0/xps_cpus")).write_text("")
    kernel.fail_reads["tx-0/xps_cpus"] = errno.ENOENT
    entry = set_knob(vm, knob(kind="xps", interface="eth0", cpus="0-1"))
    assert entry["status"] == "unavailable"
    assert (
        entry["reason"] == "cannot read /sys/class/net/eth0/queues/tx-0/xps_cpus: absent (ENOENT)"
    )


# ethtool


def test_ethtool_coalesce_output_is_read_as_c_names_it():
    settings = ethtool.parse_coalesce(captured("virtio-eth0-c").stdout)
    assert settings["adaptive-rx"] == "off"
    assert settings["adaptive-tx"] == "n/a"
    assert (settings["rx-usecs"], settings["rx-frames"], settings["tx-frames"]) == ("0", "1", "1")
    assert settings["rx-frames-low"] == settings["tx-frames-high"] == "n/a"
    assert settings["cqe-mode-rx"] == settings["cqe-mode-tx"] == "n/a"
    assert settings["stats-block-usecs"] == "n/a"


def test_coalescing_is_set_through_ethtool_and_restored(vm, system):
    system.coalesce["eth0"] = original = captured("virtio-eth0-c").stdout
    usecs = knob(kind="ethtool_coalesce", interface="eth0", setting="rx-usecs", value=8)
    applied = set_knob(vm, usecs)
    assert (applied["status"], applied["before"], applied["read_back"]) == ("applied", "0", "8")
    assert ["ethtool", "-C", "eth0", "rx-usecs", "8"] in system.calls
    restored = set_knob(vm, usecs, to="0", restoring=True)
    assert restored["status"] == "applied"
    assert system.coalesce["eth0"] == original


def test_coalescing_a_driver_does_not_offer_is_unavailable(vm, system):
    system.coalesce["eth0"] = captured("virtio-eth0-c").stdout
    entry = set_knob(
        vm, knob(kind="ethtool_coalesce", interface="eth0", setting="rx-usecs-irq", value=8)
    )
    assert (entry["status"], entry["reason"]) == (
        "unavailable", "ethtool -c eth0 shows rx-usecs-irq as n/a: no such setting")  # fmt: skip
    system.coalesce["lo"] = captured("lo-c")
    entry = set_knob(vm, knob(kind="ethtool_coalesce", interface="lo", setting="rx-usecs", value=8))
    assert entry["status"] == "unavailable"
    assert entry["reason"] == (
        "ethtool -c lo: not supported by the driver (netlink error: Operation not supported)"
    )
    entry = set_knob(
        vm, knob(kind="ethtool_coalesce", interface="eth7", setting="rx-usecs", value=8)
    )
    assert entry["status"] == "unavailable"
    assert entry["reason"].startswith("ethtool -c eth7: no such interface")


def test_no_ethtool_is_unavailable_and_a_strange_ethtool_error_a_failure(vm, system):
    assert run_command(["wirebench-no-such-program", "-c"]) == Completed(
        127, "", "wirebench-no-such-program: command not found"
    )
    system.fail[("ethtool", "-c")] = Completed(127, "", "ethtool: command not found")
    usecs = knob(kind="ethtool_coalesce", interface="eth0", setting="rx-usecs", value=8)
    entry = set_knob(vm, usecs)
    assert (entry["status"], entry["reason"]) == (
        "unavailable", "ethtool -c eth0: ethtool is not installed (ethtool: command not found)")  # fmt: skip
    system.fail[("ethtool", "-c")] = Completed(1, "", "ethtool: bad command line argument(s)\n")
    entry = set_knob(vm, usecs)
    assert entry["status"] == "failed"
    assert entry["reason"] == "ethtool -c eth0 failed (1): ethtool: bad command line argument(s)"


def test_ethtool_features_are_read_with_their_fixed_marks():
    features = ethtool.parse_features(captured("veth-k").stdout)
    assert features["generic-receive-offload"] == ("off", False)
    assert features["large-receive-offload"] == ("off", True)
    assert features["tx-checksum-ip-generic"] == ("on", False)  # an indented sub-feature
    assert features["rx-gro-list"] == ("off", False)
    assert "Features for wbtest0" not in features


def test_an_offload_is_set_through_ethtool_and_restored(vm, system):
    system.features["wbtest0"] = original = captured("veth-k").stdout
    gro = knob(kind="ethtool_offload", interface="wbtest0", feature="gro", value="on")
    applied = set_knob(vm, gro)
    assert (applied["status"], applied["before"], applied["read_back"]) == ("applied", "off", "on")
    assert ["ethtool", "-K", "wbtest0", "generic-receive-offload", "on"] in system.calls
    assert set_knob(vm, gro, to="off", restoring=True)["status"] == "applied"
    assert system.features["wbtest0"] == original


def test_a_fixed_offload_is_unavailable_unless_already_as_wanted(vm, system):
    system.features["wbtest0"] = captured("veth-k").stdout
    entry = set_knob(
        vm, knob(kind="ethtool_offload", interface="wbtest0", feature="lro", value="on")
    )
    assert (entry["status"], entry["reason"]) == (
        "unavailable", "large-receive-offload is [fixed] off by the driver")  # fmt: skip
    entry = set_knob(
        vm, knob(kind="ethtool_offload", interface="wbtest0", feature="lro", value="off")
    )
    assert entry["status"] == "unchanged"
    entry = set_knob(
        vm, knob(kind="ethtool_offload", interface="wbtest0", feature="rx-nothing", value="off")
    )
    assert (entry["status"], entry["reason"]) == (
        "unavailable", "ethtool -k wbtest0 shows no feature rx-nothing")  # fmt: skip


def test_a_change_ethtool_refuses_is_unavailable(vm, system):
    system.features["wbtest0"] = captured("veth-k").stdout.replace(
        "large-receive-offload: off [fixed]", "large-receive-offload: off"
    )  # a driver that lists it as changeable, then will not change it
    system.fail[("ethtool", "-K")] = captured("veth-K-lro-fixed")
    entry = set_knob(
        vm, knob(kind="ethtool_offload", interface="wbtest0", feature="lro", value="on")
    )
    assert entry["status"] == "unavailable"
    assert entry["reason"] == (
        "ethtool -K wbtest0 large-receive-offload on: the driver would not change it "
        "(Could not change any device features)"
    )
