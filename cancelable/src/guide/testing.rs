//! # Testing your cancellation
//!
//! Code that gets cancelled has two things to test: that it *is* cancelled when it should be
//! (the timeout fires at 30 s, the stop button stops it), and what it does then (its status,
//! its partial results, its cleanup). Both are about time, so test on tokio's paused clock:
//! with `#[tokio::test(start_paused = true)]` (tokio's `test-util` feature) a sleep returns at
//! once and moves the clock by exactly its length, so a 30-second timeout takes no real time
//! and every instant is exact.
//!
//! The feature `testing` adds [`cancelable::testing`](crate::testing), the helpers below.
//! Enable it in `[dev-dependencies]` only.
//!
//! ## Did it time out, and when?
//!
//! [`assert_times_out`](crate::testing::assert_times_out) awaits anything that returns
//! `Result<_, CancellationError>` and checks that it was a timeout, after the expected time
//! (a zero tolerance works on a paused clock):
//!
//! ```
//! use std::time::Duration;
//! use cancelable::testing::assert_times_out;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let secs = Duration::from_secs;
//! let slow_call = tokio::time::sleep(secs(120));
//! let err = assert_times_out(cancelable::with_timeout(secs(30), slow_call), secs(30), secs(0)).await;
//! assert!(err.is_timeout());
//! # }
//! ```
//!
//! ## Was it cancelled in time?
//!
//! [`assert_cancelled_within`](crate::testing::assert_cancelled_within) hands the body a
//! [`MockCancellationToken`](crate::testing::MockCancellationToken) and checks when the token
//! was cancelled, at the moment of the cancel: cleanup that goes on afterwards does not count.
//! The mock records every cancel call, repeats included:
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{Cancelable, CancellationReason};
//! use cancelable::testing::assert_cancelled_within;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let ms = Duration::from_millis;
//! assert_cancelled_within(ms(900)..=ms(1100), async |token| {
//!     let watchdog = token.clone();
//!     let op = Cancelable::with_token(&token);
//!     let _ = op
//!         .run(async {
//!             tokio::time::sleep(ms(1000)).await;
//!             watchdog.cancel_with(CancellationReason::Condition, "too slow");
//!             watchdog.cancel(); // a second call: recorded, no effect
//!             std::future::pending::<()>().await
//!         })
//!         .await;
//!     assert_eq!(token.cancel_count(), 2);
//!     assert!(!token.history()[1].took_effect);
//! })
//! .await;
//! # }
//! ```
//!
//! ## What happened to it?
//!
//! An [`OperationRecorder`](crate::testing::OperationRecorder) attached to operations logs
//! their starts, progress reports and endings with exact times; its assertions print the whole
//! log when they fail. Streams can be tested with
//! [`slow_stream`](crate::testing::slow_stream):
//!
//! ```
//! use std::time::Duration;
//! use futures::StreamExt;
//! use cancelable::{Cancelable, OperationStatus};
//! use cancelable::testing::{slow_stream, EventType, OperationRecorder};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let recorder = OperationRecorder::new();
//! let op = recorder.attach(&Cancelable::with_timeout(Duration::from_millis(350)).operation_id("feed"));
//! let _ = op
//!     .run(async {
//!         let mut items = op.stream(slow_stream(0.., Duration::from_millis(100))).report_every(2);
//!         while let Some(Ok(_)) = items.next().await {}
//!     })
//!     .await;
//! recorder.assert_final_status("feed", OperationStatus::Cancelled);
//! assert_eq!(recorder.assert_event("feed", EventType::Cancelled).at, Duration::from_millis(350));
//! assert_eq!(op.context().items, Some(4)); // at 0, 100, 200 and 300 ms
//! # }
//! ```
//!
//! ## A script
//!
//! A [`Scenario`](crate::testing::Scenario) plays delays, cancels and expectations against a
//! body on the paused clock, and returns the body's result untouched: a cancelled operation is
//! `Err` and ends `Cancelled`. A step the operation did not live to see panics ("step 2
//! (cancel) never ran"), so a test cannot pass by accident. The module docs of
//! [`cancelable::testing`](crate::testing) show a whole test written this way.
//!
//! ## A realistic stream
//!
//! [`simulate_stream`](crate::testing::simulate_stream) delivers a text the way a network or a
//! language model does: chunks after a jittered delay, bursts, stalls. It is seeded: one
//! [`StreamConfig`](crate::testing::StreamConfig) gives one sequence of events, on every run.
//!
//! ```
//! use futures::StreamExt;
//! use cancelable::Cancelable;
//! use cancelable::testing::{simulate_stream, StreamConfig};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(std::time::Duration::from_millis(200));
//! let config = StreamConfig { seed: 3, chunk_size: 4, ..StreamConfig::default() };
//! let mut received = String::new();
//! let _ = op
//!     .run(async {
//!         let mut events = op.stream(simulate_stream("a partial answer, kept", config));
//!         while let Some(Ok(event)) = events.next().await {
//!             received.push_str(event.chunk().unwrap_or(""));
//!         }
//!     })
//!     .await;
//! assert!("a partial answer, kept".starts_with(&received));
//! # }
//! ```
//!
//! ## Real signals
//!
//! A paused clock and a real OS signal do not mix: while the runtime waits for the signal it
//! auto-advances to its next timer. Test the logic with a programmatic trigger on the paused
//! clock (a token, a mock), and real signals on the real clock in a child process of their
//! own, as this repository's `tests/signals.rs` does.

#[allow(unused_imports)] // the links above
use crate::testing;
