"""Read one run's folder: its metadata and every cell's sample, each through the one reader.

A run folder is what the run playbook writes (DESIGN.md): ``run-meta.json`` and
``raw/[<server host>/]<cell>/`` (collect/reader.py reads a cell folder). A bad cell folder
makes its sample ``failed`` with the reason, or is named among the run's problems; it never
stops the rest of the run from being read. A run-meta.json that cannot be used is a
RunDirError naming the field: without it there is no run to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from collect import network, rawfiles, snapshots, tuning
from collect.model import Cell, ModelError, Sample, Workload
from collect.reader import NoRecord, read_cell
from collect.shapes import (
    ANY,
    INTEGER,
    NUMBER,
    TEXT,
    Fields,
    ListOf,
    MapOf,
    Maybe,
    ShapeError,
    check,
)

FORMAT = "wirebench/1"

NIC = Fields(
    {"name": Maybe(TEXT), "driver": Maybe(TEXT), "speed_mbps": Maybe(NUMBER), "mtu": Maybe(NUMBER)}
)
HOST = Fields(
    {
        "cpu_model": Maybe(TEXT),
        "cpu_count": Maybe(INTEGER),
        "cpus_usable": Maybe(INTEGER),
        "cpus_online": Maybe(TEXT),
        "cpu_governors": Maybe(ListOf(TEXT)),
        "kernel": Maybe(TEXT),
        "distribution": Maybe(TEXT),
        "virtualization": Maybe(TEXT),
        "memory_kib": Maybe(NUMBER),
        "bench_address": Maybe(TEXT),
        "nic": Maybe(NIC),
        "sysctls": Maybe(MapOf(ANY)),
        # Which VM the host is (wirebench_host_metadata; runs before it have none).
        "vm": Maybe(
            Fields(
                {
                    **{
                        name: Maybe(TEXT)
                        for name in ("provider", "type", "region", "zone", "image", "cpu_platform")
                    },
                    "price_per_hour": Maybe(NUMBER),
                    "sources": Maybe(MapOf(TEXT)),
                    "probe": Maybe(TEXT),
                }
            )
        ),
        "extra": Maybe(
            Fields(
                {
                    "redis_server_version": Maybe(TEXT),
                    "redis_benchmark_version": Maybe(TEXT),
                    "interpreters": Maybe(
                        MapOf(Fields({"build": Maybe(TEXT), "version": Maybe(TEXT)}))
                    ),
                    "packages": Maybe(MapOf(MapOf(Maybe(TEXT)))),
                }
            )
        ),
    }
)
META = Fields(
    {
        "format": TEXT,
        "run_id": Maybe(TEXT),
        "started": Maybe(TEXT),
        "wirebench_version": Maybe(TEXT),
        "git_revision": Maybe(TEXT),
        "ansible_version": Maybe(TEXT),
        "servers": Maybe(MapOf(HOST)),
        "load_hosts": Maybe(MapOf(HOST)),
        "matrix": Maybe(
            Fields(
                {
                    "implementations": Maybe(ListOf(TEXT)),
                    "interpreters": Maybe(ListOf(Fields({"name": TEXT}))),
                    "workloads": Maybe(ListOf(Fields({"name": TEXT}))),
                    "repetitions": Maybe(INTEGER),
                    # {} when off (a fixed number of repetitions).
                    "adaptive": Maybe(
                        Fields(
                            {
                                "target": Maybe(NUMBER),
                                "min_repetitions": Maybe(INTEGER),
                                # rate or share (runs before it: rate).
                                "interval": Maybe(TEXT),
                            }
                        )
                    ),
                    "benchmark_timeout": Maybe(NUMBER),
                    # wirebench_tuning_profiles, in the order given (runs before: baseline).
                    "tuning_profiles": Maybe(ListOf(TEXT)),
                    # wirebench_server_parser: auto, python or hiredis (runs before: auto).
                    "server_parser": Maybe(TEXT),
                }
            )
        ),
    }
)


class RunDirError(ValueError):
    """The folder is not a wirebench run (names what is wrong with it)."""


@dataclass
class Run:
    path: Path
    meta: dict
    samples: list[Sample]
    workloads: dict[str, Workload] = field(default_factory=dict)  # the matrix's, by name
    problems: list[str] = field(default_factory=list)  # folder-level, e.g. a cell in flight
    network: list[network.NetworkPath] = field(default_factory=list)  # each pair's path
    tuning: list[tuning.Switch] = field(default_factory=list)  # each profile applied on a host
    # each host's settings, as found and under each profile
    snapshots: list[snapshots.Snapshot] = field(default_factory=list)


def read_meta(path: Path) -> dict:
    """run-meta.json, checked; RunDirError naming the field that is wrong."""
    try:
        meta = rawfiles.read_json(path / "run-meta.json", path)
    except rawfiles.RawFileError as exc:
        raise RunDirError(f"{path}: not a wirebench run folder: {exc}") from None
    if isinstance(meta, dict) and meta.get("format") != FORMAT:
        raise RunDirError(
            f"{path}: run-meta.json has format {meta.get('format')!r}; this collect reads {FORMAT}"
        )
    try:
        check_meta(meta)
    except (ShapeError, ModelError) as exc:
        raise RunDirError(f"{path}: run-meta.json: {exc}") from None
    return meta


def check_meta(meta) -> None:
    check(meta, META)
    for index, workload in enumerate((meta.get("matrix") or {}).get("workloads") or []):
        try:
            Workload.from_dict(workload)
        except ModelError as exc:
            raise ShapeError(f"matrix.workloads[{index}]: {exc}") from None


def load_run(path) -> Run:
    """Every sample of the run in ``path``; RunDirError if it is not a run folder at all."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path}: no such folder")
    path = path.resolve()  # results/latest is a link to the run: read the run itself
    meta = read_meta(path)
    workloads = {
        w["name"]: Workload.from_dict(w) for w in (meta.get("matrix") or {}).get("workloads") or []
    }
    servers = sorted(meta.get("servers") or {})
    only_server = servers[0] if len(servers) == 1 else None
    problems: list[str] = []
    samples = []
    for cell_dir, server_host in cell_folders(path / "raw", problems):
        relative = cell_dir.relative_to(path).as_posix()
        try:
            sample = read_cell(cell_dir, server_host=server_host or only_server, path=relative)
        except NoRecord:
            problems.append(
                f"{relative}: raw files without a sample.json (the cell was in flight when the "
                "run stopped); a resumed run measures it again"
            )
            continue
        samples.append(sample)
    samples = without_duplicates(samples, problems)
    samples.sort(key=lambda s: (s.server_host or "", s.id))
    paths, unread = network.read_paths(path, meta)
    switches, untrusted = tuning.read_switches(path)
    settings, unsure = snapshots.read_snapshots(path)
    return Run(path=path, meta=meta, samples=samples, workloads=workloads,
               problems=problems + unread + untrusted + unsure, network=paths,
               tuning=switches, snapshots=settings)  # fmt: skip


def is_cell_name(name: str) -> bool:
    try:
        Cell.from_dir(name)
    except ModelError:
        return False
    return True


def cell_folders(raw: Path, problems: list[str]):
    """(cell folder, its server host or None) for ``raw/<cell>`` and ``raw/<host>/<cell>``.

    Links are not followed (a link could lead out of the run folder), and anything else found
    where a cell or a server host's folder should be is named, not read.
    """
    if not raw.is_dir() or raw.is_symlink():
        if raw.exists() or raw.is_symlink():
            problems.append("raw is a link or not a folder; no sample read")
        return
    for name, kind in rawfiles.entries(raw):
        if kind == "dir" and is_cell_name(name):
            yield raw / name, None
        elif kind == "dir":
            for inner, inner_kind in rawfiles.entries(raw / name):
                if inner_kind == "dir" and is_cell_name(inner):
                    yield raw / name / inner, name
                else:
                    problems.append(f"raw/{name}/{inner}: not a cell folder; not read")
        else:
            what = {"link": "a symbolic link", "file": "a file"}.get(
                kind, "a FIFO, socket or device"
            )
            problems.append(f"raw/{name}: {what}, not a cell folder; not read")


def without_duplicates(samples: list[Sample], problems: list[str]) -> list[Sample]:
    """One sample per (server host, cell id): a copy elsewhere in the folder is named and
    left out, so no repetition counts twice."""
    kept: dict[tuple, Sample] = {}
    for sample in sorted(samples, key=lambda s: s.path or ""):
        key = (sample.server_host, sample.id)
        if key in kept:
            problems.append(
                f"{sample.path}: a second sample of {sample.id}"
                + (f" on {sample.server_host}" if sample.server_host else "")
                + f" (the first is {kept[key].path}); counted once"
            )
            continue
        kept[key] = sample
    return list(kept.values())
