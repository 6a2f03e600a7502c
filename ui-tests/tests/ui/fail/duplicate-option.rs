use cancelable::cancelable;

#[cancelable(timeout = "1s", name = "first", timeout = "2s")]
async fn twice() {}

fn main() {}
