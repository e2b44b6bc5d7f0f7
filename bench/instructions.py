#!/usr/bin/env python3
"""Counts the instructions ccrsim builds execute on the same seeds, under valgrind's callgrind.

usage: bench/instructions.py SEEDS BINARY... [--scenario NAME] [--seed-start S] [--keep DIR]

Wall time on a shared machine varies by up to 30% between runs; an instruction count does not: the
same binary on the same seeds gives the same count whatever else the machine is doing. It is not
wall time (a cache miss costs more than an add), so a speed claim gives both: this for the
direction and the size of a change, bench/pair.py for the time. Each binary runs its embedded
scenario on one thread; callgrind slows a run about fifty times, so one to three seeds are enough.
With --keep, the callgrind files stay in DIR for `callgrind_annotate`.
"""
import os
import re
import subprocess
import sys
import tempfile

args = sys.argv[1:]


def option(name, default):
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i : i + 2]
        return value
    return default


scenario = option("--scenario", "deployment-chaos")
seed_start = option("--seed-start", "0")
keep = option("--keep", None)
if len(args) < 2:
    sys.exit(__doc__)
seeds, binaries = args[0], args[1:]
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out_dir = keep or tempfile.mkdtemp()
counts = []
for i, binary in enumerate(binaries):
    out = os.path.join(out_dir, f"callgrind.{i}.out")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "run", scenario,
           "--seeds", seeds, "--seed-start", seed_start, "--jobs", "1", "--quiet"]
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or not found:
        sys.exit(f"{binary} failed under callgrind (exit {run.returncode}):\n{run.stderr[-2000:]}")
    counts.append(int(found.group(1)))
for binary, count in zip(binaries, counts):
    print(f"{binary:40s} {count / 1e9:8.3f} G instructions   ratio to the first {count / counts[0]:.3f}")
if keep:
    print(f"callgrind files in {out_dir}")
