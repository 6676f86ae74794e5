"""The tables of a report, as rows of text, rendered as Markdown or for a terminal."""

from __future__ import annotations

from collect.pairing import is_reference

TOO_FEW_PAIRS = "too few pairs for a 95% interval"
CLIENT_BOUND_SHARE = "≥ redis, client-bound"


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


def share_interval(share: dict) -> str:
    """A share's 95% interval, e.g. "96.8–105.2%" (the caller checks there is one)."""
    return f"{100 * share['ci_low']:.1f}–{percent(share['ci_high'], 1)}"


def bounded_by_client(cell: dict) -> bool:
    """A share above redis's, while redis was CLIENT-BOUND: redis's rate was the client's
    limit, so the server only matched what the client let redis do, not beat redis."""
    share = cell.get("share_of_redis")
    return bool(share and cell.get("redis_client_bound") and share["median"] > 1.0)


def share_text(cell: dict, detail: bool = False) -> str:
    """A cell's share of redis: its paired median, and in detail its 95% interval."""
    share = cell.get("share_of_redis")
    if not share:
        return "–"
    if is_reference(cell["implementation"], cell["interpreter"]):
        return "100% (reference)" if detail else "100%"
    if bounded_by_client(cell):
        return CLIENT_BOUND_SHARE
    text = percent(share["median"], 1 if detail else 0)
    if share["ci_low"] is not None:
        text += f" ({share_interval(share)})" if detail else f", CI {share_interval(share)}"
    elif detail:
        text += f" ({TOO_FEW_PAIRS}: {share['pairs']})"
    return text


def entry_rate(entry: dict) -> str:
    """A side-by-side entry's median rate and its flags ("failed" when it has none)."""
    text = rate(entry["rps"]) if entry["rps"] is not None else "failed"
    return text + (f" {' '.join(entry['flags'])}" if entry["flags"] else "")


def entry_share(row: dict, entry: dict, detail: bool) -> str:
    """A side-by-side entry's share of redis (``row`` names its implementation)."""
    cell = {
        "implementation": row["implementation"],
        "interpreter": row["interpreter"],
        "share_of_redis": entry["share_of_redis"],
        "redis_client_bound": entry["redis_client_bound"],
    }
    return share_text(cell, detail=detail)


def ratio_texts(ratio: dict, *notes: str) -> tuple[str, str]:
    """(the ratio with its 95% interval, the verdict with its p and ``notes``) of a
    significance.Ratio as JSON; without an interval, the ratio and the reason."""
    text = f"{ratio['ratio']:.3f}"
    if ratio["ci_low"] is None:
        return text, f"– ({ratio['reason']})"
    verdict = "yes" if ratio["significant"] else "no"
    said = ", ".join([f"p={ratio['p_value']:.3f}", *notes])
    return f"{text} ({ratio['ci_low']:.3f}–{ratio['ci_high']:.3f})", f"{verdict} ({said})"


def share_phrase(cell: dict) -> str:
    """A cell's share of redis in a sentence, as compare shows it ("" without one)."""
    share = cell.get("share_of_redis")
    if not share:
        return ""
    if bounded_by_client(cell):
        return CLIENT_BOUND_SHARE
    text = f"{percent(share['median'])} of redis"
    if is_reference(cell["implementation"], cell["interpreter"]):
        return text
    if share["ci_low"] is None:
        plural = "s" if share["pairs"] != 1 else ""
        return f"{text} (no 95% CI: {share['pairs']} pair{plural})"
    return f"{text} (CI {share_interval(share)})"


def grid_text(cell: dict | None) -> str:
    """One grid cell: median requests/s, its spread (CV), its share of native redis, flags."""
    if cell is None:
        return ""
    if not cell["rps"]:
        return "failed: " + ", ".join(cell["failures"])
    text = f"{rate(cell['rps']['median'])} ±{percent(cell['rps']['cv'])}"
    if cell["share_of_redis"]:
        text += f" ({share_text(cell)})"
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
    "share of redis (95% CI)",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "requests/server CPU-s",
    "client CPU",
    "load CPU busy",
    "steal, softirq",
    "resent, lost",
    "flags",
]


def interference_texts(found) -> list[str]:
    """The detail table's interference columns: peak steal and softirq shares of a used CPU,
    and TCP segments resent and NIC packets lost ("–" where the run recorded none)."""
    if not found:
        return ["–", "–"]
    resent = found.get("tcp_retransmitted")
    return [
        f"{percent(found.get('steal'), 1)}, {percent(found.get('softirq'), 1)}",
        f"{'–' if resent is None else resent}, {found.get('packets_lost', 0)}",
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
                share_text(c, detail=True),
                milliseconds(c["p50_latency_ms"]),
                milliseconds(c["p95_latency_ms"]),
                milliseconds(c["p99_latency_ms"]),
                milliseconds(c["max_latency_ms"]),
                rate(c["requests_per_server_cpu_s"]),
                percent(c["client_cpu_share"]),
                percent(c["load_cpu_busy"]),
                *interference_texts(c.get("interference")),
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
