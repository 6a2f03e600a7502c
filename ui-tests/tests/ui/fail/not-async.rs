use cancelable::cancelable;

#[cancelable(timeout = "1s")]
fn not_async() {}

fn main() {}
