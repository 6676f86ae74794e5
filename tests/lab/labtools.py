"""Helpers of the lab tests: run the lab playbooks, reach the hosts over ssh like Ansible does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from collect.rundir import load_run

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB_DIR = ROOT / ".lab"
INVENTORY = ROOT / "inventory" / "lab"
RESULTS = ROOT / "results"
RUN_ID = re.compile(r"run (\S+): \d+ cells to measure")
RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    cpu: int


@dataclass(frozen=True)
class PlaybookRun:
    returncode: int
    output: str
    seconds: float

    def recap(self):
        """{host: {ok, changed, unreachable, failed}} from the PLAY RECAP."""
        return {
            host: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, numbers)))
            for host, *numbers in RECAP.findall(self.output)
        }


def ansible_env():
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    return env


def run_playbook(name, *args, timeout=1200, env=None):
    """Run playbooks/<name>.yml, or the playbook at a path of the checkout (bench.yml);
    ``env``: variables to set in its environment."""
    playbook = name if name.endswith(".yml") else f"playbooks/{name}.yml"
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), playbook, *args],
        cwd=ROOT,
        env={**ansible_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    run = PlaybookRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)
    print(f"{name} took {run.seconds:.1f} s")
    return run


def run_id_of(run):
    """The run id the run playbook printed."""
    match = RUN_ID.search(run.output)
    assert match, run.output[-3000:]
    return match.group(1)


def samples(run_id, server=None):
    """{cell id: Sample} of a run, as collect's reader makes them of its raw folders (the
    one reader every consumer uses); only ``server``'s with several server hosts."""
    return {
        sample.id: sample
        for sample in load_run(RESULTS / run_id).samples
        if server is None or sample.server_host == server
    }


def inventory_hosts():
    """The hosts inventory/lab describes, with the CPU each is pinned to."""
    data = yaml.safe_load((INVENTORY / "hosts.yml").read_text())
    return [
        Host(name, spec["ansible_host"], int(spec["lab_cpu"]))
        for group in data.values()
        for name, spec in group.get("hosts", {}).items()  # "lab" only groups the others
    ]


def ssh(host, command, known_hosts=LAB_DIR / "known_hosts", timeout=60, stdin=None):
    """Run `command` on a lab host as Ansible would reach it (key login, host key checked)."""
    argv = [
        "ssh",
        "-i",
        str(LAB_DIR / "id_ed25519"),
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        f"root@{host.address}",
        command,
    ]
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


def lab_host_processes():
    """PIDs of every process of a lab host, found by PID namespace, not by name: a process
    in a PID namespace other than this machine's belongs to a container (the lab's hosts
    are the only containers here), whatever its name and whether its nspawn is still there."""
    own = os.readlink("/proc/self/ns/pid")
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != own:
                    found.append(int(entry))
            except OSError:
                continue  # it ended meanwhile
    return found


def lab_processes():
    """PIDs of live systemd-nspawn processes running a lab host directory."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if (
            state != "Z"
            and os.path.basename(argv[0]) == b"systemd-nspawn"
            and any(arg.startswith(b"--directory=/var/lib/wirebench-lab/") for arg in argv)
        ):
            found.append(int(entry))
    return found


def crash_lab_host(name):
    """Kill a lab host at once, as a crash or power loss would: SIGKILL to its init takes
    every process of the container with it (sshd included), while its network namespace
    stays, so the controller's connections are refused instead of hanging. lab-up boots it
    again. Returns the PID of the container's init that was killed."""
    directory = f"--directory=/var/lib/wirebench-lab/hosts/{name}".encode()
    for pid in lab_processes():
        if directory in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            init = int(children[0])
            os.kill(init, signal.SIGKILL)
            return init
    raise LookupError(f"lab host {name} is not running")


# Run as an unprivileged user on a lab host: every 20 ms, read every process's command line
# and environment it can, until SIGTERM; then print what it read as JSON (its own uid, the
# uids whose processes it saw, every distinct argument and environment string). It is told
# nothing secret: the test looks for the password in what it printed.
SCANNER = r"""
import json, os, signal, sys, time
seen, uids, stop = set(), set(), []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while not stop:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as handle:
                    seen.update(handle.read().split(b"\0"))
                uids.add(os.stat(f"/proc/{pid}").st_uid)
            except OSError:
                pass
    time.sleep(0.02)
print(json.dumps({"uid": os.getuid(), "uids": sorted(uids),
                  "strings": sorted(s.decode(errors="replace") for s in seen if s)}))
"""


def start_scanner(host):
    """Start SCANNER as nobody on a lab host, in the background, for at most an hour."""
    ssh(host, "cat > /tmp/wirebench-scanner.py", timeout=30, stdin=SCANNER)
    started = ssh(
        host,
        "nohup setpriv --reuid=nobody --regid=nogroup --clear-groups "
        "timeout 3600 python3 /tmp/wirebench-scanner.py > /tmp/wirebench-scanner.json "
        "2>/dev/null < /dev/null & sleep 0.5",
    )
    assert started.returncode == 0, started.stderr


def stop_scanner(host) -> dict:
    """Stop a host's scanner and return what it read."""
    ssh(host, "pkill -TERM -u nobody -f wirebench-scanner.py; sleep 0.5")
    done = ssh(host, "cat /tmp/wirebench-scanner.json; rm -f /tmp/wirebench-scanner.*")
    return json.loads(done.stdout)
