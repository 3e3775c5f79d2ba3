#!/usr/bin/env bash
# Training throughput of the small CNN (issue 8): the agent's DJL/libtorch masked training
# (`cnn-bench throughput`) and Debian's PyTorch (bench/cnn_torch.py) on the same architecture, the same
# initial model, the same Fashion-MNIST batches and the same thread count, back to back, ROUNDS times.
# Usage (repository root, after `mvn -o -q -pl client-agent -am package -DskipTests`):
#   bench/cnn-throughput.sh            # THREADS=2 ROUNDS=2 STEPS=100 REPEAT=5 WARMUP=30 BATCH=64
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
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

mkdir -p "$OUT"
: > "$OUT/load.txt"
common=(--batch "$BATCH" --warmup "$WARMUP" --steps "$STEPS" --repeat "$REPEAT")
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round djl   before: $(cat /proc/loadavg)" | tee -a "$OUT/load.txt"
    java -Xmx1g -cp "$JAR" dev.fedprune.agent.bench.CnnBench throughput --densities "$DENSITIES" --export "$OUT/models" "${common[@]}" \
        2>"$OUT/djl-$round.log" | tee "$OUT/djl-$round.jsonl"
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
for r in range(1, rounds + 1):
    for impl in ("djl", "torch"):
        for line in open(f"{out}/{impl}-{r}.jsonl"):
            row = json.loads(line)
            if "impl" in row:
                rows.setdefault((round(row["density"], 2), r), {})[row["impl"]] = row
print("| round | density | DJL images/s (median) | PyTorch images/s (median) | DJL / PyTorch | max loss diff, first steps |")
print("|---|---|---|---|---|---|")
for (density, r), pair in sorted(rows.items(), key=lambda kv: (kv[0][1], -kv[0][0])):
    d, t = pair["djl"], pair["pytorch"]
    diff = max(abs(a - b) for a, b in zip(d["first_losses"], t["first_losses"]))
    print(f"| {r} | {density} | {d['median_images_per_s']:.0f} | {t['median_images_per_s']:.0f} | "
          f"{d['median_images_per_s'] / t['median_images_per_s']:.2f} | {diff:.1e} |")
PY
