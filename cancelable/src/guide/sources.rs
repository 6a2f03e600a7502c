//! # Sources of cancellation
//!
//! An operation ([`Cancelable`]) is built from its sources. When one fires, the scope's token is
//! cancelled, the body given to [`run`](Cancelable::run) is dropped at its current `.await`, and
//! `run` returns a [`CancellationError`] whose [`reason`](CancellationError::reason) and
//! [`message`](CancellationError::message) say which source fired and why.
//!
//! | source | constructor | reason |
//! |---|---|---|
//! | timeout, deadline | [`with_timeout`](Cancelable::with_timeout), [`with_deadline`](Cancelable::with_deadline) | `Timeout` |
//! | a token, cancelled from any task or thread | [`with_token`](Cancelable::with_token) | the token's |
//! | OS signals (Unix) | [`with_signal`](Cancelable::with_signal) | `Signal` |
//! | a polled predicate | [`with_condition`](Cancelable::with_condition), [`with_async_condition`](Cancelable::with_async_condition) | `Condition` |
//! | your own | [`with_source`](Cancelable::with_source) | yours |
//! | an enclosing operation | automatic, or [`parent`](Cancelable::parent) | `Parent` |
//! | nothing but a manual cancel | [`new`](Cancelable::new), then [`cancel`](Cancelable::cancel) | `Manual` |
//!
//! `run` polls every source itself: nothing is spawned for a timeout, a token or a condition,
//! and a timeout's clock starts when `run` starts, not when the operation is built.
//!
//! ## Timeouts and deadlines
//!
//! ```
//! use std::time::Duration;
//! use cancelable::Cancelable;
//! use tokio::time::{sleep, Instant};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(Duration::from_secs(2)).named("fetch");
//! let err = op.run(sleep(Duration::from_secs(60))).await.unwrap_err();
//! assert_eq!(err.to_string(), r#"operation "fetch" cancelled: timeout after 2s"#);
//!
//! // A deadline shared by the steps of a pipeline.
//! let deadline = Instant::now() + Duration::from_secs(5);
//! let first = Cancelable::with_deadline(deadline).run(sleep(Duration::from_secs(3))).await;
//! let second = Cancelable::with_deadline(deadline).run(sleep(Duration::from_secs(3))).await;
//! assert!(first.is_ok());
//! assert_eq!(second.unwrap_err().message(), Some("deadline exceeded"));
//!
//! // The one-line form.
//! assert_eq!(cancelable::with_timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
//! # }
//! ```
//!
//! ## Tokens
//!
//! A [`CancellationToken`] is a cheap handle to a cancel-once flag with a reason: `cancel` is
//! synchronous, callable from any thread with no runtime, and wakes every waiter; the first
//! cancel wins. `check()` is sticky and `is_cancelled()` is one atomic load.
//!
//! ```
//! use cancelable::{Cancelable, CancellationReason, CancellationToken};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let stop = CancellationToken::new();
//! let op = Cancelable::with_token(stop.clone()).named("render");
//! let remote = stop.clone();
//! std::thread::spawn(move || remote.cancel_with(CancellationReason::Manual, "window closed"));
//!
//! let err = op.run(std::future::pending::<()>()).await.unwrap_err();
//! assert_eq!(err.message(), Some("window closed"));
//! assert!(stop.check().is_err());
//! # }
//! ```
//!
//! Every operation has its own scope token ([`Cancelable::token`]): hand it to code that only
//! needs to cancel or watch. Tokens convert to and from `tokio_util`'s `CancellationToken`.
//!
//! ## Signals
//!
//! ```no_run
//! use cancelable::{Cancelable, Signal};
//!
//! # #[tokio::main] async fn main() {
//! let server = Cancelable::with_signal([Signal::Int, Signal::Term]).named("server");
//! let err = server.run(std::future::pending::<()>()).await.unwrap_err();
//! println!("{err}"); // operation "server" cancelled: received signal SIGTERM
//! # }
//! ```
//!
//! One process-wide listener per signal is shared by every operation waiting on it; when the
//! last one ends, the signal's previous disposition is back (see [`Signal`](crate::Signal)).
//!
//! ## Conditions
//!
//! A predicate checked when `run` starts and then every interval, on the operation's own task.
//! The message names the condition and counts the checks; a predicate that panics counts as
//! "not met".
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let queue = Arc::new(AtomicU32::new(3));
//! let pending = queue.clone();
//! let op = Cancelable::with_named_condition(
//!     "queue_drained",
//!     move || pending.load(Ordering::Relaxed) == 0,
//!     Duration::from_millis(100),
//! );
//! let err = op
//!     .run(async {
//!         loop {
//!             tokio::time::sleep(Duration::from_millis(100)).await;
//!             let _ = queue.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
//!         }
//!     })
//!     .await
//!     .unwrap_err();
//! assert!(err.message().unwrap().starts_with("condition `queue_drained` met after"));
//! # }
//! ```
//!
//! ## Your own source
//!
//! Any `Future<Output = CancellationError> + Send + 'static` is a [`CancellationSource`]:
//!
//! ```
//! use cancelable::{Cancelable, CancellationError, CancellationReason};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let (quota_tx, quota_rx) = tokio::sync::oneshot::channel::<u32>();
//! let op = Cancelable::with_source(async move {
//!     let used = quota_rx.await.unwrap_or(0);
//!     CancellationError::new(CancellationReason::Condition).with_message(format!("quota used: {used}"))
//! });
//! quota_tx.send(1000).unwrap();
//! let err = op.run(std::future::pending::<()>()).await.unwrap_err();
//! assert_eq!(err.message(), Some("quota used: 1000"));
//! # }
//! ```

#[allow(unused_imports)] // the links above
use crate::{Cancelable, CancellationError, CancellationSource, CancellationToken};
