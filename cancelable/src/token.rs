//! [`CancellationToken`]: a cancel-once flag with a reason, shared by cheap clones, that any
//! thread can set and any task or thread can wait on.
//!
//! # Cancellation safety
//!
//! Every future in this module is cancel-safe: dropping it unregisters its waker and loses
//! nothing.

mod tree;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

pub(crate) use self::tree::{Link, Node};
use crate::error::{CancellationError, CancellationReason};

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

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl CancellationToken {
    /// A new, uncancelled token.
    pub fn new() -> Self {
        CancellationToken { node: Node::new() }
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Cancels with reason [`CancellationReason::Manual`] and no message.
    ///
    /// Returns `true` only for the call that cancelled.
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
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Why it was cancelled, once it is.
    pub fn reason(&self) -> Option<CancellationReason> {
        self.node.with_error(CancellationError::reason)
    }

    /// The message given by whoever cancelled, once cancelled.
    pub fn message(&self) -> Option<String> {
        self.node
            .with_error(|e| e.message().map(str::to_owned))
            .flatten()
    }

    /// The whole cancellation, once cancelled.
    pub fn error(&self) -> Option<CancellationError> {
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
    /// The future owns a clone of the token, so it is `'static`.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            node: self.node.clone(),
            key: None,
        }
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
    /// let err = child.error().unwrap();
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

    /// A `tokio_util` token cancelled when this one is.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let tokio_token = token.to_tokio_util();
    /// token.cancel();
    /// assert!(tokio_token.is_cancelled());
    /// ```
    pub fn to_tokio_util(&self) -> tokio_util::sync::CancellationToken {
        let tokio_token = tokio_util::sync::CancellationToken::new();
        let t = tokio_token.clone();
        self.on_cancel(move |_| t.cancel());
        tokio_token
    }

    /// A token cancelled (reason [`CancellationReason::Manual`]) when `tokio_token` is.
    ///
    /// A `tokio_util` token has no callbacks, so this spawns one small task on the current
    /// tokio runtime that waits for it; the task ends when either token is cancelled.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, unless `tokio_token` is already cancelled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let tokio_token = tokio_util::sync::CancellationToken::new();
    /// let token = cancelable::CancellationToken::from_tokio_util(tokio_token.clone());
    /// tokio_token.cancel();
    /// token.cancelled().await;
    /// # }
    /// ```
    pub fn from_tokio_util(tokio_token: tokio_util::sync::CancellationToken) -> Self {
        let token = CancellationToken::new();
        if tokio_token.is_cancelled() {
            token.cancel();
            return token;
        }
        let t = token.clone();
        tokio::spawn(async move {
            if tokio_token
                .run_until_cancelled(t.cancelled())
                .await
                .is_none()
            {
                t.cancel();
            }
        });
        token
    }
}

impl From<&CancellationToken> for CancellationToken {
    fn from(token: &CancellationToken) -> Self {
        token.clone()
    }
}

impl From<tokio_util::sync::CancellationToken> for CancellationToken {
    fn from(token: tokio_util::sync::CancellationToken) -> Self {
        CancellationToken::from_tokio_util(token)
    }
}

impl From<CancellationToken> for tokio_util::sync::CancellationToken {
    fn from(token: CancellationToken) -> Self {
        token.to_tokio_util()
    }
}

impl PartialEq for CancellationToken {
    /// Two handles are equal when they share one state.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl Eq for CancellationToken {}

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

/// The future returned by [`CancellationToken::cancelled`].
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled {
    node: Arc<Node>,
    key: Option<usize>,
}

#[cfg(all(unix, feature = "signal"))]
impl Cancelled {
    /// The token's error, once it is cancelled.
    pub(crate) fn error(&self) -> Option<CancellationError> {
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
