"""The agent's command line: one step of a cell per call, one JSON reply on stdout.

    wirebench-agent unit started UNIT [--port PORT]   (returns once PORT is listened on)
    wirebench-agent unit stopped UNIT
    wirebench-agent load prepare|measure|cell PARAMS_JSON
    wirebench-agent load measure PARAMS_JSON --background   (starts it, returns at once)
    wirebench-agent load collect PARAMS_JSON                (the background run's reply)
    wirebench-agent load answering PARAMS_JSON              (PING answered PONG, with AUTH)
    wirebench-agent tune save|apply|restore|status|snapshot ...   (agent/tuning/command.py)
    wirebench-agent network baseline ADDRESS [ECHOES]       (route, MTU, round trips)

PARAMS_JSON: {"host", "port", "workload", "dest", "timeout", "min_timeout", "requests",
"start_at", "password_file"}. The password is read from ``password_file`` on this host
(provisioning writes it, mode 0600): never from the command line.

The reply always has ``failed``; a failed step has ``msg`` and, when it is a failure of the
cell, ``failure`` (its kind). The exit status is 0 whenever a reply was printed: the caller
reads the reply, not the status. Anything unexpected is a reply too, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

from . import load, network, unit
from .loadgen import CellError, wait_until_answering
from .tuning import command as tuning
from .tuning.knobs import KnobError

REPLY = "reply.json"
DEFAULTS = {"timeout": 600.0, "min_timeout": 30.0, "start_at": None, "password_file": ""}
REQUIRED = {
    "prepare": ("host", "port", "workload"),
    "cell": ("host", "port", "workload", "dest"),
    "measure": ("host", "port", "workload", "dest", "requests"),
    "collect": ("dest",),
    "answering": ("host", "port"),
}
NUMBERS = {"port": int, "requests": int, "timeout": float, "min_timeout": float,
           "start_at": float}  # fmt: skip
# A background run's reply is waited for this much longer than its own limit.
COLLECT_MARGIN = 30.0


class UsageError(Exception):
    pass


def parse_params(text: str, action: str) -> dict:
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"PARAMS_JSON is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise UsageError("PARAMS_JSON must be an object")
    missing = [name for name in REQUIRED[action] if params.get(name) in (None, "")]
    if missing:
        raise UsageError(f"{action} needs {', '.join(missing)}")
    params = {**DEFAULTS, **params}
    for name, kind in NUMBERS.items():
        if params.get(name) is not None:
            try:
                params[name] = kind(params[name])
            except (TypeError, ValueError):
                raise UsageError(f"{name} must be a number, not {params[name]!r}") from None
    if not isinstance(params.get("workload", {}), dict):
        raise UsageError("workload must be an object")
    params["password"] = read_password(params["password_file"])
    return params


def read_password(path: str) -> str:
    if not path:
        return ""
    try:
        with open(path) as handle:
            return handle.read().rstrip("\n")
    except FileNotFoundError:
        return ""  # provisioning writes no file when no password is set
    except OSError as exc:
        raise UsageError(f"cannot read the password file {path}: {exc.strerror}") from None


def run_unit(args: list) -> dict:
    if args[:1] == ["stopped"] and len(args) == 2:
        return unit.stop(args[1])
    if args[:1] == ["started"] and len(args) in (2, 4) and args[2:3] in ([], ["--port"]):
        port = args[3] if len(args) == 4 else None
        if port is not None and not port.isdigit():
            raise UsageError(f"--port must be a port number, not {port!r}")
        return unit.start(args[1], port=port)
    raise UsageError("usage: unit started UNIT [--port PORT] | unit stopped UNIT")


def run_load(args: list) -> dict:
    if len(args) not in (2, 3) or args[0] not in REQUIRED:
        raise UsageError(
            "usage: load prepare|measure|cell|collect|answering PARAMS_JSON [--background]"
        )
    action, params = args[0], parse_params(args[1], args[0])
    background = args[2:] == ["--background"]
    if len(args) == 3 and not (background and action == "measure"):
        raise UsageError("--background goes with measure only")
    if action == "prepare":
        return load.prepare(params)
    if action == "cell":
        return load.cell(params)
    if action == "collect":
        return collect(params)
    if action == "answering":  # the provisioning's smoke check, over the bench network
        wait_until_answering(params["host"], params["port"], params["password"], params["timeout"])
        return {"answering": True}
    if background:
        return start_in_background(params)
    return load.measure(params, params["requests"], params["timeout"])


def run_network(args: list) -> dict:
    if args[:1] != ["baseline"] or len(args) not in (2, 3):
        raise UsageError("usage: network baseline ADDRESS [ECHOES]")
    if not network.is_address(args[1]):
        raise UsageError(f"ADDRESS must be an IP address, not {args[1]!r}")
    echoes = args[2] if len(args) == 3 else str(network.ECHOES)
    if not echoes.isdigit() or not 1 <= int(echoes) <= 1000:
        raise UsageError(f"ECHOES must be a number from 1 to 1000, not {echoes!r}")
    try:
        return network.baseline(args[1], int(echoes))
    except network.NetworkError as exc:
        return {"failed": True, "msg": f"network baseline to {args[1]}: {exc}"}


def run_tune(args: list) -> dict:
    try:
        return tuning.run(args)
    except KnobError as exc:  # the run's call or its knobs: a mistake of the caller
        raise UsageError(str(exc)) from None


def write_reply(dest: str, reply: dict) -> None:
    load.write_artefacts(dest, {REPLY: json.dumps(reply)})


def start_in_background(params: dict) -> dict:
    """Measure in a detached process that writes its reply to ``dest``; return at once.

    Several load hosts start together this way (their common ``start_at`` holds them until
    then) while the controller waits on the first one's own call: nothing polls them while
    they measure. The child leaves the caller's session and output, so the ssh session that
    started it ends now.
    """
    os.makedirs(params["dest"], exist_ok=True)
    stale = os.path.join(params["dest"], REPLY)
    if os.path.exists(stale):
        os.unlink(stale)
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return {"started": True}
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(null, descriptor)
    write_reply(params["dest"], answer(lambda: load.measure(params, params["requests"],
                                                            params["timeout"])))  # fmt: skip
    os._exit(0)


def collect(params: dict) -> dict:
    """The reply a background measure wrote, waiting for it as long as its run may last."""
    path = os.path.join(params["dest"], REPLY)
    deadline = time.monotonic() + float(params["timeout"]) + COLLECT_MARGIN
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return {"failed": True, "failure": "timeout",
                    "msg": f"no reply from the background run in {params['dest']}"}  # fmt: skip
        time.sleep(0.05)
    with open(path) as handle:
        return json.load(handle)


def answer(step) -> dict:
    """Run one step; any outcome becomes a reply."""
    try:
        reply = step()
    except CellError as exc:
        return {"failed": True, "failure": exc.kind, "msg": str(exc)}
    except UsageError as exc:
        return {"failed": True, "msg": f"wirebench-agent: {exc}"}
    except OSError as exc:
        # The server stopped answering between steps (its port was open a moment before).
        return {"failed": True, "failure": "no_answer", "msg": str(exc)}
    except Exception as exc:  # a bug here must still reach the run as a reply
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return {
            "failed": True,
            "failure": "benchmark_error",
            "msg": f"wirebench-agent failed: {type(exc).__name__}: {exc} "
            f"({os.path.basename(where.filename)}:{where.lineno})",
        }
    return {"failed": bool(reply.pop("failed", False)), **reply}


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {"unit": run_unit, "load": run_load, "network": run_network, "tune": run_tune}
    if not args or args[0] not in commands:
        reply = {"failed": True, "msg": "usage: wirebench-agent unit|load|network|tune ..."}
    else:
        reply = answer(lambda: commands[args[0]](args[1:]))
    json.dump(reply, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
