//! # Cleanup when cancelled
//!
//! When a source fires, [`run`](crate::Cancelable::run) drops the body at once: a `select!` on
//! `op.cancelled()` or an `op.check()` inside the body never reaches its cleanup branch. Pick
//! one of three patterns, from the most local:
//!
//! | Pattern | The cleanup sees | Bounded by |
//! |---|---|---|
//! | [Grace period](#1-a-grace-period-the-body-cleans-up-itself) | the body's locals | the grace (and a shutdown's forcing) |
//! | [Shield](#2-a-shield-around-what-must-finish) | what the shielded future holds | nothing of ours: it runs to its end (a shutdown's forcing cuts it) |
//! | [After `run`](#3-after-run-with-what-the-body-handed-out) | what the body handed out | you |
//!
//! ## 1. A grace period: the body cleans up itself
//!
//! With [`.grace(..)`](crate::Cancelable::grace) (`#[cancelable(grace = "5s")]` on a function)
//! a cancelled body keeps being polled for up to that long. It sees `is_cancelled()`,
//! `cancelled()` and `check()`, cleans up with its locals at hand, and `run` returns the
//! cancellation when it returns. When the grace runs out, the body is dropped.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(Duration::from_millis(1750)).grace(Duration::from_secs(5));
//! let mut flushed = Vec::new();
//! let result = op
//!     .run(async {
//!         let mut buffer = Vec::new();
//!         loop {
//!             tokio::select! {
//!                 biased;
//!                 _ = op.cancelled() => {
//!                     flushed.append(&mut buffer); // the locals are still here
//!                     return;
//!                 }
//!                 _ = tokio::time::sleep(Duration::from_millis(500)) => buffer.push("row"),
//!             }
//!         }
//!     })
//!     .await;
//! assert!(result.unwrap_err().is_timeout()); // still reported as the timeout
//! assert_eq!(flushed.len(), 3);
//! # }
//! ```
//!
//! ## 2. A shield around what must finish
//!
//! [`op.shield(fut)`](crate::Cancelable::shield) (or `shielded!`) runs `fut` to its end even if
//! the operation is cancelled meanwhile; the cancellation lands right after it. Use it for the
//! step that must not be cut halfway (a commit, an `fsync` and rename). Entering a shield is a
//! checkpoint: once the operation is cancelled, a new shield protects nothing, so a worker loop
//! stops at its next job instead of taking it.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(Duration::from_millis(150));
//! let mut committed = 0;
//! let result = op
//!     .run(async {
//!         for _batch in 0..10 {
//!             op.shield(async {
//!                 tokio::time::sleep(Duration::from_millis(100)).await; // the commit
//!                 committed += 1;
//!             })
//!             .await;
//!         }
//!     })
//!     .await;
//! assert!(result.unwrap_err().is_timeout());
//! assert_eq!(committed, 2); // the commit in flight at 150 ms finished; no third one started
//! # }
//! ```
//!
//! ## 3. After `run`, with what the body handed out
//!
//! Whatever must outlive the body lives outside it; `run` returns the cancellation and the
//! cleanup runs after, with no time limit of ours.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(Duration::from_secs(1));
//! let written = Arc::new(Mutex::new(Vec::new()));
//! let result = op
//!     .run(async {
//!         for part in 0.. {
//!             tokio::time::sleep(Duration::from_millis(400)).await;
//!             written.lock().unwrap().push(format!("part-{part}.tmp"));
//!         }
//!     })
//!     .await;
//! if result.is_err() {
//!     let leftovers = std::mem::take(&mut *written.lock().unwrap());
//!     assert_eq!(leftovers, ["part-0.tmp", "part-1.tmp"]); // remove them here
//! }
//! # }
//! ```
//!
//! Under a [shutdown](crate::shutdown), the first two are bounded by its budget: at forcing,
//! both are cut and the operation is listed in the report with its cause and last progress
//! message ([guide page](super::shutdown)).
