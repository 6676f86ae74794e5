"""``tune hold-latency``, the process the C-state latency unit runs, as a real process: it
writes the limit to the PM QoS device as a binary s32, tells systemd it is ready, holds the
file open until SIGTERM, then replies. The device is a regular file under a test root: the
machine's own /dev/cpu_dma_latency is never opened (a limit there would change how the
machine idles under the lab's measurements)."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

from tests.servers.conftest import ROOT


def held_by(process: subprocess.Popen) -> set:
    """The files a process holds open."""
    folder = f"/proc/{process.pid}/fd"
    found = set()
    for entry in os.listdir(folder):
        try:
            found.add(os.readlink(os.path.join(folder, entry)))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("abstract", [False, True], ids=["socket-file", "abstract-socket"])
def test_the_limit_is_written_held_until_sigterm_and_released(tmp_path, abstract):
    device = tmp_path / "dev" / "cpu_dma_latency"
    device.parent.mkdir()
    device.write_bytes(b"")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"\0wirebench-test-{os.getpid()}" if abstract else str(tmp_path / "notify")
    notify.bind(name)
    notify.settimeout(30)
    environment = {**os.environ, "NOTIFY_SOCKET": "@" + name[1:] if abstract else name}
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "tune", "hold-latency", "20", "--root", str(tmp_path)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert notify.recv(64) == b"READY=1"
        assert device.read_bytes() == struct.pack("=i", 20)
        time.sleep(0.2)
        assert process.poll() is None  # still holding
        assert str(device) in held_by(process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        notify.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    reply = json.loads(out)
    assert reply["failed"] is False
    assert reply["held_us"] == 20
    assert reply["held_seconds"] >= 0.2


def test_without_the_device_it_replies_why_and_ends(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "agent", "tune", "hold-latency", "3", "--root", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0
    reply = json.loads(done.stdout)
    assert reply["failed"] is True
    assert reply["msg"].startswith("tune hold-latency: [Errno 2] No such file or directory")
    assert reply["msg"].endswith("dev/cpu_dma_latency'")
