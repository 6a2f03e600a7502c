#!/usr/bin/env bash
# Instructions per request through axum on loopback, for each variant of `axum-throughput`,
# counted by callgrind (deterministic where the req/s of a shared machine are not):
#
#   (Ir(N2 requests) - Ir(N1 requests)) / (N2 - N1): start-up and warm-up cancel out.
#
# User-space instructions of the whole process: the server, and the load generator (the same
# for every variant). The kernel's share of a request (the socket calls) is not counted, so
# the percentages are upper bounds of what the layer costs in throughput.
#
# One connection by default (CONNECTIONS): each request then takes the same path through both
# runtimes; with several, how requests batch per wake-up varies from run to run.
#
# HEADERS=browser sends ten more headers with each request (`--browser-headers`).
#
# Usage: benches/scripts/axum-instructions.sh [VARIANT...]   (N1, N2, CONNECTIONS, HEADERS from the environment)
set -euo pipefail
cd "$(dirname "$0")/../.."
N1=${N1:-2000}
N2=${N2:-6000}
CONNECTIONS=${CONNECTIONS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
cargo build -q --release -p cancelable-bench --bin axum-throughput
BIN=$CARGO_TARGET_DIR/release/axum-throughput
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ir() { # requests, variant -> instructions
    valgrind --tool=callgrind --callgrind-out-file="$TMP/out" \
        "$BIN" --requests "$1" --connections "$CONNECTIONS" --rounds 1 ${HEADERS:+--browser-headers} --only "$2" >/dev/null 2>&1
    awk '/^summary:/{print $2}' "$TMP/out"
}
per_request() {
    local a b
    a=$(ir "$N1" "$1")
    b=$(ir "$N2" "$1")
    awk -v a="$a" -v b="$b" -v d=$((N2 - N1)) 'BEGIN{printf "%.0f", (b - a) / d}'
}

if [[ $# -eq 0 ]]; then
    set -- "no layer" "a no-op layer (axum's cost of any layer)" "CancelableLayer" "CancelableLayer + timeout + deadlines" \
        "CancelableLayer + timeout + registry" "CancelableLayer on the handler (no route box)" \
        "spawn per request (for comparison)"
fi
base=$(per_request "no layer")
printf "%-40s %12s %10s\n" variant "instr/req" "vs none"
for variant in "$@"; do
    v=$(per_request "$variant")
    printf "%-40s %12s %+9.1f%%\n" "$variant" "$v" "$(awk -v v="$v" -v b="$base" 'BEGIN{print (v / b - 1) * 100}')"
done
