//! Helpers for testing code that gets cancelled (feature `testing`): a recorder of what
//! happened to operations, a token that records every cancel, timing assertions, scripted
//! scenarios, and streams that are slow or paced like a network.
//!
//! Everything works on tokio's clock, and is meant for a paused one
//! (`#[tokio::test(start_paused = true)]`, which needs tokio's `test-util` feature in your
//! `[dev-dependencies]`; this feature does not turn it on, since features unify). Every time a
//! helper records is a [`Duration`](std::time::Duration) since the helper was created, so
//! paused tests assert exact values. Assertions panic (`#[track_caller]`) and print what was
//! recorded: the whole event log.
//!
//! ```toml
//! [dev-dependencies]
//! cancelable = { version = "0.1", features = ["testing"] }
//! tokio = { version = "1", features = ["macros", "rt", "test-util"] }
//! ```
//!
//! # A whole test
//!
//! The function under test imports rows and reports progress; the test checks that a cancel
//! at 2.5 s stops it after the second batch, with the status, the log and the timing exact:
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{Cancelable, CancellationError, CancellationReason, OperationStatus};
//! use cancelable::testing::{
//!     assert_cancelled_within, EventKind, EventType, OperationRecorder, Scenario,
//! };
//!
//! /// The code under test: three batches of a second each.
//! async fn import(op: &Cancelable) -> Result<usize, CancellationError> {
//!     let mut rows = 0;
//!     for batch in 1..=3 {
//!         tokio::time::sleep(Duration::from_secs(1)).await;
//!         rows += 100;
//!         op.report_progress(format!("batch {batch} done"));
//!     }
//!     Ok(rows)
//! }
//!
//! # async fn test() {
//! // #[tokio::test(start_paused = true)]
//! // async fn a_cancel_stops_the_import_between_batches() {
//! let secs = Duration::from_secs_f64;
//! let outcome = Scenario::new("import")
//!     .expect_progress("batch 2 done")
//!     .delay(secs(0.5))
//!     .cancel(CancellationReason::Manual, "user pressed stop")
//!     .expect_status(OperationStatus::Cancelled)
//!     .run(async |op: &Cancelable| import(op).await)
//!     .await;
//!
//! // The cancellation is not swallowed: `run` returned it, the status says so.
//! assert_eq!(outcome.result.unwrap_err().message(), Some("user pressed stop"));
//! let recorder: OperationRecorder = outcome.recorder;
//! recorder.assert_final_status("import", OperationStatus::Cancelled);
//! let cancelled = recorder.assert_event("import", EventType::Cancelled);
//! assert_eq!(cancelled.at, secs(2.5));
//! assert_eq!(recorder.matching("import", EventType::Progress).len(), 2);
//! assert!(matches!(
//!     cancelled.kind,
//!     EventKind::Cancelled { reason: Some(CancellationReason::Manual), .. }
//! ));
//!
//! // The same with a timing assertion, measured at the moment of the cancel.
//! assert_cancelled_within(secs(2.4)..=secs(2.6), async |token| {
//!     let _stop = token.schedule_cancel(secs(2.5), CancellationReason::Manual, "stop");
//!     let op = Cancelable::with_token(&token);
//!     assert!(op.run(import(&op)).await.is_err());
//! })
//! .await;
//! // }
//! # }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() { test().await }
//! ```
//!
//! # The helpers
//!
//! | Helper | For | Python original (`hother.cancelable`) |
//! |---|---|---|
//! | [`OperationRecorder`] | the log of starts, progress and endings; [`assert_event`](OperationRecorder::assert_event), [`assert_final_status`](OperationRecorder::assert_final_status), [`wait_for`](OperationRecorder::wait_for) | `OperationRecorder` |
//! | [`MockCancellationToken`] | a token that records every cancel, repeats included; [`schedule_cancel`](MockCancellationToken::schedule_cancel) | the mock token |
//! | [`assert_times_out`] | a future times out after `expected ± tolerance` | `run_with_timeout_test` |
//! | [`assert_cancelled_within`] | a cancel happens within a range of times | the cancel-within assertion |
//! | [`Scenario`] | a script of delays, cancels and expectations against a body | the scenario class |
//! | [`slow_stream`] | items with a delay between them | `create_slow_stream` |
//! | [`sample_operation`] | a stand-in body that reports progress | `sample_async_operation` |
//! | [`simulate_stream`], [`StreamConfig`] | a text streamed in chunks with jitter, bursts and stalls, from a seed | `streaming.simulator` |
//! | [`ShutdownProbe`] | trigger a [shutdown](crate::shutdown) and read when each phase began | (none) |
//!
//! # Differences from the Python originals
//!
//! On purpose, each a fix:
//!
//! * Times are on the event loop's clock (tokio's), not the wall clock, and exact when paused.
//! * [`assert_cancelled_within`] measures at the moment of the cancel, not when its block ends.
//! * A [`Scenario`]'s cancellation is not caught inside the operation: a cancelled operation
//!   ends `Cancelled` and its `Err` comes back. The body receives the operation. A step that
//!   never ran panics instead of being ignored.
//! * [`OperationRecorder::wait_for`] waits, with a real timeout (Python's `timeout` argument
//!   was unused).
//! * A scheduled cancel is a task you can abort or await; nothing is left running.
//! * [`assert_times_out`] also requires the error to be a timeout.
//! * [`simulate_stream`] is seeded and reproducible (Python used the global, unseeded
//!   `random`), cuts on `char` boundaries, and validation changes nothing in the config
//!   (Python padded the weights list in place).
//!
//! # Plan
//!
//! Still to come, with the modules they need:
//!
//! * A public form of this repository's child-process harness, for tests of real OS signals
//!   (which need the real clock, in a process of their own).
//!
//! For poll-level assertions (`assert_pending!`, `assert_ready!`) use `tokio-test`.

mod clock;
mod event;
mod mock_token;
mod recorder;
mod rng;
mod sample;
mod scenario;
mod shutdown_probe;
mod simulator;
mod slow_stream;
mod stream_config;
mod timing;

pub use self::event::{Event, EventKind, EventMatcher, EventType};
pub use self::mock_token::{CancelCall, MockCancellationToken, ScheduledCancel};
pub use self::recorder::OperationRecorder;
pub use self::sample::sample_operation;
pub use self::scenario::{Scenario, ScenarioOutcome};
pub use self::shutdown_probe::ShutdownProbe;
pub use self::simulator::{SimulatedStream, StreamEvent, simulate_stream};
pub use self::slow_stream::{SlowStream, slow_stream};
pub use self::stream_config::{StreamConfig, StreamConfigError};
pub use self::timing::{assert_cancelled_within, assert_times_out};
