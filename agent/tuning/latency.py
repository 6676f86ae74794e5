"""A C-state latency limit, held as tuned's force_latency holds it: a process keeps
/dev/cpu_dma_latency open with the limit written to it (the kernel's PM QoS, see
Documentation/power/pm_qos_interface.rst), and the limit lasts exactly as long as the file
stays open. That process is a transient systemd unit running ``wirebench-agent tune
hold-latency N``, so it outlives the agent's call and ends with ``systemctl stop``.

The state is the limit the unit holds (whole microseconds), or None when no unit holds one.
/sys/devices/system/cpu/cpu*/power/pm_qos_resume_latency_us is a different, per-CPU limit:
it is not read here.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time

from .host import Host, TuningFailure, Unavailable
from .knobs import Knob

DEVICE = "dev/cpu_dma_latency"
SYSTEMD_RUNNING = "run/systemd/system"  # what sd_booted(3) checks
UNIT = "wirebench-cpu-dma-latency"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
HOLDING = ("active", "activating", "reloading", "deactivating")
# The folder that holds the agent package, for ``python -m agent`` in the unit.
AGENT_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def check_host(host: Host) -> None:
    if not host.exists(DEVICE):
        raise Unavailable(
            f"{host.display(DEVICE)} is absent: no PM QoS device here (a container, or a "
            "kernel without it)"
        )
    if not host.exists(SYSTEMD_RUNNING):
        raise Unavailable("systemd is not running here: no unit can hold the limit")


def held_value(exec_start: str):
    """The N of ``hold-latency N`` in systemctl show's ExecStart, or None."""
    argv = exec_start.split("argv[]=", 1)[-1].split(" ;", 1)[0].split()
    if "hold-latency" in argv[:-1]:
        value = argv[argv.index("hold-latency") + 1]
        if value.isdigit():
            return int(value)
    return None


def read(host: Host, knob: Knob):
    check_host(host)
    shown = host.run(["systemctl", "show", UNIT, "--property=ActiveState,ExecStart"])
    if shown.returncode != 0:
        raise TuningFailure(f"systemctl show {UNIT}: {shown.stderr.strip()}")
    properties = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
    if properties.get("ActiveState") not in HOLDING:
        return None
    return held_value(properties.get("ExecStart", ""))


def wanted(knob: Knob, before):
    return knob.value


def write(host: Host, knob: Knob, state, before) -> None:
    check_host(host)
    if before is not None:
        stop(host)
    if state is None:
        return
    argv = [
        "systemd-run", f"--unit={UNIT}", "--collect", "--quiet",
        "--description=wirebench: C-state latency limit for a tuning profile",
        # notify: systemd-run returns once the limit is written, or fails if it could not be.
        "--property=Type=notify", f"--working-directory={AGENT_PARENT}",
        host.python, "-m", "agent", "tune", "hold-latency", str(state),
    ]  # fmt: skip
    if os.path.abspath(host.root) != "/":
        argv += ["--root", host.root]
    started = host.run(argv)
    if started.returncode != 0:
        raise TuningFailure(f"systemd-run could not start {UNIT}: {started.stderr.strip()}")


def stop(host: Host) -> None:
    stopped = host.run(["systemctl", "stop", UNIT])
    if stopped.returncode != 0 and "not loaded" not in stopped.stderr:
        raise TuningFailure(f"systemctl stop {UNIT}: {stopped.stderr.strip()}")


def hold(microseconds: int, root: str = "/") -> dict:
    """Write the limit to the PM QoS device, tell systemd it is in force, and keep the file
    open until SIGTERM (systemctl stop) or SIGINT. Closing it ends the request."""
    # Blocked before the write, so a stop that comes at once is waited for, not lost.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    began = time.monotonic()
    descriptor = os.open(os.path.join(root, DEVICE), os.O_WRONLY)
    try:
        # The kernel takes a binary s32 (or a hex string); tuned writes the binary form too.
        os.write(descriptor, struct.pack("=i", microseconds))
        notify_ready()
        signal.sigwait(STOP_SIGNALS)
    finally:
        os.close(descriptor)
    return {"held_us": microseconds, "held_seconds": round(time.monotonic() - began, 3)}


def notify_ready() -> None:
    """sd_notify(3) READY=1, when systemd asked for it (Type=notify); nothing otherwise."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.connect(address)
        notify.sendall(b"READY=1")
