"""Which VM a host is: wirebench_host_metadata's probe of the cloud's instance metadata
service, and the inventory's wirebench_vm over it.

Every metadata service here is a local HTTP server on 127.0.0.1 answering with the documented
responses in golden/imds (its README names the sources); nothing is sent to 169.254.169.254.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from wirebench_host_metadata import PROBE_TIMEOUT_S, VmError, collect, inventory_vm, vm_identity

GOLDEN = Path(__file__).parent / "golden" / "imds"
MODULE = Path(__file__).parents[2] / "plugins" / "modules" / "wirebench_host_metadata.py"
TOKEN = "AQAEAtoken-for-the-test=="


def golden(name: str):
    return json.loads((GOLDEN / name).read_text())


class Cloud(BaseHTTPRequestHandler):
    """One cloud's metadata service, as strict about headers as the real one."""

    provider = "none"
    seen: list  # (method, path, headers) of every request, for the tests to read

    def log_message(self, *args):  # quiet: pytest shows what matters
        pass

    def answer(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.seen.append(("PUT", self.path, dict(self.headers)))
        if self.provider == "aws" and self.path == "/latest/api/token":
            if self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.answer(200, TOKEN.encode())
            return self.answer(400)
        flavour = {"Metadata-Flavor": "Google"} if self.provider == "gcp" else {}
        return self.answer(405, headers=flavour)

    def do_GET(self):
        self.seen.append(("GET", self.path, dict(self.headers)))
        url = urlsplit(self.path)
        if self.provider == "aws":
            if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                return self.answer(401)
            if url.path == "/latest/dynamic/instance-identity/document":
                return self.answer(
                    200, (GOLDEN / "aws-instance-identity-document.json").read_bytes()
                )
        elif self.provider == "gcp":
            flavour = {"Metadata-Flavor": "Google"}
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.answer(403, headers=flavour)
            key = url.path.removeprefix("/computeMetadata/v1/instance/")
            values = golden("gcp-instance-keys.json")
            if key in values:
                return self.answer(200, values[key].encode(), flavour)
            return self.answer(404, headers=flavour)
        elif self.provider == "azure":
            version = parse_qs(url.query).get("api-version")
            if self.headers.get("Metadata") != "true" or not version:
                return self.answer(400)
            if url.path == "/metadata/instance/compute":
                return self.answer(200, (GOLDEN / "azure-instance-compute.json").read_bytes())
        return self.answer(404)


@pytest.fixture
def cloud():
    """Start a metadata service of one provider on 127.0.0.1; yields (url, requests seen)."""
    servers = []

    def start(provider: str):
        seen: list = []
        handler = type(f"{provider}Cloud", (Cloud,), {"provider": provider, "seen": seen})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            "aws",
            {
                "provider": "aws",
                "type": "m7i.large",
                "region": "eu-west-1",
                "zone": "eu-west-1b",
                "image": "ami-0a1b2c3d4e5f67890",
                "cpu_platform": None,
            },
        ),
        (
            "gcp",
            {
                "provider": "gcp",
                "type": "n2-standard-4",
                "region": "europe-west4",
                "zone": "europe-west4-a",
                "image": "debian-12-bookworm-v20261111",
                "cpu_platform": "Intel Cascade Lake",
            },
        ),
        (
            "azure",
            {
                "provider": "azure",
                "type": "Standard_D4s_v5",
                "region": "westeurope",
                "zone": "2",
                "image": "Debian:debian-12:12-gen2:0.20261111.1",
                "cpu_platform": None,
            },
        ),
    ],
)
def test_each_cloud_names_the_vm(cloud, provider, expected):
    url, seen = cloud(provider)
    vm = vm_identity({}, url)
    assert {field: vm[field] for field in expected} == expected
    assert vm["price_per_hour"] is None  # no service says what a VM costs
    assert vm["probe"] == f"{provider} instance metadata at {url}"
    assert set(vm["sources"]) == {field for field, value in expected.items() if value}
    assert set(vm["sources"].values()) == {f"{provider} metadata"}
    if provider == "aws":  # IMDSv2: a token first, then the document with it
        assert [(method, path) for method, path, _ in seen] == [
            ("PUT", "/latest/api/token"),
            ("GET", "/latest/dynamic/instance-identity/document"),
        ]
        assert seen[1][2]["X-aws-ec2-metadata-token"] == TOKEN


def test_the_inventory_wins_field_by_field(cloud):
    url, _ = cloud("aws")
    vm = vm_identity({"type": "m7i.xlarge", "price_per_hour": "0.2016", "zone": ""}, url)
    assert vm["type"] == "m7i.xlarge" and vm["sources"]["type"] == "inventory"
    assert vm["price_per_hour"] == 0.2016 and vm["sources"]["price_per_hour"] == "inventory"
    # An empty field says nothing: the service's zone stays.
    assert vm["zone"] == "eu-west-1b" and vm["sources"]["zone"] == "aws metadata"
    assert vm["provider"] == "aws" and vm["image"] == "ami-0a1b2c3d4e5f67890"


def test_a_service_of_no_known_cloud(cloud):
    url, seen = cloud("none")  # answers 404 to everything, as an unrelated web server would
    vm = vm_identity({}, url)
    assert all(vm[field] is None for field in ("provider", "type", "zone", "image"))
    assert vm["probe"].startswith(f"no known instance metadata service at {url} (not aws: ")
    assert "not gcp: " in vm["probe"] and "not azure: /metadata/instance/compute" in vm["probe"]
    assert vm["sources"] == {}
    assert len(seen) == 3  # one request each, and no more


def test_nothing_listening_stops_at_once():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    started = time.monotonic()
    vm = vm_identity({"type": "bare"}, f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 1.0
    assert vm["probe"].startswith(f"no instance metadata service at http://127.0.0.1:{port} (")
    assert vm["type"] == "bare" and vm["provider"] is None


def test_a_silent_service_never_holds_the_run_up():
    # Connections are accepted by the kernel (listen backlog) but nothing ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        vm = vm_identity({}, url)
        took = time.monotonic() - started
    assert took < PROBE_TIMEOUT_S + 0.5
    assert vm["provider"] is None
    assert vm["probe"].startswith(f"no known instance metadata service at {url}")
    assert "timed out" in vm["probe"] or "ran out of time" in vm["probe"]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"price": 0.2}, "wirebench_vm has 'price'; it may hold provider, type"),
        ({"price_per_hour": "cheap"}, "price_per_hour 'cheap' must be a positive number"),
        ({"price_per_hour": 0}, "price_per_hour 0 must be a positive number"),
        ({"price_per_hour": -1.5}, "price_per_hour -1.5 must be a positive number"),
        ({"price_per_hour": True}, "price_per_hour True must be a positive number"),
        ({"price_per_hour": float("nan")}, "price_per_hour nan must be a positive number"),
        ({"type": ["m7i", "large"]}, "wirebench_vm.type ['m7i', 'large'] must be text"),
        (["aws"], "wirebench_vm must be a mapping, not list"),
    ],
)
def test_a_wrong_wirebench_vm_is_named(given, words):
    with pytest.raises(VmError) as raised:
        inventory_vm(given)
    assert words in str(raised.value)


def run_module(tmp_path: Path, **args) -> dict:
    """The module as Ansible runs it: its arguments in a JSON file, its answer on stdout."""
    arguments = tmp_path / "args.json"
    arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    done = subprocess.run(
        [sys.executable, str(MODULE), str(arguments)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(done.stdout)


def test_the_module_writes_the_vm_into_host_json(cloud, tmp_path):
    url, seen = cloud("gcp")
    dest = tmp_path / "state" / "host.json"
    args = {
        "bench_address": "127.0.0.1",
        "role": "load",
        "dest": str(dest),
        "vm": {"price_per_hour": 0.194},
        "vm_probe_url": url,
    }
    first = run_module(tmp_path, **args)
    assert first["changed"] is True, first
    written = json.loads(dest.read_text())
    assert written["vm"]["type"] == "n2-standard-4" and written["vm"]["price_per_hour"] == 0.194
    assert written["cpu_count"] >= written["cpus_usable"] >= 1  # the vCPUs a rate is over
    # The same VM the next time: nothing changed, so a second provision reports none.
    assert run_module(tmp_path, **args)["changed"] is False
    # With the probe off (the built-in lab), only the inventory's fields, and no request.
    asked = len(seen)
    off = run_module(tmp_path, **{**args, "vm_probe": False, "vm": {"type": "c3-standard-4"}})
    assert len(seen) == asked
    assert off["metadata"]["vm"]["type"] == "c3-standard-4"
    assert off["metadata"]["vm"]["provider"] is None
    assert off["metadata"]["vm"]["probe"] == "not probed (vm_probe: false)"


def test_the_module_refuses_a_wrong_wirebench_vm(tmp_path):
    answer = run_module(
        tmp_path,
        bench_address="127.0.0.1",
        role="load",
        dest=str(tmp_path / "host.json"),
        vm={"price_per_hour": "cheap"},
        vm_probe=False,
    )
    assert answer["failed"] is True
    assert "price_per_hour 'cheap' must be a positive number" in answer["msg"]
    assert not (tmp_path / "host.json").exists()


def test_this_machine_is_not_probed_unless_asked():
    # collect() without a probe_url never asks anyone: the tests' default.
    assert collect("127.0.0.1", "load", {})["vm"]["probe"] == "not probed (vm_probe: false)"


@pytest.mark.parametrize(
    ("inventory", "probes"),
    [
        ({}, True),  # a real host: ask
        ({"wirebench_vm_probe": False}, False),
        ({"wirebench_vm_probe": "false"}, False),  # as -e gives it
        ({"wirebench_builtin_lab": True}, False),  # inventory/lab: never
        ({"wirebench_builtin_lab": True, "wirebench_vm_probe": True}, False),
    ],
)
def test_the_role_probes_only_real_hosts(inventory, probes):
    """roles/host_metadata's defaults, templated as Ansible would for a host with these vars."""
    defaults = yaml.safe_load(
        (MODULE.parents[2] / "roles" / "host_metadata" / "defaults" / "main.yml").read_text()
    )
    trusted = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in defaults.items()}
    templar = Templar(loader=DataLoader(), variables={**inventory, **trusted})
    assert templar.template(trusted["host_metadata_vm_probe"]) is probes
    assert templar.template(trusted["host_metadata_vm"]) == {}
