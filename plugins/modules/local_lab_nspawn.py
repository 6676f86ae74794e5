#!/usr/bin/python
"""Boot (or stop) a systemd-nspawn container as a detached lab host, and wait until it is up."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time

DOCUMENTATION = r"""
---
module: local_lab_nspawn
short_description: Run a lab host as a detached systemd-nspawn container
description:
  - With O(state=started), boots O(directory) with C(systemd-nspawn --boot) in the network
    namespace O(netns), pinned to O(cpu), detached from Ansible (own session, stdin from
    /dev/null, console output to O(log)). Then waits until the host's sshd answers on
    O(address) and its systemd has finished booting; fails with the tail of the boot log when
    that takes longer than O(timeout) seconds.
  - A container already running from O(directory) with the same command line is left alone
    (C(changed=false)); one running with a different command line is restarted.
  - With O(state=stopped), sends SIGTERM to every container whose directory is O(directory)
    or lies below it (except those in O(keep)), and waits for them to end (SIGKILL after
    O(timeout) seconds); then kills whatever is left in those hosts' cgroups (a container's
    init can outlive its nspawn process) and removes the cgroups.
  - Each host runs in a cgroup of its own (C(wirebench-lab/<directory name>) in the cgroup2
    and named systemd hierarchies), so the hosts' systemd instances never manage each
    other's units.
  - Containers are found by their command line in /proc, so no pid file can go stale.
options:
  state:
    description: Whether the container should run.
    type: str
    choices: [started, stopped]
    default: started
  name:
    description: Machine name (becomes the host name).
    type: str
  directory:
    description: Root directory of the container (for O(state=stopped), a directory tree).
    type: path
    required: true
  netns:
    description: Name of the network namespace (under /run/netns) the container joins.
    type: str
  cpu:
    description: CPU list the container is pinned to, as for C(--cpu-affinity).
    type: str
  log:
    description: File that receives the container's console output (truncated at each boot).
    type: path
  address:
    description: Address on which the host's sshd must answer before the host counts as up.
    type: str
  port:
    description: sshd port.
    type: int
    default: 22
  timeout:
    description: Seconds to wait for boot (or for shutdown).
    type: int
    default: 60
  restart:
    description: Restart the container if it is running (its files changed).
    type: bool
    default: false
  keep:
    description: With O(state=stopped), container directories to leave running.
    type: list
    elements: path
    default: []
  extra_args:
    description: More systemd-nspawn arguments.
    type: list
    elements: str
    default: []
author: wirebench
"""

RETURN = r"""
pid:
  description: PID of the systemd-nspawn process.
  type: int
  returned: when state=started
system_state:
  description: Output of C(systemctl is-system-running) inside the host.
  type: str
  returned: when state=started
failed_units:
  description: Units that failed inside the host (when it is degraded).
  type: list
  returned: when state=started
stopped:
  description: PIDs of the containers that were stopped.
  type: list
  returned: when state=stopped
"""

NSPAWN = "systemd-nspawn"
CGROUP_PARENT = "wirebench-lab"
BOOTING_STATES = {"initializing", "starting", ""}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def build_argv(name, directory, netns, cpu, extra_args=()):
    return [
        NSPAWN,
        "--boot",
        "--keep-unit",
        "--register=no",
        "--link-journal=no",
        "--console=read-only",
        f"--machine={name}",
        f"--directory={directory}",
        f"--network-namespace-path=/run/netns/{netns}",
        # The namespace is the host's own: nspawn then leaves /proc/sys/net writable (and
        # CAP_NET_ADMIN kept), so the host's network sysctls can be tuned from inside it.
        # Without this flag, joining a namespace by path mounts /proc/sys/net read-only.
        "--private-network",
        f"--cpu-affinity={cpu}",
        *extra_args,
    ]


def read_cmdline(pid, proc="/proc"):
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def container_directory(argv):
    """The --directory of an nspawn command line, or None if argv is not systemd-nspawn."""
    if not argv or os.path.basename(argv[0]) != NSPAWN:
        return None
    for arg in argv[1:]:
        if arg.startswith("--directory="):
            return os.path.normpath(arg.split("=", 1)[1])
    return None


def find_containers(directory, tree=False, proc="/proc"):
    """{pid: argv} of the nspawn processes running `directory` (or anything below it)."""
    directory = os.path.normpath(directory)
    found = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        argv = read_cmdline(entry, proc)
        target = container_directory(argv)
        if target is None:
            continue
        if target == directory or (tree and target.startswith(directory + os.sep)):
            found[int(entry)] = argv
    # nspawn forks helpers with the same command line: keep the outermost process.
    return {pid: argv for pid, argv in found.items() if parent_pid(pid, proc) not in found}


def parent_pid(pid, proc="/proc"):
    try:
        with open(f"{proc}/{pid}/stat") as handle:
            stat = handle.read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def alive(pid, proc="/proc"):
    """True while pid exists and is not a zombie (nobody may reap an orphaned nspawn)."""
    try:
        with open(f"{proc}/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def tail(path, lines=40):
    """The last non-blank lines of a console log, without terminal colour codes."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()[-65536:].decode(errors="replace")
    except OSError as exc:
        return f"(no boot log: {exc})"
    text = ANSI.sub("", text)
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def ssh_banner(address, port, timeout=1.0):
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def container_init(pid, proc="/proc"):
    """PID of the container's init: the child of the nspawn process."""
    try:
        with open(f"{proc}/{pid}/task/{pid}/children") as handle:
            children = handle.read().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def in_container(pid, argv):
    init = container_init(pid)
    if init is None:
        return 1, ""
    command = ["nsenter", f"--target={init}", "--mount", "--uts", "--ipc", "--pid", "--", *argv]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return done.returncode, done.stdout.strip()


def stop(pids, timeout):
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def cgroup_roots(mounts="/proc/self/mounts"):
    """The cgroup hierarchies a container's systemd manages: the cgroup2 one (unified) and,
    on a hybrid (v1) machine, the named ``systemd`` one."""
    roots = []
    with open(mounts) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 4:
                continue
            kind, options = fields[2], fields[3].split(",")
            if kind == "cgroup2" or (kind == "cgroup" and "name=systemd" in options):
                roots.append(fields[1])
    return roots


def host_cgroups(name, roots=None):
    """The host's own cgroup in each hierarchy: <root>/wirebench-lab/<name>.

    With --keep-unit and no systemd on this machine, nspawn puts the container under the
    cgroup it was started in. Started from the same one, every lab host's systemd would
    manage the same cgroups (<root>/payload/system.slice/ssh.service, ...): stopping a unit on
    one host could kill or fail the same unit on another (status=219/CGROUP, "Failed to
    kill control group"). Each host gets a cgroup of its own instead.
    """
    return [os.path.join(root, CGROUP_PARENT, name) for root in (roots or cgroup_roots())]


def in_own_cgroup(pid, name, proc="/proc"):
    """Whether process ``pid`` runs in the lab host's own cgroup (host_cgroups) in the
    hierarchies lab hosts are placed in: cgroup2 and the named systemd one."""
    own = f"/{CGROUP_PARENT}/{name}"
    placed = []
    try:
        with open(f"{proc}/{pid}/cgroup") as handle:
            for line in handle:
                _hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
                if controllers in ("", "name=systemd"):
                    placed.append(path)
    except (OSError, ValueError):
        return False
    return bool(placed) and all(path == own or path.startswith(own + "/") for path in placed)


def cgroup_pids(cgroup):
    """Every PID in a cgroup and the cgroups below it."""
    pids = set()
    for folder, _dirs, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            with contextlib.suppress(OSError), open(os.path.join(folder, "cgroup.procs")) as procs:
                pids.update(int(line) for line in procs if line.strip())
    return pids


def empty_cgroups(cgroups, timeout):
    """Kill whatever is left in the cgroups (a container's init and journald can outlive
    its nspawn process) and remove them; True when nothing was left alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = set().union(*(cgroup_pids(cgroup) for cgroup in cgroups if os.path.isdir(cgroup)))
        if not left:
            break
        if time.monotonic() > deadline:
            return False
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for cgroup in cgroups:
        for folder, _dirs, _files in sorted(os.walk(cgroup), key=lambda entry: -len(entry[0])):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
    return True


def start(argv, log, cgroups=()):
    os.makedirs(os.path.dirname(log), exist_ok=True)
    for cgroup in cgroups:
        os.makedirs(cgroup, exist_ok=True)

    def enter_cgroups():  # in the child, before systemd-nspawn runs
        for cgroup in cgroups:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                procs.write("0")

    with open(log, "wb") as output:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            preexec_fn=enter_cgroups,  # only writes one file per hierarchy
        )
    return process.pid


def wait_until_up(pid, address, port, timeout):
    """(ok, system_state, reason)."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        if not alive(pid):
            return False, state, "systemd-nspawn exited"
        if ssh_banner(address, port):
            _rc, state = in_container(pid, ["systemctl", "is-system-running"])
            if state not in BOOTING_STATES:
                return True, state, ""
        time.sleep(0.5)
    return False, state, f"not up within {timeout} s (sshd on {address}:{port}, systemd: {state!r})"


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["started", "stopped"], "default": "started"},
            "name": {"type": "str"},
            "directory": {"type": "path", "required": True},
            "netns": {"type": "str"},
            "cpu": {"type": "str"},
            "log": {"type": "path"},
            "address": {"type": "str"},
            "port": {"type": "int", "default": 22},
            "timeout": {"type": "int", "default": 60},
            "restart": {"type": "bool", "default": False},
            "keep": {"type": "list", "elements": "path", "default": []},
            "extra_args": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[("state", "started", ["name", "netns", "cpu", "log", "address"])],
        supports_check_mode=True,
    )
    p = module.params
    if os.geteuid() != 0:
        module.fail_json(msg="lab hosts need root (run lab-up as root)")

    if p["state"] == "stopped":
        keep = {os.path.normpath(path) for path in p["keep"]}
        running = {
            pid: argv
            for pid, argv in find_containers(p["directory"], tree=True).items()
            if container_directory(argv) not in keep
        }
        names = [
            name
            for name in sorted(os.listdir(p["directory"]) if os.path.isdir(p["directory"]) else [])
            if os.path.normpath(os.path.join(p["directory"], name)) not in keep
        ]
        cgroups = [cgroup for name in names for cgroup in host_cgroups(name)]
        leftovers = set().union(*(cgroup_pids(c) for c in cgroups if os.path.isdir(c)))
        if (running or leftovers) and not module.check_mode:
            stop(list(running), p["timeout"])
            if not empty_cgroups(cgroups, p["timeout"]):
                module.fail_json(msg=f"processes of lab hosts {', '.join(names)} would not die")
        module.exit_json(changed=bool(running or leftovers), stopped=sorted(running))

    argv = build_argv(p["name"], p["directory"], p["netns"], p["cpu"], p["extra_args"])
    running = find_containers(p["directory"])
    changed = False
    own = os.path.basename(os.path.normpath(p["directory"]))
    if (
        p["restart"]
        or len(running) != 1
        or next(iter(running.values())) != argv
        or not in_own_cgroup(next(iter(running)), own)  # booted by a lab-up before cgroups
    ):
        changed = True
        if module.check_mode:
            module.exit_json(changed=True, argv=argv)
        cgroups = host_cgroups(own)
        if running:
            stop(list(running), p["timeout"])
        if not empty_cgroups(cgroups, p["timeout"]):
            module.fail_json(msg=f"processes of lab host {p['name']} would not die")
        if not os.path.exists(f"/run/netns/{p['netns']}"):
            module.fail_json(msg=f"network namespace {p['netns']} does not exist")
        pid = start(argv, p["log"], cgroups)
    else:
        pid = next(iter(running))

    ok, state, reason = wait_until_up(pid, p["address"], p["port"], p["timeout"])
    if not ok:
        boot_log = tail(p["log"])
        if changed:
            stop([pid], 10)
        module.fail_json(
            msg=f"lab host {p['name']} did not come up: {reason}. "
            f"Last lines of its boot log {p['log']}:\n{boot_log}",
            argv=argv,
        )
    failed_units = []
    if state != "running":
        _rc, out = in_container(
            pid, ["systemctl", "list-units", "--failed", "--plain", "--no-legend"]
        )
        failed_units = [line.split()[0] for line in out.splitlines() if line.strip()]
    module.exit_json(
        changed=changed, pid=pid, argv=argv, system_state=state, failed_units=failed_units
    )


if __name__ == "__main__":
    main()
