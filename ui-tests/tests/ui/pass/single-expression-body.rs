//! A body that is one expression: the expansion adds no braces around it, so
//! `unused_braces` (and every other warning) stays quiet.
#![deny(warnings)]

use cancelable::{Cancelable, cancelable};

#[cancelable(timeout = "1s")]
pub async fn answer(x: u64, cancel: &Cancelable) -> u64 { if cancel.is_cancelled() { 0 } else { x + 1 } }

#[cancelable(timeout = "1s")]
pub async fn unit() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(answer(1).await.unwrap(), 2);
    unit().await.unwrap();
}
