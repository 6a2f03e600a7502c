//! [`MockCancellationToken`]: a real [`CancellationToken`] that records every cancel call made
//! through it, and [`ScheduledCancel`], the handle of a cancel scheduled on tokio's clock.
//!
//! # Invariants
//!
//! 1. Every call to [`cancel`](MockCancellationToken::cancel) or
//!    [`cancel_with`](MockCancellationToken::cancel_with) appends one [`CancelCall`], repeats
//!    included; `took_effect` is the token's own answer, so at most one call has it `true`
//!    (none when the token was cancelled some other way first).
//! 2. A call is stamped and appended under the history's lock before it cancels, and its
//!    `took_effect` filled in after: the history is in call order and `at` never decreases
//!    along it, even with callers on several threads. No lock is held while the token
//!    cancels, so its callbacks may use the mock.
//! 3. A scheduled cancel is a tokio task that owns a clone of the mock and ends after its one
//!    cancel; [`ScheduledCancel::abort`] (or the runtime's shutdown) ends it before that.
//!    Nothing outlives the delay or the runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::clock::Clock;
use crate::error::CancellationReason;
use crate::token::CancellationToken;

/// A [`CancellationToken`] that records every cancel call made through it.
///
/// Hand it (or [`token`](Self::token)) to the code under test: it converts into a
/// `CancellationToken` and behaves exactly like one (the first cancel wins, later cancels
/// change nothing), while [`history`](Self::history) keeps every call, no-op repeats included,
/// stamped on tokio's clock since the mock's creation. Only calls made through the mock are
/// recorded; a cancel through a converted `CancellationToken` still cancels, unrecorded.
///
/// ```
/// use cancelable::{Cancelable, CancellationReason};
/// use cancelable::testing::MockCancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mock = MockCancellationToken::new();
/// let op = Cancelable::with_token(&mock);
/// assert!(mock.cancel_with(CancellationReason::Manual, "stop"));
/// assert!(!mock.cancel()); // recorded too, with no effect
///
/// assert!(op.run(std::future::pending::<()>()).await.unwrap_err().is_manual());
/// assert_eq!(mock.cancel_count(), 2);
/// let history = mock.history();
/// assert_eq!(history[0].message.as_deref(), Some("stop"));
/// assert!(history[0].took_effect && !history[1].took_effect);
/// # }
/// ```
#[derive(Clone)]
pub struct MockCancellationToken {
    token: CancellationToken,
    inner: Arc<Inner>,
}

struct Inner {
    clock: Clock,
    calls: Mutex<Vec<CancelCall>>,
}

/// One cancel call on a [`MockCancellationToken`].
///
/// ```
/// use std::time::Duration;
/// use cancelable::CancellationReason;
/// use cancelable::testing::MockCancellationToken;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let mock = MockCancellationToken::new();
/// tokio::time::sleep(Duration::from_millis(250)).await;
/// mock.cancel_with(CancellationReason::Signal, "SIGTERM");
/// let call = &mock.history()[0];
/// assert_eq!(call.at, Duration::from_millis(250));
/// assert_eq!(call.reason, CancellationReason::Signal);
/// assert!(call.took_effect);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CancelCall {
    /// When, since the mock was created, on tokio's clock.
    pub at: Duration,
    /// The reason asked for (`Manual` for [`cancel`](MockCancellationToken::cancel)).
    pub reason: CancellationReason,
    /// The message asked for (`None` for [`cancel`](MockCancellationToken::cancel)).
    pub message: Option<String>,
    /// Whether this call cancelled the token: `true` for the first, `false` for every repeat.
    pub took_effect: bool,
}

impl Default for MockCancellationToken {
    fn default() -> Self {
        MockCancellationToken::new()
    }
}

impl std::fmt::Debug for MockCancellationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockCancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .field("history", &*self.calls())
            .finish()
    }
}

impl MockCancellationToken {
    /// A new, uncancelled mock with an empty history; its clock starts now.
    ///
    /// ```
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// assert!(!mock.is_cancelled());
    /// assert_eq!(mock.cancel_count(), 0);
    /// ```
    pub fn new() -> Self {
        MockCancellationToken {
            token: CancellationToken::new(),
            inner: Arc::new(Inner {
                clock: Clock::start(),
                calls: Mutex::default(),
            }),
        }
    }

    /// [`CancellationToken::cancel`], recorded. Returns `true` only for the call that
    /// cancelled.
    ///
    /// ```
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// assert!(mock.cancel());
    /// assert!(!mock.cancel());
    /// assert_eq!(mock.cancel_count(), 2);
    /// ```
    pub fn cancel(&self) -> bool {
        self.record(CancellationReason::Manual, None, || self.token.cancel())
            .took_effect
    }

    /// [`CancellationToken::cancel_with`], recorded. Returns `true` only for the call that
    /// cancelled.
    ///
    /// ```
    /// use cancelable::CancellationReason;
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// mock.cancel_with(CancellationReason::Condition, "disk full");
    /// assert_eq!(mock.token().message().as_deref(), Some("disk full"));
    /// ```
    pub fn cancel_with(&self, reason: CancellationReason, message: impl Into<String>) -> bool {
        let message = message.into();
        self.record(reason, Some(message.clone()), || {
            self.token.cancel_with(reason, message)
        })
        .took_effect
    }

    /// Every cancel call so far, oldest first.
    ///
    /// ```
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// mock.cancel();
    /// assert_eq!(mock.history()[0].reason, cancelable::CancellationReason::Manual);
    /// ```
    pub fn history(&self) -> Vec<CancelCall> {
        self.calls().clone()
    }

    /// How many cancel calls were made, repeats included.
    ///
    /// ```
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// (0..3).for_each(|_| { mock.cancel(); });
    /// assert_eq!(mock.cancel_count(), 3);
    /// ```
    pub fn cancel_count(&self) -> usize {
        self.calls().len()
    }

    /// Whether the token is cancelled, through the mock or not.
    ///
    /// ```
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// mock.token().cancel(); // not through the mock: not recorded
    /// assert!(mock.is_cancelled());
    /// assert_eq!(mock.cancel_count(), 0);
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The token itself (a clone sharing its state), for code that takes a
    /// [`CancellationToken`].
    ///
    /// ```
    /// let mock = cancelable::testing::MockCancellationToken::new();
    /// let token = mock.token();
    /// mock.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Cancels with `reason` and `message` after `delay` on tokio's clock, from a spawned task;
    /// the call is recorded like any other.
    ///
    /// On a paused clock it fires at exactly `delay`. The returned handle can
    /// [`abort`](ScheduledCancel::abort) it; dropping the handle does not (like a
    /// `JoinHandle`), and the task ends after its one cancel either way.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, CancellationReason};
    /// use cancelable::testing::MockCancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let mock = MockCancellationToken::new();
    /// let scheduled = mock.schedule_cancel(Duration::from_secs(1), CancellationReason::Manual, "late");
    /// let op = Cancelable::with_token(&mock);
    /// op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(mock.history()[0].at, Duration::from_secs(1));
    /// assert!(scheduled.await.unwrap().took_effect);
    ///
    /// let other = MockCancellationToken::new();
    /// other.schedule_cancel(Duration::from_secs(1), CancellationReason::Manual, "never").abort();
    /// tokio::time::sleep(Duration::from_secs(2)).await;
    /// assert_eq!(other.cancel_count(), 0);
    /// # }
    /// ```
    pub fn schedule_cancel(
        &self,
        delay: Duration,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> ScheduledCancel {
        let mock = self.clone();
        let message = message.into();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let record = Some(message.clone());
            mock.record(reason, record, || mock.token.cancel_with(reason, message))
        });
        ScheduledCancel { task }
    }

    /// Stamps and appends the call, then cancels with no lock held (so a callback of the
    /// token may use the mock), then records the outcome (invariant 2).
    fn record(
        &self,
        reason: CancellationReason,
        message: Option<String>,
        cancel: impl FnOnce() -> bool,
    ) -> CancelCall {
        let index = {
            let mut calls = self.calls();
            calls.push(CancelCall {
                at: self.inner.clock.elapsed(),
                reason,
                message,
                took_effect: false,
            });
            calls.len() - 1
        };
        let took_effect = cancel();
        let mut calls = self.calls();
        calls[index].took_effect = took_effect;
        calls[index].clone()
    }

    fn calls(&self) -> MutexGuard<'_, Vec<CancelCall>> {
        self.inner.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl From<MockCancellationToken> for CancellationToken {
    fn from(mock: MockCancellationToken) -> Self {
        mock.token
    }
}

impl From<&MockCancellationToken> for CancellationToken {
    fn from(mock: &MockCancellationToken) -> Self {
        mock.token()
    }
}

/// A cancel scheduled by [`MockCancellationToken::schedule_cancel`].
///
/// Await it for the recorded call (`None` if it was aborted); [`abort`](Self::abort) stops it
/// before it fires. Dropping it leaves the cancel scheduled.
///
/// ```
/// use std::time::Duration;
/// use cancelable::CancellationReason;
/// use cancelable::testing::MockCancellationToken;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let mock = MockCancellationToken::new();
/// let scheduled = mock.schedule_cancel(Duration::from_secs(3), CancellationReason::Timeout, "slow");
/// assert!(!scheduled.is_finished());
/// scheduled.abort();
/// assert_eq!(scheduled.await, None);
/// assert!(!mock.is_cancelled());
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a scheduled cancel still fires when its handle is dropped; keep it to abort or await it"]
pub struct ScheduledCancel {
    task: JoinHandle<CancelCall>,
}

impl ScheduledCancel {
    /// Stops the cancel if it has not fired yet (a no-op afterwards).
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the cancel fired or was aborted.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Future for ScheduledCancel {
    type Output = Option<CancelCall>;

    /// The recorded call, or `None` if the cancel was aborted before it fired.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx).map(Result::ok)
    }
}
