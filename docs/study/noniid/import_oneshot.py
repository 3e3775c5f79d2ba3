#!/usr/bin/env python3
"""The IID, seed-0 rows of docs/study/oneshot in the names of this study, so they need not be run again.

The one-shot study ran the same code on the same IID partition (seed 0): fedprllm_oneshot with
comparison group layer or row and no weight scaling is this study's fedprllm_layer / fedprllm_row.
The non-IID runs reproduced its IID figures to the last digit (8 and 64 agents, 70%), see README.md.

    python3 docs/study/noniid/import_oneshot.py docs/study/oneshot/results.json > /tmp/iid-seed0.json
"""
import json
import sys

rows = json.load(open(sys.argv[1]))
out = []
for r in rows:
    if r["weight_scaling"]:
        continue
    if r["method"] == "fedprllm_oneshot":
        if r["comparison_group"] not in ("layer", "row"):
            continue
        r["method"] = "fedprllm_" + r["comparison_group"]
    r["partition"] = "none" if r["method"] == "centralized" else "iid"
    r["bytes_per_agent"] = round(r["bytes_per_agent"])
    out.append(r)
json.dump(out, sys.stdout, indent=2)
