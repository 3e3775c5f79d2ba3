#!/usr/bin/env python3
"""Merges the realistic-budget study's per-seed results.json files into one results.json (every run's
row, as study-training wrote it) and prints, per method, the final accuracy of each seed with its mean,
sample standard deviation and range: the table of README.md.

Usage: summarize.py OUT.json RESULTS.json [RESULTS.json ...]
"""
import json
import statistics
import sys


def main(out, inputs):
    rows = []
    for path in inputs:
        rows.extend(json.load(open(path)))
    rows.sort(key=lambda r: (r["method"], r["density"], r["seed"]))
    json.dump(rows, open(out, "w"), indent=1)
    print("| method | density | seeds | final accuracy per seed | mean | std | min-max | best round accuracy (mean) |")
    print("|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in rows:
        groups.setdefault((r["method"], r["density"]), []).append(r)
    order = ["dense_fedavg", "static_sparse", "fedtiny", "fedmef"]
    for (method, density), rs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1])):
        acc = [r["accuracy"] for r in rs]
        best = [max(a for a in r["accuracy_per_round"] if a is not None) for r in rs]
        std = statistics.stdev(acc) if len(acc) > 1 else float("nan")
        per_seed = ", ".join(f"{r['seed']}: {r['accuracy']:.4f}" for r in rs)
        print(f"| {method} | {density:g} | {len(rs)} | {per_seed} | {statistics.mean(acc):.4f} | {std:.4f} | "
              f"{min(acc):.4f}-{max(acc):.4f} | {statistics.mean(best):.4f} |")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
