//! `cancel_combine!` and `shielded!` in their accepted forms.
#![deny(warnings, clippy::all)]

use cancelable::{Cancelable, CancellationToken, cancel_combine, cancelable, shielded};

#[cancelable(timeout = "1s")]
async fn shields(cancel: &Cancelable) -> u32 {
    let mut local = 1;
    // Borrows and mutates locals, awaits, evaluates to the block's value.
    let value = shielded!(cancel, {
        tokio::task::yield_now().await;
        local += 1;
        local * 10
    });
    let current = shielded!({ value + 1 });
    let owned = cancel.clone();
    let by_value = shielded!(owned, { current + 1 });
    by_value + local
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(shields().await.unwrap(), 24);
    assert_eq!(shielded!({ 5 }), 5);

    let token = CancellationToken::new();
    let a = Cancelable::new();
    let b = Cancelable::new();
    let any: Cancelable = cancel_combine!(timeout = "30s", token = token.clone(), a, b.child(),);
    let named = cancel_combine!(
        name = "named",
        signal = ["SIGINT", "SIGTERM"],
        condition = || false
    );
    assert_eq!(named.name(), "named");
    let all = cancel_combine!(all: Cancelable::new(), token = token.clone(), timeout = "1s");
    let single = cancel_combine!(b);
    assert!(!any.is_cancelled() && !all.is_cancelled() && !single.is_cancelled());
}
