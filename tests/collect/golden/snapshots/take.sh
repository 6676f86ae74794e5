#!/bin/bash
# Two snapshots of this machine a few seconds apart, with activity between that a run's
# hosts see anyway: processes started, files made, TCP connections, a pseudo-terminal and an
# AIO context held open (as an SSH session or a server would), a sync. Run from the repo's
# root: tests/collect/golden/snapshots/take.sh OUT_FOLDER [INTERFACE]
set -euo pipefail
out=$1
interface=${2:-eth0}
mkdir -p "$out"
.venv/bin/python -m agent tune snapshot --interface "$interface" >"$out/first.json"
for _ in $(seq 50); do /bin/true; done
find /usr/lib -maxdepth 2 >/dev/null
sync
python3 - "$out/second.json" "$interface" <<'PY'
import ctypes, os, pty, socket, subprocess, sys, tempfile

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
clients = [socket.create_connection(listener.getsockname()) for _ in range(20)]
accepted = [listener.accept()[0] for _ in range(20)]
for client in clients:
    client.sendall(b"x" * 1000)
folder = tempfile.mkdtemp()
for number in range(200):
    with open(os.path.join(folder, str(number)), "w") as handle:
        handle.write("x")
terminal = pty.openpty()  # held open while the second snapshot is taken
context = ctypes.c_ulong(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(206, 128, ctypes.byref(context))  # io_setup(128, &ctx) on x86_64
subprocess.run(["sleep", "3"], check=True)
with open(sys.argv[1], "w") as handle:
    subprocess.run(
        [".venv/bin/python", "-m", "agent", "tune", "snapshot", "--interface", sys.argv[2]],
        stdout=handle, check=True,
    )
PY
