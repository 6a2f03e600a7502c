use cancelable::cancelable;

#[cancelable(timeout)]
async fn no_value() {}

fn main() {}
