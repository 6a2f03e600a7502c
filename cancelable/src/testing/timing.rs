//! Timing assertions: [`assert_times_out`] and [`assert_cancelled_within`].
//!
//! Both measure on tokio's clock from their first poll, so on a paused runtime the times are
//! exact and a zero tolerance works. Both are `#[track_caller]` functions returning a future:
//! the panic is raised where the future is polled, and its message names the line that called.

use std::fmt;
use std::future::Future;
use std::ops::{Bound, RangeBounds};
use std::panic::Location;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::clock::Clock;
use super::mock_token::MockCancellationToken;
use crate::error::CancellationError;

/// Awaits `fut` and asserts that it fails with a timeout after `expected` ± `tolerance`;
/// returns the timeout's error.
///
/// `fut` is anything that ends in `Result<T, CancellationError>`: a [`Cancelable::run`]
/// future, [`cancelable::with_timeout`](crate::with_timeout), a `#[cancelable]` function. The
/// time is measured from the first poll to the `Err`.
///
/// # Panics
///
/// * `expected a timeout but the operation completed after 2s` when `fut` returns `Ok`;
/// * `expected a timeout but the operation was cancelled (manual) after 1s: …` for another
///   cancellation ([`CancellationError::is_timeout`] is `false`);
/// * `timed out after 3s, expected 1s ± 100ms` when the timeout came too early or too late.
///
/// Each message ends with `(asserted at file:line:column)`.
///
/// ```
/// use std::time::Duration;
/// use cancelable::Cancelable;
/// use cancelable::testing::assert_times_out;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let op = Cancelable::with_timeout(Duration::from_secs(1)).named("fetch");
/// let slow = tokio::time::sleep(Duration::from_secs(60));
/// let err = assert_times_out(op.run(slow), Duration::from_secs(1), Duration::ZERO).await;
/// assert_eq!(err.to_string(), r#"operation "fetch" cancelled: timeout after 1s"#);
/// # }
/// ```
///
/// [`Cancelable::run`]: crate::Cancelable::run
#[track_caller]
pub fn assert_times_out<F, T>(
    fut: F,
    expected: Duration,
    tolerance: Duration,
) -> impl Future<Output = CancellationError>
where
    F: Future<Output = Result<T, CancellationError>>,
{
    let caller = Location::caller();
    async move {
        let clock = Clock::start();
        let outcome = fut.await;
        let elapsed = clock.elapsed();
        let err = match outcome {
            Ok(_) => panic!(
                "expected a timeout but the operation completed after {elapsed:?} (asserted at \
                 {caller})"
            ),
            Err(err) => err,
        };
        if !err.is_timeout() {
            panic!(
                "expected a timeout but the operation was cancelled ({}) after {elapsed:?}: \
                 {err} (asserted at {caller})",
                err.reason()
            );
        }
        if elapsed.abs_diff(expected) > tolerance {
            panic!(
                "timed out after {elapsed:?}, expected {expected:?} ± {tolerance:?} (asserted at \
                 {caller})"
            );
        }
        err
    }
}

/// Runs `body` with a fresh [`MockCancellationToken`] and asserts that the token is cancelled
/// within `range` of the start; returns what `body` returned.
///
/// The time is taken **at the moment of the cancel** (a [`CancellationToken::on_cancel`]
/// stamp), not when `body` ends: a body that goes on working after the cancel, to clean up or
/// because it ignores it, does not move the measurement. Any cancel of the token counts, made
/// through the mock, a converted [`CancellationToken`], or a scheduled cancel.
///
/// # Panics
///
/// * `expected a cancellation within 900ms..=1.1s but none occurred (the body ended after 2s)`;
/// * `cancelled too early: after 500ms, expected within 900ms..=1.1s`;
/// * `cancelled too late: after 2s, expected within 900ms..=1.1s`.
///
/// Each message ends with `(asserted at file:line:column)`.
///
/// ```
/// use std::time::Duration;
/// use cancelable::{Cancelable, CancellationReason};
/// use cancelable::testing::assert_cancelled_within;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let secs = Duration::from_secs_f64;
/// assert_cancelled_within(secs(0.9)..=secs(1.1), async |token| {
///     let _cancel = token.schedule_cancel(secs(1.0), CancellationReason::Manual, "stop");
///     let op = Cancelable::with_token(&token);
///     op.run(std::future::pending::<()>()).await.unwrap_err();
///     // Cleaning up for 4 more seconds does not count.
///     tokio::time::sleep(secs(4.0)).await;
/// })
/// .await;
/// # }
/// ```
///
/// [`CancellationToken::on_cancel`]: crate::CancellationToken::on_cancel
/// [`CancellationToken`]: crate::CancellationToken
#[track_caller]
pub fn assert_cancelled_within<R, F, T>(range: R, body: F) -> impl Future<Output = T>
where
    R: RangeBounds<Duration>,
    F: AsyncFnOnce(MockCancellationToken) -> T,
{
    let caller = Location::caller();
    async move {
        let clock = Clock::start();
        let token = MockCancellationToken::new();
        let stamp: Arc<Mutex<Option<Duration>>> = Arc::default();
        let sink = stamp.clone();
        token.token().on_cancel(move |_| {
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(clock.elapsed());
        });
        let output = body(token).await;
        let ended = clock.elapsed();
        let at = *stamp.lock().unwrap_or_else(|p| p.into_inner());
        let range = DisplayRange(&range);
        match at {
            None => panic!(
                "expected a cancellation within {range} but none occurred (the body ended after \
                 {ended:?}) (asserted at {caller})"
            ),
            Some(at) if range.is_before(at) => panic!(
                "cancelled too early: after {at:?}, expected within {range} (asserted at {caller})"
            ),
            Some(at) if range.is_after(at) => panic!(
                "cancelled too late: after {at:?}, expected within {range} (asserted at {caller})"
            ),
            Some(_) => output,
        }
    }
}

/// A range of durations written the way Rust writes it: `900ms..=1.1s`, `..2s`, `1s..`.
struct DisplayRange<'a, R>(&'a R);

impl<R: RangeBounds<Duration>> DisplayRange<'_, R> {
    /// `at` is before the range's start.
    fn is_before(&self, at: Duration) -> bool {
        match self.0.start_bound() {
            Bound::Included(start) => at < *start,
            Bound::Excluded(start) => at <= *start,
            Bound::Unbounded => false,
        }
    }

    /// `at` is past the range's end.
    fn is_after(&self, at: Duration) -> bool {
        match self.0.end_bound() {
            Bound::Included(end) => at > *end,
            Bound::Excluded(end) => at >= *end,
            Bound::Unbounded => false,
        }
    }
}

impl<R: RangeBounds<Duration>> fmt::Display for DisplayRange<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.start_bound() {
            Bound::Included(start) => write!(f, "{start:?}")?,
            Bound::Excluded(start) => write!(f, "(excluded) {start:?}")?,
            Bound::Unbounded => {}
        }
        match self.0.end_bound() {
            Bound::Included(end) => write!(f, "..={end:?}"),
            Bound::Excluded(end) => write!(f, "..{end:?}"),
            Bound::Unbounded => f.write_str(".."),
        }
    }
}
