#!/usr/bin/env python3
"""Derives a scenario's availability bounds ([expect] of the `availability` checker) from a sweep.

usage: bench/availability_bounds.py REPORT.json

REPORT.json is `ccrsim run SCENARIO --seeds N --json REPORT.json` on a model without known bugs.
Prints the worst seed's numbers and the bounds with the margin every shipped scenario uses: the
longest leaderless stretch x1.5 (rounded up to 100 ms), the Aborted and Unavailable shares x2 +
0.002 (rounded up to 0.001; judged only where a seed counted 50 operations, as the checker does),
the commit rate x0.7 (rounded down to a whole number; bounded only when at least 5 seeds had 10 s
of fault-free windows, as the checker judges it only then). The bounds are statistics of the sweep:
re-derive them with more seeds when a longer sweep breaks them on a correct model.
"""
import json
import math
import sys

SHARE_SAMPLE_MIN = 50  # sim/src/checkers/availability/mod.rs
RATE_TIME_MIN_S = 10.0

if len(sys.argv) != 2:
    sys.exit(__doc__)
report = json.load(open(sys.argv[1]))
seeds = [s for s in report["seeds"] if s.get("availability")]
leaderless = max((max(s["availability"]["leaderless_ms"].values(), default=0.0) for s in seeds), default=0.0)
shares = {"aborted": 0.0, "unavailable": 0.0}
for s in seeds:
    counted = s["availability"]["counted"]
    if counted["operations"] >= SHARE_SAMPLE_MIN:
        for k in shares:
            shares[k] = max(shares[k], counted[k] / counted["operations"])
rates = [s["availability"]["commits_per_s"] for s in seeds if s["availability"]["fault_free_s"] >= RATE_TIME_MIN_S]
n = len(seeds)
print(
    f"# Availability (checker `availability`), from a sweep of seeds 0..{n}: the worst seed's longest leaderless stretch "
    f"{leaderless:.0f} ms, aborted share {shares['aborted']:.4f}, unavailable share {shares['unavailable']:.4f}"
    + (f", commits per second {min(rates):.1f}" if len(rates) >= 5 else "")
    + "; bounds"
)
print("# with a margin (leaderless time x1.5, shares x2 + 0.002, commit rate x0.7).")
if len(rates) < 5:
    print("# Not bounded (commit rate: fewer than 5 seeds had 10 s of fault-free windows).")
print("[expect]")
print(f"aborted_share_max = {math.ceil((shares['aborted'] * 2 + 0.002) * 1000 - 1e-9) / 1000}")
print(f"unavailable_share_max = {math.ceil((shares['unavailable'] * 2 + 0.002) * 1000 - 1e-9) / 1000}")
print(f"leaderless_ms_max = {float(math.ceil(leaderless * 1.5 / 100) * 100)}")
if len(rates) >= 5:
    print(f"commits_per_s_min = {float(math.floor(min(rates) * 0.7))}")
