use cancelable::cancelable;

#[tokio::main]
#[cancelable(timeout = "1s")]
async fn main() {}
