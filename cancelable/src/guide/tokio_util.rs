//! Coming from tokio-util: a port is a change of `use` lines.
//!
//! [`CancellationToken`](crate::CancellationToken) has the whole API of
//! `tokio_util::sync::CancellationToken`, under the same names and with the same documented
//! semantics, and [`FutureExt`](crate::FutureExt) has tokio-util's
//! `with_cancellation_token(_owned)`. tokio-util's own tests of both run against this crate,
//! changed only in their `use` lines (`tests/tokio_util_parity/`).
//!
//! ```
//! // Was: use tokio_util::sync::CancellationToken; use tokio_util::future::FutureExt;
//! use cancelable::{CancellationToken, FutureExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let token = CancellationToken::new();
//! let child = token.child_token();
//!
//! let worker = tokio::spawn({
//!     let child = child.clone();
//!     async move { child.run_until_cancelled(std::future::pending::<()>()).await }
//! });
//! let guard = token.clone().drop_guard();      // cancels the tree when it goes out of scope
//! drop(guard);
//! assert_eq!(worker.await.unwrap(), None);
//!
//! let done = async { 7 }.with_cancellation_token(&child).await;
//! assert_eq!(done, None);                      // already cancelled: the future never ran
//! assert!(child.is_cancelled());
//! # }
//! ```
//!
//! What you gain by staying: every cancel carries a reason and a message that children see as
//! their cause, `check()?` in loops, callbacks on cancel, a blocking wait for plain threads,
//! and operations ([`Cancelable`](crate::Cancelable)) with timeouts, signals, conditions,
//! shields, progress and a registry around the same token.
//!
//! # The differences that remain
//!
//! They are listed on the token's module docs and repeated here:
//!
//! * `cancel()` returns `bool` (`true` for the call that cancelled). A closure that must return
//!   `()` needs a `;`: `move || { token.cancel(); }`.
//! * `is_cancelled()` is one atomic load; tokio-util's takes a mutex.
//! * `WaitForCancellationFuture<'a>` and `WaitForCancellationFutureOwned` are two names of one
//!   `'static` future, [`Cancelled`](crate::Cancelled).
//! * The token's `run_until_cancelled` keeps tokio-util's bias towards the future when both are
//!   ready; an operation's [`run`](crate::Cancelable::run) and
//!   [`run_until_cancelled`](crate::Cancelable::run_until_cancelled) let a fired cancellation
//!   win, so a cancelled operation never polls its body again.
//! * Converting between the two tokens works both ways without a runtime; a token made from a
//!   tokio-util one is cancelled with reason `Manual` and no message.
//!
//! ```
//! let theirs = tokio_util::sync::CancellationToken::new();
//! let ours = cancelable::CancellationToken::from(theirs.clone()); // no runtime needed
//! theirs.cancel();
//! assert!(ours.is_cancelled());
//! assert_eq!(ours.reason(), Some(cancelable::CancellationReason::Manual));
//! ```
