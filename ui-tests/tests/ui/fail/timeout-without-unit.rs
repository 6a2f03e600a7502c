use cancelable::cancelable;

#[cancelable(timeout = 30)]
async fn number() {}

fn main() {}
