//! Signal names with or without `SIG`, in any case, one or several.
#![deny(warnings, clippy::all)]

use cancelable::cancelable;

#[cancelable(signal = "SIGTERM")]
async fn one() {}

#[cancelable(signal = ["int", "TERM", "SigHup", "SIGQUIT", "usr1", "SIGUSR2"], timeout = "1s")]
async fn all_of_them() {}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    one().await.unwrap();
    all_of_them().await.unwrap();
}
