"""End to end on the built-in lab: preflight refuses bad input without touching a host;
provision turns server1 and load1 into a wirebench server and load host, idempotently.

Traffic goes only to the lab's own hosts (198.18.0.0/24) and to loopback.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from .labtools import ROOT, inventory_hosts, lab_processes, run_playbook, ssh


def project_pins(extra):
    """The exact pins of one optional-dependencies group of pyproject.toml."""
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        extra
    ]


pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the built-in lab needs root"),
]

INVENTORY = ["-i", "inventory/lab"]
BENCH_ADDRESS = "198.18.0.10"


@pytest.fixture(scope="module")
def lab():
    run = run_playbook("lab-up")
    assert run.returncode == 0, run.output[-3000:]
    yield {host.name: host for host in inventory_hosts()}
    run_playbook("lab-down")
    assert not lab_processes()


@pytest.fixture(scope="module")
def first_provision(lab):
    run = run_playbook("provision", *INVENTORY)
    assert run.returncode == 0, run.output[-5000:]
    return run


def write_inventory(tmp_path, text):
    """A throwaway inventory that reuses the lab's connection settings (not its mark as the
    built-in lab: it is not the lab's inventory)."""
    folder = tmp_path / "inventory"
    (folder / "group_vars").mkdir(parents=True)
    (folder / "hosts.yml").write_text(text)
    for name in ("all.yml", "lab.yml"):
        source = ROOT / "inventory/lab/group_vars" / name
        text = source.read_text().replace("{{ inventory_dir }}/../../.lab", str(ROOT / ".lab"))
        text = text.replace("wirebench_builtin_lab: true", "wirebench_builtin_lab: false")
        (folder / "group_vars" / name).write_text(text)
    return str(folder)


SERVER_AND_LOAD = """
bench_server:
  hosts:
    server1: {ansible_host: 198.18.0.10, wirebench_bench_address: 198.18.0.10}
bench_load:
  hosts:
    load1: {ansible_host: 198.18.0.11}
lab:
  children: {bench_server: {}, bench_load: {}}
"""


def bad_inventory(kind):
    return {
        "no-load-host": SERVER_AND_LOAD.split("bench_load:")[0]
        + "lab:\n  children: {bench_server: {}}\n",
        "same-host-twice": SERVER_AND_LOAD.replace(
            "load1: {ansible_host: 198.18.0.11}", "server1: {}"
        ),
        # sshd is not on port 2: the host does not answer (no traffic leaves the lab).
        "unreachable": SERVER_AND_LOAD.replace(
            "load1: {ansible_host: 198.18.0.11}",
            "load1: {ansible_host: 198.18.0.11, ansible_port: 2}",
        ),
        # This machine (the controller) runs no systemd as PID 1.
        "no-systemd": SERVER_AND_LOAD.replace(
            "server1: {ansible_host: 198.18.0.10, wirebench_bench_address: 198.18.0.10}",
            "localhost: {ansible_connection: local, ansible_python_interpreter: '{{ ansible_playbook_python }}', wirebench_bench_address: 198.18.0.1}",
        ).replace("children: {bench_server: {}, bench_load: {}}", "children: {bench_load: {}}"),
    }[kind]


BAD_INPUTS = [
    ("unknown-implementation", None, ["-e", '{"wirebench_implementations": ["redis", "tornado"]}'], "unknown implementation 'tornado'"),
    ("unknown-provider", None, ["-e", '{"wirebench_interpreters": [{"name": "py", "provider": "conda"}]}'], "interpreter 'py' has unknown provider 'conda'"),
    ("bad-workload", None, ["-e", '{"wirebench_workloads": [{"name": "w", "tests": "get"}]}'], "workload 'w' needs exactly one of requests or seconds"),
    ("no-load-host", "no-load-host", [], "one in 'bench_load' (none)"),
    ("same-host-twice", "same-host-twice", [], "and no host in both (server1)"),
    ("unreachable", "unreachable", [], "UNREACHABLE"),
    ("loopback-only", None, ["-e", '{"wirebench_bench_address": "127.0.0.1"}'], "the route to 127.0.0.1 goes through loopback"),
    ("no-systemd", "no-systemd", [], "wirebench needs systemd"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inventory_kind", "extra", "message"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_preflight_refuses_bad_input_without_touching_hosts(
    lab, tmp_path, inventory_kind, extra, message
):
    inventory = (
        write_inventory(tmp_path, bad_inventory(inventory_kind))
        if inventory_kind
        else "inventory/lab"
    )
    run = run_playbook("preflight", "-i", inventory, *extra, timeout=300)
    assert run.returncode != 0
    assert message in run.output, run.output[-3000:]
    assert all(counts["changed"] == 0 for counts in run.recap().values()), run.recap()


def test_preflight_passes_on_the_lab(lab):
    run = run_playbook("preflight", *INVENTORY)
    assert run.returncode == 0, run.output[-3000:]


def test_provision_smoke_checks_every_unit_from_the_load_host(first_provision):
    pinged = re.findall(
        r"TASK \[smoke_check : PING it from the load host\] \**\nok: \[server1 -> load1",
        first_provision.output,
    )
    units = json.loads(ssh(SERVER(), "cat /var/lib/wirebench/servers.json").stdout)["units"]
    assert len(units) >= 10  # 7 implementations on CPython, 3 on PyPy
    assert len(pinged) == len(units) + 1  # and native redis


def SERVER():
    return next(host for host in inventory_hosts() if host.name == "server1")


def LOAD():
    return next(host for host in inventory_hosts() if host.name == "load1")


def test_skipped_combinations_are_recorded_with_a_reason(first_provision):
    metadata = json.loads(ssh(SERVER(), "cat /var/lib/wirebench/host.json").stdout)
    skipped = {
        (s["implementation"], s["interpreter"]): s["reason"] for s in metadata["extra"]["skipped"]
    }
    assert "does not support pypy" in skipped[("uvloop", "pypy3")]
    assert "cannot import gevent" in skipped[("gevent", "pypy3")]
    assert metadata["extra"]["interpreters"]["pypy3"]["implementation"] == "pypy"


def test_host_metadata_names_the_nic_and_conditions(first_provision):
    for host, role in ((SERVER(), "server"), (LOAD(), "load")):
        metadata = json.loads(ssh(host, "cat /var/lib/wirebench/host.json").stdout)
        assert metadata["role"] == role
        assert metadata["nic"]["driver"] == "veth"
        assert metadata["nic"]["mtu"] > 0
        assert metadata["cpus_usable"] == 1  # the lab pins each host to one CPU
        assert metadata["kernel"] and metadata["cpu_model"]
        assert metadata["sysctls"]["net.core.somaxconn"]
    load = json.loads(ssh(LOAD(), "cat /var/lib/wirebench/host.json").stdout)
    assert load["extra"]["redis_benchmark_version"].startswith("redis-benchmark 7")
    server = json.loads(ssh(SERVER(), "cat /var/lib/wirebench/host.json").stdout)
    assert server["extra"]["redis_server_version"].startswith("Redis server v=7")
    # The packages each venv really has: the pins on CPython; PyPy has no uvloop wheel.
    pins = dict(pin.split("==") for pin in project_pins("server"))
    assert server["extra"]["packages"]["cpython3.11"]["uvloop"] == pins["uvloop"]
    assert server["extra"]["packages"]["pypy3"]["uvloop"] is None


def test_every_unit_listens_only_on_the_bench_address(first_provision):
    units = json.loads(ssh(SERVER(), "cat /var/lib/wirebench/servers.json").stdout)["units"]
    units.append({"unit": "wirebench-redis.service", "port": 6379})
    for unit in units:
        started = ssh(
            SERVER(),
            f"systemctl start {unit['unit']} && sleep 1 && ss -Hltn 'sport = :{unit['port']}'; systemctl stop {unit['unit']}",
        )
        listening = [line.split()[3] for line in started.stdout.splitlines() if line.strip()]
        assert listening == [f"{BENCH_ADDRESS}:{unit['port']}"], (
            unit,
            started.stdout,
            started.stderr,
        )


def test_units_are_hardened_and_stopped(first_provision):
    report = ssh(
        SERVER(),
        "systemd-analyze security wirebench-redis.service 'wirebench-server@asyncio-protocol:cpython3.11.service' --no-pager | grep -i 'overall exposure'",
    )
    scores = [
        float(score) for score in re.findall(r"exposure level for \S+: (\d+\.\d+)", report.stdout)
    ]
    print(report.stdout)
    assert len(scores) == 2, report.stdout + report.stderr
    assert all(score < 5.0 for score in scores)  # systemd calls <5 "OK" or better
    active = ssh(SERVER(), "systemctl list-units 'wirebench*' --state=active --no-legend --plain")
    assert active.stdout.strip() == ""
    enabled = ssh(SERVER(), "systemctl is-enabled wirebench-redis.service redis-server.service")
    assert enabled.stdout.split() == ["disabled", "disabled"]


def test_second_provision_changes_nothing(first_provision):
    run = run_playbook("provision", *INVENTORY)
    assert run.returncode == 0, run.output[-3000:]
    recap = run.recap()
    assert set(recap) >= {"server1", "load1"}
    assert all(counts["changed"] == 0 for counts in recap.values()), recap


def test_check_diff_on_a_provisioned_lab_changes_nothing(first_provision):
    run = run_playbook("provision", *INVENTORY, "--check", "--diff")
    assert run.returncode == 0, run.output[-3000:]
    assert all(counts["changed"] == 0 and counts["failed"] == 0 for counts in run.recap().values())
