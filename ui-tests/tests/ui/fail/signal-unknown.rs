use cancelable::cancelable;

#[cancelable(signal = "SIGTREM")]
async fn typo() {}

#[cancelable(signal = ["SIGINT", "SIGWHATEVER"])]
async fn unknown() {}

fn main() {}
