#!/usr/bin/env python3
"""Joins the two halves of the poisoning study into results.json, results.csv and tables.md.

Usage: summarize.py FEDTINY_OUT FEDTINY_WORK FEDPRLLM_OUT
  FEDTINY_OUT   the --out of study-training (results.json)
  FEDTINY_WORK  its --work (runs/<run>/coordinator/jobs/*/result/report.json)
  FEDPRLLM_OUT  the --out of run (results.json, runs/<job>-seed0/coordinator/jobs/*/result/report.json)

Per run: the defence, the attack, the fraction of malicious agents, the quality (final accuracy or
perplexity), and what the defence did to malicious and honest agents, read from the job's report.json:
the agents whose tasks reported the metric 'poisoned' are the malicious ones.
"""
import csv
import glob
import json
import os
import sys


def attack_of(label):
    if label == "none":
        return "none", 0.0
    words = label.split()
    return " ".join(words[:-1]), float(words[-1].rstrip("%")) / 100


def effects(report_path):
    """What the defences did over all rounds: counts of (malicious, honest) agents clipped, capped, trimmed."""
    if report_path is None:
        return None
    report = json.load(open(report_path))
    malicious, honest = set(), set()
    out = {"clipped": [0, 0], "capped": [0, 0], "trimmed": [0, 0], "rounds": 0, "median_update_norm": []}
    for r in report["rounds"]:
        for t in r["tasks"]:
            (malicious if "poisoned" in t.get("metrics", {}) else honest).add(t["agent"])
    honest -= malicious
    for r in report["rounds"]:
        d = r.get("defence")
        if not d:
            continue
        out["rounds"] += 1
        for key in ("clipped", "capped", "trimmed"):
            for agent in d.get(key, []):
                out[key][0 if agent in malicious else 1] += 1
        if "medianUpdateNorm" in d:
            out["median_update_norm"].append(round(d["medianUpdateNorm"], 3))
    out["malicious_agents"] = sorted(malicious)
    return out


def report_of(pattern):
    found = sorted(glob.glob(pattern))
    return found[0] if found else None


def main(fedtiny_out, fedtiny_work, fedprllm_out):
    rows = []
    for r in json.load(open(os.path.join(fedtiny_out, "results.json"))):
        attack, fraction = attack_of(r.get("poisoning", "none"))
        run = r["method"] + "-d%.2f" % r["density"]
        if r.get("defence", "none") != "none" or attack != "none":
            run += "-" + r["defence"] + ("" if attack == "none" else "-" + r["poisoning"].replace(" ", "-").replace("%", ""))
        rows.append({"study": "fedtiny", "method": r["method"], "seed": r["seed"], "defence": r.get("defence", "none"), "attack": attack,
                     "malicious_fraction": fraction, "metric": "accuracy", "value": r["accuracy"], "state": r["state"],
                     "accuracy_per_round": r["accuracy_per_round"],
                     "defence_effects": effects(report_of(os.path.join(fedtiny_work, "runs", run, "coordinator/jobs/*/result/report.json")))})
    for r in json.load(open(os.path.join(fedprllm_out, "results.json"))):
        attack, fraction = attack_of(r.get("poisoning", "none"))
        job = "%s-%s-%s-%d-s%.2f" % (r["method"], r["comparison_group"], r["partition"], r["agents"], r["sparsity"])
        if attack != "none":
            job += "-" + r["poisoning"].replace(" ", "-").replace("%", "")
        rows.append({"study": "fedprllm", "method": "fedprllm one-shot, row", "seed": r["seed"], "defence": r["method"], "attack": attack,
                     "malicious_fraction": fraction, "metric": "ppl", "value": r["ppl"], "state": r["state"],
                     "defence_effects": effects(report_of(os.path.join(fedprllm_out, "runs", job + "-seed%d" % r["seed"],
                                                                        "coordinator/jobs/*/result/report.json")))})
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "results.json"), "w") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    with open(os.path.join(here, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["study", "seed", "defence", "attack", "malicious_fraction", "metric", "value", "state", "malicious_clipped_capped_trimmed",
                    "honest_clipped_capped_trimmed"])
        for r in rows:
            e = r["defence_effects"] or {"clipped": [0, 0], "capped": [0, 0], "trimmed": [0, 0]}
            w.writerow([r["study"], r["seed"], r["defence"], r["attack"], r["malicious_fraction"], r["metric"], r["value"], r["state"],
                        "/".join(str(e[k][0]) for k in ("clipped", "capped", "trimmed")),
                        "/".join(str(e[k][1]) for k in ("clipped", "capped", "trimmed"))])
    tables = []
    for study, metric, fmt in (("fedtiny", "final accuracy", "%.4f"), ("fedprllm", "perplexity", "%.4g")):
        sub = [r for r in rows if r["study"] == study]
        defences = list(dict.fromkeys(r["defence"] for r in sub))
        settings = list(dict.fromkeys((r["attack"], r["malicious_fraction"]) for r in sub))
        seeds = sorted(set(r["seed"] for r in sub))
        metric_seeds = metric + (", mean over seeds %s (each seed in brackets)" % seeds if len(seeds) > 1 else ", seed %s" % seeds[0])
        tables.append("### %s: %s\n\n| attack | malicious | %s |\n|---|---|%s\n" % (study, metric_seeds, " | ".join(defences), "---|" * len(defences)))
        for attack, fraction in settings:
            cells = []
            for d in defences:
                values = [r["value"] for r in sub if r["defence"] == d and r["attack"] == attack and r["malicious_fraction"] == fraction
                          and r["value"] is not None]
                # The mean over seeds, and each seed's value when there are several.
                cell = fmt % (sum(values) / len(values)) if values else ""
                if len(values) > 1:
                    cell += " (" + " / ".join(fmt % v for v in values) + ")"
                cells.append(cell)
            tables.append("| %s | %d%% | %s |\n" % (attack, round(fraction * 100), " | ".join(cells)))
        tables.append("\n")
    with open(os.path.join(here, "tables.md"), "w") as f:
        f.write("".join(tables))
    print("".join(tables))


if __name__ == "__main__":
    main(*sys.argv[1:4])
