"""Adaptive repetitions: whether a cell's next repetition is still needed, decided between
cells from what the run has measured so far (its raw folder on the controller).

``wirebench_adaptive`` is {} (off: every repetition is measured) or {target, min_repetitions,
interval}. Up to ``min_repetitions`` every repetition is measured. After that a cell stops once the
95% confidence interval of what the run reports about it is within ``target`` (relative
half-width) for every test of its workload:

- ``interval: rate`` (the default, and what runs before ``interval`` existed did): the
  interval of the median of the cell's own rates.
- ``interval: share``: the interval of the cell's share of native redis, paired as
  collect/pairing.py pairs it, which is what a report compares cells by. Native redis is
  every other cell's reference, so its repetitions go on while any cell of the same workload
  and tuning profile still needs pairs (a run with no such cell: redis stops on its own
  rate's interval).

A cell that stops stays stopped (its later repetitions read the first "not needed" and keep
it): a share's pairs are interpolated in time, so a later redis repetition can still move
its interval a little, and a cell does not start again over that. Native redis measured in
the round where the last cell reached its target is the one repetition that may turn out
not to have been needed.
"""

from __future__ import annotations

from pathlib import Path

from collect.model import OK, SKIPPED, Cell, ModelError, Sample
from collect.pairing import cell_key, is_reference, paired_shares
from collect.reader import NoRecord, read_cell
from collect.stats import relative_half_width

RATE = "rate"
SHARE = "share"
MODES = (RATE, SHARE)
# Not "on": YAML 1.1 reads `on: share` as the key true.
FIELDS = ("target", "min_repetitions", "interval")
REQUIRED_FIELDS = ("target", "min_repetitions")
# How a repetition found not needed is recorded (a skipped sample's reason starts so).
NOT_NEEDED = "not needed: "
# What each mode pins down, in the report's words.
WHAT = {RATE: "the median's 95% CI", SHARE: "the share of redis's 95% CI"}


def mode(adaptive: dict) -> str:
    return adaptive.get("interval") or RATE


def description(adaptive: dict) -> str:
    """The conditions line's words for an adaptive setting (not empty: on), as a run's
    run-meta.json recorded it (whatever a damaged one holds: words, never an error)."""
    interval, target = mode(adaptive), adaptive.get("target")
    what = WHAT.get(interval, f"the 95% CI of {interval!r}")
    if isinstance(target, bool) or not isinstance(target, (int, float)):
        return f"stop once {what} is within target (target not recorded)"
    return f"stop once {what} is within ±{100 * target:.0f}%"


def is_not_needed(reason) -> bool:
    """Whether a skipped repetition's reason is this module's "not needed"."""
    return isinstance(reason, str) and reason.startswith(NOT_NEEDED)


def needed(reason: str) -> dict:
    return {"needed": True, "reason": reason}


def verdict(cell: Cell, raw: Path, adaptive: dict) -> dict:
    """{"needed": bool, "reason": str} for this repetition of ``cell``, from the samples in
    ``raw`` (the server host's raw folder on the controller)."""
    if not adaptive or cell.repetition <= int(adaptive.get("min_repetitions", 6)):
        return needed("fixed repetitions")
    stopped = read_sample(Path(raw) / cell.with_repetition(cell.repetition - 1).dir)
    if stopped is not None and stopped.status == SKIPPED and is_not_needed(stopped.reason):
        return {"needed": False, "reason": stopped.reason}
    target = float(adaptive["target"])
    if mode(adaptive) == SHARE:
        samples = workload_samples(raw, cell)
        if is_reference(cell.implementation, cell.interpreter):
            others = [s for s in samples if not is_reference(s.implementation, s.interpreter)]
            if others:
                return reference_verdict(others, samples, target)
        else:
            shares = paired_shares(samples)
            return widths_verdict(share_widths(cell, samples, shares), target, "share of redis's")
    return widths_verdict(rate_widths(cell, raw), target, "median's")


def widths_verdict(widths: dict[str, tuple[float | None, int]], target: float, what: str):
    """Not needed once every test's interval is within ``target``. ``widths``: test ->
    (relative half-width or None without an interval, how many values it is from)."""
    if not widths or any(width is None or width > target for width, _ in widths.values()):
        return needed("confidence interval not yet within target")
    worst = max(width for width, _ in widths.values())
    count = min(values for _, values in widths.values())
    return {
        "needed": False,
        "reason": f"{NOT_NEEDED}the {what} 95% confidence interval is within "
        f"±{100 * worst:.1f}% (target ±{100 * target:.1f}%) after {count} repetitions",
    }


def reference_verdict(others: list[Sample], samples: list[Sample], target: float) -> dict:
    """Native redis: needed while one of the cells it is the reference for still is."""
    shares = paired_shares(samples)  # once for every cell it is paired with
    for other in sorted({s.cell.with_repetition(1) for s in others}, key=lambda c: c.id):
        if widths_verdict(share_widths(other, samples, shares), target, "")["needed"]:
            return needed(f"{other.implementation}@{other.interpreter} still needs pairs")
    return {
        "needed": False,
        "reason": f"{NOT_NEEDED}every cell paired with it has its share of redis's 95% "
        f"confidence interval within ±{100 * target:.1f}%",
    }


def share_widths(
    cell: Cell, samples: list[Sample], shares: dict[tuple, list[float]]
) -> dict[str, tuple[float | None, int]]:
    """test -> the relative half-width of the cell's share interval, and its pairs
    (``shares``: paired_shares of ``samples``)."""
    widths = {}
    for sample in samples:
        if sample.status != OK or not same_cell(sample, cell):
            continue
        for test in sample.rps:
            pairs = shares.get(cell_key(sample, test), [])
            widths[test] = (relative_half_width(pairs) if pairs else None, len(pairs))
    return widths


def rate_widths(cell: Cell, raw: Path) -> dict[str, tuple[float | None, int]]:
    """test -> the relative half-width of the median of the cell's earlier rates."""
    rates: dict[str, list[float]] = {}
    for repetition in range(1, cell.repetition):
        sample = read_sample(Path(raw) / cell.with_repetition(repetition).dir)
        if sample is not None and sample.status == OK:
            for test, rate in sample.rps.items():
                rates.setdefault(test, []).append(rate)
    return {test: (relative_half_width(values), len(values)) for test, values in rates.items()}


def same_cell(sample: Sample, cell: Cell) -> bool:
    """Whether ``sample`` is a repetition of ``cell`` (any repetition)."""
    return sample.cell.with_repetition(cell.repetition) == cell


def workload_samples(raw: Path, cell: Cell) -> list[Sample]:
    """The samples so far of the cell's workload and tuning profile that its verdict needs:
    native redis's needs every cell's, another cell's only its own and redis's (a verdict is
    made before every cell, so a long run does not read all of its folders each time)."""
    everyone = is_reference(cell.implementation, cell.interpreter)
    samples = []
    for folder in sorted(Path(raw).iterdir()) if Path(raw).is_dir() else []:
        try:
            found = Cell.from_dir(folder.name)
        except ValueError:
            continue
        wanted = (
            everyone
            or is_reference(found.implementation, found.interpreter)
            or (
                (found.implementation, found.interpreter) == (cell.implementation, cell.interpreter)
            )
        )
        if wanted and (found.workload, found.profile) == (cell.workload, cell.profile):
            sample = read_sample(folder)
            if sample is not None:
                samples.append(sample)
    return samples


def read_sample(folder: Path) -> Sample | None:
    if not folder.is_dir():
        return None
    try:
        return read_cell(folder)
    except (NoRecord, ModelError):  # not measured yet, or damaged: no sample to learn from
        return None
