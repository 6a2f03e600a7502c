//! `#[cancelable]` above `#[tokio::main]`: `main` returns `Result<(), CancellationError>`.
//! (The same order with `#[tokio::test]` is exercised in `tests/macros.rs`: trybuild does not
//! build with `--test`.)
#![deny(warnings, clippy::all)]

use cancelable::{Cancelable, cancelable};

#[cancelable(timeout = "5s", name = "main")]
#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main(cancel: &Cancelable) {
    assert_eq!(cancel.name(), "main");
    assert_eq!(
        Cancelable::current().map(|op| op.id().to_owned()),
        Some(cancel.id().to_owned())
    );
}
