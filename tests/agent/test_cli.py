"""The agent's command line (python -m agent), run as the hosts run it: one JSON reply on
stdout, exit status 0, never a traceback."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import pytest

from tests.agent.conftest import PASSWORD, WORKLOAD
from tests.agent.tuning.conftest import copy_tree, tree_files
from tests.servers.conftest import ROOT

PYPY = shutil.which("pypy3")
needs_pypy = pytest.mark.skipif(PYPY is None, reason="pypy3 not installed (.ci/run installs it)")


def agent(*args, python=sys.executable) -> dict:
    """Run the agent; its reply, once checked that it is the whole of its output."""
    done = subprocess.run(
        [python, "-m", "agent", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    reply = json.loads(lines[0])
    assert isinstance(reply["failed"], bool)
    return reply


def load_params(server, dest=None, **extra) -> str:
    params = {"host": "127.0.0.1", "port": server.port, "workload": dict(WORKLOAD), **extra}
    if dest is not None:
        params["dest"] = str(dest)
    return json.dumps(params)


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "usage: wirebench-agent unit|load"),
        (("stop",), "usage: wirebench-agent unit|load"),
        (("unit",), "usage: unit started UNIT"),
        (("unit", "restarted", "x.service"), "usage: unit started UNIT"),
        (("unit", "stopped"), "usage: unit started UNIT"),
        (("unit", "started", "x.service", "--port"), "usage: unit started UNIT"),
        (("unit", "started", "x.service", "--port", "http"), "--port must be a port number"),
        (("load",), "usage: load prepare|measure|cell|collect"),
        (("load", "warm", "{}"), "usage: load prepare|measure|cell|collect"),
        (("load", "prepare"), "usage: load prepare|measure|cell|collect"),
        (("load", "prepare", "{not json"), "PARAMS_JSON is not JSON"),
        (("load", "prepare", "[1, 2]"), "PARAMS_JSON must be an object"),
        (("load", "prepare", "{}"), "prepare needs host, port, workload"),
        (("load", "cell", '{"host": "h", "port": 1, "workload": {}}'), "cell needs dest"),
        (("load", "measure", '{"host": "", "port": 1, "workload": {}, "dest": "d"}'),
         "measure needs host, requests"),
        (("load", "prepare", '{"host": "h", "port": "seven", "workload": {}}'),
         "port must be a number, not 'seven'"),
        (("load", "prepare", '{"host": "h", "port": 1, "workload": {}, "timeout": [1]}'),
         "timeout must be a number"),
        (("load", "prepare", '{"host": "h", "port": 1, "workload": "get"}'),
         "workload must be an object"),
        (("load", "prepare", '{"host": "h", "port": 1, "workload": {}}', "--background"),
         "--background goes with measure only"),
        (("load", "collect", '{"dest": "d"}', "--later"), "--background goes with measure only"),
        (("load", "answering", '{"host": "h"}'), "answering needs port"),
    ],
)  # fmt: skip
def test_a_wrong_call_is_a_failed_reply_naming_the_problem(args, message):
    reply = agent(*args)
    assert reply["failed"] is True
    assert message in reply["msg"]
    assert "failure" not in reply  # a mistake of the caller, not a failure of the cell


def test_an_unreadable_password_file_is_named(tmp_path):
    params = {"host": "h", "port": 1, "workload": {}, "password_file": str(tmp_path)}
    reply = agent("load", "prepare", json.dumps(params))
    assert reply["failed"] is True
    assert f"cannot read the password file {tmp_path}" in reply["msg"]


def test_a_bug_in_the_agent_is_a_reply_too(tmp_path):
    # A workload without tests cannot make redis-benchmark's argv: the KeyError is reported.
    params = {"host": "127.0.0.1", "port": 1, "workload": {}, "dest": str(tmp_path),
              "requests": 10}  # fmt: skip
    reply = agent("load", "measure", json.dumps(params))
    assert reply["failed"] is True and reply["failure"] == "benchmark_error"
    assert "KeyError" in reply["msg"] and "loadgen.py:" in reply["msg"]


def test_a_server_that_never_answers_is_no_answer():
    from tests.agent.test_loadgen import free_port

    params = {"host": "127.0.0.1", "port": free_port(), "workload": {"tests": "get"},
              "dest": "unused", "requests": 10}  # fmt: skip
    reply = agent("load", "measure", json.dumps(params))
    assert reply["failed"] is True and reply["failure"] == "no_answer"


def test_a_cell_reads_the_password_from_its_file_and_never_shows_it(redis_server, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    dest = tmp_path / "cell"
    reply = agent("load", "cell", load_params(redis_server, dest, password_file=str(password_file)))
    assert reply["failed"] is False, reply
    assert reply["verified"]["round_trip"] is True
    assert set(reply["artefacts"]) == {"argv.json", "stdout.csv", "stderr.txt", "result.json"}
    assert json.loads(reply["artefacts"]["result.json"])["exit_code"] == 0
    assert PASSWORD not in json.dumps(reply)
    assert all(PASSWORD not in path.read_text() for path in dest.iterdir())


def test_answering_pings_with_the_password_from_its_file(redis_server, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    reply = agent("load", "answering", load_params(redis_server, password_file=str(password_file)))
    assert reply == {"failed": False, "answering": True}
    # Without it the server refuses the PING: the smoke check would say so.
    reply = agent("load", "answering", load_params(redis_server, timeout=1))
    assert reply["failed"] is True and reply["failure"] == "no_answer"
    assert "NOAUTH" in reply["msg"] and PASSWORD not in reply["msg"]


def test_a_password_on_the_command_line_is_not_used(redis_server, tmp_path):
    # Only password_file is read; a wrong one there is refused even with the right one here.
    password_file = tmp_path / "password"
    password_file.write_text("not-the-password")
    params = load_params(redis_server, password=PASSWORD, password_file=str(password_file))
    reply = agent("load", "prepare", params)
    assert reply["failed"] is True and reply["failure"] == "verify_failed"
    assert "AUTH was refused" in reply["msg"]


def test_a_background_measure_returns_at_once_and_collect_gives_its_reply(doomed_server, tmp_path):
    dest = tmp_path / "cell"
    params = load_params(doomed_server, dest, requests=2000, timeout=60)
    # A stopped server holds the background run back: the reply below cannot wait for it.
    doomed_server.process.send_signal(signal.SIGSTOP)
    try:
        started = agent("load", "measure", params, "--background")
        assert started == {"failed": False, "started": True}
        assert not (dest / "reply.json").exists()
    finally:
        doomed_server.process.send_signal(signal.SIGCONT)
    collected = agent("load", "collect", params)
    assert collected["failed"] is False, collected
    assert collected["requests"] == 2000
    assert json.loads(collected["artefacts"]["result.json"])["exit_code"] == 0
    assert all((dest / name).read_text() == text for name, text in collected["artefacts"].items())


@needs_pypy
def test_the_agent_runs_on_python_3_9(our_server, tmp_path):
    # The hosts' system Python may be 3.9: Debian's PyPy is, so the whole cell runs on it.
    reply = agent("load", "cell", load_params(our_server, tmp_path), python=PYPY)
    assert reply["failed"] is False, reply
    assert json.loads(reply["artefacts"]["result.json"])["exit_code"] == 0


# tune: the tuning knobs (agent/tuning), on a copy of a captured tree (--root), so the
# machine's own /proc and /sys are only ever read.


def tune_file(tmp_path, document, name="knobs.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


@pytest.mark.parametrize(
    "args, document, message",
    [
        (("tune",), None, "usage: tune save KNOBS_FILE"),
        (("tune", "tighten"), None, "usage: tune save KNOBS_FILE"),
        (("tune", "apply"), None, "usage: tune save KNOBS_FILE"),
        (("tune", "restore", "extra"), None, "usage: tune save KNOBS_FILE"),
        (("tune", "restore", "--force"), None, "tune restore does not take --force"),
        (("tune", "apply", "FILE", "--restore-first"), {"profile": "p", "knobs": []},
         "tune apply does not take --restore-first"),
        (("tune", "status", "--root"), None, "--root needs a value"),
        (("tune", "hold-latency", "soon"), None, "hold-latency takes whole microseconds, not 'soon'"),
        (("tune", "save", "/nonexistent/knobs.json"), None, "cannot read /nonexistent/knobs.json: No such file"),
        (("tune", "save", "FILE"), "{not json", "is not JSON"),
        (("tune", "save", "FILE"), [], "must hold an object with knobs"),
        (("tune", "save", "FILE"), {}, "knobs is missing"),
        (("tune", "save", "FILE"), {"knobs": [], "password": "x"}, "unknown field password"),
        (("tune", "save", "FILE"), {"knobs": {"kind": "turbo"}}, "knobs must be a list of knobs"),
        (("tune", "apply", "FILE"), {"knobs": []}, "profile must name the profile applied"),
        (("tune", "save", "FILE"),
         {"knobs": [{"kind": "turbo", "value": "on"}, {"kind": "governer", "cpus": "0", "value": "x"}]},
         "knobs[1]: unknown kind 'governer'"),
        (("tune", "save", "FILE"), {"knobs": [{"kind": "irq_affinity", "interface": "eth0"}]},
         "knobs[0] (irq_affinity): missing cpus"),
        (("tune", "apply", "FILE"),
         {"profile": "p", "knobs": [{"kind": "governor", "cpus": "0-", "value": "performance"}]},
         "knobs[0] (governor): '0-' is not a CPU list such as 0-3,8"),
    ],
)  # fmt: skip
def test_a_wrong_tune_call_is_a_failed_reply_naming_the_problem(tmp_path, args, document, message):
    if document is not None:
        args = tuple(tune_file(tmp_path, document) if arg == "FILE" else arg for arg in args)
    reply = agent(*args, "--root", str(tmp_path)) if args[1:2] != ("status",) else agent(*args)
    assert reply["failed"] is True
    assert message in reply["msg"], reply["msg"]
    assert reply["msg"].startswith("wirebench-agent: ")
    assert not (tmp_path / "var").exists()  # refused before anything was saved or changed


def test_tune_save_apply_status_restore_through_the_command_line(tmp_path):
    root = copy_tree("debian12-vm", tmp_path)
    original = tree_files(root)
    knobs = [
        {"kind": "sysctl", "key": "net.core.busy_poll", "value": "50"},
        {"kind": "sysctl", "key": "net.ipv4.tcp_rmem", "value": "4096 131072 16777216"},
        {"kind": "irq_affinity", "interface": "eth0", "cpus": "1"},
        {"kind": "rps", "interface": "eth0", "cpus": "0-1"},
        {"kind": "governor", "cpus": "0-1", "value": "performance"},
        {"kind": "placement", "process": "load", "cpus": "1"},
    ]
    on_root = ("--root", str(root))
    saved = agent("tune", "save", tune_file(tmp_path, {"knobs": knobs}), *on_root)
    assert saved["failed"] is False, saved
    assert [entry["status"] for entry in saved["knobs"]] == ["saved"] * 4 + ["unavailable", "saved"]

    profile = tune_file(
        tmp_path, {"profile": "network-latency", "knobs": knobs[:3] + knobs[4:]}, "p.json"
    )
    applied = agent("tune", "apply", profile, *on_root)
    assert applied["failed"] is False, applied
    assert applied["profile"] == "network-latency"
    assert applied["switch_seconds"] >= 0
    entry = applied["knobs"][0]  # rps:eth0, saved but not in this profile: reset first
    assert (entry["id"], entry["status"], entry["reset"]) == ("rps:eth0", "unchanged", True)
    assert applied["knobs"][1] == {
        "id": "sysctl:net.core.busy_poll", "kind": "sysctl", "target": "net.core.busy_poll",
        "required": False, "wanted": "50", "before": "0", "read_back": "50", "status": "applied",
        "reason": "",
    }  # fmt: skip
    assert [entry["status"] for entry in applied["knobs"][2:]] == [
        "applied",
        "applied",
        "unavailable",
        "applied",
    ]
    assert (root / "run" / "wirebench" / "tuning" / "load-cpus").read_text() == "1\n"

    status = agent("tune", "status", *on_root)
    assert status["unrestored"] is True and status["applied_profile"] == "network-latency"
    assert agent("tune", "save", tune_file(tmp_path, {"knobs": knobs}), *on_root)["failed"] is True

    restored = agent("tune", "restore", *on_root)
    assert restored["failed"] is False, restored
    assert tree_files(root) == original
    assert agent("tune", "status", *on_root) == {"failed": False, "unrestored": False}


def test_tune_snapshot_reads_this_machine_without_changing_it():
    reply = agent("tune", "snapshot", "--interface", "lo")
    assert reply["failed"] is False, reply
    found = reply["snapshot"]
    with open("/proc/sys/net/core/somaxconn") as handle:
        assert found["sysctl"]["net.core.somaxconn"] == handle.read().strip()
    assert "net.ipv4.tcp_fastopen_key" not in found["sysctl"]
    assert found["nic"]["interface"] == "lo"


@needs_pypy
def test_tune_runs_on_python_3_9(tmp_path):
    root = copy_tree("debian12-vm", tmp_path)
    knobs = tune_file(
        tmp_path, {"knobs": [{"kind": "sysctl", "key": "vm.swappiness", "value": "10"}]}
    )
    assert agent("tune", "save", knobs, "--root", str(root), python=PYPY)["failed"] is False
    assert agent("tune", "restore", "--root", str(root), python=PYPY)["failed"] is False
