#!/usr/bin/env python3
"""Compares the speed of ccrsim builds on one scenario, on one thread.

usage: bench/pair.py ROUNDS SEEDS BINARY... [--scenario NAME]

Each round runs every binary once (in alternating order from round to round) on the same seeds;
a binary's ratio to the first is taken within each round, where the machine's load is shared, and
the median over rounds is printed with its range. Build the binaries first, for example the
previous commit's with `git worktree add` and `cargo build --release` there.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

args = sys.argv[1:]
scenario = "deployment-chaos"
if "--scenario" in args:
    i = args.index("--scenario")
    scenario = args[i + 1]
    del args[i : i + 2]
if len(args) < 3:
    sys.exit(__doc__)
rounds, seeds, binaries = int(args[0]), args[1], args[2:]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
acceleration = {b: [] for b in binaries}
for r in range(rounds):
    for b in binaries if r % 2 == 0 else binaries[::-1]:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run.json")
            cmd = [b, "run", scenario, "--seeds", seeds, "--jobs", "1", "--quiet", "--json", out]
            subprocess.run(cmd, cwd=root, capture_output=True, check=False)
            summary = json.load(open(out))["summary"]
        acceleration[b].append(summary["sim_seconds"] / summary["seed_wall_seconds"])
for b in binaries:
    ratios = [a / first for a, first in zip(acceleration[b], acceleration[binaries[0]])]
    print(
        f"{b:40s} acceleration median {statistics.median(acceleration[b]):6.1f}x"
        f"  ratio to the first: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
