"""End to end, the command as the README gives it: `ansible-playbook bench.yml -i inventory/lab`
on a machine where the lab is down brings the lab up, provisions, measures and reports. Its
lab play changes nothing when the lab is up, and with -e local_lab_load_hosts=2 the plays
after it see the load host lab-up adds in the same command. Traffic goes only to the lab's
hosts (198.18.0.0/24)."""

from __future__ import annotations

import os

import pytest

from .labtools import (
    INVENTORY,
    RESULTS,
    ROOT,
    lab_host_processes,
    lab_processes,
    run_id_of,
    run_playbook,
    samples,
)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

GENERATED = INVENTORY / "generated-load-hosts.yml"


@pytest.fixture(scope="module")
def bench_from_down():
    """bench.yml with the quick preset (one repetition), started with the lab down; lab-down at
    the end of the module."""
    down = run_playbook("lab-down")
    assert down.returncode == 0, down.output[-3000:]
    assert not lab_processes() and not lab_host_processes()
    assert not GENERATED.exists()
    try:
        yield run_playbook(
            "bench.yml", "-i", "inventory/lab", "-e", "@presets/quick.yml",
            "-e", "wirebench_label=test-bench", "-e", "wirebench_repetitions=1",
        )  # fmt: skip
    finally:
        run_playbook("lab-down")
        assert not lab_host_processes()
        assert not GENERATED.exists()


def test_bench_brings_the_lab_up_then_measures_and_reports(bench_from_down):
    run = bench_from_down
    assert run.returncode == 0, run.output[-5000:]
    assert "TASK [local_lab : Boot each host" in run.output, run.output[-5000:]
    assert "The built-in lab is up: server1 (server) and load1 (load)." in run.output
    recap = run.recap()
    assert {"localhost", "server1", "load1"} <= set(recap), recap
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recap.values()), recap
    assert len(lab_processes()) == 2
    run_id = run_id_of(run)
    for name in ("run.json", "summary.csv", "report.md"):
        assert (RESULTS / run_id / name).exists(), name
    measured = [s for s in samples(run_id).values() if s.status != "skipped"]
    assert len(measured) == 11  # redis + 7 implementations on CPython + 3 on PyPy
    assert all(sample.status == "ok" for sample in measured), measured


def test_the_lab_play_changes_nothing_when_the_lab_is_up(bench_from_down):
    again = run_playbook("builtin-lab", "-i", "inventory/lab")
    assert again.returncode == 0, again.output[-4000:]
    assert again.recap()["localhost"]["changed"] == 0, again.output[-6000:]
    assert len(lab_processes()) == 2


def test_the_plays_after_it_see_the_hosts_lab_up_adds(bench_from_down, tmp_path):
    """The lab play, then preflight, in one command (as bench.yml has them): load2 was in no
    inventory file when the command started, and preflight still reaches it."""
    assert not GENERATED.exists()
    playbook = tmp_path / "lab-then-preflight.yml"
    playbook.write_text(
        "---\n"
        f"- ansible.builtin.import_playbook: {ROOT / 'playbooks/builtin-lab.yml'}\n"
        f"- ansible.builtin.import_playbook: {ROOT / 'playbooks/preflight.yml'}\n"
    )
    run = run_playbook(str(playbook), "-i", "inventory/lab", "-e", "local_lab_load_hosts=2")
    assert run.returncode == 0, run.output[-5000:]
    assert GENERATED.exists()
    recap = run.recap()
    assert {"server1", "load1", "load2"} <= set(recap), recap
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recap.values()), recap
    assert len(lab_processes()) == 3
