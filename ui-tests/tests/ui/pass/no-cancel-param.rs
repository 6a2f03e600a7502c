//! Without a `&Cancelable` parameter nothing is injected; `Cancelable::current()` is the
//! operation.
#![deny(warnings, clippy::all)]

use cancelable::{Cancelable, cancelable};

#[cancelable(name = "implicit", timeout = "1s")]
async fn implicit() -> String {
    let current = Cancelable::current().expect("running inside the operation");
    current.name().to_owned()
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(implicit().await.unwrap(), "implicit");
    assert!(Cancelable::current().is_none());
}
