use cancelable::cancelable;

#[cancelable(timeout = "1s", check_interval = "10ms")]
async fn no_condition() {}

fn main() {}
