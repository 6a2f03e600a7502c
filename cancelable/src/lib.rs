//! Structured, composable cancellation for async work on tokio.
//!
//! An operation ([`Cancelable`]) is a scope around a future with any number of *sources* of
//! cancellation: a timeout or deadline, a [`CancellationToken`] cancelled from any task or OS
//! thread, OS signals, polled conditions, a parent operation, or your own
//! [`CancellationSource`]. Sources compose any-of and all-of. When one fires, the future is
//! dropped at once (unless a [shield](Cancelable::shield) is running) and `run` returns a
//! [`CancellationError`] saying which source fired and why.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{Cancelable, CancellationReason, CancellationToken};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let shutdown = CancellationToken::new();
//! let op = Cancelable::with_timeout(Duration::from_secs(30))
//!     .combine(Cancelable::with_token(shutdown.clone()))
//!     .named("fetch_user");
//!
//! // Cancel from anywhere: another task, a plain OS thread, a signal handler's thread.
//! std::thread::spawn(move || shutdown.cancel_with(CancellationReason::Manual, "deploy"));
//!
//! let err = op.run(std::future::pending::<()>()).await.unwrap_err();
//! assert_eq!(err.reason(), CancellationReason::Manual);
//! assert_eq!(err.to_string(), r#"operation "fetch_user" cancelled: deploy"#);
//! # }
//! ```
//!
//! # Cost
//!
//! `run` polls its sources itself: no task is spawned per operation, timeout, token or
//! condition, and the timer is created only if the body does not finish on its first poll.
//! [`CancellationToken::is_cancelled`] is one atomic load. Cancelling a parent pushes the state
//! down its tree once, so checks never walk ancestors.
//!
//! # Observability
//!
//! * Lifecycle callbacks: [`on_start`](Cancelable::on_start),
//!   [`on_completed`](Cancelable::on_completed), [`on_cancelled`](Cancelable::on_cancelled),
//!   [`on_failed`](Cancelable::on_failed); exactly one of the last three fires per run.
//! * Progress: [`report_progress`](Cancelable::report_progress) calls the
//!   [`on_progress`](Cancelable::on_progress) callbacks with a [`ProgressEvent`]; free when
//!   nobody listens.
//! * Tracing: each operation runs in an `INFO` span named `operation` with the fields
//!   `operation.id`, `operation.name` (and `otel.name`, which OpenTelemetry layers use as the
//!   span's name). In it: `operation started` and `operation completed` (`DEBUG`), progress
//!   reports and `operation cancelled` with `cancellation.reason` and `cancellation.message`
//!   (`INFO`), `operation failed` with `error` (`WARN`); a panicking callback is an `ERROR`.
//!   When no subscriber wants the span, nothing is recorded and no id is generated for it.
//! * [`OperationRegistry`]: operations built with [`register`](Cancelable::register) are listed
//!   from when they are built until their `run` ends, found by status, name glob, parent or
//!   metadata, cancelled by id or pattern from any thread, then kept in a bounded history with
//!   statistics; a listing is JSON ready to serve.
//! * Streams: [`Cancelable::stream`] ends a stream on cancellation and counts its items in the
//!   operation's [context](OperationContext::items).
//!
//! # Features
//!
//! * `macros` (default): `#[cancelable]`, `cancel_combine!` and `shielded!`.
//! * `signal` (default, Unix): [`Cancelable::with_signal`].
//! * `backon`: `Cancelable::retry`, retries with any [backon] backoff that a cancellation stops
//!   at once (module `retry`).
//! * `axum`: module `axum`: `CancelableLayer` runs a request per operation, cancelled with
//!   reason `Disconnect` when the client goes away; the `RequestCancelable` extractor,
//!   `CancellationError: IntoResponse`, `Cancelable::sse`.
//! * `propagation`: module `propagation`, deadlines across service hops: `grpc-timeout` and
//!   `request-timeout-ms` on the wire, `PropagateLayer` for tower HTTP clients (hyper-util,
//!   tonic).
//! * `tonic`: with `propagation`, a cancelled gRPC call fails with the `tonic::Status` a gRPC
//!   client expects (`DEADLINE_EXCEEDED`, `CANCELLED`); `From<CancellationError> for
//!   tonic::Status`.
//! * `resources`: `Cancelable::with_resource_limits`, memory, CPU and disk thresholds through
//!   [sysinfo].
//! * `testing`: module `testing`, helpers for testing code that gets cancelled: a recorder, a
//!   mock token, timing assertions, scripted scenarios, a seeded stream simulator.
//! * `cluster`: module `cluster`, cancel by id, glob or all on every node of a cluster
//!   (`ClusterCancel`), on the in-memory bus or your own; commands may be signed.
//! * `redis`: `cluster::RedisBus`, the cluster's bus on Redis Streams (`redis://`,
//!   `rediss://`).
//!
//! The [`guide`] walks through each topic with runnable examples.
//!
//! [backon]: https://docs.rs/backon
//! [sysinfo]: https://docs.rs/sysinfo

#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod callbacks;
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
pub mod cluster;
mod context;
mod error;
mod future_ext;
mod id;
mod loom;
mod operation;
mod out_of_line;
mod panic;
mod progress;
#[cfg(feature = "propagation")]
#[cfg_attr(docsrs, doc(cfg(feature = "propagation")))]
pub mod propagation;
mod registry;
#[cfg(feature = "resources")]
mod resources;
#[cfg(feature = "backon")]
#[cfg_attr(docsrs, doc(cfg(feature = "backon")))]
pub mod retry;
pub mod shutdown;
mod signal;
mod source;
mod status;
mod stream;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod token;

pub mod guide;

mod private;

#[doc(hidden)]
pub mod __private {
    //! The code that `#[cancelable]`, `cancel_combine!` and `shielded!` expand to: not a public
    //! API (see `private.rs`).
    pub use crate::private::*;
}

#[cfg(feature = "test-util")]
#[doc(hidden)]
pub mod test_util;

use std::future::Future;
use std::time::Duration;

pub use crate::context::{CancellationCause, OperationContext, OwnedProgressEvent, ProgressEvent};
pub use crate::error::{CancellationError, CancellationReason};
pub use crate::future_ext::{
    FutureExt, WithCancellationTokenFuture, WithCancellationTokenFutureOwned,
};
pub use crate::operation::{Cancelable, OrCancelled, OwnedRun, Run, RunOn, Shield};
pub use crate::registry::{
    CancelledOperations, FinishedCounts, OperationFilter, OperationRegistry, RegistryStats,
    RunningCounts,
};
#[cfg(feature = "resources")]
#[cfg_attr(docsrs, doc(cfg(feature = "resources")))]
pub use crate::resources::ResourceLimits;
#[cfg(all(unix, feature = "signal"))]
pub use crate::signal::SignalWait;
pub use crate::signal::{ParseSignalError, Signal};
pub use crate::source::CancellationSource;
pub use crate::status::OperationStatus;
pub use crate::stream::{CancelableChunks, CancelableStream};
pub use crate::token::{CancellationToken, Cancelled};
pub use crate::token::{
    DropGuard, DropGuardRef, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

#[cfg(feature = "macros")]
#[doc(inline)]
pub use cancelable_macros::{cancel_combine, cancelable, shielded};

/// Runs `fut` with a timeout: `Err` with reason `Timeout` if it has not finished after `timeout`.
///
/// The shorthand for `Cancelable::with_timeout(timeout).run(fut)`; inside another operation it
/// becomes that operation's child.
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let slow = tokio::time::sleep(Duration::from_secs(5));
/// let err = cancelable::with_timeout(Duration::from_secs(1), slow).await.unwrap_err();
/// assert!(err.is_timeout());
/// assert_eq!(cancelable::with_timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
/// # }
/// ```
///
/// # Cancellation safety
///
/// As [`Cancelable::run`]: dropping the returned future drops `fut`.
pub async fn with_timeout<F: Future>(
    timeout: Duration,
    fut: F,
) -> Result<F::Output, CancellationError> {
    Cancelable::with_timeout(timeout).run(fut).await
}
