use cancelable::cancelable;

#[cancelable(timeout = "30x")]
async fn bad_unit() {}

#[cancelable(timeout = "1.5s")]
async fn fraction() {}

#[cancelable(timeout = "30secs")]
async fn long_unit() {}

fn main() {}
