#!/usr/bin/env python3
"""Summarises an nsys cuda_gpu_trace CSV of bench_model (tools/device-fast.sh trace).

Decode steps are cut at each embedding kernel; the last --steps complete steps
with the most common kernel count are kept.  Printed: the step time (first
start to last end), the sum of kernel durations, and per kernel (short name,
in step order, grouped) its count per step, median duration and median idle
gap before it (start minus the previous kernel's end: negative where PDL
overlaps them).  A reading aid for the device log, not a benchmark.
"""
import argparse
import csv
import re
import statistics
import sys
from collections import Counter, OrderedDict


def short(name):
    name = re.sub(r"\(.*$", "", name)  # arguments
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"<.*>", "<>", name)
    return name[:48]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--steps", type=int, default=12)
    a = ap.parse_args()
    rows = []
    with open(a.csv, newline="") as f:
        for r in csv.DictReader(f):
            try:
                st = int(r["Start (ns)"])
                du = int(r["Duration (ns)"])
            except (KeyError, ValueError):
                continue
            rows.append((st, du, short(r.get("Name", "?"))))
    rows.sort()
    if not rows:
        print("trace_summary: no rows in", a.csv)
        return 1
    steps, cur = [], None
    for r in rows:
        if "embedding" in r[2]:
            if cur:
                steps.append(cur)
            cur = [r]
        elif cur is not None:
            cur.append(r)
    if cur:
        steps.append(cur)
    if not steps:
        print("trace_summary: no embedding kernel: no step found")
        return 1
    n_common = Counter(len(s) for s in steps[-3 * a.steps:]).most_common(1)[0][0]
    keep = [s for s in steps if len(s) == n_common][-a.steps:]
    names = [r[2] for r in keep[0]]
    keep = [s for s in keep if [r[2] for r in s] == names]
    print(f"trace: {len(keep)} steps of {n_common} kernels (layers {a.layers})")
    wall = statistics.median((s[-1][0] + s[-1][1] - s[0][0]) / 1e3 for s in keep)
    busy = statistics.median(sum(r[1] for r in s) / 1e3 for s in keep)
    print(f"  step {wall:.1f} us, kernel time summed {busy:.1f} us, idle/overlap {wall - busy:.1f} us")
    per = OrderedDict()
    for i, nm in enumerate(names):
        d = [s[i][1] / 1e3 for s in keep]
        g = [(s[i][0] - (s[i - 1][0] + s[i - 1][1])) / 1e3 for s in keep] if i else [0.0]
        e = per.setdefault(nm, [0, [], []])
        e[0] += 1
        e[1].append(statistics.median(d))
        e[2].append(statistics.median(g))
    print(f"  {'kernel':48} {'n':>4} {'dur us (med)':>12} {'sum us':>9} {'gap us (med)':>12} {'gap sum':>9}")
    for nm, (n, d, g) in per.items():
        print(f"  {nm:48} {n:4d} {statistics.median(d):12.2f} {sum(d):9.1f} "
              f"{statistics.median(g):12.2f} {sum(g):9.1f}")
    # one layer's sequence, durations and gaps, where the layers repeat
    if a.layers > 1:
        per_layer = (n_common - 2) // a.layers
        start = 1
        s = keep[-1]
        print(f"  one layer (kernels {start}..{start + per_layer - 1} of the last step):")
        for i in range(start, min(start + per_layer + 1, len(s))):
            gap = (s[i][0] - (s[i - 1][0] + s[i - 1][1])) / 1e3
            print(f"    {s[i][2]:48} {s[i][1] / 1e3:8.2f} us  gap {gap:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
