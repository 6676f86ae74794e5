"""The network baseline from a load host, on outputs captured from the lab's load1 (ip -j,
ping; tests/agent/golden/network/) and on this machine's real `ip` against loopback."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from agent import network
from agent.__main__ import main

GOLDEN = Path(__file__).parent / "golden" / "network"
SERVER = "198.18.0.10"


def text(name: str) -> str:
    return (GOLDEN / name).read_text()


class Captured:
    """Answers each command with what it printed on the lab's load1; records the calls."""

    def __init__(self, echoes="ping_echoes.txt", full_size="ping_full_size.txt", rc=0):
        self.echoes, self.full_size, self.rc, self.calls = echoes, full_size, rc, []

    def __call__(self, argv, timeout):
        self.calls.append((argv, timeout))
        if argv[:2] == ["ip", "-j"]:
            name = {"route": "ip_route_get.json", "link": "ip_link_show.json",
                    "addr": "ip_addr_show.json"}[argv[2]]  # fmt: skip
            return subprocess.CompletedProcess(argv, 0, text(name), "")
        name = self.full_size if "-M" in argv else self.echoes
        output = text(name)
        rc = 0 if network.echo_times(output) else 1
        return subprocess.CompletedProcess(argv, rc, output, "")


def test_a_lab_path_is_one_subnet_with_the_full_mtu_and_every_echo_back():
    runner = Captured()
    reading = network.baseline(SERVER, runner=runner)
    assert reading["route"] == {
        "interface": "eth0", "source": "198.18.0.11", "gateway": None,
        "subnet": "198.18.0.0/24", "same_subnet": True, "mtu": 1500,
    }  # fmt: skip
    assert reading["full_size_packet"] == {"size": 1500, "passed": True, "msg": ""}
    trips = reading["round_trips"]
    assert trips["sent"] == 50 and len(trips["ms"]) == 50
    assert trips["ms"][:2] == [0.361, 0.079]  # in sequence order, as ping printed them
    ping = next(argv for argv, _ in runner.calls if argv[0] == "ping" and "-M" not in argv)
    # Bounded: a count, an interval, a per-reply wait and a deadline, and a time limit.
    assert {"-c", "-i", "-W", "-w"} <= set(ping) and ping[-1] == SERVER
    assert all(timeout <= 10 for _, timeout in runner.calls)


def test_a_packet_over_the_path_mtu_says_why_it_did_not_pass():
    reading = network.baseline(SERVER, runner=Captured(full_size="ping_too_big.txt"))
    packet = reading["full_size_packet"]
    assert packet["passed"] is False
    assert "message too long, mtu=1500" in packet["msg"]


def test_a_server_that_drops_icmp_gives_no_round_trips_but_the_count_sent():
    reading = network.baseline(SERVER, runner=Captured(echoes="ping_no_answer.txt"))
    assert reading["round_trips"] == {"sent": 12, "ms": []}  # ping's deadline kept sending


def test_a_route_through_a_gateway_is_not_the_same_subnet():
    def runner(argv, timeout):
        if argv[:3] == ["ip", "-j", "route"]:
            routed = [{"dst": "10.1.2.3", "gateway": "198.18.0.1", "dev": "eth0",
                       "prefsrc": "198.18.0.11"}]  # fmt: skip
            return subprocess.CompletedProcess(argv, 0, json.dumps(routed), "")
        return Captured()(argv, timeout)

    route = network.route_to("10.1.2.3", runner)
    assert route["gateway"] == "198.18.0.1" and route["same_subnet"] is False


def test_duplicate_echo_replies_count_once():
    doubled = text("ping_echoes.txt").replace(
        "icmp_seq=2 ttl=64 time=0.079 ms", "icmp_seq=2 ttl=64 time=0.079 ms\n"
        "64 bytes from 198.18.0.10: icmp_seq=2 ttl=64 time=0.5 ms (DUP!)",
    )  # fmt: skip
    assert len(network.echo_times(doubled)) == 50


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
def test_the_route_to_loopback_is_read_from_the_real_kernel():
    route = network.route_to("127.0.0.1")
    assert route["interface"] == "lo" and route["subnet"] == "127.0.0.0/8"
    assert route["same_subnet"] is True and route["mtu"] == 65536


def test_a_missing_command_or_a_silent_one_is_a_named_error():
    def missing(argv, timeout):
        raise network.NetworkError(f"{argv[0]} is not installed on this host")

    with pytest.raises(network.NetworkError, match="ip is not installed"):
        network.baseline(SERVER, runner=missing)

    def no_route(argv, timeout):
        return subprocess.CompletedProcess(argv, 2, "", "RTNETLINK answers: Network is unreachable")

    with pytest.raises(network.NetworkError, match="Network is unreachable"):
        network.route_to(SERVER, no_route)


@pytest.mark.parametrize(
    "args, message",
    [
        (["network", "baseline", "server1"], "ADDRESS must be an IP address"),
        (["network", "baseline", SERVER, "0"], "ECHOES must be a number from 1 to 1000"),
        (["network", "ping", SERVER], "usage: network baseline"),
    ],
)
def test_bad_arguments_get_a_reply_naming_them(args, message, capsys):
    assert main(args) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["failed"] is True and message in reply["msg"]
