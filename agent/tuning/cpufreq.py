"""CPU frequency: the scaling governor and the energy-performance preference per CPU, and
turbo (intel_pstate's no_turbo, or cpufreq's boost elsewhere: acpi-cpufreq, amd-pstate).

Laid out as in the kernel's Documentation/admin-guide/pm/cpufreq.rst and intel_pstate.rst. A
VM or container usually has no cpufreq at all: its CPUs' speed is not the guest's to set.
"""

from __future__ import annotations

from .host import Host, Unavailable
from .knobs import Knob

CPU = "sys/devices/system/cpu"
NO_TURBO = "sys/devices/system/cpu/intel_pstate/no_turbo"
BOOST = "sys/devices/system/cpu/cpufreq/boost"


class PerCpuFile:
    """One cpufreq file per CPU (scaling_governor, energy_performance_preference); its state
    is {cpu: value} for the knob's CPUs."""

    def __init__(self, name: str, offered: str):
        self.name = name
        self.offered = offered  # the file listing what it takes

    def path(self, cpu: int) -> str:
        return f"{CPU}/cpu{cpu}/cpufreq/{self.name}"

    def read(self, host: Host, knob: Knob) -> dict:
        found = {}
        for cpu in sorted(knob.cpus):
            if not host.exists(f"{CPU}/cpu{cpu}/cpufreq"):
                raise Unavailable(
                    f"cpu{cpu} has no cpufreq ({host.display(CPU, f'cpu{cpu}/cpufreq')} absent): "
                    "its frequency is not this system's to set"
                )
            found[str(cpu)] = host.read_text(self.path(cpu)).strip()
        return found

    def wanted(self, knob: Knob, before: dict) -> dict:
        return {cpu: knob.value for cpu in before}

    def write(self, host: Host, knob: Knob, state: dict, before: dict) -> None:
        for cpu, value in state.items():
            if before.get(cpu) == value:
                continue
            offered_path = f"{CPU}/cpu{cpu}/cpufreq/{self.offered}"
            # EPP also takes a number (0-255), which no list offers.
            listed = host.exists(offered_path) and not value.isdigit()
            if listed and value not in host.read_text(offered_path).split():
                offered = host.read_text(offered_path).strip()
                raise Unavailable(f"cpu{cpu} offers {offered}, not {value}")
            host.write_text(value, self.path(int(cpu)))


governor = PerCpuFile("scaling_governor", "scaling_available_governors")
epp = PerCpuFile("energy_performance_preference", "energy_performance_available_preferences")


class Turbo:
    """on or off, whichever file this host has; no_turbo says it the other way round."""

    def which(self, host: Host) -> str:
        for path in (NO_TURBO, BOOST):
            if host.exists(path):
                return path
        raise Unavailable(
            f"neither {host.display(NO_TURBO)} nor {host.display(BOOST)} exists: "
            "turbo is not this system's to set"
        )

    def read(self, host: Host, knob: Knob) -> str:
        path = self.which(host)
        on = host.read_text(path).strip() == "1"
        return ("off" if on else "on") if path == NO_TURBO else ("on" if on else "off")

    def wanted(self, knob: Knob, before: str) -> str:
        return knob.value

    def write(self, host: Host, knob: Knob, state: str, before: str) -> None:
        path = self.which(host)
        on = state == "on"
        host.write_text(("0" if on else "1") if path == NO_TURBO else ("1" if on else "0"), path)


turbo = Turbo()
