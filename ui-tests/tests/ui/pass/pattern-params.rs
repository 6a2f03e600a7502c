//! Parameters written as patterns, `mut` bindings, `_`, and a `&Cancelable` bound to `_` or
//! carrying attributes.
#![deny(warnings, clippy::all)]

use cancelable::{Cancelable, cancelable};

struct Point {
    x: i32,
    y: i32,
}

#[cancelable(timeout = "1s")]
async fn patterns(
    (a, b): (i32, i32),
    Point { x, y }: Point,
    mut total: i32,
    _: u8,
    _: &Cancelable,
) -> i32 {
    total += a + b + x + y;
    total
}

// The parameter's attributes stay with it.
#[cancelable]
async fn attributes(#[allow(unused_variables)] cancel: &Cancelable, [first, ..]: [u8; 3]) -> u8 {
    first
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(
        patterns((1, 2), Point { x: 3, y: 4 }, 10, 0).await.unwrap(),
        20
    );
    assert_eq!(attributes([9, 8, 7]).await.unwrap(), 9);
}
