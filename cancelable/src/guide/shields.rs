//! # Shields
//!
//! A cancellation drops the body at its current `.await`. Work that must not stop halfway (a
//! commit, a file rename, a message to a peer) runs under a shield: while a shield runs, the
//! operation's `run` keeps polling the body even if a source fired; the cancellation lands at the
//! next `.await` after the last shield ends.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::Cancelable;
//! use tokio::time::sleep;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(Duration::from_millis(100)).named("transfer");
//! let mut committed = false;
//! let outcome = op
//!     .run(async {
//!         sleep(Duration::from_millis(50)).await;
//!         op.shield(async {
//!             sleep(Duration::from_millis(200)).await; // outlives the timeout
//!             committed = true;
//!         })
//!         .await;
//!         sleep(Duration::from_secs(1)).await; // the timeout lands here
//!     })
//!     .await;
//! assert!(outcome.unwrap_err().is_timeout());
//! assert!(committed);
//! # }
//! ```
//!
//! Shields nest; scopes started inside a shield are not children of the shielded operation, so
//! cleanup can run its own timeouts. The macro form is `shielded!(cancel, { … })` (see
//! [macros](super::macros)).
//!
//! ## What a shield cannot stop
//!
//! A shield holds off this library's cancellations. A drop that comes from outside — an
//! enclosing `tokio::time::timeout`, an aborted task, a web server dropping a request whose
//! client went away — still drops the shielded future with everything around it. Work that
//! must survive those goes to its own task:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let audit = tokio::spawn(async { /* write the audit record */ });
//! // Even if this future is dropped now, the spawned task runs to its end.
//! audit.await.unwrap();
//! # }
//! ```
