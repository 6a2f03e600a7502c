//! [`CancellationToken`]: a cancel-once flag with a reason, shared by cheap clones, that any
//! thread can set and any task or thread can wait on.
//!
//! It has `tokio_util::sync::CancellationToken`'s whole API under the same names and with the
//! same documented semantics ([`cancelled_owned`](CancellationToken::cancelled_owned),
//! [`run_until_cancelled`](CancellationToken::run_until_cancelled) and its fairness,
//! [`drop_guard`](CancellationToken::drop_guard), `Hash`, [`FutureExt`](crate::FutureExt)):
//! code written against `tokio_util`'s token ports by changing its `use` lines. Ported
//! `tokio_util` tests run in `tests/tokio_util_parity/`.
//!
//! # Differences from `tokio_util`
//!
//! What a port may notice, all of it on purpose:
//!
//! * [`cancel`](CancellationToken::cancel) returns `bool`: `true` only for the call that
//!   cancelled. A closure that must return `()` needs a `;` (`move || { token.cancel(); }`).
//! * A cancellation carries a [reason and a message](CancellationToken::cancel_with), which
//!   children see as the cause of their own; [`check`](CancellationToken::check),
//!   [`on_cancel`](CancellationToken::on_cancel) and
//!   [`wait_blocking`](CancellationToken::wait_blocking) come on top.
//! * [`is_cancelled`](CancellationToken::is_cancelled) is one atomic load; `tokio_util`'s takes
//!   a mutex.
//! * The future of [`cancelled`](CancellationToken::cancelled) owns its state, so it is
//!   `'static` even when borrowed: `WaitForCancellationFuture<'a>` and
//!   `WaitForCancellationFutureOwned` are both names of [`Cancelled`].
//! * An operation's [`Cancelable::run`](crate::Cancelable::run) and
//!   [`Cancelable::run_until_cancelled`](crate::Cancelable::run_until_cancelled) let a fired
//!   cancellation win a tie; the token's `run_until_cancelled` keeps `tokio_util`'s bias
//!   towards the future.
//! * A token made from a `tokio_util` one is cancelled with reason `Manual` and no message:
//!   `tokio_util`'s token has neither.
//!
//! # Cancellation safety
//!
//! Every future in this module is cancel-safe: dropping it unregisters its waker and loses
//! nothing. [`run_until_cancelled`](CancellationToken::run_until_cancelled) is as cancel-safe
//! as the future it runs.

mod guard;
mod interop;
mod tree;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

pub use self::guard::{DropGuard, DropGuardRef};
pub(crate) use self::tree::{Link, Node};
use crate::error::{CancellationError, CancellationReason};
use crate::future_ext::RunUntilCancelledFuture;

/// A handle to a cancel-once flag that carries why it was set.
///
/// Clones share one state. [`cancel`](Self::cancel) is synchronous, callable from any thread
/// with no runtime, and wakes every waiter at once; the first call fixes the reason and message
/// and later calls change nothing. [`is_cancelled`](Self::is_cancelled) is a single atomic load.
///
/// # Examples
///
/// ```
/// use cancelable::{CancellationReason, CancellationToken};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// let waiter = tokio::spawn({
///     let token = token.clone();
///     async move { token.cancelled().await; token.reason() }
/// });
/// std::thread::spawn(move || assert!(token.cancel())).join().unwrap();
/// assert_eq!(waiter.await.unwrap(), Some(CancellationReason::Manual));
/// # }
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Arc<Node>,
}

// A panic cannot leave a token half-cancelled for another thread to see: no user code runs
// under a node's lock (`token/tree.rs`, "Deadlock safety"). So, like tokio-util's token (whose
// `std` mutex poisons), it crosses `catch_unwind`.
impl std::panic::UnwindSafe for CancellationToken {}
impl std::panic::RefUnwindSafe for CancellationToken {}

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl CancellationToken {
    /// A new, uncancelled token.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn new() -> Self {
        CancellationToken { node: Node::new() }
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Cancels with reason [`CancellationReason::Manual`] and no message.
    ///
    /// Returns `true` only for the call that cancelled. (`tokio_util`'s returns `()`; a port
    /// that writes `token.cancel();` compiles the same.)
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// assert!(token.cancel());
    /// assert!(!token.cancel());
    /// assert!(token.reason().unwrap() == cancelable::CancellationReason::Manual);
    /// ```
    pub fn cancel(&self) -> bool {
        self.cancel_error(CancellationError::new(CancellationReason::Manual))
    }

    /// Cancels with `reason` and `message`. Returns `true` only for the call that cancelled.
    ///
    /// ```
    /// use cancelable::{CancellationReason, CancellationToken};
    ///
    /// let token = CancellationToken::new();
    /// assert!(token.cancel_with(CancellationReason::Condition, "disk full"));
    /// assert!(!token.cancel()); // the first cancel wins
    /// assert_eq!(token.reason(), Some(CancellationReason::Condition));
    /// assert_eq!(token.message().as_deref(), Some("disk full"));
    /// ```
    pub fn cancel_with(&self, reason: CancellationReason, message: impl Into<String>) -> bool {
        self.cancel_error(CancellationError::new(reason).with_message(message.into()))
    }

    pub(crate) fn cancel_error(&self, error: CancellationError) -> bool {
        self.node.cancel(error)
    }

    /// `true` once cancelled. One atomic load; never blocks.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let clone = token.clone();
    /// clone.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Why it was cancelled, once it is.
    ///
    /// ```
    /// use cancelable::{CancellationReason, CancellationToken};
    /// let token = CancellationToken::new();
    /// assert_eq!(token.reason(), None);
    /// token.cancel_with(CancellationReason::Timeout, "slow");
    /// assert_eq!(token.reason(), Some(CancellationReason::Timeout));
    /// ```
    pub fn reason(&self) -> Option<CancellationReason> {
        self.node.with_error(CancellationError::reason)
    }

    /// The message given by whoever cancelled, once cancelled.
    ///
    /// ```
    /// use cancelable::{CancellationReason, CancellationToken};
    /// let token = CancellationToken::new();
    /// token.cancel_with(CancellationReason::Manual, "deploy");
    /// assert_eq!(token.message().as_deref(), Some("deploy"));
    /// ```
    pub fn message(&self) -> Option<String> {
        self.node
            .with_error(|e| e.message().map(str::to_owned))
            .flatten()
    }

    /// The whole cancellation, once cancelled.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// assert!(token.cancellation().is_none());
    /// token.cancel();
    /// assert!(token.cancellation().unwrap().is_manual());
    /// ```
    pub fn cancellation(&self) -> Option<CancellationError> {
        self.node.error()
    }

    /// `Err` once cancelled, and forever after.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// assert!(token.check().is_ok());
    /// token.cancel();
    /// assert!(token.check().unwrap_err().is_manual());
    /// ```
    pub fn check(&self) -> Result<(), CancellationError> {
        match self.node.error() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Completes when the token is cancelled (at once if it already is).
    ///
    /// The future holds its own reference to the token's state, so it is `'static` (it is
    /// also `tokio_util`'s [`WaitForCancellationFuture`], a name kept for ports).
    ///
    /// # Cancellation safety
    ///
    /// Cancel-safe: dropping it unregisters its waker; a cancellation is never consumed, so a
    /// new `cancelled()` completes at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = cancelable::CancellationToken::new();
    /// let waiter = tokio::spawn(token.cancelled());
    /// token.cancel();
    /// waiter.await.unwrap();
    /// # }
    /// ```
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            node: self.node.clone(),
            key: None,
        }
    }

    /// [`cancelled`](Self::cancelled), taking the token by value, as `tokio_util`'s
    /// `cancelled_owned` does: the future owns the token and is `'static`.
    ///
    /// # Cancellation safety
    ///
    /// Cancel-safe, as [`cancelled`](Self::cancelled).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = cancelable::CancellationToken::new();
    /// let waiter = tokio::spawn(token.clone().cancelled_owned());
    /// token.cancel();
    /// waiter.await.unwrap();
    /// # }
    /// ```
    pub fn cancelled_owned(self) -> WaitForCancellationFutureOwned {
        // `Cancelled` holds the shared state itself: the handle can go.
        self.cancelled()
    }

    /// Runs `fut` until it completes (`Some(output)`) or this token is cancelled (`None`, and
    /// `fut` is dropped).
    ///
    /// # Fairness
    ///
    /// As `tokio_util` 0.7.20's: the token is checked when the returned future is *first
    /// polled* (not when this is called). Cancelled by then: `Ready(None)`, and `fut` is
    /// dropped without ever being polled. Otherwise, on that first poll and on every later
    /// one, `fut` is polled first and the token second: when `fut` is ready it wins, even if the
    /// token was cancelled since the last poll (biased towards completion). The token's waker is
    /// registered only while `fut` is pending.
    ///
    /// [`Cancelable::run`](crate::Cancelable::run) is the opposite: a fired source always wins,
    /// checked before each poll of the body, and the body is not polled again once a source
    /// fired (unless a shield runs). Use `run` for a cancellation that must stop work at once,
    /// `run_until_cancelled` where a port needs `tokio_util`'s behaviour.
    ///
    /// # Cancellation safety
    ///
    /// Only as cancel-safe as `fut`: dropping the returned future drops `fut` (and unregisters
    /// from the token).
    ///
    /// ```
    /// use cancelable::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// assert_eq!(token.run_until_cancelled(async { 1 }).await, Some(1));
    ///
    /// let pending = token.run_until_cancelled(std::future::pending::<()>());
    /// token.cancel(); // before the first poll: `fut` is never polled
    /// assert_eq!(pending.await, None);
    /// # }
    /// ```
    pub async fn run_until_cancelled<F>(&self, fut: F) -> Option<F::Output>
    where
        F: Future,
    {
        if self.is_cancelled() {
            None
        } else {
            RunUntilCancelledFuture::new(self, fut).await
        }
    }

    /// [`run_until_cancelled`](Self::run_until_cancelled), taking the token by value: the
    /// future owns it.
    ///
    /// # Fairness
    ///
    /// As [`run_until_cancelled`](Self::run_until_cancelled): checked on the first poll, then
    /// `fut` first on every poll.
    ///
    /// # Cancellation safety
    ///
    /// Only as cancel-safe as `fut`: dropping the returned future drops `fut`.
    ///
    /// ```
    /// use cancelable::CancellationToken;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// let task = tokio::spawn(
    ///     token.clone().run_until_cancelled_owned(std::future::pending::<()>()),
    /// );
    /// token.cancel();
    /// assert_eq!(task.await.unwrap(), None);
    /// # }
    /// ```
    pub async fn run_until_cancelled_owned<F>(self, fut: F) -> Option<F::Output>
    where
        F: Future,
    {
        self.run_until_cancelled(fut).await
    }

    /// A guard that cancels this token (reason [`CancellationReason::Manual`]) when dropped,
    /// unless [disarmed](DropGuard::disarm), which gives the token back.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let guard = token.clone().drop_guard();
    /// let token = guard.disarm();
    /// assert!(!token.is_cancelled());
    /// drop(token.clone().drop_guard());
    /// assert!(token.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { inner: Some(self) }
    }

    /// A guard borrowing this token that cancels it (reason [`CancellationReason::Manual`])
    /// when dropped, unless [disarmed](DropGuardRef::disarm), which gives the reference back.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let same: &cancelable::CancellationToken = token.drop_guard_ref().disarm();
    /// assert!(!same.is_cancelled());
    /// drop(token.drop_guard_ref());
    /// assert!(token.is_cancelled());
    /// ```
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef { inner: Some(self) }
    }

    /// A token cancelled with reason [`CancellationReason::Parent`] (this token's error as its
    /// cause) when this one is. Cancelling the child leaves this token alone.
    ///
    /// ```
    /// use cancelable::{CancellationReason, CancellationToken};
    ///
    /// let parent = CancellationToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    ///
    /// let child = parent.child_token();
    /// parent.cancel_with(CancellationReason::Signal, "received signal SIGTERM");
    /// let err = child.cancellation().unwrap();
    /// assert_eq!(err.reason(), CancellationReason::Parent);
    /// assert_eq!(err.cause().unwrap().message(), Some("received signal SIGTERM"));
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        let child = CancellationToken::new();
        child.node.link_to(&self.node, Link::Parent);
        child
    }

    /// A token cancelled with *this* token's own error when this one is (no `Parent` wrapping).
    pub(crate) fn forwarding_token(&self) -> CancellationToken {
        let child = CancellationToken::new();
        child.node.link_to(&self.node, Link::Forward);
        child
    }

    /// Makes this token follow `other`, cancelled with `other`'s own error.
    #[cfg(all(unix, feature = "signal"))]
    pub(crate) fn follow_forwarding(&self, other: &CancellationToken) {
        self.node.link_to(&other.node, Link::Forward);
    }

    /// Runs `f` once, on the cancelling thread, when the token is cancelled — or now, if it
    /// already is. Callbacks run in registration order; one that panics is contained (and logged
    /// through `tracing`) and the others still run.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let token = cancelable::CancellationToken::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// token.on_cancel(move |err| s.lock().unwrap().push(err.reason()));
    /// token.cancel();
    /// assert_eq!(seen.lock().unwrap().len(), 1);
    /// ```
    pub fn on_cancel(&self, f: impl FnOnce(&CancellationError) + Send + 'static) {
        self.node.on_cancel(Box::new(f));
    }

    /// Blocks this OS thread until the token is cancelled or `timeout` passes; `true` if
    /// cancelled. For plain threads: do not call it on an async runtime's worker.
    ///
    /// ```
    /// use std::time::Duration;
    /// let token = cancelable::CancellationToken::new();
    /// assert!(!token.wait_blocking(Some(Duration::from_millis(1))));
    /// let t = token.clone();
    /// std::thread::spawn(move || t.cancel());
    /// assert!(token.wait_blocking(None));
    /// ```
    pub fn wait_blocking(&self, timeout: Option<Duration>) -> bool {
        if self.is_cancelled() {
            return true;
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut wait = self.cancelled();
        loop {
            if Pin::new(&mut wait).poll(&mut cx).is_ready() {
                return true;
            }
            match deadline {
                // No timeout, or one so long that `Instant` overflows: wait for the cancel.
                None => thread::park(),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return self.is_cancelled();
                    }
                    thread::park_timeout(deadline - now);
                }
            }
        }
    }
}

impl From<&CancellationToken> for CancellationToken {
    fn from(token: &CancellationToken) -> Self {
        token.clone()
    }
}

impl PartialEq for CancellationToken {
    /// Two handles are equal when they share one state.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl Eq for CancellationToken {}

impl Hash for CancellationToken {
    /// The address of the shared state, as `tokio_util`'s: consistent with `Eq` (clones hash
    /// alike, children and independent tokens do not).
    ///
    /// ```
    /// use std::collections::HashSet;
    /// let token = cancelable::CancellationToken::new();
    /// let set: HashSet<_> = [token.clone(), token.clone(), token.child_token()].into();
    /// assert_eq!(set.len(), 2);
    /// ```
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.node).hash(state);
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("error", &self.node.error())
            .finish()
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// `tokio_util`'s name for the future of [`CancellationToken::cancelled`]: here it is
/// [`Cancelled`], which borrows nothing (the lifetime is only there so that ported code naming
/// `WaitForCancellationFuture<'a>` compiles).
///
/// ```
/// use cancelable::{CancellationToken, WaitForCancellationFuture};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// token.cancel();
/// let fut: WaitForCancellationFuture<'_> = token.cancelled();
/// fut.await;
/// # }
/// ```
pub type WaitForCancellationFuture<'a> = Cancelled;

/// `tokio_util`'s name for the future of [`CancellationToken::cancelled_owned`]: here it is
/// [`Cancelled`].
///
/// ```
/// use cancelable::{CancellationToken, WaitForCancellationFutureOwned};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// let fut: WaitForCancellationFutureOwned = token.clone().cancelled_owned();
/// token.cancel();
/// fut.await;
/// # }
/// ```
pub type WaitForCancellationFutureOwned = Cancelled;

/// The future returned by [`CancellationToken::cancelled`] and
/// [`cancelled_owned`](CancellationToken::cancelled_owned): completes once the token is
/// cancelled.
///
/// # Cancellation safety
///
/// Cancel-safe: dropping it unregisters its waker.
///
/// ```
/// use cancelable::{CancellationToken, Cancelled};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// let fut: Cancelled = token.cancelled();
/// token.cancel();
/// fut.await;
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled {
    node: Arc<Node>,
    key: Option<usize>,
}

#[cfg(all(unix, feature = "signal"))]
impl Cancelled {
    /// The token's cancellation, once it is cancelled.
    pub(crate) fn cancellation(&self) -> Option<CancellationError> {
        self.node.error()
    }
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.node.poll_cancelled(&mut this.key, cx)
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.node.remove_waiter(key);
        }
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelled")
            .field("cancelled", &self.node.is_cancelled())
            .finish()
    }
}
