"""``collect compare``: two or more runs side by side, with a significance test per cell.

The first run is the base. For every cell present in every run: the medians, the ratio to
the base, and whether the difference is significant given the repetitions (two-sided
Mann–Whitney U). Runs of different format versions are refused; differing workloads and
conditions (hosts, versions, sysctls) are named as warnings, so a "faster" that comes from
a different NIC or a different pipeline depth is not mistaken for a faster server.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from collect import aggregate, outputs, rawfiles, snapshots, tables
from collect.model import BASELINE, Workload
from collect.report import Collected
from collect.rundir import FORMAT, RunDirError, load_run
from collect.significance import EXACT, difference_test

HOST_FIELDS = (
    "cpu_model",
    "cpu_count",
    "cpus_usable",
    "cpu_governors",
    "kernel",
    "distribution",
    "virtualization",
    "memory_kib",
)
WORKLOAD_FIELDS = tuple(f.name for f in fields(Workload) if f.name != "name")


def format_of(path: Path) -> str:
    """The format version a run folder declares (its run.json if collected, else its meta)."""
    for name in ("run.json", "run-meta.json"):
        try:
            document = rawfiles.read_json(path / name, path, limit=rawfiles.RUN_JSON_LIMIT)
        except rawfiles.MissingFile:
            continue
        except rawfiles.RawFileError as exc:
            raise RunDirError(f"{path}: {exc}") from None
        found = document.get("format") if isinstance(document, dict) else None
        return found if isinstance(found, str) else "none"
    raise RunDirError(f"{path}: not a wirebench run folder (no run.json or run-meta.json)")


def check_formats(paths: list[Path]) -> None:
    formats = {path: format_of(path) for path in paths}
    if len(set(formats.values())) > 1:
        listed = ", ".join(f"{path.name} is {found}" for path, found in formats.items())
        raise RunDirError(f"refusing to compare runs of different format versions: {listed}")
    found = next(iter(formats.values()))
    if found != FORMAT:
        raise RunDirError(f"the runs are format {found}; this compare reads {FORMAT}")


def flatten(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for key, inner in sorted(value.items()):
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value
    return out


def host_conditions(host: dict) -> dict:
    fields = {key: host.get(key) for key in HOST_FIELDS}
    fields["nic"] = {k: v for k, v in (host.get("nic") or {}).items() if k != "name"}
    fields["sysctls"] = host.get("sysctls") or {}
    # Which VM it is: a "faster" from another instance type is the VM's, not the server's.
    vm = host.get("vm") or {}
    fields["vm"] = {key: vm.get(key) for key in ("provider", "type", "zone", "cpu_platform")}
    extra = host.get("extra") or {}
    for key in ("redis_benchmark_version", "redis_server_version", "packages"):
        if key in extra:
            fields[key] = extra[key]
    if "interpreters" in extra:
        fields["interpreters"] = {n: i.get("build") for n, i in extra["interpreters"].items()}
    return flatten("", fields, {})


def conditions(meta: dict) -> dict:
    """The conditions that should match for medians to be comparable, flattened."""
    found = {
        "wirebench_version": meta.get("wirebench_version"),
        "git_revision": meta.get("git_revision"),
        "repetitions": (meta.get("matrix") or {}).get("repetitions"),
        "load host count": len(meta.get("load_hosts") or {}),
        "tuning profiles": (meta.get("matrix") or {}).get("tuning_profiles") or [BASELINE],
        # wirebench_server_parser (runs before it: auto).
        "server parser": (meta.get("matrix") or {}).get("server_parser") or "auto",
    }
    for role in ("servers", "load_hosts"):
        hosts = meta.get(role) or {}
        # Compared by role, not by name: comparing VM type A with B means other host names.
        for index, name in enumerate(sorted(hosts)):
            label = f"{role[:-1].replace('_', ' ')}{'' if len(hosts) == 1 else f' {index + 1}'}"
            for key, value in host_conditions(hosts[name]).items():
                found[f"{label} {key}"] = value
    return found


def differences(runs: list[Collected], names: list[str]) -> list[str]:
    """One line per condition or workload field that is not the same in every run."""
    warnings = []
    found = [conditions(run.run.meta) for run in runs]
    for key in sorted(set().union(*found)):
        values = [f.get(key) for f in found]
        if any(value != values[0] for value in values[1:]):
            listed = " vs ".join(f"{v!r} ({n})" for v, n in zip(values, names))
            warnings.append(f"{key} differs: {listed}")
    definitions = [run.run.workloads for run in runs]
    for workload in sorted(set().union(*definitions)):
        present = [d.get(workload) for d in definitions]
        if any(p is None for p in present):
            missing = [n for n, p in zip(names, present) if p is None]
            warnings.append(f"workload {workload} is not in {', '.join(missing)}")
            continue
        for field in WORKLOAD_FIELDS:
            values = [getattr(p, field) for p in present]
            if any(value != values[0] for value in values[1:]):
                listed = " vs ".join(f"{v!r} ({n})" for v, n in zip(values, names))
                warnings.append(f"workload {workload}: {field} differs: {listed}")
    # Each host's settings, as found and under each profile, read by the agent.
    return warnings + snapshots.compare_warnings([run.run.snapshots for run in runs], names)


def key_of(cell: dict, with_host: bool) -> tuple:
    """(server host when several, implementation, interpreter, workload, test, profile):
    a cell is matched across runs under the same tuning profile."""
    key = (
        cell["implementation"],
        cell["interpreter"],
        cell["workload"],
        cell["test"],
        cell["profile"],
    )
    return ((cell["server_host"],) if with_host else ()) + key


def label_of(key: tuple) -> str:
    *host, implementation, interpreter, workload, test, profile = key
    text = f"{implementation}@{interpreter} {workload}:{test}"
    if profile != BASELINE:
        text += f" under {profile}"
    return f"{host[0]}: {text}" if host else text


def side(cell: dict) -> dict:
    """What a comparison shows of one run's cell."""
    return {
        "median": cell["rps"]["median"],
        "cv": cell["rps"]["cv"],
        "n": len(cell["rps"]["values"]),
        "flags": cell["flags"],
        "share_of_redis": cell["share_of_redis"],
        "share": tables.share_phrase(cell),
    }


def compared_rows(runs: list[Collected], alpha: float):
    with_host = any(len({c["server_host"] for c in run.cells}) > 1 for run in runs)
    indexed = [
        {key_of(c, with_host): c for c in run.cells if c["rps"] and c["samples_ok"]} for run in runs
    ]
    common = [key for key in indexed[0] if all(key in cells for cells in indexed[1:])]
    only = sorted({key for cells in indexed for key in cells} - set(common))
    rows = []
    for key in common:
        base = indexed[0][key]
        others = []
        for cells in indexed[1:]:
            other = cells[key]
            result = difference_test(base["rps"]["values"], other["rps"]["values"], alpha)
            others.append(
                {
                    **side(other),
                    "ratio": other["rps"]["median"] / base["rps"]["median"],
                    "p_value": result.p_value,
                    "method": result.method,
                    "significant": result.significant,
                    "testable": result.testable,
                }
            )
        rows.append({"key": key, "label": label_of(key), "base": side(base), "others": others})
    return rows, [label_of(key) for key in only]


def verdict(entry: dict) -> str:
    if entry["significant"]:
        return f"yes (p={entry['p_value']:.3f})"
    if not entry["testable"]:
        return "too few repetitions"
    return f"no (p={entry['p_value']:.2f})"


def with_share(entry: dict) -> str:
    text = f"{tables.rate(entry['median'])} (n={entry['n']})"
    return f"{text}, {entry['share']}" if entry["share"] else text


def table(rows, names):
    header = ["cell", f"{names[0]} median"]
    for name in names[1:]:
        header += [f"{name} median", "ratio", "significant"]
    body = []
    for row in rows:
        line = [row["label"], with_share(row["base"])]
        for entry in row["others"]:
            line += [with_share(entry), f"{entry['ratio']:.3f}", verdict(entry)]
        body.append(line)
    return header, body


def method_line(rows, alpha: float) -> str:
    methods = {entry["method"] for row in rows for entry in row["others"]}
    how = (
        "exact distribution"
        if methods <= {EXACT}
        else "exact distribution without ties, normal approximation with tie correction "
        "where repetitions tie"
    )
    return (
        f"Significance: two-sided Mann–Whitney U test on the repetitions' requests/s ({how}), "
        f"at α = {alpha}. Few repetitions cannot reach it (3 against 3 gives p ≥ 0.1 whatever "
        "the numbers): such cells say 'too few repetitions'."
    )


def compare(paths, out=None, alpha: float = 0.05, with_plots: bool = True) -> str:
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_dir():
            raise RunDirError(f"{path}: no such folder")
    paths = [path.resolve() for path in paths]
    check_formats(paths)
    runs = [Collected(load_run(p), aggregate.Thresholds()) for p in paths]
    names = [p.resolve().name for p in paths]
    if len(set(names)) != len(names):
        names = [str(p) for p in paths]
    out = Path(out) if out else paths[0].resolve().parent / ("compare-" + "-vs-".join(names))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise outputs.OutputError(f"cannot make {out}: {outputs.describe(exc)}") from None
    warnings = differences(runs, names)
    rows, only = compared_rows(runs, alpha)
    header, body = table(rows, names)
    image = None
    if with_plots and rows:
        from collect import plots

        image = plots.comparison_plot(rows, names)
    plot = "compare.png" if image else None
    markdown = [
        f"# wirebench compare: {' vs '.join(names)}",
        "",
        "Base: " + names[0] + ". Ratio: the other run's median over the base's. Each median "
        "also shows the cell's share of native redis in the same run (the median of its "
        "repetitions' shares, each paired with redis measured next to it in time, and its 95% "
        "interval): when every cell moved, native redis included, the machine changed, not the "
        f"servers. `{tables.CLIENT_BOUND_SHARE}`: above redis's share while redis was "
        "CLIENT-BOUND, so the comparison is bounded by the client.",
        "",
        method_line(rows, alpha),
        "",
        "## Differences in conditions",
        "",
        *([f"- WARNING: {w}" for w in warnings] or ["- none: same workloads and conditions"]),
        "",
        "## Cells in every run",
        "",
        tables.markdown(header, body) if body else "No cell was measured in every run.",
    ]
    if only:
        markdown += ["", "## Cells in only some runs", "", *(f"- {label}" for label in only)]
    if plot:
        markdown += ["", f"![compare]({plot})"]
    outputs.write_all(
        out, {"compare.md": "\n".join(markdown) + "\n", **({plot: image} if image else {})}
    )
    terminal = [
        f"compare {' vs '.join(names)} (base {names[0]})",
        *(f"WARNING: {w}" for w in warnings),
        "",
        tables.plain(header, body) if body else "no cell was measured in every run",
        "",
        method_line(rows, alpha),
        f"written: {out / 'compare.md'}" + (f", {out / plot}" if plot else ""),
    ]
    return "\n".join(terminal)
