#!/usr/bin/env python3
"""RPO and RTO distributions of sweeps, one row per report and kind of group.

usage: bench/recovery.py REPORT.json...

Each REPORT.json is `ccrsim run SCENARIO --seeds N --json REPORT.json`. Every failover a seed
report lists (`failovers`: a group's leader or primary lost, checkers/failovers.rs) is counted once,
whatever fault kinds were in effect (the sweep's own `recovery` summary counts a failover under each
kind in effect). Groups are told apart by kind: controller groups (Raft) and SequoiaDB data groups.
Percentiles are nearest-rank, as in the sweep summary. Prints a Markdown table.
"""
import json
import math
import os
import sys


def rank(values, p):
    values = sorted(values)
    return values[min(max(math.ceil(p * len(values)), 1), len(values)) - 1]


def stats(values):
    if not values:
        return "-"
    return f"{rank(values, 0.5):.2f} / {rank(values, 0.99):.2f} / {max(values):.2f}"


if len(sys.argv) < 2:
    sys.exit(__doc__)
print("| scenario | groups | seeds | failovers | without a new leader | to a new leader, s (median / p99 / max) "
      "| to serving, s | lost writes per failover | lost writes in all | seconds of writing lost per failover |")
print("|---|---|---|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    report = json.load(open(path))
    name = os.path.basename(path).removesuffix(".json")
    by_kind = {}
    for seed in report["seeds"]:
        for f in seed.get("failovers", []):
            kind = "controllers" if f["group"].endswith("controllers") else "data groups"
            by_kind.setdefault(kind, []).append(f)
    for kind, fs in sorted(by_kind.items()):
        led = [f for f in fs if f["to_leader_s"] is not None]
        served = [f["to_caught_up_s"] for f in fs if f["to_caught_up_s"] is not None]
        lost = [f["lost_writes"] for f in fs]
        span = [f["lost_span_s"] for f in fs]
        print(f"| {name} | {kind} | {len(report['seeds'])} | {len(fs)} | {len(fs) - len(led)} | "
              f"{stats([f['to_leader_s'] for f in led])} | {stats(served)} | "
              f"{rank(lost, 0.5)} / {rank(lost, 0.99)} / {max(lost)} | {sum(lost)} | {stats(span)} |")
