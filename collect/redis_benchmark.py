"""Parse redis-benchmark's ``--csv`` output.

Real output is untidy: ``WARNING:`` lines can land in stdout, a rate can be ``inf`` (a run
too short to time) or ``-nan``, and a run interrupted half-way prints what it has. Rows
that are not numbers are kept with the reason, never guessed at.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

HEADER = (
    "test",
    "rps",
    "avg_latency_ms",
    "min_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "max_latency_ms",
)
METRICS = HEADER[1:]


class ParseError(ValueError):
    """The output has no usable CSV table (names what was found instead)."""


@dataclass(frozen=True)
class Row:
    test: str
    metrics: dict[str, float]  # only the finite values
    problems: tuple[str, ...] = ()  # e.g. "rps is inf (run too short to time)"

    @property
    def usable(self) -> bool:
        return not self.problems and self.metrics.get("rps", 0) > 0


@dataclass(frozen=True)
class Output:
    rows: tuple[Row, ...]
    warnings: tuple[str, ...] = field(default=())  # non-CSV lines found in stdout

    def row(self, test: str) -> Row:
        for row in self.rows:
            if row.test == test:
                return row
        found = ", ".join(row.test for row in self.rows) or "none"
        raise KeyError(f"no row for test {test!r} in redis-benchmark output (found: {found})")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_csv(text: str) -> Output:
    """The rows of a ``redis-benchmark --csv`` stdout; ParseError if there is no table."""
    warnings = []
    table_lines = []
    for line in text.splitlines():
        if line.startswith('"'):
            table_lines.append(line)
        elif line.strip():
            warnings.append(line.strip())
    if not table_lines:
        detail = f": {warnings[0]}" if warnings else " (empty output)"
        raise ParseError(f"no CSV table in redis-benchmark output{detail}")
    try:
        # csv.Error: a NUL byte or a field past csv's size limit (not redis-benchmark's output).
        parsed = list(csv.reader(io.StringIO("\n".join(table_lines))))
    except csv.Error as exc:
        raise ParseError(f"not a CSV table ({exc})") from None
    header = tuple(parsed[0])
    if header != HEADER:
        raise ParseError(f"unexpected redis-benchmark CSV header: {','.join(header)[:200]}")
    rows = []
    for fields in parsed[1:]:
        if len(fields) != len(HEADER):
            warnings.append(f"truncated row: {','.join(fields)}")
            continue
        metrics = {}
        problems = []
        for name, raw in zip(METRICS, fields[1:]):
            value = _number(raw)
            if value is None:
                problems.append(f"{name} is {raw!r}")
            else:
                metrics[name] = value
        rows.append(Row(test=fields[0], metrics=metrics, problems=tuple(problems)))
    return Output(rows=tuple(rows), warnings=tuple(warnings))
