//! Retries that a cancellation stops at once: [`Cancelable::retry`] with any [`backon`] backoff.
//!
//! The retry loop belongs to the operation, so a cancellation from any source (a timeout, a token
//! cancelled from another thread, a signal, a condition, a parent, the registry) ends it at
//! once — between attempts, in the middle of an attempt, or in the middle of a backoff sleep —
//! and the caller can tell "cancelled" from "gave up" ([`RetryError`]).
//!
//! ```
//! use std::time::Duration;
//! use backon::ExponentialBuilder;
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let op = Cancelable::with_timeout(Duration::from_secs(5)).named("fetch_config");
//! let mut calls = 0;
//! let config = op
//!     .retry(ExponentialBuilder::default().with_jitter(), || {
//!         calls += 1;
//!         let n = calls;
//!         async move { if n < 3 { Err("connection refused") } else { Ok("config v7") } }
//!     })
//!     .when(|err| *err == "connection refused")
//!     .await;
//! assert_eq!(config, Ok("config v7"));
//! # }
//! ```
//!
//! # How it composes with `run`
//!
//! Inside [`run`](Cancelable::run) every source of the operation applies, and a cancellation
//! drops the whole retry loop with the body (`run` returns the cancellation). On its own, the
//! loop sees the cancellations that reach the operation directly ([`cancel`](Cancelable::cancel),
//! its token, a parent, a registry): timeouts, conditions and signals are armed by `run`.
//!
//! [`backon`]: https://docs.rs/backon

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use backon::BackoffBuilder;
use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::error::CancellationError;
use crate::operation::Cancelable;
use crate::token::Cancelled;

/// Why a retry loop ended without a value.
///
/// ```
/// use cancelable::retry::RetryError;
/// use cancelable::{CancellationError, CancellationReason};
///
/// let gave_up: RetryError<&str> = RetryError::Exhausted { attempts: 3, last: "busy" };
/// assert_eq!(gave_up.to_string(), "gave up after 3 attempts: busy");
/// let refused: RetryError<&str> = RetryError::NotRetryable { attempts: 1, last: "not found" };
/// assert_eq!(refused.to_string(), "not retryable (attempt 1): not found");
/// let stopped: RetryError<&str> =
///     RetryError::Cancelled(CancellationError::new(CancellationReason::Manual));
/// assert!(stopped.is_cancelled());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum RetryError<E> {
    /// The operation was cancelled: no further attempt was started.
    Cancelled(CancellationError),
    /// The backoff ran out: no further attempt. `last` is the error of the last attempt.
    Exhausted {
        /// How many attempts ran (the first one included).
        attempts: u32,
        /// The error of the last attempt.
        last: E,
    },
    /// [`when`](Retry::when) said the last error is not worth retrying: the loop stopped there,
    /// whatever the backoff had left.
    NotRetryable {
        /// How many attempts ran (the first one included).
        attempts: u32,
        /// The error that was not retried.
        last: E,
    },
}

impl<E> RetryError<E> {
    /// `true` for [`RetryError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, RetryError::Cancelled(_))
    }

    /// The cancellation, if the loop was cancelled.
    pub fn cancellation(&self) -> Option<&CancellationError> {
        match self {
            RetryError::Cancelled(error) => Some(error),
            RetryError::Exhausted { .. } | RetryError::NotRetryable { .. } => None,
        }
    }

    /// The last attempt's error, if the loop gave up.
    pub fn into_last(self) -> Option<E> {
        match self {
            RetryError::Cancelled(_) => None,
            RetryError::Exhausted { last, .. } | RetryError::NotRetryable { last, .. } => {
                Some(last)
            }
        }
    }

    /// How many attempts ran, if the loop gave up.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            RetryError::Cancelled(_) => None,
            RetryError::Exhausted { attempts, .. } | RetryError::NotRetryable { attempts, .. } => {
                Some(*attempts)
            }
        }
    }
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryError::Cancelled(error) => fmt::Display::fmt(error, f),
            RetryError::Exhausted { attempts, last } => {
                let plural = if *attempts == 1 { "" } else { "s" };
                write!(f, "gave up after {attempts} attempt{plural}: {last}")
            }
            RetryError::NotRetryable { attempts, last } => {
                write!(f, "not retryable (attempt {attempts}): {last}")
            }
        }
    }
}

impl<E> std::error::Error for RetryError<E>
where
    E: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RetryError::Cancelled(error) => Some(error),
            RetryError::Exhausted { last, .. } | RetryError::NotRetryable { last, .. } => {
                Some(last)
            }
        }
    }
}

impl<E> From<CancellationError> for RetryError<E> {
    fn from(error: CancellationError) -> Self {
        RetryError::Cancelled(error)
    }
}

// ===== impl Cancelable =====

impl Cancelable {
    /// Retries `attempt` with the delays of `backoff` (any [`backon`] builder:
    /// `ExponentialBuilder`, `ConstantBuilder`, `FibonacciBuilder`, or an iterator of
    /// durations) until it succeeds, the backoff runs out, or the operation is cancelled.
    ///
    /// * No attempt starts once the operation is cancelled; an attempt in flight is dropped,
    ///   and so is a backoff sleep: the loop returns [`RetryError::Cancelled`] at once.
    /// * Each attempt reports progress: `attempt 3`, metadata `{"kind": "retry", "attempt": 3}`
    ///   (`kind` tells these reports from the application's own).
    /// * [`when`](Retry::when) chooses which errors are worth retrying (default: all),
    ///   [`notify`](Retry::notify) sees each error with the wait before the next attempt.
    ///
    /// The returned [`Retry`] is a future of `Result<T, RetryError<E>>`; it owns a handle to
    /// the operation, so it can be spawned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use backon::ConstantBuilder;
    /// use cancelable::{Cancelable, CancellationToken};
    /// use cancelable::retry::RetryError;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let shutdown = CancellationToken::new();
    /// let op = Cancelable::with_token(shutdown.clone()).named("poll_queue");
    ///
    /// // Another OS thread shuts down while the loop waits 10 s between attempts.
    /// let canceller = tokio::task::spawn_blocking(move || shutdown.cancel());
    /// let backoff = ConstantBuilder::default().with_delay(Duration::from_secs(10));
    /// let result = op.retry(backoff, || async { Err::<(), _>("queue empty") }).await;
    /// canceller.await.unwrap();
    ///
    /// assert!(matches!(result, Err(RetryError::Cancelled(ref e)) if e.is_manual()));
    /// # }
    /// ```
    ///
    /// [`backon`]: https://docs.rs/backon
    #[cfg_attr(docsrs, doc(cfg(feature = "backon")))]
    pub fn retry<B, F, Fut, T, E>(&self, backoff: B, attempt: F) -> Retry<B::Backoff, F, Fut, E>
    where
        B: BackoffBuilder,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Retry {
            cancelled: self.cancelled(),
            op: self.clone(),
            backoff: backoff.build(),
            attempt,
            when: retry_all::<E>,
            notify: notify_none::<E>,
            attempts: 0,
            state: State::Ready,
            _error: PhantomData,
        }
    }
}

fn retry_all<E>(_: &E) -> bool {
    true
}

fn notify_none<E>(_: &E, _: Duration) {}

// ===== Retry =====

pin_project! {
    #[project = StateProj]
    enum State<Fut> {
        // The next attempt may start.
        Ready,
        Attempting { #[pin] fut: Fut },
        Sleeping { #[pin] sleep: Sleep },
        Done,
    }
}

pin_project! {
    /// A retry loop under an operation, built by [`Cancelable::retry`]: a future of
    /// `Result<T, RetryError<E>>`.
    ///
    /// # Cancellation safety
    ///
    /// Dropping it drops the attempt in flight, if any; nothing else is lost.
    #[project = RetryProj]
    #[must_use = "futures do nothing unless polled"]
    pub struct Retry<BF, F, Fut, E, W = fn(&E) -> bool, N = fn(&E, Duration)> {
        op: Cancelable,
        cancelled: Cancelled,
        backoff: BF,
        attempt: F,
        when: W,
        notify: N,
        attempts: u32,
        #[pin]
        state: State<Fut>,
        _error: PhantomData<fn(&E)>,
    }
}

impl<BF, F, Fut, E, W, N> Retry<BF, F, Fut, E, W, N> {
    /// Retries only the errors for which `when` returns `true`; any other error ends the loop
    /// at once with [`RetryError::NotRetryable`].
    ///
    /// ```
    /// use backon::ConstantBuilder;
    /// use cancelable::Cancelable;
    /// use cancelable::retry::RetryError;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = Cancelable::new();
    /// let result = op
    ///     .retry(ConstantBuilder::default(), || async { Err::<(), u16>(404) })
    ///     .when(|status| *status >= 500)
    ///     .await;
    /// assert_eq!(result, Err(RetryError::NotRetryable { attempts: 1, last: 404 }));
    /// # }
    /// ```
    pub fn when<W2>(self, when: W2) -> Retry<BF, F, Fut, E, W2, N>
    where
        W2: FnMut(&E) -> bool,
    {
        Retry {
            op: self.op,
            cancelled: self.cancelled,
            backoff: self.backoff,
            attempt: self.attempt,
            when,
            notify: self.notify,
            attempts: self.attempts,
            state: self.state,
            _error: PhantomData,
        }
    }

    /// Calls `notify` with each error that will be retried and the wait before the next attempt.
    ///
    /// ```
    /// use std::time::Duration;
    /// use backon::ConstantBuilder;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let mut waits = Vec::new();
    /// let backoff = ConstantBuilder::default().with_delay(Duration::from_secs(1)).with_max_times(2);
    /// let _ = op
    ///     .retry(backoff, || async { Err::<(), _>("busy") })
    ///     .notify(|err, wait| waits.push(format!("{err}, retrying in {wait:?}")))
    ///     .await;
    /// assert_eq!(waits, ["busy, retrying in 1s", "busy, retrying in 1s"]);
    /// # }
    /// ```
    pub fn notify<N2>(self, notify: N2) -> Retry<BF, F, Fut, E, W, N2>
    where
        N2: FnMut(&E, Duration),
    {
        Retry {
            op: self.op,
            cancelled: self.cancelled,
            backoff: self.backoff,
            attempt: self.attempt,
            when: self.when,
            notify,
            attempts: self.attempts,
            state: self.state,
            _error: PhantomData,
        }
    }

    /// How many attempts have started so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl<BF, F, Fut, T, E, W, N> Future for Retry<BF, F, Fut, E, W, N>
where
    BF: Iterator<Item = Duration>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    W: FnMut(&E) -> bool,
    N: FnMut(&E, Duration),
{
    type Output = Result<T, RetryError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // Cancellation first: no attempt starts, and none goes on, once cancelled.
            if let Err(error) = this.op.check() {
                this.state.set(State::Done);
                return Poll::Ready(Err(RetryError::Cancelled(error)));
            }
            match this.state.as_mut().project() {
                StateProj::Ready => {
                    *this.attempts = this.attempts.saturating_add(1);
                    let n = *this.attempts;
                    if this.op.progress_observed() {
                        this.op.report_progress_with(
                            format!("attempt {n}"),
                            serde_json::json!({ "kind": "retry", "attempt": n }),
                        );
                    }
                    let fut = (this.attempt)();
                    this.state.set(State::Attempting { fut });
                }
                StateProj::Attempting { fut } => match fut.poll(cx) {
                    Poll::Ready(Ok(value)) => {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(value));
                    }
                    Poll::Ready(Err(error)) => {
                        if !(this.when)(&error) {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(RetryError::NotRetryable {
                                attempts: *this.attempts,
                                last: error,
                            }));
                        }
                        let Some(wait) = this.backoff.next() else {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(RetryError::Exhausted {
                                attempts: *this.attempts,
                                last: error,
                            }));
                        };
                        (this.notify)(&error, wait);
                        tracing::debug!(
                            attempt = *this.attempts,
                            ?wait,
                            "attempt failed; retrying"
                        );
                        this.state.set(State::Sleeping {
                            sleep: tokio::time::sleep(wait),
                        });
                    }
                    Poll::Pending => return this.wait_for_cancel(cx),
                },
                StateProj::Sleeping { sleep } => match sleep.poll(cx) {
                    Poll::Ready(()) => this.state.set(State::Ready),
                    Poll::Pending => return this.wait_for_cancel(cx),
                },
                StateProj::Done => panic!("`Retry` polled after it completed"),
            }
        }
    }
}

impl<BF, F, Fut, E, W, N> RetryProj<'_, BF, F, Fut, E, W, N> {
    /// Registers the waker on the operation: `Pending`, or `Ready` with the cancellation if it
    /// came meanwhile.
    fn wait_for_cancel<T>(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RetryError<E>>> {
        match Pin::new(&mut *self.cancelled).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.state.set(State::Done);
                let error =
                    self.op.check().err().unwrap_or_else(|| {
                        CancellationError::new(crate::CancellationReason::Manual)
                    });
                Poll::Ready(Err(RetryError::Cancelled(error)))
            }
        }
    }
}

impl<BF, F, Fut, E, W, N> fmt::Debug for Retry<BF, F, Fut, E, W, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("op", &self.op)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
