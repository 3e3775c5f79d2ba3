#!/usr/bin/env bash
# Scale benchmark of issue 18: a random checkpoint of a real LLaMA shape pruned by the real coordinator
# and AGENTS agent processes on this machine, each agent reading the model from its local directory
# (no download) and its own token-id calibration file. Records the job's wall time and, for every
# process, its peak RSS (VmHWM read right before the process is stopped, and the largest VmRSS sampled
# every SAMPLE_S seconds) and its CPU time.
#
# Usage (repository root, after `mvn -B -o -q package -DskipTests -DskipBundles`; builds it if a jar is missing):
#   bench/llm-scale.sh tiny    # harness check (2 layers, hidden 64, F32, one file), about a minute
#   bench/llm-scale.sh 1b      # Llama-3.2-1B shape, BF16, 2 shards: iterative Wanda, 50%, row comparison
#   bench/llm-scale.sh 7b      # LLaMA-2-7B shape, BF16, 3 shards: one-shot magnitude, 50%, row comparison
#
# The model is generated once (`fedprune-sim generate-llama`) into $MODELS/<shape>[-<layers>l]-<shards>s-seed<seed>
# and reused; each agent's data into <that>-data-<samples>x<tokens>. Results: $OUT/<shape>-<time>/result.json
# and result.md (plus logs/, rss.tsv = the samples, job.json, rounds.json); the pruned model the coordinator
# writes is deleted afterwards unless KEEP_RESULT=1 (the 7B one is 13.5 GB).
#
# Environment (defaults in brackets):
#   MODELS [/tmp/fedprune-scale/models]  OUT [/tmp/fedprune-scale/results]  AGENTS [4]  SEED [0]
#   SHARDS [1 tiny, 2 1b, 3 7b]  LAYERS [the shape's]  SAMPLES [calibration lines per agent: 16]  TOKENS [ids per line: 128]
#   COORDINATOR_JAVA_OPTS [-Xmx1200m]  AGENT_JAVA_OPTS [-Xmx3g]  AGENT_THREADS [cores / agents, at least 1]
#   Job: STRATEGY [iterative for tiny and 1b, one-shot for 7b]  PRUNER [wanda; magnitude for 7b]  LOCAL_GROUP [row]
#        GROUP [row]  SPARSITY [0.5]  CALIBRATION_SAMPLES [$SAMPLES]  SEQ_LEN [$TOKENS]  EVAL_SAMPLES [0: no evaluation round]
#        DEADLINE_S [21600]  JOB_SPEC [a YAML file used instead; its model: line is replaced by the generated model]
#   HTTP_PORT [18480]  GRPC_PORT [15451]  SAMPLE_S [1]  KEEP_RESULT [0]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

SHAPE=${1:-${SHAPE:-tiny}}
case "$SHAPE" in
  tiny) d_shards=1; d_strategy=iterative; d_pruner=wanda ;;
  1b)   d_shards=2; d_strategy=iterative; d_pruner=wanda ;;
  7b)   d_shards=3; d_strategy=one-shot;  d_pruner=magnitude ;;
  *) echo "llm-scale: shape must be tiny, 1b or 7b, got '$SHAPE'" >&2; exit 2 ;;
esac
MODELS=${MODELS:-/tmp/fedprune-scale/models}
OUT=${OUT:-/tmp/fedprune-scale/results}
AGENTS=${AGENTS:-4}
SEED=${SEED:-0}
SHARDS=${SHARDS:-$d_shards}
LAYERS=${LAYERS:-}
SAMPLES=${SAMPLES:-16}
TOKENS=${TOKENS:-128}
COORDINATOR_JAVA_OPTS=${COORDINATOR_JAVA_OPTS:--Xmx1200m}
AGENT_JAVA_OPTS=${AGENT_JAVA_OPTS:--Xmx3g}
CORES=$(nproc)
AGENT_THREADS=${AGENT_THREADS:-$(( CORES / AGENTS > 0 ? CORES / AGENTS : 1 ))}
STRATEGY=${STRATEGY:-$d_strategy}
PRUNER=${PRUNER:-$d_pruner}
LOCAL_GROUP=${LOCAL_GROUP:-row}
GROUP=${GROUP:-row}
SPARSITY=${SPARSITY:-0.5}
CALIBRATION_SAMPLES=${CALIBRATION_SAMPLES:-$SAMPLES}
SEQ_LEN=${SEQ_LEN:-$TOKENS}
EVAL_SAMPLES=${EVAL_SAMPLES:-0}
DEADLINE_S=${DEADLINE_S:-21600}
JOB_SPEC=${JOB_SPEC:-}
HTTP_PORT=${HTTP_PORT:-18480}
GRPC_PORT=${GRPC_PORT:-15451}
SAMPLE_S=${SAMPLE_S:-1}
KEEP_RESULT=${KEEP_RESULT:-0}

VERSION=0.1.0-SNAPSHOT
COORDINATOR_JAR=$REPO/coordinator/target/fedprune-coordinator-$VERSION-exec.jar
AGENT_JAR=$REPO/client-agent/target/fedprune-client-agent-$VERSION.jar
SIM_JAR=$REPO/simulations/target/fedprune-simulations-$VERSION.jar
log() { echo "llm-scale: $*" >&2; }

for port in "$HTTP_PORT" "$GRPC_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is in use; set HTTP_PORT / GRPC_PORT to free ports"; exit 2
  fi
done
if [ ! -f "$COORDINATOR_JAR" ] || [ ! -f "$AGENT_JAR" ] || [ ! -f "$SIM_JAR" ]; then
  log "building (mvn -B -q package -DskipTests -DskipBundles) ..."
  mvn -B -q package -DskipTests -DskipBundles
fi

# --- the model and the agents' data, generated once --------------------------------------------------------
MODEL=$MODELS/$SHAPE${LAYERS:+-${LAYERS}l}-${SHARDS}s-seed$SEED
DATA=$MODEL-data-${SAMPLES}x$TOKENS
generate=(java -Xmx1g -jar "$SIM_JAR" generate-llama --shape "$SHAPE" --shards "$SHARDS" --seed "$SEED" --out "$MODEL"
          --data "$DATA" --agents "$AGENTS" --samples "$SAMPLES" --eval-samples "$(( EVAL_SAMPLES > 0 ? EVAL_SAMPLES : 1 ))" --tokens "$TOKENS")
[ -n "$LAYERS" ] && generate+=(--layers "$LAYERS")
if [ ! -f "$MODEL/config.json" ]; then   # config.json is written last, once every tensor is on disk
  mkdir -p "$MODELS"
  log "generating $MODEL (once)"
  "${generate[@]}" >/dev/null
elif [ ! -f "$DATA/calibration/agent-$(( AGENTS - 1 )).jsonl" ]; then
  "${generate[@]}" --data-only >/dev/null
fi
MODEL_BYTES=$(find "$MODEL" -maxdepth 1 -name '*.safetensors' -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
MODEL_FILES=$(find "$MODEL" -maxdepth 1 -name '*.safetensors' | wc -l)
log "model $MODEL: $MODEL_FILES safetensors file(s), $MODEL_BYTES bytes"

RUN=$OUT/$SHAPE-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN/logs"
RUN=$(cd "$RUN" && pwd)

# --- coordinator -------------------------------------------------------------------------------------------
rand() { head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
export FEDPRUNE_SECURITY_ADMIN_PASSWORD=$(rand 16)
export FEDPRUNE_SECURITY_ADMIN_TOKEN=$(rand 40)
export FEDPRUNE_SECURITY_KEYSTORE_PASSWORD=$(rand 24)
export FEDPRUNE_URL=http://127.0.0.1:$HTTP_PORT
export FEDPRUNE_TOKEN=$FEDPRUNE_SECURITY_ADMIN_TOKEN
fedprune() { java -Xmx256m -jar "$COORDINATOR_JAR" "$@"; }

names=()   # process names, parallel to pids
pids=()
SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# shellcheck disable=SC2086  # the JAVA_OPTS variables are word lists
java $COORDINATOR_JAVA_OPTS -jar "$COORDINATOR_JAR" --server.port="$HTTP_PORT" --fedprune.grpc.port="$GRPC_PORT" \
  --fedprune.grpc.bind-address=127.0.0.1 --fedprune.data-dir="$RUN/coordinator" >"$RUN/logs/coordinator.log" 2>&1 &
names+=(coordinator); pids+=("$!")
COORDINATOR_PID=$!
log "starting the coordinator (pid $COORDINATOR_PID, $COORDINATOR_JAVA_OPTS)"
for _ in $(seq 1 180); do
  if ! kill -0 "$COORDINATOR_PID" 2>/dev/null; then
    log "the coordinator exited; its log:"; tail -30 "$RUN/logs/coordinator.log" >&2; exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && fedprune security ca >/dev/null 2>&1; then
    break
  fi
  sleep 1
done
FINGERPRINT=$(fedprune security ca)

# --- agents ------------------------------------------------------------------------------------------------
for i in $(seq 0 $((AGENTS - 1))); do
  token=$(fedprune security token --site "bench-$i" --ttl-minutes 30 2>/dev/null)
  FEDPRUNE_ENROLLMENT_TOKEN="$token" java -Xmx256m -jar "$AGENT_JAR" enroll --coordinator "127.0.0.1:$GRPC_PORT" \
    --ca-fingerprint "$FINGERPRINT" --name "bench-$i" --workdir "$RUN/agent-$i" >"$RUN/logs/agent-$i.log" 2>&1
  data_options=(--data "$DATA/calibration/agent-$i.jsonl")
  [ "$EVAL_SAMPLES" -gt 0 ] && data_options+=(--eval-data "$DATA/evaluation/agent-$i.jsonl")
  # No --exit-when-idle: the agents stay up after the job so that their VmHWM can be read before they stop.
  # shellcheck disable=SC2086
  java $AGENT_JAVA_OPTS -jar "$AGENT_JAR" run "${data_options[@]}" --model "$MODEL" --threads "$AGENT_THREADS" \
    --name "bench-$i" --workdir "$RUN/agent-$i" >>"$RUN/logs/agent-$i.log" 2>&1 &
  names+=("agent-$i"); pids+=("$!")
  log "agent bench-$i enrolled and running (pid $!, $AGENT_JAVA_OPTS, $AGENT_THREADS thread(s))"
done

# --- RSS sampler: every SAMPLE_S seconds, VmRSS and VmHWM (kB) of every process ----------------------------
printf 'epoch_s\tprocess\tpid\tvm_rss_kb\tvm_hwm_kb\n' >"$RUN/rss.tsv"
(
  while sleep "$SAMPLE_S"; do
    now=$(date +%s)
    for k in "${!pids[@]}"; do
      f=/proc/${pids[$k]}/status
      [ -r "$f" ] || continue
      awk -v t="$now" -v n="${names[$k]}" -v p="${pids[$k]}" '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2}
        END {if (r != "") printf "%s\t%s\t%s\t%s\t%s\n", t, n, p, r, h}' "$f" 2>/dev/null || true
    done >>"$RUN/rss.tsv"
  done
) &
SAMPLER=$!

# --- the job -----------------------------------------------------------------------------------------------
if [ -n "$JOB_SPEC" ]; then
  sed "s|^model:.*|model: $MODEL|" "$JOB_SPEC" >"$RUN/job.yaml"
else
  cat >"$RUN/job.yaml" <<EOF
name: scale-$SHAPE-$STRATEGY-$PRUNER
model: $MODEL
strategy: $STRATEGY
localPruner: $PRUNER
localComparisonGroup: $LOCAL_GROUP
sparsity: $SPARSITY
comparisonGroup: $GROUP
agentsPerRound: $AGENTS
quorum: $AGENTS
deadlineSeconds: $DEADLINE_S
waitForAgentsSeconds: 600
calibrationSamples: $CALIBRATION_SAMPLES
sequenceLength: $SEQ_LEN
evaluationSamples: $EVAL_SAMPLES
seed: $SEED
EOF
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date +%s.%N)
JOB=
if JOB=$(fedprune jobs submit "$RUN/job.yaml" 2>"$RUN/logs/submit.log"); then
  log "job $JOB submitted ($STRATEGY $PRUNER, sparsity $SPARSITY, $GROUP comparison); following it"
  fedprune jobs watch "$JOB" >"$RUN/logs/watch.log" 2>&1 || true
else
  log "the coordinator refused the job: $(cat "$RUN/logs/submit.log" "$RUN/logs/coordinator.log" | grep -m1 -i 'error\|refus\|missing\|HTTP' || true)"
fi
ENDED=$(date +%s.%N)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
auth=(-s -H "Authorization: Bearer $FEDPRUNE_TOKEN")
if [ -n "$JOB" ]; then
  curl "${auth[@]}" "$FEDPRUNE_URL/api/jobs/$JOB" >"$RUN/job.json" || echo '{}' >"$RUN/job.json"
  curl "${auth[@]}" "$FEDPRUNE_URL/api/jobs/$JOB/rounds" >"$RUN/rounds.json" || echo '[]' >"$RUN/rounds.json"
else
  jq -n --rawfile why "$RUN/logs/submit.log" '{state: "REFUSED", failureReason: $why}' >"$RUN/job.json"
  echo '[]' >"$RUN/rounds.json"
fi

# --- peak RSS and CPU time of each process, read right before it is stopped ---------------------------------
kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=
TICKS=$(getconf CLK_TCK)
echo '[]' >"$RUN/processes.json"
for k in "${!pids[@]}"; do
  pid=${pids[$k]}; name=${names[$k]}
  hwm=0; cpu=null; alive=false
  if [ -r "/proc/$pid/status" ]; then
    alive=true
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
    cpu=$(sed 's/.*) //' "/proc/$pid/stat" | awk -v t="$TICKS" '{printf "%.1f", ($12 + $13) / t}')
  fi
  sampled=$(awk -F'\t' -v n="$name" '$2 == n {if ($4 > m) m = $4; if ($5 > h) h = $5} END {print (m + 0) " " (h + 0)}' "$RUN/rss.tsv")
  read -r max_rss max_hwm <<<"$sampled"
  peak=$(( hwm > max_hwm ? hwm : max_hwm ))
  peak=$(( peak > max_rss ? peak : max_rss ))
  opts=$COORDINATOR_JAVA_OPTS; [ "$name" = coordinator ] || opts=$AGENT_JAVA_OPTS
  jq --arg name "$name" --argjson pid "$pid" --argjson peak "$((peak * 1024))" --argjson rss "$((max_rss * 1024))" \
     --argjson cpu "$cpu" --argjson alive "$alive" --arg opts "$opts" --argjson model "$MODEL_BYTES" \
     '. + [{process: $name, pid: $pid, javaOptions: $opts, aliveAtEnd: $alive, peakRssBytes: $peak,
            maxSampledRssBytes: $rss, peakRssShareOfModelFiles: (($peak / $model * 1000 | round) / 1000), cpuSeconds: $cpu}]' \
     "$RUN/processes.json" >"$RUN/processes.tmp" && mv "$RUN/processes.tmp" "$RUN/processes.json"
done
# The agents first, so that none of them is retrying a vanished coordinator meanwhile.
for (( k = ${#pids[@]} - 1; k >= 0; k-- )); do kill "${pids[$k]}" 2>/dev/null || true; wait "${pids[$k]}" 2>/dev/null || true; done
pids=()

DOWNLOADED=$(cat "$RUN"/logs/agent-*.log | grep -c 'downloading' || true)
WALL=$(awk -v a="$STARTED" -v b="$ENDED" 'BEGIN {printf "%.1f", b - a}')
jq -n --arg shape "$SHAPE" --arg model "$MODEL" --argjson modelBytes "$MODEL_BYTES" --argjson files "$MODEL_FILES" \
   --slurpfile job "$RUN/job.json" --slurpfile rounds "$RUN/rounds.json" --slurpfile processes "$RUN/processes.json" \
   --argjson wall "$WALL" --argjson agents "$AGENTS" --argjson threads "$AGENT_THREADS" --arg spec "$(cat "$RUN/job.yaml")" \
   --arg loadBefore "$LOAD_BEFORE" --arg loadAfter "$LOAD_AFTER" --argjson downloads "$DOWNLOADED" \
   --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
   --argjson cores "$CORES" --arg mem "$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
   --arg java "$(java -version 2>&1 | head -1)" --arg config "$(cat "$MODEL/config.json")" '
  ($job[0]) as $j | ($processes[0]) as $p |
  {
    shape: $shape, model: $model, modelConfig: ($config | fromjson), safetensorsFiles: $files, modelBytes: $modelBytes,
    jobSpec: $spec, jobId: ($j.id // null), state: ($j.state // null), failureReason: ($j.failureReason // null),
    jobWallSeconds: $wall, rounds: ($rounds[0] | length),
    roundSeconds: [($rounds[0] // [])[] | select(.closedAt != null and .openedAt != null) | ((.closedAt - .openedAt) / 1000)],
    agents: $agents, agentThreads: $threads, agentModelDownloads: $downloads,
    processes: $p,
    coordinatorPeakRssBytes: ([$p[] | select(.process == "coordinator") | .peakRssBytes] | max),
    agentPeakRssBytesMax: ([$p[] | select(.process != "coordinator") | .peakRssBytes] | max),
    checks: {
      jobCompleted: ($j.state == "COMPLETED"),
      everyProcessAliveAtEnd: ([$p[] | .aliveAtEnd] | all),
      coordinatorPeakRssAtMost2GB: (([$p[] | select(.process == "coordinator") | .peakRssBytes] | max) <= 2000000000),
      everyAgentPeakRssAtMost40PercentOfModel: ([$p[] | select(.process != "coordinator") | .peakRssBytes <= 0.4 * $modelBytes] | all)
    },
    loadAverageBefore: $loadBefore, loadAverageAfter: $loadAfter,
    machine: {cpu: $cpu, cores: $cores, memory: $mem, java: $java}, commit: $commit
  }' >"$RUN/result.json"

{
  echo "# LLM scale benchmark: $SHAPE"
  echo
  jq -r '"- model: \(.model) (\(.safetensorsFiles) safetensors file(s), \(.modelBytes) bytes, \(.modelConfig.num_hidden_layers) layers, hidden \(.modelConfig.hidden_size), \(.modelConfig.torch_dtype))",
         "- job \(.jobId // "-"): \(.state)\(if .failureReason then " (" + (.failureReason | tostring | .[0:300]) + ")" else "" end)",
         "- job wall time: \(.jobWallSeconds) s, \(.rounds) round(s); \(.agents) agents, \(.agentThreads) thread(s) each; model downloads by agents: \(.agentModelDownloads)",
         "- load average before / after: \(.loadAverageBefore) / \(.loadAverageAfter); \(.machine.cores) cores, \(.machine.memory), commit \(.commit)",
         "",
         "| process | Java options | peak RSS (MB) | share of model files | CPU s | alive at end |",
         "|---|---|---|---|---|---|",
         (.processes[] | "| \(.process) | \(.javaOptions) | \(.peakRssBytes / 1e6 | floor) | \(.peakRssShareOfModelFiles) | \(.cpuSeconds) | \(.aliveAtEnd) |"),
         "",
         "Checks: job completed: \(.checks.jobCompleted); every process alive at the end: \(.checks.everyProcessAliveAtEnd); coordinator peak RSS <= 2 GB: \(.checks.coordinatorPeakRssAtMost2GB); every agent <= 40% of the model files: \(.checks.everyAgentPeakRssAtMost40PercentOfModel)"' "$RUN/result.json"
  echo
  echo '```'
  cat "$RUN/job.yaml"
  echo '```'
  echo
  echo "Reproduce: \`$(for v in AGENTS SEED SHARDS LAYERS SAMPLES TOKENS COORDINATOR_JAVA_OPTS AGENT_JAVA_OPTS AGENT_THREADS STRATEGY PRUNER GROUP SPARSITY EVAL_SAMPLES; do printf "%s='%s' " "$v" "${!v}"; done)bench/llm-scale.sh $SHAPE\`"
} >"$RUN/result.md"

if [ "$KEEP_RESULT" != 1 ]; then
  find "$RUN/coordinator/jobs" -path '*/result/model' -type d -prune -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$RUN"/agent-*/models
fi
cat "$RUN/result.md"
log "results in $RUN"
state=$(jq -r .state "$RUN/result.json")
[ "$state" = COMPLETED ]
