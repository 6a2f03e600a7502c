#![deny(unused_variables)]

use cancelable::{Cancelable, cancelable};

#[cancelable(timeout = "1s")]
async fn unused(cancel: &Cancelable) {}

fn main() {
    let _ = unused;
}
