#!/usr/bin/env bash
# Instructions per operation for every case of `cancelable-bench`, ours beside the reference,
# counted by callgrind (deterministic on a noisy machine).
#
#   async cases:  (Ir(N2 iterations) - Ir(N1 iterations)) / (N2 - N1): start-up cancels out.
#   cancel cases: only the out-of-line `cancel_all_*` loop is collected, per child cancelled.
#
# Usage: benches/scripts/bench-instructions.sh [CASE...]    (N1, N2, TOTAL from the environment)
set -euo pipefail
cd "$(dirname "$0")/../.."
N1=${N1:-2000}
N2=${N2:-12000}
TOTAL=${TOTAL:-20000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/bench}
cargo build -q --release -p cancelable-bench
BIN=$CARGO_TARGET_DIR/release/cancelable-bench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ir() { # out-file, then the command
    local out=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
    awk '/^summary:/{print $2}' "$out"
}
per_op() { # case -> instructions per iteration
    local a b
    a=$(ir "$TMP/a" "$BIN" --case "$1" "$N1")
    b=$(ir "$TMP/b" "$BIN" --case "$1" "$N2")
    awk -v a="$a" -v b="$b" -v d=$((N2 - N1)) 'BEGIN{printf "%.1f", (b - a) / d}'
}
per_child() { # case -> instructions per child cancelled
    local x fn=cancel_all_ours
    [[ $1 == ref_* ]] && fn=cancel_all_ref
    valgrind --tool=callgrind --toggle-collect="*$fn*" --callgrind-out-file="$TMP/c" "$BIN" --case "$1" "$TOTAL" >/dev/null 2>&1
    x=$(awk '/^summary:/{print $2}' "$TMP/c")
    awk -v x="$x" -v d="$TOTAL" 'BEGIN{printf "%.1f", x / d}'
}
measure() { if [[ $1 =~ ^(ref_)?cancelw?_[0-9]+$ ]]; then per_child "$1"; else per_op "$1"; fi; }

declare -A cache
value() { [[ -n ${cache[$1]:-} ]] || cache[$1]=$(measure "$1"); echo "${cache[$1]}"; }

printf "%-26s %12s %-32s %12s %8s\n" case "ours instr" reference "ref instr" ratio
while IFS=$'\t' read -r case reference _; do
    [[ $case == ref_* ]] && continue
    if [[ $# -gt 0 && ! " $* " == *" $case "* ]]; then continue; fi
    ours=$(value "$case")
    if [[ $reference == - ]]; then
        printf "%-26s %12s\n" "$case" "$ours"
    else
        r=$(value "$reference")
        printf "%-26s %12s %-32s %12s %8s\n" "$case" "$ours" "$reference" "$r" \
            "$(awk -v o="$ours" -v r="$r" 'BEGIN{printf "%.2f", o / r}')"
    fi
done < <("$BIN" --list)
