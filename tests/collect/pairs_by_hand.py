"""Paired shares of redis computed apart from collect, from a run.json document's samples:
numpy's linear interpolation of redis's rates at the middle of each repetition's measured
window (holding the first and last redis rate beyond them), to check collect against."""

from __future__ import annotations

import numpy as np

REFERENCE = ("redis", "native")


def middle(sample: dict) -> float:
    runs = sample["load_hosts"].values()
    return (min(r["started"] for r in runs) + max(r["ended"] for r in runs)) / 2


def interpolated_shares(document, implementation, interpreter, workload, test="GET", host=None):
    ok = [
        s
        for s in document["samples"]
        if s["status"] == "ok"
        and s["workload"] == workload
        and (host is None or s["server_host"] == host)
    ]
    redis = sorted(
        (middle(s), s["tests"][test]["rps"])
        for s in ok
        if (s["implementation"], s["interpreter"]) == REFERENCE
    )
    times, rates = zip(*redis)
    return [
        s["tests"][test]["rps"] / float(np.interp(middle(s), times, rates))
        for s in ok
        if (s["implementation"], s["interpreter"]) == (implementation, interpreter)
    ]
