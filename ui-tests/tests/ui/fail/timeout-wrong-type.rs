use cancelable::{cancel_combine, cancelable};

// A duration expression must be a `Duration`: the error is on the expression.
#[cancelable(timeout = seconds)]
async fn fetch(seconds: u64) {}

fn main() {
    let millis = 500u32;
    let _combined = cancel_combine!(timeout = "1s", grace = millis);
}
