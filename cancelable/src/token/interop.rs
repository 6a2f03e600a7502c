//! Conversions between [`CancellationToken`] and `tokio_util::sync::CancellationToken`.
//!
//! # Ours to theirs
//!
//! [`CancellationToken::to_tokio_util`] registers an `on_cancel` callback on our token that
//! cancels a new `tokio_util` token: it follows ours on the thread that cancels ours, before
//! that `cancel` returns.
//!
//! # Theirs to ours: a waker that cancels
//!
//! A `tokio_util` token has no callbacks, but its `cancelled_owned()` future is woken by its
//! `cancel` (its own, or an ancestor's) synchronously, on the cancelling thread, with none of
//! `tokio_util`'s locks held. [`CancellationToken::from_tokio_util`] uses that wake-up as the
//! callback, with no task, thread or runtime:
//!
//! 1. It makes our token, pins `theirs.cancelled_owned()` in a box, and polls it once with a
//!    [`Waker`] of its own, [`Forward`]. Already cancelled (before or during that poll): ours is
//!    cancelled at once and nothing is kept.
//! 2. Otherwise the pinned future, now registered with `tokio_util`'s notifier, is moved into an
//!    `on_cancel` callback of our token that only drops it.
//! 3. When theirs is cancelled, `tokio_util` wakes `Forward` inside its `cancel`. `Forward`
//!    checks that theirs is cancelled and cancels ours (reason
//!    [`Manual`](crate::CancellationReason::Manual), no message): our waiters are woken, our
//!    children cancelled and our callbacks run, on that thread, before their `cancel` returns.
//!    Our first callback drops the registration.
//!
//! Invariants of the forward (none are added to the token tree, `tree.rs`, which it only uses
//! through `cancel` and `on_cancel`):
//!
//! 1. `Forward` holds our node *weakly* and the registration is owned by our node (in its
//!    callback list): no reference cycle, so dropping every handle of ours drops the
//!    registration, which unregisters from `tokio_util`'s notifier and releases the `tokio_util`
//!    handle inside it. A wake-up after that finds no node and does nothing.
//! 2. Whichever token is cancelled first, the registration is dropped then: cancelling ours
//!    runs the callback that drops it; cancelling theirs cancels ours (3 above). Nothing waits
//!    on past a cancellation, and nothing ever runs in the background.
//! 3. A cancel racing with step 1 or 2 is not lost: if theirs is cancelled before the poll
//!    registers, the poll is `Ready`; if after, `Forward` is woken and cancels ours, and the
//!    callback registered after that runs at once (ours is already cancelled).
//!
//! Limits: the forwarded cancellation has reason `Manual` and no message (a `tokio_util` token
//! carries neither). While neither token is cancelled, ours holds one `tokio_util` handle (like
//! a clone) and one waiter slot in theirs, until ours is dropped; if theirs can never be
//! cancelled any more, that slot is released only when ours is dropped.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

use super::{CancellationToken, Node};
use crate::error::{CancellationError, CancellationReason};

impl CancellationToken {
    /// A `tokio_util` token cancelled when this one is.
    ///
    /// It is cancelled by an `on_cancel` callback, on the thread that cancels this token and
    /// before that `cancel` returns. Until then the callback holds a handle to it.
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

    /// A token cancelled (reason [`CancellationReason::Manual`], no message) when `tokio_token`
    /// is, directly or through one of its parents. Needs no runtime: it can be called anywhere.
    ///
    /// The cancellation is forwarded by a waker registered on `tokio_token`, inside the
    /// `cancel` call that cancels it (its own or an ancestor's) and on that thread: when that
    /// call returns, this token is cancelled for every observer ([`is_cancelled`](Self::is_cancelled),
    /// [`cancelled`](Self::cancelled), [`check`](Self::check),
    /// [`wait_blocking`](Self::wait_blocking), children, and [`on_cancel`](Self::on_cancel)
    /// callbacks, which run on that thread). No task or thread is spawned. The registration
    /// ends when either token is cancelled or this one is dropped; until then this token keeps
    /// one handle to `tokio_token` (as a clone would). (A concurrent `cancel` of `tokio_token`
    /// that finds it already cancelled may return before the winning call has forwarded, as it
    /// may return before `tokio_util`'s own waiters are woken.) The mechanism and its
    /// invariants are described in `src/token/interop.rs`.
    ///
    /// ```
    /// use cancelable::{CancellationReason, CancellationToken};
    ///
    /// // No runtime here.
    /// let tokio_token = tokio_util::sync::CancellationToken::new();
    /// let token = CancellationToken::from_tokio_util(tokio_token.child_token());
    /// let child = token.child_token();
    /// assert!(!token.is_cancelled());
    /// tokio_token.cancel();
    /// assert!(token.is_cancelled() && child.is_cancelled());
    /// assert_eq!(token.reason(), Some(CancellationReason::Manual));
    /// assert!(token.wait_blocking(None));
    /// ```
    pub fn from_tokio_util(tokio_token: tokio_util::sync::CancellationToken) -> Self {
        let token = CancellationToken::new();
        if tokio_token.is_cancelled() {
            token.cancel();
            return token;
        }
        let forward = Arc::new(Forward {
            node: Arc::downgrade(&token.node),
            source: tokio_token.clone(),
        });
        let mut registration = Box::pin(tokio_token.cancelled_owned());
        let waker = Waker::from(forward);
        if registration
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
        {
            token.cancel();
            return token;
        }
        // Invariants 1 and 2: owned by our node, dropped when it fires or is dropped.
        token.on_cancel(move |_| drop(registration));
        token
    }
}

/// The waker registered on a `tokio_util` token by [`CancellationToken::from_tokio_util`].
struct Forward {
    /// Weak: the registration holding this waker is owned by the node (invariant 1).
    node: Weak<Node>,
    /// To tell a cancel from any other wake-up.
    source: tokio_util::sync::CancellationToken,
}

impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.source.is_cancelled() {
            return;
        }
        if let Some(node) = self.node.upgrade() {
            node.cancel(CancellationError::new(CancellationReason::Manual));
        }
    }
}

impl From<tokio_util::sync::CancellationToken> for CancellationToken {
    /// [`CancellationToken::from_tokio_util`].
    fn from(token: tokio_util::sync::CancellationToken) -> Self {
        CancellationToken::from_tokio_util(token)
    }
}

impl From<CancellationToken> for tokio_util::sync::CancellationToken {
    /// [`CancellationToken::to_tokio_util`].
    fn from(token: CancellationToken) -> Self {
        token.to_tokio_util()
    }
}
