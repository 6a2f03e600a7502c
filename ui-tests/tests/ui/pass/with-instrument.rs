//! `#[tracing::instrument]` above or below `#[cancelable]`.
#![deny(warnings, clippy::all)]

use cancelable::{Cancelable, CancellationError, cancelable};

#[cancelable(timeout = "1s")]
#[tracing::instrument]
async fn cancelable_first(id: u64) -> u64 {
    id
}

#[tracing::instrument(skip(cancel), err)]
#[cancelable(timeout = "1s")]
async fn instrument_first(id: u64, cancel: &Cancelable) -> Result<u64, CancellationError> {
    cancel.check()?;
    Ok(id)
}

// `#[cancelable]` has removed `cancel` before `#[instrument]` runs: nothing to skip.
#[cancelable(timeout = "1s")]
#[tracing::instrument(ret)]
async fn with_the_parameter(cancel: &Cancelable) -> bool {
    cancel.is_cancelled()
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(cancelable_first(1).await.unwrap(), 1);
    assert_eq!(instrument_first(2).await.unwrap(), 2);
    assert!(!with_the_parameter().await.unwrap());
}
