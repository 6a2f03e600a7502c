//! # Streams
//!
//! [`Cancelable::stream`] wraps a stream so that it ends when the operation is cancelled: items
//! pass through as `Ok` until then, then one `Err` with the cancellation, then the end. Items are
//! counted in the operation's context as they are delivered, so the count survives the body
//! being dropped; [`report_every`](crate::CancelableStream::report_every) adds progress.
//!
//! ```
//! use std::time::Duration;
//! use futures::StreamExt;
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let tokens = futures::stream::iter(0..).then(|n| async move {
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//!     format!("token{n} ")
//! });
//! let op = Cancelable::with_timeout(Duration::from_millis(55)).named("reply");
//! let mut text = String::new();
//! let outcome = op
//!     .run(async {
//!         let mut tokens = std::pin::pin!(op.stream(tokens));
//!         while let Some(token) = tokens.next().await {
//!             text.push_str(&token?);
//!         }
//!         Ok::<_, cancelable::CancellationError>(())
//!     })
//!     .await;
//! assert!(outcome.unwrap_err().is_timeout());
//! assert_eq!(op.context().items, Some(5)); // the partial answer is kept
//! assert_eq!(text, "token0 token1 token2 token3 token4 ");
//! # }
//! ```
//!
//! On its own (outside `run`), a stream sees the cancellations that reach the operation directly:
//! a token, [`cancel`](Cancelable::cancel), a parent, the registry.
//!
//! [`stream_chunks`](Cancelable::stream_chunks) delivers batches, with progress after each:
//!
//! ```
//! use futures::StreamExt;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let op = cancelable::Cancelable::new();
//! let batches: Vec<_> = op.stream_chunks(futures::stream::iter(1..=5), 2).collect().await;
//! assert_eq!(batches.len(), 3);
//! assert_eq!(op.context().exhausted, Some(true));
//! # }
//! ```
//!
//! With the `axum` feature, `cancel.sse(stream)` sends a stream of server-sent events that ends
//! with an `event: cancelled` frame when the request's operation is cancelled.

#[allow(unused_imports)] // the links above
use crate::Cancelable;
