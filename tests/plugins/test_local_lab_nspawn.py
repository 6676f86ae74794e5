"""The nspawn module finds containers by command line in /proc: a fake /proc shows it."""

from __future__ import annotations

from local_lab_nspawn import alive, build_argv, container_directory, find_containers, tail


def fake_process(proc, pid, argv, ppid=1, state="S"):
    folder = proc / str(pid)
    folder.mkdir()
    (folder / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")
    (folder / "stat").write_text(f"{pid} (x y) {state} {ppid} 0 0\n")


def test_argv_pins_the_cpu_and_joins_the_namespace():
    argv = build_argv("server1", "/lab/hosts/server1", "wirebench-server1", "0")
    assert argv[0] == "systemd-nspawn" and "--boot" in argv
    assert "--network-namespace-path=/run/netns/wirebench-server1" in argv
    assert "--private-network" in argv  # /proc/sys/net writable inside: tunable
    assert "--cpu-affinity=0" in argv and "--register=no" in argv and "--keep-unit" in argv


def test_containers_are_found_by_directory(tmp_path):
    proc = tmp_path
    server = build_argv("server1", "/lab/hosts/server1", "ns1", "0")
    load = build_argv("load1", "/lab/hosts/load1", "ns2", "1")
    fake_process(proc, 100, server)
    fake_process(proc, 101, server, ppid=100)  # a forked helper with the same command line
    fake_process(proc, 200, load)
    fake_process(proc, 300, ["/sbin/init"], ppid=100)
    fake_process(proc, 400, build_argv("x", "/elsewhere/x", "ns", "0"))
    (proc / "self").mkdir()
    assert find_containers("/lab/hosts/server1", proc=str(proc)) == {100: server}
    assert sorted(find_containers("/lab/hosts", tree=True, proc=str(proc))) == [100, 200]
    assert find_containers("/lab/host", tree=True, proc=str(proc)) == {}


def test_zombies_are_not_alive(tmp_path):
    fake_process(tmp_path, 5, ["systemd-nspawn"], state="Z")
    fake_process(tmp_path, 6, ["systemd-nspawn"], state="S")
    assert not alive(5, proc=str(tmp_path))
    assert alive(6, proc=str(tmp_path))
    assert not alive(7, proc=str(tmp_path))


def test_directory_is_read_only_from_nspawn_command_lines():
    assert container_directory(["/usr/bin/systemd-nspawn", "--directory=/a/b/"]) == "/a/b"
    assert container_directory(["/bin/sh", "--directory=/a/b"]) is None
    assert container_directory([]) is None


def test_tail_gives_the_last_lines_or_says_why_not(tmp_path):
    log = tmp_path / "boot.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert tail(log, 3) == "line 97\nline 98\nline 99"
    assert "no boot log" in tail(tmp_path / "missing.log")
    log.write_bytes(b"[\x1b[0;32m  OK  \x1b[0m] Started ssh.service\r\n\r\n")
    assert tail(log) == "[  OK  ] Started ssh.service"
