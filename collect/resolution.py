"""How finely a run tells shares of redis apart, from its own repetitions, and how often its
statistics see a difference between cells that are the same (an A/A run).

**Resolution** of a workload's test on a server host: take every cell of it other than native
redis itself (whose paired share is 1.0 by definition) with at least two paired shares
(collect/pairing.py), and pool the spread of the logarithms of their paired shares::

    s² = Σ (nᵢ - 1) · varᵢ / Σ (nᵢ - 1)        df = Σ (nᵢ - 1)

With n the median number of pairs per cell and t Student's two-sided 95% quantile at df:

- one cell's share is known to within ±(exp(t · s / √n) - 1), the 95% half-width of the
  mean log share of one cell;
- two cells are told apart when their shares differ by more than exp(t · s · √(2/n)) - 1, the
  95% half-width of the difference of two such means: the smallest difference this run can
  resolve. A smaller difference is within the run's noise.

Logarithms because shares are ratios (a cell at 0.5 and one at 1.0 vary by similar factors,
not by similar amounts); pooled because a cell's five repetitions say little about their own
spread, the workload's cells together say more. It assumes the cells' log shares spread
alike, which the order-statistics interval of each cell's share (in the tables) does not.

**Identical cells** (A/A): a *twin* is native redis measured again as a cell of its own:
``redis-twin@native`` (presets/aa.yml) or ``redis@by-hand`` (the instrument check's bare
client). Each twin, against native redis in its section, is a false positive when compare's
significance test (collect/significance.py, on the two cells' rates) calls them different, or
when its paired share's 95% interval leaves out 1.0.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import cached_property

from collect import tables
from collect.model import BASELINE
from collect.pairing import is_reference, summary_key
from collect.significance import Difference, difference_test
from collect.stats import student_t_quantile

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
TWIN_IMPLEMENTATION = "redis-twin"


@dataclass(frozen=True)
class Resolution:
    server_host: str | None
    workload: str
    test: str
    cells: int  # cells pooled: at least two paired shares each, native redis left out
    pairs_per_cell: float | None  # the median over those cells
    spread: float | None  # the pooled standard deviation of ln(paired share)
    degrees_of_freedom: int
    profile: str = BASELINE  # the tuning profile of the section's cells

    @cached_property
    def t(self) -> float | None:
        if not self.degrees_of_freedom:
            return None
        return student_t_quantile(CONFIDENCE, self.degrees_of_freedom)

    @property
    def half_width(self) -> float | None:
        """One cell's share: ± this fraction of itself, at 95%."""
        if self.spread is None or self.t is None:
            return None
        return math.exp(self.t * self.spread / math.sqrt(self.pairs_per_cell)) - 1

    @property
    def difference(self) -> float | None:
        """The smallest relative difference between two cells' shares resolved at 95%."""
        if self.spread is None or self.t is None:
            return None
        return math.exp(self.t * self.spread * math.sqrt(2 / self.pairs_per_cell)) - 1

    def pairs_for(self, difference: float, most: int = 10_000) -> int | None:
        """Pairs per cell it would take to resolve ``difference`` at this run's spread, with
        as many cells (None: no spread measured, or more than ``most``)."""
        if not self.spread:
            return None
        target = math.log1p(difference)
        # t is above the normal quantile at any df, so the normal answer is a lower bound.
        z = statistics.NormalDist().inv_cdf((1 + CONFIDENCE) / 2)
        pairs = max(2, math.ceil(2 * (z * self.spread / target) ** 2))
        while pairs <= most:
            t = student_t_quantile(CONFIDENCE, max(1, self.cells) * (pairs - 1))
            if t * self.spread * math.sqrt(2 / pairs) <= target:
                return pairs
            pairs += 1
        return None

    def to_json(self) -> dict:
        return {
            "server_host": self.server_host,
            "profile": self.profile,
            "workload": self.workload,
            "test": self.test,
            "cells": self.cells,
            "pairs_per_cell": self.pairs_per_cell,
            "spread_of_log_share": self.spread,
            "degrees_of_freedom": self.degrees_of_freedom,
            "share_half_width": self.half_width,
            "resolvable_difference": self.difference,
        }


def resolution(
    host, workload: str, test: str, cells: list[dict], shares: dict, profile: str = BASELINE
) -> Resolution:
    """The resolution of one section (its cells, and every cell's paired shares by key)."""
    logs = [
        [math.log(share) for share in shares.get(summary_key(cell), [])]
        for cell in cells
        if not is_reference(cell["implementation"], cell["interpreter"])
    ]
    logs = [values for values in logs if len(values) >= 2]
    df = sum(len(values) - 1 for values in logs)
    if not df:
        return Resolution(host, workload, test, 0, None, None, 0, profile)
    pooled = sum((len(values) - 1) * statistics.variance(values) for values in logs) / df
    return Resolution(
        server_host=host,
        workload=workload,
        test=test,
        cells=len(logs),
        pairs_per_cell=statistics.median(len(values) for values in logs),
        spread=math.sqrt(pooled),
        degrees_of_freedom=df,
        profile=profile,
    )


def is_twin(implementation: str, interpreter: str) -> bool:
    """Native redis measured again as a cell of its own: it should match native redis."""
    if implementation == TWIN_IMPLEMENTATION:
        return True
    return implementation == "redis" and not is_reference(implementation, interpreter)


@dataclass(frozen=True)
class TwinCheck:
    server_host: str | None
    workload: str
    test: str
    twin: str  # implementation@interpreter
    reference_n: int
    twin_n: int
    difference: Difference  # compare's test on the two cells' rates
    share: dict | None  # the twin's share_of_redis
    profile: str = BASELINE

    @property
    def compare_false_positive(self) -> bool:
        return self.difference.significant

    @property
    def share_interval(self) -> bool:
        return bool(self.share) and self.share["ci_low"] is not None

    @property
    def share_false_positive(self) -> bool:
        return self.share_interval and not self.share["ci_low"] <= 1.0 <= self.share["ci_high"]

    def to_json(self) -> dict:
        return {
            "server_host": self.server_host,
            "profile": self.profile,
            "workload": self.workload,
            "test": self.test,
            "twin": self.twin,
            "reference_n": self.reference_n,
            "twin_n": self.twin_n,
            "p_value": self.difference.p_value,
            "testable": self.difference.testable,
            "compare_false_positive": self.compare_false_positive,
            "share_of_redis": self.share,
            "share_false_positive": self.share_false_positive,
        }


def twin_checks(
    host, workload: str, test: str, cells: list[dict], profile: str = BASELINE
) -> list[TwinCheck]:
    """Each twin of a section against the section's native redis (both with ok repetitions)."""
    reference = next(
        (c for c in cells if is_reference(c["implementation"], c["interpreter"]) and c["rps"]),
        None,
    )
    if reference is None:
        return []
    found = []
    for cell in cells:
        if not is_twin(cell["implementation"], cell["interpreter"]) or not cell["rps"]:
            continue
        base, twin = reference["rps"]["values"], cell["rps"]["values"]
        found.append(
            TwinCheck(
                server_host=host,
                workload=workload,
                test=test,
                twin=f"{cell['implementation']}@{cell['interpreter']}",
                reference_n=len(base),
                twin_n=len(twin),
                difference=difference_test(base, twin, ALPHA),
                share=cell["share_of_redis"],
                profile=profile,
            )
        )
    return found


RESOLUTION_HEAD = [
    "workload",
    "test",
    "cells",
    "pairs per cell",
    "SD of ln share",
    "one share ±",
    "smallest difference resolved",
    "pairs per cell for 5%",
]
NOT_COMPUTABLE = "not computable: no cell other than native redis has two paired shares"


def workload_label(workload: str, profile: str) -> str:
    """A workload as a row names it: with its tuning profile unless baseline."""
    return workload if profile == BASELINE else f"{workload} under {profile}"


def resolution_row(item: Resolution) -> list[str]:
    workload = workload_label(item.workload, item.profile)
    if item.spread is None:
        return [workload, item.test, "0", *["–"] * 3, NOT_COMPUTABLE, "–"]
    return [
        workload,
        item.test,
        str(item.cells),
        f"{item.pairs_per_cell:g}",
        f"{item.spread:.4f}",
        tables.percent(item.half_width, 1),
        tables.percent(item.difference, 1),
        str(item.pairs_for(0.05) or "–"),
    ]


def resolution_table(found: list[Resolution]) -> str:
    if len({item.server_host for item in found}) > 1:
        rows = [[item.server_host or "–", *resolution_row(item)] for item in found]
        return tables.markdown(["server", *RESOLUTION_HEAD], rows)
    return tables.markdown(RESOLUTION_HEAD, [resolution_row(item) for item in found])


def plain_sentence(item: Resolution) -> str:
    if item.difference is None:
        return (
            f"- {workload_label(item.workload, item.profile)}: {item.test}: no resolution: it "
            "needs cells other than native redis with at least two repetitions paired with redis."
        )
    return (
        f"- {workload_label(item.workload, item.profile)}: {item.test}"
        + (f" on {item.server_host}" if item.server_host else "")
        + f": two cells whose shares of redis differ by more than "
        f"{tables.percent(item.difference, 1)} are told apart at 95% confidence; closer than "
        "that, this run cannot say which is faster."
    )


def twin_verdicts(check: TwinCheck) -> tuple[str, str]:
    if check.compare_false_positive:
        compared = f"DIFFERENT (p={check.difference.p_value:.3f}): a false positive"
    elif not check.difference.testable:
        compared = f"too few repetitions ({check.reference_n} and {check.twin_n})"
    else:
        compared = f"same (p={check.difference.p_value:.2f})"
    if not check.share:
        shared = "no pair with native redis"
    elif not check.share_interval:
        shared = (
            f"{tables.percent(check.share['median'], 1)}: too few pairs for a 95% interval "
            f"({check.share['pairs']})"
        )
    else:
        interval = tables.share_interval(check.share)
        verdict = (
            "excludes 100%: a false positive" if check.share_false_positive else "includes 100%"
        )
        shared = f"{tables.percent(check.share['median'], 1)} ({interval}), {verdict}"
    return compared, shared


def twin_lines(checks: list[TwinCheck]) -> list[str]:
    rows = [
        [
            check.server_host or "–",
            workload_label(check.workload, check.profile),
            check.test,
            f"redis@native vs {check.twin}",
            *twin_verdicts(check),
        ]
        for check in checks
    ]
    head = [
        "server",
        "workload",
        "test",
        "identical cells",
        "compare's test (rates)",
        "twin's share of redis (95% CI)",
    ]
    return [
        "### Identical cells (A/A)",
        "",
        "This run measured native redis a second time as a cell of its own (a twin). The two "
        "are the same, so any difference found between them is a false positive: compare's "
        "test shows how often the test behind `collect compare` cries wolf on this run, the "
        "twin's paired share whether its interval leaves out 100%.",
        "",
        tables.markdown(head, rows),
        "",
        false_positive_sentence(checks),
    ]


def false_positive_sentence(checks: list[TwinCheck]) -> str:
    """ "False positives: compare's test 0 of 2 ...; the twin's share interval 0 of 2 ..."."""
    testable = [c for c in checks if c.difference.testable]
    with_interval = [c for c in checks if c.share_interval]
    untestable = len(checks) - len(testable)
    without_interval = len(checks) - len(with_interval)
    return (
        f"False positives: compare's test {count(checks, 'compare_false_positive')} of "
        f"{len(testable)} testable"
        + (f" ({untestable} with too few repetitions)" if untestable else "")
        + f"; the twin's share interval {count(checks, 'share_false_positive')} of "
        f"{len(with_interval)} with an interval"
        + (f" ({without_interval} with too few pairs)" if without_interval else "")
        + ". Expected: 0; at 95%, about one check in twenty may still be one by chance."
    )


def twin_summary(checks: list[TwinCheck]) -> list[str]:
    """The terminal's line on identical cells (none without twins)."""
    return [f"Identical cells (A/A): {false_positive_sentence(checks)}"] if checks else []


def count(checks: list[TwinCheck], attribute: str) -> int:
    return sum(bool(getattr(check, attribute)) for check in checks)


def markdown_lines(found: list[Resolution], checks: list[TwinCheck]) -> list[str]:
    """The report's closing "Resolution" section."""
    lines = [
        "## Resolution",
        "",
        "How finely this run tells shares of redis apart, from its own repetitions (shares "
        "are paired as 'How to read this' says). For each workload and test: s, the pooled "
        "standard deviation of ln(paired share) over its cells (native redis left out: its "
        "share is 1 by definition; only cells with at least two pairs), and n, the median "
        "pairs per cell. One cell's share is known to ±(exp(t·s/√n) - 1), and two cells are "
        "told apart when their shares differ by more than exp(t·s·√(2/n)) - 1, with t "
        "Student's 95% two-sided quantile at the pooled degrees of freedom. The last column is "
        "how many pairs per cell would resolve a 5% difference at this spread.",
        "",
        resolution_table(found) if found else "No cell was measured.",
        "",
        *(plain_sentence(item) for item in found),
    ]
    if checks:
        lines += ["", *twin_lines(checks)]
    return lines
