#!/usr/bin/env bash
# T8 in instructions: a whole fan-out task lifecycle (spawn, park, one cancel, finish), ours beside
# the reference, counted by callgrind as (Ir(N2 tasks) - Ir(N1 tasks)) / (N2 - N1).
#
# Usage: benches/scripts/fanout-instructions.sh    (N1, N2 from the environment)
set -euo pipefail
cd "$(dirname "$0")/../.."
N1=${N1:-5000}
N2=${N2:-25000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
cargo build -q --release -p cancelable-bench
BIN=$CARGO_TARGET_DIR/release/cancelable-bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ir() { # which, tasks
    valgrind --tool=callgrind --callgrind-out-file="$TMP/out" "$BIN" fanout-instructions "$1" "$2" \
        >/dev/null 2>&1
    awk '/^summary:/{print $2}' "$TMP/out"
}
per_task() { awk -v a="$(ir "$1" "$N1")" -v b="$(ir "$1" "$N2")" -v d=$((N2 - N1)) \
    'BEGIN{printf "%.0f", (b - a) / d}'; }
ours=$(per_task ours)
reference=$(per_task ref)
printf "fan-out lifecycle, instructions per task: ours %s, reference %s, ratio %s\n" \
    "$ours" "$reference" "$(awk -v o="$ours" -v r="$reference" 'BEGIN{printf "%.2f", o / r}')"
