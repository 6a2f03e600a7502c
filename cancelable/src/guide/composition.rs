//! # Composition
//!
//! Sources compose two ways, and compositions nest:
//!
//! * **any-of** ([`Cancelable::any_of`], [`Cancelable::combine`]): the first member to fire
//!   cancels the operation, with that member's reason and message. Among timeouts and
//!   deadlines the earliest wins, whatever the order of combination.
//! * **all-of** ([`Cancelable::all_of`]): the operation is cancelled once every member has
//!   fired at least once; the reason is the last one's, the message names them all.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{Cancelable, CancellationReason, CancellationToken};
//! use tokio::time::Instant;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let user = CancellationToken::new();
//! let op = Cancelable::any_of([
//!     Cancelable::with_timeout(Duration::from_secs(30)),
//!     Cancelable::with_token(user.clone()),
//!     Cancelable::with_timeout(Duration::from_secs(5)), // the earliest deadline wins
//! ])
//! .named("sync");
//! let start = Instant::now();
//! let err = op.run(std::future::pending::<()>()).await.unwrap_err();
//! assert_eq!(err.reason(), CancellationReason::Timeout);
//! assert_eq!(start.elapsed(), Duration::from_secs(5));
//! # }
//! ```
//!
//! "Run at least a second, and until the work is marked done; give up after a minute":
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{Cancelable, CancellationToken};
//! use tokio::time::Instant;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let done = CancellationToken::new();
//! let op = Cancelable::any_of([
//!     Cancelable::with_timeout(Duration::from_secs(60)),
//!     Cancelable::all_of([
//!         Cancelable::with_timeout(Duration::from_secs(1)),
//!         Cancelable::with_token(done.clone()),
//!     ]),
//! ]);
//! done.cancel(); // marked done at once…
//! let start = Instant::now();
//! let err = op.run(std::future::pending::<()>()).await.unwrap_err();
//! assert_eq!(start.elapsed(), Duration::from_secs(1)); // …but the minimum still holds
//! assert!(err.message().unwrap().starts_with("all of: "));
//! # }
//! ```
//!
//! ## Parents and children
//!
//! An operation started inside another's `run`, in the same task, becomes its child: when the
//! parent is cancelled, the child is too, with reason `Parent` and the parent's error as its
//! [`cause`](CancellationError::cause). Across tasks, use [`Cancelable::spawn`],
//! [`Cancelable::child`] or [`Cancelable::parent`]. Cancelling a child leaves the parent alone.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{Cancelable, CancellationReason};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let batch = Cancelable::with_timeout(Duration::from_secs(1)).named("batch");
//! let outcome = batch
//!     .run(async {
//!         // Runs in its own task, as a child of `batch`.
//!         let worker = Cancelable::current().unwrap().spawn(std::future::pending::<()>());
//!         worker.await.unwrap()
//!     })
//!     .await;
//! assert!(outcome.unwrap_err().is_timeout());
//!
//! let parent = Cancelable::new().named("parent");
//! let child = Cancelable::new().named("child").parent(&parent);
//! let task = tokio::spawn(async move { child.run(std::future::pending::<()>()).await });
//! tokio::task::yield_now().await;
//! parent.cancel_with(CancellationReason::Manual, "stop everything");
//! let err = task.await.unwrap().unwrap_err();
//! assert_eq!(err.reason(), CancellationReason::Parent);
//! assert_eq!(err.cause().unwrap().message(), Some("stop everything"));
//! # }
//! ```

#[allow(unused_imports)] // the links above
use crate::{Cancelable, CancellationError};
