#!/usr/bin/env bash
# Compile-time cost of the attribute: a crate of 200 `#[cancelable(timeout = "…")]` fns against
# the same 200 fns written by hand, `cargo check` of each crate alone (dependencies prebuilt),
# median of ROUNDS runs, and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-5}
N=${N:-200}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export CARGO_TARGET_DIR=$WORK/target

make_crate() { # name, body generator
    mkdir -p "$WORK/$1/src"
    cat > "$WORK/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false
[workspace]
[dependencies]
cancelable = { path = "$ROOT/cancelable" }
TOML
    "$2" > "$WORK/$1/src/lib.rs"
}
annotated() {
    echo "use cancelable::{cancelable, Cancelable};"
    for i in $(seq 1 "$N"); do
        cat <<RS
#[cancelable(timeout = "${i}s")]
pub async fn op_$i(x: u64, cancel: &Cancelable) -> u64 { if cancel.is_cancelled() { 0 } else { x + $i } }
RS
    done
}
handwritten() {
    echo "use cancelable::{Cancelable, CancellationError};"
    for i in $(seq 1 "$N"); do
        cat <<RS
pub async fn op_$i(x: u64) -> Result<u64, CancellationError> {
    let op = Cancelable::with_timeout(::core::time::Duration::from_secs($i)).named("op_$i");
    let cancel = &op;
    op.run(async move { if cancel.is_cancelled() { 0 } else { x + $i } }).await
}
RS
    done
}
make_crate gen_annotated annotated
make_crate gen_handwritten handwritten
cp "$ROOT/Cargo.lock" "$WORK/gen_annotated/" && cp "$ROOT/Cargo.lock" "$WORK/gen_handwritten/"
for c in gen_annotated gen_handwritten; do cargo check -q --manifest-path "$WORK/$c/Cargo.toml"; done

median_check() { # crate -> median seconds of `cargo check` after touching its lib
    local times=()
    for _ in $(seq 1 "$ROUNDS"); do
        touch "$WORK/$1/src/lib.rs"
        local t0 t1
        t0=$(date +%s.%N)
        cargo check -q --manifest-path "$WORK/$1/Cargo.toml"
        t1=$(date +%s.%N)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'
}
a=$(median_check gen_annotated)
h=$(median_check gen_handwritten)
printf "cargo check, %d fns: annotated %.2fs, hand-written %.2fs, ratio %.2f (median of %d)\n" \
    "$N" "$a" "$h" "$(awk -v a="$a" -v h="$h" 'BEGIN{print a / h}')" "$ROUNDS"
