#!/usr/bin/env bash
# Training throughput of the small CNN (issue 8): the agent's DJL/libtorch masked training
# (`cnn-bench throughput`) and Debian's PyTorch (bench/cnn_torch.py) on the same architecture, the same
# initial model, the same Fashion-MNIST batches and the same thread count, back to back, ROUNDS times.
# Usage (repository root, after `mvn -o -q -pl client-agent -am package -DskipTests`):
#   bench/cnn-throughput.sh            # THREADS=2 ROUNDS=2 STEPS=100 REPEAT=5 WARMUP=30 BATCH=64
#   THREADS=1 bench/cnn-throughput.sh  # WAIT_POLICY=PASSIVE (OMP_WAIT_POLICY of both), MAX_LOAD=, WAIT_S=600
#   ONEDNN_BEFORE=0 bench/cnn-throughput.sh  # skip the DJL run with libtorch's oneDNN back on (the engine before
#                                            # issue 15's fix: faster where it is right, wrong on some shapes)
# With MAX_LOAD set, each half waits (at most WAIT_S seconds) for the 1-minute load average to drop
# below it; the load before and after each half is written either way.
# Results: $OUT/djl-<round>.jsonl, $OUT/torch-<round>.jsonl, $OUT/load.txt and a summary on stdout.
set -euo pipefail

THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
STEPS=${STEPS:-100}
REPEAT=${REPEAT:-5}
WARMUP=${WARMUP:-30}
BATCH=${BATCH:-64}
DENSITIES=${DENSITIES:-1.0,0.1}
OUT=${OUT:-/tmp/fedprune-cnn-bench}
WAIT_POLICY=${WAIT_POLICY:-PASSIVE}
MAX_LOAD=${MAX_LOAD:-}
WAIT_S=${WAIT_S:-600}
ONEDNN_BEFORE=${ONEDNN_BEFORE:-1}
JAR=client-agent/target/fedprune-client-agent-0.1.0-SNAPSHOT.jar
PYTHON=/usr/bin/python3

if [ ! -f "$JAR" ]; then
    echo "build first: mvn -o -q -pl client-agent -am package -DskipTests" >&2
    exit 2
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
    # The reference only; CI never needs it. Without OpenBLAS, torch falls back to the reference BLAS.
    apt-get install -y python3-torch libopenblas0-pthread
fi

# One thread count for both: OpenMP (both libtorch builds parallelise with OpenMP), MKL (inside DJL's
# libtorch) and OpenBLAS (Debian's torch). DJL's libtorch reads OMP_NUM_THREADS when it starts;
# cnn_torch.py also calls torch.set_num_threads. Both print the intra-op thread count they run with.
# OMP_WAIT_POLICY: OpenMP workers spin between parallel regions by default (ACTIVE); on a 2-core box
# shared with other jobs a spinning team of 2 loses its core and each barrier waits for a time slice,
# which cut both implementations to about 1/10 of their speed at load 5-10 (docs/benchmarks.md).
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=$WAIT_POLICY

wait_for_quiet() {
    [ -n "$MAX_LOAD" ] || return 0
    local waited=0
    while awk -v max="$MAX_LOAD" '{ exit !($1 >= max) }' /proc/loadavg && [ "$waited" -lt "$WAIT_S" ]; do
        sleep 10
        waited=$((waited + 10))
    done
}

mkdir -p "$OUT"
: > "$OUT/load.txt"
common=(--batch "$BATCH" --warmup "$WARMUP" --steps "$STEPS" --repeat "$REPEAT")
for round in $(seq 1 "$ROUNDS"); do
    wait_for_quiet
    echo "round $round djl   before: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"
    java -Xmx1g -cp "$JAR" dev.fedprune.agent.bench.CnnBench throughput --densities "$DENSITIES" --export "$OUT/models" "${common[@]}" \
        2>"$OUT/djl-$round.log" | tee "$OUT/djl-$round.jsonl"
    if [ "$ONEDNN_BEFORE" = 1 ]; then
        wait_for_quiet
        echo "round $round djl oneDNN on before: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"
        java -Xmx1g -Dfedprune.engine.onednn=true -cp "$JAR" dev.fedprune.agent.bench.CnnBench throughput --densities "$DENSITIES" "${common[@]}" \
            2>"$OUT/djl-onednn-$round.log" | tee "$OUT/djl-onednn-$round.jsonl"
    fi
    wait_for_quiet
    echo "round $round torch before: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"
    models=()
    IFS=, read -ra ds <<< "$DENSITIES"
    for d in "${ds[@]}"; do models+=("$OUT/models/small-vgg-d$d.json"); done
    "$PYTHON" bench/cnn_torch.py "${models[@]}" --threads "$THREADS" "${common[@]}" | tee "$OUT/torch-$round.jsonl"
    echo "round $round end:          $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"
done

"$PYTHON" - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = {}
import os
for r in range(1, rounds + 1):
    for impl in ("djl", "djl-onednn", "torch"):
        path = f"{out}/{impl}-{r}.jsonl"
        if not os.path.exists(path):
            continue
        for line in open(path):
            row = json.loads(line)
            if "impl" in row:
                name = "djl_onednn" if impl == "djl-onednn" else row["impl"]
                rows.setdefault((round(row["density"], 2), r), {})[name] = row
print(f"threads {__import__('os').environ['OMP_NUM_THREADS']}, OMP_WAIT_POLICY {__import__('os').environ['OMP_WAIT_POLICY']}")
print("| round | density | DJL images/s (median) | PyTorch images/s (median) | DJL / PyTorch | DJL images per CPU-s | PyTorch images per CPU-s | DJL / PyTorch (CPU) | max loss diff, first steps |")
print("|---|---|---|---|---|---|---|---|---|")
for (density, r), pair in sorted(rows.items(), key=lambda kv: (kv[0][1], -kv[0][0])):
    d, t = pair["djl"], pair["pytorch"]
    dc, tc = statistics.median(d["images_per_cpu_s"]), statistics.median(t["images_per_cpu_s"])
    diff = max(abs(a - b) for a, b in zip(d["first_losses"], t["first_losses"]))
    print(f"| {r} | {density} | {d['median_images_per_s']:.0f} | {t['median_images_per_s']:.0f} | "
          f"{d['median_images_per_s'] / t['median_images_per_s']:.2f} | {dc:.0f} | {tc:.0f} | {dc / tc:.2f} | {diff:.1e} |")
pooled = {}
for (density, r), pair in rows.items():
    for impl, row in pair.items():
        p = pooled.setdefault((density, impl), ([], []))
        p[0].extend(row["images_per_s"])
        p[1].extend(row["images_per_cpu_s"])
print()
print("DJL = the agents' engine (libtorch oneDNN off, since issue 15); DJL oneDNN on = the engine before the fix")
print("| density | repetitions | DJL images/s (median of all) | DJL oneDNN on images/s | PyTorch images/s (median of all) | DJL / PyTorch | DJL oneDNN on / PyTorch | DJL / PyTorch per CPU-s |")
print("|---|---|---|---|---|---|---|---|")
for density in sorted({d for d, _ in pooled}, reverse=True):
    (dw, dc), (tw, tc) = pooled[(density, "djl")], pooled[(density, "pytorch")]
    ow = pooled.get((density, "djl_onednn"), ([], []))[0]
    m = statistics.median
    on, on_ratio = (f"{m(ow):.0f}", f"{m(ow) / m(tw):.2f}") if ow else ("-", "-")
    print(f"| {density} | {len(dw)} + {len(ow)} + {len(tw)} | {m(dw):.0f} | {on} | {m(tw):.0f} | {m(dw) / m(tw):.2f} | {on_ratio} | {m(dc) / m(tc):.2f} |")
PY
