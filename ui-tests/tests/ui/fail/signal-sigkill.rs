use cancelable::cancelable;

#[cancelable(signal = "SIGKILL")]
async fn kill() {}

fn main() {}
