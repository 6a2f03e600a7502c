#![deny(dead_code)]

use cancelable::cancelable;

#[cancelable(timeout = "1s")]
async fn never_called() {}

fn main() {}
