use cancelable::cancelable;

#[cancelable(signal = ["SIGTERM", "stop"])]
async fn stop() {}

fn main() {}
