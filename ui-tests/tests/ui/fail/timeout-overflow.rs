use cancelable::cancelable;

#[cancelable(timeout = "99999999999999999999h")]
async fn forever() {}

fn main() {}
