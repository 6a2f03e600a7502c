use cancelable::cancelable;

#[cancelable(timeout = "1s", signal = "SIGTERM")]
async fn on_sigterm() {}

fn main() {
    let _ = on_sigterm;
}
