//! `crate = "…"` for crates that re-export `cancelable` (string or bare path).
#![deny(warnings, clippy::all)]

mod reexport {
    pub use ::cancelable as inner;
}

use reexport::inner::{Cancelable, cancel_combine, cancelable, shielded};

#[cancelable(crate = "crate::reexport::inner", timeout = "1s")]
async fn quoted(cancel: &Cancelable) -> bool {
    let shielded = shielded!(crate = "crate::reexport::inner", cancel, {
        tokio::task::yield_now().await;
        cancel.is_cancelled()
    });
    shielded || shielded!(crate = crate::reexport::inner, { cancel.is_cancelled() })
}

#[cancelable(crate = crate::reexport::inner, signal = "SIGUSR2")]
async fn bare_path() -> u8 {
    1
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert!(!quoted().await.unwrap());
    assert_eq!(bare_path().await.unwrap(), 1);
    let combined = cancel_combine!(
        crate = "crate::reexport::inner",
        timeout = "1s",
        Cancelable::new()
    );
    assert!(!combined.is_cancelled());
}
