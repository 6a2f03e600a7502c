//! Shields: [`Cancelable::shield`] runs a future to completion even when the operation is
//! cancelled meanwhile.
//!
//! # Invariants
//!
//! 1. While `shields > 0`, `run` keeps polling the body even though the scope token is
//!    cancelled; it drops the body at the first poll that sees `shields == 0`.
//! 2. A shield counts itself from its first poll until it completes or is dropped, whichever
//!    comes first, exactly once. The last one to leave a cancelled operation marks the
//!    cancellation as landed and wakes a `run` that parked on the shield (`shielded_run`), so
//!    the cancellation lands right after it, even when the body returns in that same poll.
//! 3. Inside a shield the current frame does not adopt children: scopes started there are not
//!    children of the shielded operation, so its cancellation does not reach them.
//! 4. Entering a shield is a checkpoint. A shield entered while the operation is cancelled and
//!    no other shield of it is open does not protect: it is not counted, and when a `run` that
//!    is itself cancelled polls it, its first poll returns `Pending` (waking the task) without
//!    polling `fut`, so that `run` drops the body there. Polled again (by a body kept for its
//!    grace period, or outside any `run`), it runs `fut` unprotected. Counting is one
//!    compare-and-swap, so a shield entered as another leaves is never counted against a landed
//!    cancellation.
//! 5. Entering a shield spends one unit of tokio's cooperative budget: a loop of shields that
//!    are always ready yields to the scheduler when the budget runs out, so a cancellation from
//!    another task still gets in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::task::coop;

use super::Cancelable;
use super::current;

impl Cancelable {
    /// Runs `fut` to completion even if the operation is cancelled meanwhile; `run` returns the
    /// cancellation right after. Shields nest. Scopes started inside a shield are not children of
    /// this operation.
    ///
    /// Entering a shield is a checkpoint: once the operation is cancelled (and no other shield
    /// of it is open), a new shield protects nothing, and `run` drops the body there instead
    /// of starting `fut`. A body kept for its [grace period](Self::grace) still runs `fut`,
    /// within the grace.
    ///
    /// A shield only holds off this library's cancellation: a drop that comes from outside (an
    /// enclosing `tokio::time::timeout`, a dropped request, an aborted task) still drops it.
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = cancelable::Cancelable::with_timeout(Duration::from_millis(10));
    /// let mut saved = false;
    /// let result = op.run(async {
    ///     op.shield(async {
    ///         tokio::time::sleep(Duration::from_millis(50)).await; // outlives the timeout
    ///         saved = true;
    ///     }).await;
    ///     std::future::pending::<()>().await
    /// }).await;
    /// assert!(result.unwrap_err().is_timeout());
    /// assert!(saved);
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Dropping the returned future drops `fut` and ends the shield at once: the operation's
    /// `run`, if it is cancelled, returns at its next poll. That is the only way to stop a
    /// shielded future early.
    pub fn shield<F: Future>(&self, fut: F) -> Shield<'_, F> {
        Shield {
            op: self,
            fut,
            entry: Entry::New,
        }
    }

    /// Counts a new shield, unless the operation is cancelled with no shield open
    /// (invariant 4).
    fn enter_shield(&self) -> bool {
        let shields = &self.inner.shields;
        let mut open = shields.load(Ordering::Acquire);
        loop {
            if open == 0 && self.is_cancelled() {
                return false;
            }
            match shields.compare_exchange_weak(open, open + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => open = now,
            }
        }
    }

    fn leave_shield(&self) {
        if self.inner.shields.fetch_sub(1, Ordering::AcqRel) == 1 && self.is_cancelled() {
            self.inner.children.set_landed();
            if let Some(waker) = self
                .state()
                .cold
                .as_deref_mut()
                .and_then(|c| c.shielded_run.take())
            {
                waker.wake();
            }
        }
    }
}

pin_project! {
    /// The future returned by [`Cancelable::shield`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Shield<'a, F> {
        op: &'a Cancelable,
        #[pin]
        fut: F,
        entry: Entry,
    }

    impl<F> PinnedDrop for Shield<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.entry == Entry::Counted {
                this.op.leave_shield();
            }
        }
    }
}

/// Where a shield stands with its operation's count of open shields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Entry {
    /// Not polled yet.
    New,
    /// Counted: the operation's cancellation waits for it.
    Counted,
    /// Entered after the operation was cancelled: runs `fut` without protecting it.
    Unprotected,
    /// Completed, or left unprotected.
    Left,
}

impl<F: Future> Future for Shield<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.entry == Entry::New {
            std::task::ready!(coop::poll_proceed(cx)).made_progress();
            if this.op.enter_shield() {
                *this.entry = Entry::Counted;
            } else {
                *this.entry = Entry::Unprotected;
                if current::with(|frame| frame.is_some_and(|f| f.op.is_cancelled())) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
        let fut = this.fut;
        let output = std::task::ready!(current::enter(this.op, false, || fut.poll(cx)));
        if std::mem::replace(this.entry, Entry::Left) == Entry::Counted {
            this.op.leave_shield();
        }
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for Shield<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shield")
            .field("op", self.op)
            .finish_non_exhaustive()
    }
}
