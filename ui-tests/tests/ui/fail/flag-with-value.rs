use cancelable::cancelable;

#[cancelable(register = true)]
async fn flag() {}

fn main() {}
