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

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::Cancelable;
use super::current::{self, Frame};

impl Cancelable {
    /// Runs `fut` to completion even if the operation is cancelled meanwhile; `run` returns the
    /// cancellation right after. Shields nest. Scopes started inside a shield are not children of
    /// this operation.
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
            entered: false,
            frame: None,
        }
    }

    fn leave_shield(&self) {
        if self.inner.shields.fetch_sub(1, Ordering::AcqRel) == 1 && self.is_cancelled() {
            self.inner.children.set_landed();
            if let Some(waker) = self
                .state()
                .cold
                .as_mut()
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
        entered: bool,
        frame: Option<Frame>,
    }

    impl<F> PinnedDrop for Shield<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.entered {
                this.op.leave_shield();
            }
        }
    }
}

impl<F: Future> Future for Shield<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.entered {
            this.op.inner.shields.fetch_add(1, Ordering::AcqRel);
            *this.entered = true;
        }
        if this.frame.is_none() {
            *this.frame = Some(Frame {
                op: this.op.clone(),
                adopts_children: false,
            });
        }
        let fut = this.fut;
        let output = std::task::ready!(current::enter(this.frame, || fut.poll(cx)));
        *this.entered = false;
        this.op.leave_shield();
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
