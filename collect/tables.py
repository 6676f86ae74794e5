"""The tables of a report, as rows of text, rendered as Markdown or for a terminal."""

from __future__ import annotations


def rate(value) -> str:
    return f"{value:,.0f}" if value is not None else "–"


def percent(value, digits: int = 0) -> str:
    return f"{100 * value:.{digits}f}%" if value is not None else "–"


def milliseconds(value) -> str:
    return f"{value:.3f}" if value is not None else "–"


def ordered(values, first):
    """``values`` with those named in ``first`` first, in that order, then the rest sorted."""
    values = set(values)
    return [v for v in first if v in values] + sorted(values - set(first))


def grid_text(cell: dict | None) -> str:
    """One grid cell: median requests/s, its spread (CV), its share of native redis, flags."""
    if cell is None:
        return ""
    if not cell["rps"]:
        return "failed: " + ", ".join(cell["failures"])
    text = f"{rate(cell['rps']['median'])} ±{percent(cell['rps']['cv'])}"
    if cell["share_of_native"] is not None:
        text += f" ({percent(cell['share_of_native'])})"
    if cell["flags"]:
        text += " " + " ".join(cell["flags"])
    return text


def grid(cells: list[dict], implementations: list[str], interpreters: list[str]):
    """The blog's table: rows implementations, columns interpreters (cells of one workload)."""
    by_position = {(c["implementation"], c["interpreter"]): c for c in cells}
    rows_named = ordered({c["implementation"] for c in cells}, implementations)
    columns = ordered({c["interpreter"] for c in cells}, ["native", *interpreters])
    header = ["implementation", *columns]
    rows = [
        [name, *(grid_text(by_position.get((name, column))) for column in columns)]
        for name in rows_named
    ]
    return header, rows


DETAIL_HEADER = [
    "implementation",
    "interpreter",
    "ok",
    "median rps",
    "min",
    "max",
    "CV",
    "% redis",
    "p50 ms",
    "p99 ms",
    "requests/server CPU-s",
    "client CPU",
    "load CPU busy",
    "flags",
]


def detail_rows(cells: list[dict], implementations, interpreters):
    order = {name: i for i, name in enumerate(implementations)}
    interpreter_order = {name: i for i, name in enumerate(["native", *interpreters])}
    rows = []
    for c in sorted(
        cells,
        key=lambda c: (
            order.get(c["implementation"], len(order)),
            c["implementation"],
            interpreter_order.get(c["interpreter"], len(interpreter_order)),
            c["interpreter"],
        ),
    ):
        stats = c["rps"] or {}
        ok = f"{c['samples_ok']}/{c['samples_ok'] + c['samples_failed']}"
        rows.append(
            [
                c["implementation"],
                c["interpreter"],
                ok,
                rate(stats.get("median")),
                rate(stats.get("min")),
                rate(stats.get("max")),
                percent(stats.get("cv"), 1) if stats else "–",
                percent(c["share_of_native"]),
                milliseconds(c["p50_latency_ms"]),
                milliseconds(c["p99_latency_ms"]),
                rate(c["requests_per_server_cpu_s"]),
                percent(c["client_cpu_share"]),
                percent(c["load_cpu_busy"]),
                " ".join(c["flags"]),
            ]
        )
    return DETAIL_HEADER, rows


def markdown(header, rows) -> str:
    def line(cells):
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def plain(header, rows) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line("-" * width for width in widths), *map(line, rows)])
