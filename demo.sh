#!/usr/bin/env bash
# FedPrune demo: builds the project, starts a coordinator (dashboard + gRPC with mTLS) and 4 agent
# processes on this machine, enrolls the agents with one-time tokens, submits an iterative FedPrLLM job
# and prints the dashboard URL where it runs live. Uses ../shared/fixtures/fortunes-lm when present,
# a generated LLaMA model otherwise. With FEDPRUNE_DEMO_JOB=fedtiny the agents train a sparse CNN with
# FedTiny instead, each on its own Dirichlet share of Fashion-MNIST (generated images when Debian's
# dataset-fashion-mnist is not installed).
#
#   ./demo.sh                 # ports 8080 (HTTP) and 50051 (gRPC)
#   FEDPRUNE_DEMO_JOB=fedtiny ./demo.sh
#   FEDPRUNE_DEMO_HTTP_PORT=18080 FEDPRUNE_DEMO_GRPC_PORT=15051 ./demo.sh
#   FEDPRUNE_DEMO_KEEP=0 ./demo.sh    # stop the coordinator when the job ends (default: keep it up
#                                       # until Enter or Ctrl-C when run from a terminal)
set -euo pipefail
cd "$(dirname "$0")"

OUT=${FEDPRUNE_DEMO_OUT:-demo-output}
HTTP_PORT=${FEDPRUNE_DEMO_HTTP_PORT:-8080}
GRPC_PORT=${FEDPRUNE_DEMO_GRPC_PORT:-50051}
AGENTS=${FEDPRUNE_DEMO_AGENTS:-4}
JOB_KIND=${FEDPRUNE_DEMO_JOB:-fedprllm}
case "$JOB_KIND" in
  fedprllm|fedtiny) ;;
  *) echo "demo: FEDPRUNE_DEMO_JOB must be fedprllm (default) or fedtiny, got '$JOB_KIND'" >&2; exit 2 ;;
esac
if [ -t 0 ]; then KEEP=${FEDPRUNE_DEMO_KEEP:-1}; else KEEP=${FEDPRUNE_DEMO_KEEP:-0}; fi
VERSION=0.1.0-SNAPSHOT
COORDINATOR_JAR=coordinator/target/fedprune-coordinator-$VERSION-exec.jar
AGENT_JAR=client-agent/target/fedprune-client-agent-$VERSION.jar
SIM_JAR=simulations/target/fedprune-simulations-$VERSION.jar

for port in "$HTTP_PORT" "$GRPC_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use; set FEDPRUNE_DEMO_HTTP_PORT / FEDPRUNE_DEMO_GRPC_PORT to free ports" >&2
    exit 2
  fi
done

# The demo runs the jars from target/, not the release bundles: -DskipBundles leaves those out.
echo "demo: building (mvn -DskipTests -DskipBundles package) ..."
mvn -B -q -DskipTests -DskipBundles package

rm -rf "$OUT"
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)

if [ "$JOB_KIND" = fedtiny ]; then
  IMAGES=$(java -jar "$SIM_JAR" demo-setup --out "$OUT" --agents "$AGENTS" --images | sed -n 's/^images=//p')
else
  setup=$(java -jar "$SIM_JAR" demo-setup --out "$OUT" --agents "$AGENTS")
  MODEL=$(sed -n 's/^model=//p' <<<"$setup")
  DATA=$(sed -n 's/^data=//p' <<<"$setup")
fi

# Secrets of this demo run only: a fresh admin password, an admin API token for the CLI, a keystore password.
rand() { head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
ADMIN_PASSWORD=$(rand 16)
export FEDPRUNE_SECURITY_ADMIN_PASSWORD=$ADMIN_PASSWORD
export FEDPRUNE_SECURITY_ADMIN_TOKEN=$(rand 40)
export FEDPRUNE_SECURITY_KEYSTORE_PASSWORD=$(rand 24)
export FEDPRUNE_URL=http://127.0.0.1:$HTTP_PORT
export FEDPRUNE_TOKEN=$FEDPRUNE_SECURITY_ADMIN_TOKEN

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

java -jar "$COORDINATOR_JAR" --server.port="$HTTP_PORT" --fedprune.grpc.port="$GRPC_PORT" \
  --fedprune.grpc.bind-address=127.0.0.1 --fedprune.data-dir="$OUT/coordinator" >"$OUT/logs/coordinator.log" 2>&1 &
COORDINATOR_PID=$!
pids+=("$COORDINATOR_PID")
echo -n "demo: starting the coordinator "
for _ in $(seq 1 120); do
  if ! kill -0 "$COORDINATOR_PID" 2>/dev/null; then
    echo; echo "demo: the coordinator exited; its log:" >&2; tail -30 "$OUT/logs/coordinator.log" >&2; exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && java -jar "$COORDINATOR_JAR" security ca >/dev/null 2>&1; then
    break
  fi
  echo -n "."; sleep 1
done
echo
FINGERPRINT=$(java -jar "$COORDINATOR_JAR" security ca)

cat <<EOF

  Dashboard:  http://localhost:$HTTP_PORT/
  Sign in as  admin / $ADMIN_PASSWORD
  CA fingerprint (agents pin it): $FINGERPRINT

EOF

fedprune() { java -jar "$COORDINATOR_JAR" "$@"; }
for i in $(seq 0 $((AGENTS - 1))); do
  token=$(fedprune security token --site "hospital-$i" --ttl-minutes 10 2>/dev/null)
  # The token goes in the environment, not the arguments, which `ps` shows to every user.
  FEDPRUNE_ENROLLMENT_TOKEN="$token" java -jar "$AGENT_JAR" enroll --coordinator "127.0.0.1:$GRPC_PORT" --ca-fingerprint "$FINGERPRINT" \
    --name "hospital-$i" --workdir "$OUT/agent-$i" >"$OUT/logs/agent-$i.log" 2>&1
  if [ "$JOB_KIND" = fedtiny ]; then
    data_options=(--images "$IMAGES/agent-$i")
  else
    data_options=(--data "$DATA/calibration/agent-$i.jsonl" --eval-data "$DATA/evaluation/agent-$i.jsonl" --model "$MODEL")
  fi
  java -jar "$AGENT_JAR" run "${data_options[@]}" --name "hospital-$i" --workdir "$OUT/agent-$i" --exit-when-idle \
    >>"$OUT/logs/agent-$i.log" 2>&1 &
  pids+=("$!")
  echo "demo: agent hospital-$i enrolled with a one-time token (mTLS certificate in $OUT/agent-$i) and running"
done

if [ "$JOB_KIND" = fedtiny ]; then
  cat >"$OUT/job.yaml" <<EOF
name: demo-fedtiny
method: sparse_training
variant: fedtiny
architecture: small_vgg
channels: [8, 16, 32]
density: 0.2
rounds: 12
localSteps: 20
batchSize: 32
learningRate: 0.05
momentum: 0.9
adjustInterval: 3
adjustStopRound: 9
blocks: 2
candidates: 3
evaluationImages: 400
agentsPerRound: $AGENTS
quorum: $AGENTS
deadlineSeconds: 600
waitForAgentsSeconds: 120
seed: 0
EOF
  DESCRIPTION="(2 rounds of adaptive batch-norm selection, 12 training rounds of sparse FedAvg at density 0.2 with
   progressive mask adjustments, then an evaluation round; each agent trains on its own share of the images)"
else
  cat >"$OUT/job.yaml" <<EOF
name: demo-wanda-iterative
model: $MODEL
strategy: iterative
localPruner: wanda
localComparisonGroup: row
sparsity: 0.5
comparisonGroup: row
agentsPerRound: $AGENTS
quorum: $AGENTS
deadlineSeconds: 600
waitForAgentsSeconds: 120
calibrationSamples: 64
evaluationSamples: 32
seed: 0
EOF
  DESCRIPTION="(one round per decoder layer, then an evaluation round; each agent prunes with Wanda on its own
   categories of documents and measures the global model's perplexity on its own held-out documents)"
fi
STARTED=$(date +%s)
JOB=$(fedprune jobs submit "$OUT/job.yaml")
cat <<EOF

  The job runs live at:  http://localhost:$HTTP_PORT/job.html?id=$JOB
  $DESCRIPTION

EOF
fedprune jobs watch "$JOB" || true
fedprune jobs list | head -5
RESULT="$OUT/coordinator/jobs/$JOB/result"
if [ -f "$RESULT/report.json" ]; then
  echo
  echo "demo: the job took $(( $(date +%s) - STARTED )) s"
  if [ "$JOB_KIND" = fedtiny ]; then
    echo "demo: final accuracy on the agents' held-out images: $(sed -n 's/^ *"finalAccuracy" *: *\([0-9.]*\).*/\1/p' "$RESULT/report.json" | head -1)"
  fi
  echo "demo: pruned model, global mask and report.json in $RESULT"
  echo "demo: logs in $OUT/logs"
fi
if [ "$KEEP" = 1 ]; then
  echo
  read -r -p "demo: the dashboard stays up at http://localhost:$HTTP_PORT/ — press Enter to stop the coordinator. " _ || true
fi
