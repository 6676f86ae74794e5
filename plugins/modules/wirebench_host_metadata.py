#!/usr/bin/python
"""Record what a number depends on about a host: CPU, kernel, NIC, sysctls, governor, and
which VM it is (provider, instance type, zone, image, CPU platform, price)."""

from __future__ import annotations

import glob
import http.client
import json
import math
import os
import platform
import subprocess
import time
import urllib.parse

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: wirebench_host_metadata
short_description: Record a benchmark host's hardware and tuning in a JSON file
description:
  - Reads the CPU model and count, the online CPUs (C(cpus_online), a CPU list such as
    C(0-3), which is the tuning profiles' C({all_cpus})), kernel, distribution, the NIC that carries
    the benchmark traffic (driver, speed, MTU), the sysctls that matter to a TCP benchmark and
    the CPU frequency governor, and writes them to O(dest) as JSON.
  - Only stable facts go in the file, so a second run on an unchanged host changes nothing.
options:
  bench_address:
    description:
      - On the server host, its address under test; on a load host, the server's address
        (the interface is then the one the route to it leaves through).
    type: str
    required: true
  role:
    description: What the host is in the benchmark.
    type: str
    choices: [server, load]
    required: true
  dest:
    description: Where to write the JSON document.
    type: path
    required: true
  extra:
    description: More facts to record under C(extra) (for example skipped combinations).
    type: dict
    default: {}
  vm:
    description:
      - The VM's identity as the inventory states it (C(wirebench_vm)), any of C(provider),
        C(type), C(region), C(zone), C(image), C(cpu_platform) (text) and C(price_per_hour)
        (a positive number, in dollars). Each field given wins over what the metadata
        service says; C(price_per_hour) comes only from here.
    type: dict
    default: {}
  vm_probe:
    description:
      - Ask the cloud's instance metadata service (AWS IMDSv2, GCP, Azure) at O(vm_probe_url)
        which VM this is. Each connection may take 0.3 s and the whole probe 2 s; a host where
        nothing answers records why and goes on. Off in the built-in lab.
    type: bool
    default: true
  vm_probe_url:
    description: Where the metadata service answers (the tests point it at 127.0.0.1).
    type: str
    default: http://169.254.169.254
author: wirebench
"""

RETURN = r"""
metadata:
  description: The document written to O(dest).
  type: dict
  returned: always
"""

SYSCTLS = [
    "net.core.somaxconn",
    "net.core.netdev_max_backlog",
    "net.core.rmem_max",
    "net.core.wmem_max",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_low_latency",
    "kernel.sched_autogroup_enabled",
]


# The host's online CPUs as a CPU list ("0-3"), for the tuning profiles' {all_cpus}.
CPUS_ONLINE = "/sys/devices/system/cpu/online"


def read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def run_json(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return json.loads(out) if out.strip() else None


def cpu_model():
    for line in (read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def distribution():
    fields = {}
    for line in (read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        fields[key] = value.strip('"')
    return fields.get("PRETTY_NAME")


def interface_for(bench_address, role):
    """The interface that carries benchmark traffic on this host, and how we found it."""
    if role == "server":
        for link in run_json(["ip", "-j", "addr", "show"]) or []:
            for addr in link.get("addr_info", []):
                if addr.get("local") == bench_address:
                    return link["ifname"], None
        return None, f"no interface holds {bench_address}"
    routes = run_json(["ip", "-j", "route", "get", bench_address]) or []
    if not routes:
        return None, f"no route to {bench_address}"
    return routes[0].get("dev"), None


def nic(name):
    """Driver, speed and MTU of the interface, from netlink first.

    sysfs is read only when its entry is this network namespace's own interface (same
    ifindex): in a container, /sys/class/net may show the host's NIC of the same name.
    """
    if not name:
        return None
    link = (run_json(["ip", "-d", "-j", "link", "show", "dev", name]) or [{}])[0]
    base = f"/sys/class/net/{name}"
    sysfs_is_ours = read(os.path.join(base, "ifindex")) == str(link.get("ifindex"))
    driver = link.get("linkinfo", {}).get("info_kind")  # veth, bridge, vlan, ...
    driver_link = os.path.join(base, "device", "driver")
    if driver is None and sysfs_is_ours and os.path.exists(driver_link):
        driver = os.path.basename(os.path.realpath(driver_link))
    speed = read(os.path.join(base, "speed")) if sysfs_is_ours else None
    # Virtual NICs (veth) have no speed (the file errors or says -1): None, not a made-up one.
    speed_mbps = int(speed) if speed and speed.isdigit() and int(speed) > 0 else None
    return {
        "name": name,
        "driver": driver or "unknown",
        "speed_mbps": speed_mbps,
        "mtu": link.get("mtu"),
    }


def governors():
    found = sorted(
        {read(path) for path in glob.glob("/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor")}
        - {None}
    )
    return found or ["unavailable"]


# The instance metadata services of the three clouds, all at one link-local address. A host
# that is no VM of theirs has nothing there: its first connection fails or times out, and
# the probe stops (the others would wait on the same silent address).
IMDS_URL = "http://169.254.169.254"
CONNECT_TIMEOUT_S = 0.3
PROBE_TIMEOUT_S = 2.0
BODY_LIMIT = 65536  # an identity document is under 4 KiB; more is not one
IDENTITY_FIELDS = ("provider", "type", "region", "zone", "image", "cpu_platform")
VM_FIELDS = (*IDENTITY_FIELDS, "price_per_hour")
# The versions of the metadata APIs read (each documented in tests/plugins/golden/imds).
AZURE_API_VERSION = "2021-02-01"
GCP_KEYS = {
    "type": "machine-type",
    "zone": "zone",
    "image": "image",
    "cpu_platform": "cpu-platform",
}


class VmError(ValueError):
    """wirebench_vm holds something that is not a VM identity (names the field)."""


class NothingListens(Exception):
    """No connection to the metadata address: no cloud's service is there."""


class NotThisCloud(Exception):
    """Something answered, but not as this cloud's service does."""


class Imds:
    """HTTP requests to a metadata service, never through a proxy, all within one deadline."""

    def __init__(self, url: str, total_s: float = PROBE_TIMEOUT_S):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise VmError(f"vm_probe_url {url!r} is not an http://host[:port] address")
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.deadline = time.monotonic() + total_s

    def request(self, method: str, path: str, headers: dict):
        """(status, response headers, body); NothingListens if no connection was made."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NotThisCloud("the probe ran out of time")
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=min(CONNECT_TIMEOUT_S, left)
        )
        try:
            try:
                connection.connect()
            except OSError as exc:
                raise NothingListens(describe(exc)) from None
            connection.sock.settimeout(max(0.01, self.deadline - time.monotonic()))
            connection.request(method, path, headers=headers)
            response = connection.getresponse()
            body = response.read(BODY_LIMIT + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise NotThisCloud(describe(exc)) from None
        finally:
            connection.close()
        if len(body) > BODY_LIMIT:
            raise NotThisCloud(f"{path} answered more than {BODY_LIMIT} bytes")
        return response.status, response.headers, body

    def get_json(self, path: str, headers: dict) -> dict:
        status, _, body = self.request("GET", path, headers)
        if status != 200:
            raise NotThisCloud(f"{path} answered HTTP {status}")
        try:
            document = json.loads(body)
        except ValueError:
            raise NotThisCloud(f"{path} answered something other than JSON") from None
        if not isinstance(document, dict):
            raise NotThisCloud(f"{path} answered JSON that is not an object")
        return document


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def text(value):
    """A field's value if it is non-empty text (the services say "" for "none")."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def last_part(value):
    """GCP names things by path (projects/123/zones/us-central1-a): the last part."""
    value = text(value)
    return value.rsplit("/", 1)[-1] if value else None


def aws(imds: Imds) -> dict:
    """AWS IMDSv2: a session token first (PUT), then the instance identity document."""
    status, _, token = imds.request(
        "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    )
    if status != 200 or not token:
        raise NotThisCloud(f"no IMDSv2 token (HTTP {status})")
    document = imds.get_json(
        "/latest/dynamic/instance-identity/document",
        {"X-aws-ec2-metadata-token": token.decode("ascii", "replace").strip()},
    )
    if not text(document.get("instanceType")):
        raise NotThisCloud("the identity document names no instance type")
    return {
        "provider": "aws",
        "type": text(document.get("instanceType")),
        "region": text(document.get("region")),
        "zone": text(document.get("availabilityZone")),
        "image": text(document.get("imageId")),
        "cpu_platform": None,  # IMDS does not say; the host's CPU model does
    }


def gcp(imds: Imds) -> dict:
    """GCP: one key at a time under instance/, each answer marked Metadata-Flavor: Google."""
    found = {}
    for field, key in GCP_KEYS.items():
        status, headers, body = imds.request(
            "GET", f"/computeMetadata/v1/instance/{key}", {"Metadata-Flavor": "Google"}
        )
        if headers.get("Metadata-Flavor") != "Google":
            raise NotThisCloud("the answer is not marked Metadata-Flavor: Google")
        found[field] = body.decode("utf-8", "replace") if status == 200 else None
    if not last_part(found["type"]):
        raise NotThisCloud("instance/machine-type names no machine type")
    zone = last_part(found["zone"])
    return {
        "provider": "gcp",
        "type": last_part(found["type"]),
        "region": zone.rsplit("-", 1)[0] if zone and "-" in zone else None,
        "zone": zone,
        "image": last_part(found["image"]),
        "cpu_platform": text(found["cpu_platform"]),
    }


def azure(imds: Imds) -> dict:
    """Azure: the instance's compute document (Metadata: true, a dated api-version)."""
    compute = imds.get_json(
        f"/metadata/instance/compute?api-version={AZURE_API_VERSION}", {"Metadata": "true"}
    )
    if not text(compute.get("vmSize")):
        raise NotThisCloud("the compute document names no vmSize")
    reference = (compute.get("storageProfile") or {}).get("imageReference") or {}
    urn = [text(reference.get(k) or compute.get(k)) for k in ("publisher", "offer", "sku")]
    version = text(reference.get("version") or compute.get("version"))
    # A marketplace image by its URN (publisher:offer:sku:version), else a custom image's id.
    image = ":".join([*urn, version or "latest"]) if all(urn) else text(reference.get("id"))
    return {
        "provider": "azure",
        "type": text(compute.get("vmSize")),
        "region": text(compute.get("location")),
        "zone": text(compute.get("zone")),
        "image": image,
        "cpu_platform": None,  # IMDS does not say; the host's CPU model does
    }


PROVIDERS = {"aws": aws, "gcp": gcp, "azure": azure}


def probe(url: str, total_s: float = PROBE_TIMEOUT_S) -> tuple[dict, str]:
    """(the identity the metadata service at ``url`` gave, what the probe found, in words)."""
    imds = Imds(url, total_s)
    refused = []
    for name, read in PROVIDERS.items():
        try:
            return read(imds), f"{name} instance metadata at {url}"
        except NothingListens as exc:
            return {}, f"no instance metadata service at {url} ({exc})"
        except NotThisCloud as exc:
            refused.append(f"not {name}: {exc}")
    return {}, f"no known instance metadata service at {url} ({'; '.join(refused)})"


def inventory_vm(vm) -> dict:
    """wirebench_vm checked: known fields only, text, and a positive finite price."""
    if not isinstance(vm, dict):
        raise VmError(f"wirebench_vm must be a mapping, not {type(vm).__name__}")
    unknown = sorted(set(vm) - set(VM_FIELDS))
    if unknown:
        raise VmError(
            f"wirebench_vm has {', '.join(map(repr, unknown))}; it may hold {', '.join(VM_FIELDS)}"
        )
    checked = {}
    for field, value in vm.items():
        if value is None or value == "":
            continue
        if field == "price_per_hour":
            price = value
            if isinstance(price, str):
                try:
                    price = float(price)  # -e and YAML strings: "0.2016"
                except ValueError:
                    price = None
            if (
                isinstance(price, bool)
                or not isinstance(price, (int, float))
                or not (math.isfinite(price) and price > 0)
            ):
                raise VmError(
                    f"wirebench_vm.price_per_hour {value!r} must be a positive number of "
                    "dollars per hour"
                )
            checked[field] = price
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            checked[field] = str(value)
        else:
            raise VmError(f"wirebench_vm.{field} {value!r} must be text")
    return checked


def vm_identity(vm, probe_url: str | None) -> dict:
    """Which VM this is: the inventory's wirebench_vm field by field over the metadata
    service's answer (None: not probed), with where each field came from."""
    given = inventory_vm(vm)
    if probe_url:
        probed, found = probe(probe_url)
    else:
        probed, found = {}, "not probed (vm_probe: false)"
    identity = {field: given.get(field, probed.get(field)) for field in VM_FIELDS}
    sources = {
        field: "inventory" if field in given else f"{probed['provider']} metadata"
        for field in VM_FIELDS
        if identity[field] is not None
    }
    return {**identity, "sources": sources, "probe": found}


def collect(bench_address, role, extra, vm=None, probe_url=None):
    """The host's document. ``probe_url``: where to ask the cloud's metadata service which
    VM this is (None: do not ask, e.g. in the lab or a test)."""
    interface, problem = interface_for(bench_address, role)
    virt = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip()
    return {
        "format": "wirebench-host/1",
        "hostname": platform.node(),
        "role": role,
        "bench_address": bench_address,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpus_online": read(CPUS_ONLINE),
        "memory_kib": int((read("/proc/meminfo") or "MemTotal: 0").split()[1]),
        "kernel": platform.release(),
        "distribution": distribution(),
        "virtualization": virt or "none",
        "nic": nic(interface),
        "nic_problem": problem,
        "sysctls": {name: read("/proc/sys/" + name.replace(".", "/")) for name in SYSCTLS},
        "cpu_governors": governors(),
        "vm": vm_identity(vm or {}, probe_url),
        "extra": extra,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "bench_address": {"type": "str", "required": True},
            "role": {"type": "str", "required": True, "choices": ["server", "load"]},
            "dest": {"type": "path", "required": True},
            "extra": {"type": "dict", "default": {}},
            "vm": {"type": "dict", "default": {}},
            "vm_probe": {"type": "bool", "default": True},
            "vm_probe_url": {"type": "str", "default": IMDS_URL},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        metadata = collect(
            params["bench_address"],
            params["role"],
            params["extra"],
            vm=params["vm"],
            probe_url=params["vm_probe_url"] if params["vm_probe"] else None,
        )
    except VmError as exc:
        module.fail_json(msg=str(exc))
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    changed = read(params["dest"]) != text.strip()
    if changed and not module.check_mode:
        os.makedirs(os.path.dirname(params["dest"]), exist_ok=True)
        temporary = params["dest"] + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, params["dest"])
    module.exit_json(changed=changed, metadata=metadata)


if __name__ == "__main__":
    main()
