"""Keep one cell on the controller: its load hosts' raw files, the unit's journal when it
would not start, and the run's record of the cell (sample.json), each written atomically.

An action plugin, so it runs inside the controller's Ansible worker: no module to ship, no
process to start, no round trip (copy and fetch cost about a second a cell). collect's reader
makes the sample of the folder this writes, for the progress line, the adaptive decision
and the report alike.
"""

from __future__ import annotations

import json
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# The controller's venv has the project: collect's writer stages every file of a folder and
# renames them only once all are written (a link in the way is replaced, never written
# through), as it does for the reports.
from collect.model import Cell, ModelError
from collect.outputs import write_all

# What the run itself saw of a cell (the reader decides the rest from the raw files).
RECORD_FIELDS = ("requests", "warmup_rps", "verified", "failure", "reason")
CELL_FIELDS = (
    "id", "implementation", "interpreter", "workload", "repetition", "profile", "unit", "port",
)  # fmt: skip


def make_folder(path: str) -> None:
    if os.path.islink(path):
        raise AnsibleActionFail(f"{path} is a symlink: wirebench writes only real folders")
    os.makedirs(path, mode=0o755, exist_ok=True)


def safe_name(name: str, what: str) -> str:
    if not name or name in (".", "..") or "/" in name:
        raise AnsibleActionFail(f"{what} {name!r} cannot be a folder or file name")
    return name


def identity(cell: dict) -> dict:
    """What sample.json keeps of the cell dict: its names, id, tuning profile (baseline when
    the dict has none), unit and port. Its id and folder must be the model's for its fields,
    or collect's reader would refuse the folder: refused here, before anything is written."""
    try:
        model = Cell.of(cell)
    except (KeyError, ModelError) as exc:
        raise AnsibleActionFail(f"cell {cell.get('id')!r} is not a cell: {exc}") from None
    if (cell.get("id"), cell.get("dir", model.dir)) != (model.id, model.dir):
        raise AnsibleActionFail(
            f"cell {cell.get('id')!r} (folder {cell.get('dir')!r}) is {model.id!r} "
            f"(folder {model.dir!r}) by its fields"
        )
    kept = {key: cell.get(key) for key in CELL_FIELDS if key in cell}
    return {**kept, "profile": model.profile}


def record(cell: dict, server_host: str, started, outcome: dict) -> dict:
    """The run's record of a cell: what it is, where and when it ran, what the run saw."""
    counters = outcome.get("counters") or {}
    return {
        **dict.fromkeys(CELL_FIELDS),
        **identity(cell),
        "server_host": server_host,
        "cell_started": float(started),
        "cell_ended": time.time(),
        **{key: outcome.get(key) for key in RECORD_FIELDS},
        "counters": {"before": counters.get("before"), "after": counters.get("after")},
    }


def skipped_record(cell: dict, server_host: str, reason: str) -> dict:
    """A cell not measured, and why (a combination the host cannot run, or a repetition
    adaptive repetitions found not needed)."""
    return {
        **identity(cell),
        "server_host": server_host,
        "status": "skipped",
        "reason": reason,
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # It writes results: under --check it is skipped, like the measurement it would record.
    _supports_check_mode = False
    _VALID_ARGS = frozenset(("cell", "raw_dir", "server_host", "started", "outcome", "skipped"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        cell, raw_dir, outcome = args["cell"], args["raw_dir"], args.get("outcome") or {}
        folder = os.path.join(raw_dir, safe_name(cell["dir"], "cell folder"))
        try:
            make_folder(folder)
            for host, files in sorted((outcome.get("artefacts") or {}).items()):
                host_folder = os.path.join(folder, safe_name(host, "load host"))
                make_folder(host_folder)
                write_all(
                    host_folder, {safe_name(name, "file"): text for name, text in files.items()}
                )
            if outcome.get("journal"):
                write_all(folder, {"journal.txt": outcome["journal"] + "\n"})
            # Last: a folder with raw files and no sample.json is a cell in flight.
            if args.get("skipped"):
                document = skipped_record(cell, args["server_host"], args["skipped"])
            else:
                document = record(cell, args["server_host"], args["started"], outcome)
            write_all(
                folder, {"sample.json": json.dumps(document, indent=4, sort_keys=True) + "\n"}
            )
        except OSError as exc:
            raise AnsibleActionFail(f"cannot keep {cell.get('id')} in {folder}: {exc}") from exc
        result.update(changed=True, folder=folder)
        return result
