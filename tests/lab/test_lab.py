"""End to end: lab-up makes two real systemd hosts on their own network stacks; lab-down
removes them. The tests run in file order against one lab; traffic goes only to the lab's
own addresses (198.18.0.0/24) and to loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from .labtools import (
    BIN,
    INVENTORY,
    LAB_DIR,
    ROOT,
    ansible_env,
    lab_host_processes,
    lab_processes,
    run_playbook,
    ssh,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

SERVER, LOAD = "server1", "load1"
LAB_ROOT = Path("/var/lib/wirebench-lab")


@pytest.fixture(scope="module")
def lab_up():
    """lab-up once for the module (cold when no image is cached); lab-down at the end."""
    run = run_playbook("lab-up")
    yield run
    if lab_processes() or list_lab_netns():
        run_playbook("lab-down")


def list_lab_netns():
    return [
        name
        for name in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else [])
        if name.startswith("wirebench-")
    ]


def lab_links():
    links = json.loads(
        subprocess.run(
            ["ip", "-j", "link", "show"], capture_output=True, text=True, check=True
        ).stdout
    )
    return [
        link["ifname"]
        for link in links
        if link["ifname"].startswith("wb-") or link["ifname"] == "wirebench0"
    ]


def test_lab_up_succeeds(lab_up):
    assert lab_up.returncode == 0, lab_up.output[-4000:]
    assert lab_up.recap()["localhost"]["failed"] == 0


def test_each_host_booted_systemd(lab_up, hosts):
    for host in hosts.values():
        done = ssh(host, "systemctl is-system-running --wait")
        state = done.stdout.strip()
        if state == "degraded":
            failed = ssh(host, "systemctl --failed --no-legend --plain").stdout
            warnings.warn(f"{host.name} is degraded: {failed}", stacklevel=1)
        assert state in ("running", "degraded"), (host.name, state, done.stderr)
        assert ssh(host, "hostname").stdout.strip() == host.name


def test_sshd_answers_with_the_recorded_host_key(lab_up, hosts, tmp_path):
    recorded = (LAB_DIR / "known_hosts").read_text()
    for host in hosts.values():
        # StrictHostKeyChecking=yes with only the recorded keys: login proves the key matches.
        assert ssh(host, "true").returncode == 0, host.name
        scanned = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", host.address],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        key = scanned.split()[-1]
        assert f"{host.name},{host.address} ssh-ed25519 {key}" in recorded
    # And checking is on: an empty known_hosts is refused.
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    refused = ssh(hosts[SERVER], "true", known_hosts=empty)
    assert refused.returncode != 0
    assert "Host key verification failed" in refused.stderr


def test_hosts_have_distinct_host_keys_and_machine_ids(lab_up, hosts):
    keys = {
        ssh(h, "cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1] for h in hosts.values()
    }
    ids = {ssh(h, "cat /etc/machine-id").stdout for h in hosts.values()}
    assert len(keys) == len(ids) == len(hosts)


def test_ansible_reaches_every_host_through_the_inventory(lab_up):
    done = subprocess.run(
        [str(BIN / "ansible"), "-i", str(INVENTORY), "all", "-m", "ansible.builtin.ping"],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == 2


def test_load_host_reaches_the_server_through_its_veth(lab_up, hosts):
    server, load = hosts[SERVER], hosts[LOAD]
    route = json.loads(ssh(load, f"ip -j route get {server.address}").stdout)[0]
    assert route["dev"] == "eth0" and route["dev"] != "lo"
    assert route["prefsrc"] == load.address
    link = json.loads(ssh(load, "ip -j -d link show eth0").stdout)[0]
    assert link["linkinfo"]["info_kind"] == "veth"
    # Separate network stacks: the server's address is not local on the load host.
    local = ssh(load, "ip -j addr show").stdout
    assert server.address not in local
    ping = ssh(load, f"ping -c 3 -i 0.2 -W 2 {server.address}")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    connect = (
        f"import socket; s = socket.create_connection(('{server.address}', 22), 5); "
        "print(s.getsockname()[0], s.recv(64).decode().strip())"
    )
    banner = ssh(load, f'python3 -c "{connect}"')
    source, text = banner.stdout.split(" ", 1)
    assert source == load.address and text.startswith("SSH-2.0-"), banner


def test_cpu_pinning_is_in_effect(lab_up, hosts):
    for host in hosts.values():
        assert ssh(host, "nproc").stdout.strip() == "1", host.name
        allowed = ssh(host, "grep Cpus_allowed_list /proc/1/status").stdout.split()[-1]
        assert allowed == str(host.cpu), host.name


def test_each_hosts_network_sysctls_are_its_own_and_writable(lab_up, hosts):
    """Tuning sets per-namespace network sysctls from inside a host: /proc/sys/net is
    writable there, and a value set on one host changes neither another host nor this
    machine."""
    key, path = "net.core.somaxconn", "/proc/sys/net/core/somaxconn"
    machine_before = Path(path).read_text()
    server, load = hosts[SERVER], hosts[LOAD]
    original = ssh(server, f"cat {path}").stdout.strip()
    load_before = ssh(load, f"cat {path}").stdout.strip()
    wanted = str(int(original) + 1)
    try:
        written = ssh(server, f"sysctl -w {key}={wanted}")
        assert written.returncode == 0, written.stderr
        assert ssh(server, f"cat {path}").stdout.strip() == wanted
        assert ssh(load, f"cat {path}").stdout.strip() == load_before
        assert Path(path).read_text() == machine_before
    finally:
        restored = ssh(server, f"sysctl -w {key}={original}")
    assert restored.returncode == 0 and ssh(server, f"cat {path}").stdout.strip() == original


def test_each_host_runs_in_cgroups_of_its_own(lab_up, hosts):
    """Two hosts' systemd sharing one cgroup tree would manage each other's units (a stop on
    one failed the other's start with status=219/CGROUP)."""
    seen = {}
    for nspawn in lab_processes():
        argv = Path(f"/proc/{nspawn}/cmdline").read_bytes().split(b"\0")
        name = next(a.split(b"=", 1)[1].decode() for a in argv if a.startswith(b"--machine="))
        init = int(Path(f"/proc/{nspawn}/task/{nspawn}/children").read_text().split()[0])
        lines = Path(f"/proc/{init}/cgroup").read_text().splitlines()
        placed = [
            line.split(":", 2)[2] for line in lines if line.split(":")[1] in ("", "name=systemd")
        ]
        assert placed and all(p.startswith(f"/wirebench-lab/{name}/") for p in placed), lines
        seen[name] = placed
    assert sorted(seen) == sorted(hosts)


def test_lab_up_again_changes_nothing(lab_up):
    again = run_playbook("lab-up")
    assert again.returncode == 0, again.output[-4000:]
    assert again.recap()["localhost"]["changed"] == 0, again.output[-6000:]
    assert len(lab_processes()) == 2


def nspawn_of(name):
    """The PID of the nspawn process running lab host ``name``."""
    found = [
        pid
        for pid in lab_processes()
        if f"--machine={name}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(found) == 1, found
    return found[0]


def test_lab_up_restarts_a_host_that_died(lab_up, hosts):
    os.kill(nspawn_of(LOAD), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while len(lab_processes()) == 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(lab_processes()) == 1
    again = run_playbook("lab-up")
    assert again.returncode == 0, again.output[-4000:]
    assert again.recap()["localhost"]["changed"] == 1, again.output[-6000:]
    assert ssh(hosts[LOAD], "systemctl is-system-running --wait").stdout.strip() == "running"


def test_lab_down_leaves_nothing_but_the_image(lab_up):
    # A host whose nspawn process died under it: its systemd and everything it runs go on,
    # in the host's PID namespace, with no nspawn process to find by name.
    os.kill(nspawn_of(LOAD), signal.SIGKILL)
    assert lab_host_processes(), "killing nspawn took its host down: nothing to test"
    down = run_playbook("lab-down")
    assert down.returncode == 0, down.output[-4000:]
    assert lab_processes() == []
    assert lab_host_processes() == []
    assert list_lab_netns() == []
    assert lab_links() == []
    assert not (LAB_ROOT / "hosts").exists()
    assert [p.name for p in (LAB_ROOT / "images").iterdir() if p.is_dir()], "image was removed"


def test_lab_down_without_a_lab_is_a_no_op(lab_up):
    down = run_playbook("lab-down")
    assert down.returncode == 0, down.output[-4000:]
    assert down.recap()["localhost"]["changed"] == 0


def test_lab_up_converges_an_earlier_sessions_leftovers(lab_up, hosts):
    """Namespaces, veths, a bridge and half-made directories left behind by a crash."""
    leftovers = [
        ["ip", "netns", "add", "wirebench-server1"],  # a namespace with nothing in it
        ["ip", "link", "add", "wirebench0", "type", "bridge"],  # a bridge without address
        ["ip", "link", "add", "wb-load1", "type", "veth", "peer", "name", "wb-stray"],
    ]
    for argv in leftovers:
        subprocess.run(argv, check=True)
    half = LAB_ROOT / "hosts" / "load1.tmp"
    half.mkdir(parents=True)
    (half / "half-copied").write_text("")
    try:
        up = run_playbook("lab-up")
        assert up.returncode == 0, up.output[-4000:]
        for host in hosts.values():
            assert ssh(host, "systemctl is-system-running --wait").stdout.strip() == "running"
        assert not half.exists()
    finally:
        down = run_playbook("lab-down")
    assert down.returncode == 0, down.output[-4000:]
    assert lab_processes() == [] and list_lab_netns() == [] and lab_links() == []
    assert lab_host_processes() == []
