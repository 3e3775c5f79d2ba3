#!/usr/bin/env bash
# Builds FedPrune and runs a FedPrLLM job with 4 agents over real gRPC on loopback.
# Uses ../shared/fixtures/fortunes-lm when present, a generated LLaMA model otherwise.
set -euo pipefail
cd "$(dirname "$0")"
mvn -B -q -DskipTests package
exec java -jar simulations/target/fedprune-simulations-0.1.0-SNAPSHOT.jar demo --out demo-output "$@"
