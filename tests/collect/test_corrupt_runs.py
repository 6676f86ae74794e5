"""collect never crashes, whatever is in a run folder: corrupted copies of real runs.

Each case copies a committed run (tests/collect/runs), breaks one thing in it as a careless
user, a full disk or an attacker could, runs ``python -m collect report`` and checks the exit
code and the words that name the problem. A bad raw file fails only its own sample; a bad
run-meta.json or an output that cannot be written exits 2 with one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.collect.cellfolder import table

RUNS = Path(__file__).parent / "runs"
ROOT = Path(__file__).parents[2]
CELL = "raw/redis@native_get_1"  # an ok cell of quick-b (11 ok, 4 skipped)
CELL_ID = "redis@native/get#1"


def collect(*args, env=None, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "collect", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        preexec_fn=preexec,
        timeout=120,  # a FIFO read without care would hang here, not pass
        check=False,
    )


@pytest.fixture
def run(tmp_path):
    return Path(shutil.copytree(RUNS / "quick-b", tmp_path / "quick-b"))


def rewrite_json(path: Path, **fields):
    document = json.loads(path.read_text())
    document.update(fields)
    path.write_text(json.dumps(document))


def replace(path: Path, text: str):
    path.unlink()
    path.write_text(text)


def fifo(path: Path):
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def beside_the_run(path: Path) -> Path:
    """A place next to the copied run folder, outside it."""
    run = next(parent for parent in path.parents if parent.name == "quick-b")
    return run.parent / f"outside-{path.name}"


def link_out(path: Path):
    """A link from inside the run to a file outside it that would parse just fine."""
    outside = beside_the_run(path)
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)


def link_folder_out(path: Path):
    outside = beside_the_run(path)
    shutil.move(path, outside)
    path.symlink_to(outside, target_is_directory=True)


def counters_after(path: Path, **fields):
    document = json.loads(path.read_text())
    document["counters"]["after"].update(fields)
    path.write_text(json.dumps(document))


SAMPLE = f"{CELL}/sample.json"
RESULT = f"{CELL}/load1/result.json"
STDOUT = f"{CELL}/load1/stdout.csv"

# (what is broken, how, the sample's failure kind, words its reason must hold)
CELL_CASES = [
    ("result.json is a list", RESULT, lambda p: replace(p, "[1, 2]"), "unreadable",
     "load1/result.json: the file must be an object, not a list"),
    ("threads is a string", RESULT, lambda p: rewrite_json(p, threads="4"), "unreadable",
     "load1/result.json: threads must be an integer, not a string ('4')"),
    ("threads is zero", RESULT, lambda p: rewrite_json(p, threads=0), "unreadable",
     "load1/result.json: threads must be at least 1"),
    ("exit_code is true", RESULT, lambda p: rewrite_json(p, exit_code=True), "unreadable",
     "load1/result.json: exit_code must be an integer, not true/false"),
    ("load_cpu.cpus holds text", RESULT, lambda p: rewrite_json(p, load_cpu={"cpus": ["1"]}),
     "unreadable", "load1/result.json: load_cpu.cpus[0] must be an integer, not a string"),
    ("an interference reading holds text", RESULT,
     lambda p: rewrite_json(p, interference={"before": {"cpus": {"1": ["9"]}}, "after": {}}),
     "unreadable",
     "load1/result.json: interference.before.cpus.1[0] must be an integer, not a string"),
    ("result.json is not JSON", RESULT, lambda p: replace(p, '{"exit_code": 0'), "unreadable",
     "load1/result.json is not valid JSON"),
    ("result.json nested too deep", RESULT, lambda p: replace(p, "[" * 200000), "unreadable",
     "load1/result.json is not valid JSON (nested too deep)"),
    ("result.json is a FIFO", RESULT, fifo, "unreadable",
     "load1/result.json is a FIFO, not a regular file; not read"),
    ("result.json leads out of the run", RESULT, link_out, "unreadable",
     "load1/result.json leads out of redis@native_get_1/ (to "),
    ("argv.json is an object", f"{CELL}/load1/argv.json", lambda p: replace(p, '{"-t": "get"}'),
     "unreadable", "load1/argv.json: the file must be a list, not an object"),
    ("stdout.csv is a FIFO", STDOUT, fifo, "unreadable",
     "load1/stdout.csv is a FIFO, not a regular file; not read"),
    ("stdout.csv leads out of the run", STDOUT, link_out, "unreadable",
     "load1/stdout.csv leads out of redis@native_get_1/ (to "),
    ("stdout.csv is huge", STDOUT, lambda p: replace(p, "x" * (5 << 20)), "unreadable",
     "load1/stdout.csv is 5,242,880 bytes, more than the 4,194,304 it may hold"),
    ("stdout.csv is binary", STDOUT, lambda p: p.write_bytes(bytes(range(256)) * 64),
     "benchmark_error", "load1: stdout.csv: no CSV table in redis-benchmark output"),
    ("stdout.csv has a header and no row", STDOUT, lambda p: replace(p, table({})),
     "benchmark_error", "load1: stdout.csv has 0 rows for the 1 tests asked (-t get)"),
    ("stderr.txt is a FIFO", f"{CELL}/load1/stderr.txt", fifo, "unreadable",
     "load1/stderr.txt is a FIFO, not a regular file; not read"),
    ("the load host's folder leads out", f"{CELL}/load1", link_folder_out, "unreadable",
     "load1 is a symbolic link; not read"),
    ("journal.txt is a FIFO", f"{CELL}/journal.txt", fifo, "unreadable",
     "journal.txt is a FIFO, not a regular file; not read"),
    ("sample.json is a string", SAMPLE, lambda p: replace(p, '"ok"'), "unreadable",
     "sample.json: the file must be an object, not a string"),
    ("counters is a list", SAMPLE, lambda p: rewrite_json(p, counters=[1]), "unreadable",
     "sample.json: counters must be an object, not a list"),
    ("counters.after.main_pid is text", SAMPLE, lambda p: counters_after(p, main_pid="1212"),
     "unreadable", "sample.json: counters.after.main_pid must be an integer"),
    ("repetition is text", SAMPLE, lambda p: rewrite_json(p, repetition="1"), "unreadable",
     "sample.json: repetition must be an integer, not a string ('1')"),
    ("the id names another cell", SAMPLE, lambda p: rewrite_json(p, id="redis@native/get#2"),
     "unreadable", "sample.json: id 'redis@native/get#2' is not its fields' cell 'redis@native/get#1'"),
    ("the record belongs in another folder", SAMPLE,
     lambda p: rewrite_json(p, id="redis@native/get#2", repetition=2), "unreadable",
     "sample.json: cell redis@native/get#2 belongs in a folder redis@native_get_2"),
    ("an unknown failure kind", SAMPLE, lambda p: rewrite_json(p, failure="exploded"),
     "unreadable", "sample.json: failure 'exploded' is not a known kind"),
    ("failed without a kind", SAMPLE, lambda p: rewrite_json(p, status="failed"), "unreadable",
     "sample.json: status is failed but failure is null"),
    ("sample.json leads out of the run", SAMPLE, link_out, "unreadable",
     "sample.json leads out of redis@native_get_1/ (to "),
    ("the server closed the watch connection", RESULT,
     lambda p: rewrite_json(p, server_closed=True), "server_crashed",
     "the server closed the watch connection of load1 during the measured run"),
    ("the unit was not active at the end", SAMPLE,
     lambda p: counters_after(p, active_state="failed", result="signal"), "server_crashed",
     "MainPID 1212 -> 1212, state failed (signal)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "corrupt", "failure", "reason"),
    [case[1:] for case in CELL_CASES],
    ids=[case[0] for case in CELL_CASES],
)
def test_a_bad_raw_file_fails_its_sample_and_the_rest_is_reported(
    run, path, corrupt, failure, reason
):
    corrupt(run / path)
    done = collect("report", run, "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    samples = {s["id"]: s for s in json.loads((run / "run.json").read_text())["samples"]}
    broken = samples[CELL_ID]
    assert (broken["status"], broken["failure"]) == ("failed", failure)
    assert reason in broken["reason"], broken["reason"]
    # Every other cell is reported as before.
    statuses = [s["status"] for i, s in samples.items() if i != CELL_ID]
    assert (statuses.count("ok"), statuses.count("skipped")) == (10, 4)
    markdown = (run / "report.md").read_text()
    assert f"- FAILED `{CELL_ID}` on server1: {failure}: " in markdown
    assert "Samples: 10 ok, 1 failed, 4 skipped." in markdown


def test_an_unreadable_record_keeps_the_cell_its_folder_names(run):
    record = json.loads((run / SAMPLE).read_text())
    (run / SAMPLE).write_text("[")
    done = collect("report", run, "--no-plots")
    assert done.returncode == 0, done.stderr
    samples = {s["id"]: s for s in json.loads((run / "run.json").read_text())["samples"]}
    # The folder's name still says which cell it was.
    assert samples[record["id"]]["failure"] == "unreadable"
    assert "sample.json is not valid JSON" in samples[record["id"]]["reason"]


def meta_with(run: Path, change):
    meta = json.loads((run / "run-meta.json").read_text())
    change(meta)
    (run / "run-meta.json").write_text(json.dumps(meta))


def set_in(*keys, value):
    def change(meta):
        target = meta
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


META_CASES = [
    ("servers is a list", lambda run: meta_with(run, set_in("servers", value=["server1"])),
     "run-meta.json: servers must be an object, not a list"),
    ("a NIC's MTU is text", lambda run: meta_with(run, set_in("servers", "server1", "nic", "mtu", value="1500")),
     "run-meta.json: servers.server1.nic.mtu must be a number, not a string ('1500')"),
    ("a workload's clients is text", lambda run: meta_with(run, set_in("matrix", "workloads", 0, "clients", value="10")),
     "run-meta.json: matrix.workloads[0]: workload get: clients must be a positive integer"),
    ("the interpreters are names", lambda run: meta_with(run, set_in("matrix", "interpreters", value=["pypy3"])),
     "run-meta.json: matrix.interpreters[0] must be an object, not a string ('pypy3')"),
    ("run-meta.json is a list", lambda run: (run / "run-meta.json").write_text("[]"),
     "run-meta.json: the file must be an object, not a list"),
    ("run-meta.json is cut off", lambda run: (run / "run-meta.json").write_text('{"format": "wire'),
     "run-meta.json is not valid JSON"),
    ("run-meta.json is a FIFO", lambda run: fifo(run / "run-meta.json"),
     "run-meta.json is a FIFO, not a regular file; not read"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [case[1:] for case in META_CASES],
    ids=[case[0] for case in META_CASES],
)
def test_a_bad_run_meta_exits_2_naming_the_field(run, corrupt, message):
    corrupt(run)
    done = collect("report", run, "--no-plots")
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.startswith("collect report: ")
    assert "Traceback" not in done.stderr
    assert not (run / "run.json").exists()


def test_two_samples_of_one_cell_are_counted_once_and_named(run):
    # One server host: raw/<cell>; the same cell copied under raw/server1/ as well.
    shutil.copytree(run / CELL, run / "raw" / "server1" / "redis@native_get_1")
    done = collect("report", run, "--no-plots")
    assert done.returncode == 0, done.stderr
    document = json.loads((run / "run.json").read_text())
    assert [s["id"] for s in document["samples"]].count(CELL_ID) == 1
    assert (
        "raw/server1/redis@native_get_1: a second sample of redis@native/get#1 on server1 "
        "(the first is raw/redis@native_get_1); counted once" in document["problems"]
    )
    redis = next(c for c in document["cells"] if c["implementation"] == "redis")
    assert redis["samples_ok"] == 1 and len(redis["rps"]["values"]) == 1


def test_links_and_strays_in_raw_are_named_not_followed(run, tmp_path):
    elsewhere = Path(shutil.copytree(run / CELL, tmp_path / "elsewhere"))
    shutil.rmtree(run / CELL)
    (run / CELL).symlink_to(elsewhere, target_is_directory=True)
    (run / "raw" / "notes.txt").write_text("hello")
    done = collect("report", run, "--no-plots")
    assert done.returncode == 0, done.stderr
    document = json.loads((run / "run.json").read_text())
    assert CELL_ID not in {s["id"] for s in document["samples"]}
    assert (
        "raw/redis@native_get_1: a symbolic link, not a cell folder; not read"
        in (document["problems"])
    )
    assert "raw/notes.txt: a file, not a cell folder; not read" in document["problems"]


def test_an_output_that_is_a_link_is_replaced_not_written_through(run, tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("not yours")
    (run / "report.md").symlink_to(precious)
    (run / "run.json").symlink_to(tmp_path / "does-not-exist.json")
    done = collect("report", run, "--no-plots")
    assert done.returncode == 0, done.stderr
    assert precious.read_text() == "not yours"
    assert not (tmp_path / "does-not-exist.json").exists()
    assert not (run / "report.md").is_symlink() and (run / "report.md").read_text().startswith(
        "# wirebench run"
    )


def limit_file_size():
    """In the child: writes past 16 KiB (run.json is 34 KiB) fail with EFBIG, as on a full disk."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))


def test_a_failed_write_leaves_the_previous_outputs_whole(run):
    for name in ("run.json", "summary.csv", "report.md"):
        (run / name).write_text(f"previous {name}\n")
    done = collect("report", run, "--no-plots", preexec=limit_file_size)
    assert done.returncode == 2
    assert "collect report: cannot write" in done.stderr and "File too large" in done.stderr
    assert "Traceback" not in done.stderr
    for name in ("run.json", "summary.csv", "report.md"):
        assert (run / name).read_text() == f"previous {name}\n"
    assert [p.name for p in run.iterdir() if p.name.endswith(".tmp")] == []


def test_an_output_that_cannot_be_replaced_exits_2(run):
    (run / "run.json").mkdir()
    done = collect("report", run, "--no-plots")
    assert done.returncode == 2
    assert f"collect report: cannot write {run / 'run.json'}: Is a directory" in done.stderr


def test_compare_refuses_a_fifo_in_place_of_run_json(run, tmp_path):
    other = Path(shutil.copytree(RUNS / "quick-a", tmp_path / "quick-a"))
    fifo(other / "run.json")
    done = collect("compare", run, other, "--out", tmp_path / "c", "--no-plots")
    assert done.returncode == 2
    assert "run.json is a FIFO, not a regular file; not read" in done.stderr
