use cancelable::cancelable;

#[cancelable(timeout = "1s")]
struct Service;

fn main() {}
