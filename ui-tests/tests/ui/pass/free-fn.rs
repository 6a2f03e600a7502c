//! Free functions: every return-type shape, every option but `signal`, visibility and `unsafe`.
#![deny(warnings, clippy::all)]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cancelable::{Cancelable, CancellationError, CancellationToken, cancelable};

#[derive(Debug)]
enum AppError {
    Cancelled(CancellationError),
}

impl From<CancellationError> for AppError {
    fn from(error: CancellationError) -> Self {
        AppError::Cancelled(error)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Cancelled(error) => write!(f, "cancelled: {error}"),
        }
    }
}

#[cancelable(timeout = "30s")]
async fn keeps_result(id: u64, cancel: &Cancelable) -> Result<u64, AppError> {
    cancel.check()?;
    Ok(id * 2)
}

#[cancelable(timeout = "1m30s", name = "custom name")]
pub async fn wraps_other_types(id: u64) -> String {
    id.to_string()
}

#[cancelable]
pub(crate) async fn no_return_type(_cancel: &Cancelable) {}

#[cancelable(
    token = token.clone(),
    condition = { let stop = stop.clone(); move || stop.load(Ordering::Relaxed) },
    check_interval = "10ms",
    register,
)]
async fn expression_options(token: CancellationToken, stop: Arc<AtomicBool>) -> usize {
    drop(token);
    Arc::strong_count(&stop)
}

#[cancelable(parent = &parent)]
async fn explicit_parent(parent: Cancelable) -> bool {
    parent.is_cancelled()
}

/// # Safety
///
/// None needed: this only proves `unsafe` survives the rewrite.
#[cancelable(timeout = "2h")]
async unsafe fn unsafe_fn() -> u8 {
    7
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(keeps_result(21).await.unwrap(), 42);
    assert_eq!(wraps_other_types(5).await.unwrap(), "5");
    no_return_type().await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    assert_eq!(
        expression_options(CancellationToken::new(), stop)
            .await
            .unwrap(),
        2
    );
    assert!(!explicit_parent(Cancelable::new()).await.unwrap());
    // SAFETY: `unsafe_fn` has no precondition.
    assert_eq!(unsafe { unsafe_fn() }.await.unwrap(), 7);
}
