use cancelable::cancelable;

#[cancelable(timeout = "0s")]
async fn zero() {}

fn main() {}
