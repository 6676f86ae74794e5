"""PNG plots of a run (throughput, latency) and of a comparison (ratios), with matplotlib."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only: the controller may have no display
import matplotlib.pyplot as plt

from collect import tables
from collect.model import BASELINE
from collect.pairing import is_reference

# Same interpreter, same colour in every plot.
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
# PNG metadata without the creation time, so the same run gives the same file.
PNG_METADATA = {"Software": None}


def colours(interpreters):
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(interpreters)}


def grid_of(count: int):
    columns = 1 if count == 1 else 2
    return math.ceil(count / columns), columns


def throughput_axes(ax, cells, implementations, interpreters, title):
    names = tables.ordered({c["implementation"] for c in cells}, implementations)
    columns = tables.ordered({c["interpreter"] for c in cells}, ["native", *interpreters])
    palette = colours(columns)
    by_position = {(c["implementation"], c["interpreter"]): c for c in cells if c["rps"]}
    # Each implementation's bars are centred on its tick, however many interpreters it has.
    present = {name: [i for i in columns if (name, i) in by_position] for name in names}
    width = 0.8 / max(len(found) for found in present.values())
    for interpreter in columns:
        xs, heights, low, high = [], [], [], []
        for x, name in enumerate(names):
            cell = by_position.get((name, interpreter))
            if cell:
                stats = cell["rps"]
                slot = present[name].index(interpreter) - (len(present[name]) - 1) / 2
                xs.append(x + slot * width)
                heights.append(stats["median"])
                low.append(stats["median"] - stats["min"])
                high.append(stats["max"] - stats["median"])
        if xs:
            ax.bar(xs, heights, width, label=interpreter, color=palette[interpreter])
            ax.errorbar(xs, heights, yerr=[low, high], fmt="none", ecolor="black", capsize=3)
    reference = [
        c["rps"]["median"]
        for c in cells
        if is_reference(c["implementation"], c["interpreter"]) and c["rps"]
    ]
    if reference:
        ax.axhline(reference[0], color="black", linestyle="--", linewidth=1, label="native redis")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("requests/s (median; whiskers min–max)")
    ax.set_title(title)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)


def latency_axes(ax, cells, implementations, interpreters, title):
    order = {name: i for i, name in enumerate(implementations)}
    measured = sorted(
        (c for c in cells if c["p50_latency_ms"] is not None),
        key=lambda c: (order.get(c["implementation"], len(order)), c["interpreter"]),
    )
    labels = [f"{c['implementation']}@{c['interpreter']}" for c in measured]
    ys = range(len(measured))
    ax.barh([y - 0.2 for y in ys], [c["p50_latency_ms"] for c in measured], 0.4, label="p50")
    ax.barh(
        [y + 0.2 for y in ys],
        [c["p99_latency_ms"] or 0 for c in measured],
        0.4,
        label="p99",
    )
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    # Log scale: p50 and p99 differ by an order of magnitude and both must stay readable.
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms, log scale (median over repetitions; worst load host)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(axis="x", alpha=0.3)


def png(figure) -> bytes:
    """The figure as PNG bytes (written by the caller, atomically, with the other outputs)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata=PNG_METADATA)
    plt.close(figure)
    return buffer.getvalue()


def figure_of(sections, draw, collected, height_per_row) -> bytes:
    rows, columns = grid_of(len(sections))
    figure, axes = plt.subplots(
        rows, columns, figsize=(7 * columns, height_per_row * rows), squeeze=False
    )
    several = len({section[1] for section in sections}) > 1
    for ax, (host, profile, workload, test, cells) in zip(axes.flat, sections):
        title = (
            f"{workload}: {test}"
            + (f" under {profile}" if several else "")
            + (f" on {host}" if host else "")
        )
        draw(ax, cells, collected.implementations, collected.interpreters, title)
    for ax in list(axes.flat)[len(sections) :]:
        ax.set_visible(False)
    figure.suptitle(f"wirebench run {collected.run.meta.get('run_id')}")
    figure.tight_layout()
    return png(figure)


def hosts_axes(ax, rows, servers, title):
    """One workload's test on several server hosts: each implementation's bars side by side,
    one per host (median; whiskers min–max), each host in its own colour."""
    labels = [f"{row['implementation']}@{row['interpreter']}" for row in rows]
    palette = colours(list(servers))
    width = 0.8 / len(servers)
    for index, (name, server) in enumerate(servers.items()):
        xs, heights, low, high = [], [], [], []
        for x, row in enumerate(rows):
            cell = row["cells"].get(name)
            if cell and cell["rps"]:
                stats = cell["rps"]
                xs.append(x + (index - (len(servers) - 1) / 2) * width)
                heights.append(stats["median"])
                low.append(stats["median"] - stats["min"])
                high.append(stats["max"] - stats["median"])
        if xs:
            ax.bar(xs, heights, width, label=server["label"], color=palette[name])
            ax.errorbar(xs, heights, yerr=[low, high], fmt="none", ecolor="black", capsize=3)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel("requests/s (median; whiskers min–max)")
    ax.set_title(title)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)


def hosts_figure(collected) -> bytes:
    """throughput.png of a run with several server hosts: bars grouped by host."""
    servers = collected.hosts["servers"]
    panels = []
    for workload, test in collected.host_sections():
        rows = {}
        for host, profile, w, t, cells in collected.sections():
            if (w, t) != (workload, test):
                continue
            for cell in cells:
                # A profile other than baseline is a bar group of its own.
                shown = cell["interpreter"] + ("" if profile == BASELINE else f" {profile}")
                key = (cell["implementation"], shown)
                row = rows.setdefault(
                    key, {"implementation": key[0], "interpreter": key[1], "cells": {}}
                )
                row["cells"][host] = cell
        order = {name: i for i, name in enumerate(collected.implementations)}
        ordered = sorted(
            rows.values(),
            key=lambda r: (order.get(r["implementation"], len(order)), r["interpreter"]),
        )
        if any(cell["rps"] for row in ordered for cell in row["cells"].values()):
            panels.append((f"{workload}: {test}, by server host", ordered))
    rows_n, columns = grid_of(len(panels))
    figure, axes = plt.subplots(rows_n, columns, figsize=(8 * columns, 5 * rows_n), squeeze=False)
    for ax, (title, rows) in zip(axes.flat, panels):
        hosts_axes(ax, rows, servers, title)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    figure.suptitle(f"wirebench run {collected.run.meta.get('run_id')}")
    figure.tight_layout()
    return png(figure)


def report_plots(collected) -> dict[str, bytes]:
    """throughput.png and latency.png, by name (none without any ok cell). With several
    server hosts, throughput.png groups each implementation's bars by host."""
    sections = [s for s in collected.sections() if any(c["rps"] for c in s[-1])]
    if not sections:
        return {}
    throughput = (
        hosts_figure(collected)
        if collected.several_hosts
        else figure_of(sections, throughput_axes, collected, 5)
    )
    return {
        "throughput.png": throughput,
        "latency.png": figure_of(sections, latency_axes, collected, 5),
    }


def comparison_plot(rows, names) -> bytes:
    """compare.png: each common cell's median in the other runs relative to the first run."""
    labels = [row["label"] for row in rows]
    figure, ax = plt.subplots(figsize=(9, max(3, 0.35 * len(rows) + 1.5)))
    height = 0.8 / max(1, len(names) - 1)
    for index, name in enumerate(names[1:]):
        ratios = [row["others"][index]["ratio"] or 0 for row in rows]
        ys = [y - 0.4 + height * (index + 0.5) for y in range(len(rows))]
        bars = ax.barh(ys, ratios, height, label=f"{name} / {names[0]}", left=0)
        for bar, row in zip(bars, rows):
            if row["others"][index]["significant"]:
                ax.annotate("*", (bar.get_width(), bar.get_y() + bar.get_height() / 2))
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("median requests/s relative to the first run (* significant)")
    ax.set_title(f"wirebench compare, base {names[0]}")
    ax.legend(fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return png(figure)
