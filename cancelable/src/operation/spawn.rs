//! Work started from an operation: [`Cancelable::spawn`] and [`Cancelable::spawn_blocking`]
//! run inside a child of it, admitted by it at once (`children.rs`), so that
//! [`wait_children`](Cancelable::wait_children) and a shutdown see them from the call on;
//! [`Cancelable::run_until_cancelled`] races one future against it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::task::JoinHandle;

use super::Cancelable;
use crate::error::CancellationError;
use crate::token::CancellationToken;

impl Cancelable {
    /// Runs `fut` on a new task inside a child of this operation: cancelled with reason
    /// `Parent` when this one is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let worker = op.spawn(std::future::pending::<()>());
    /// op.cancel();
    /// assert!(worker.await.unwrap().unwrap_err().is_parent());
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// The task runs on its own: dropping the `JoinHandle` detaches it (as with
    /// `tokio::spawn`), it does not cancel it. Cancel this operation, or abort the handle.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<Result<F::Output, CancellationError>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let child = self.child();
        child.inner.children.set_spawned();
        tokio::spawn(async move { child.run(fut).await })
    }

    /// Runs blocking or CPU-bound `f` on tokio's blocking pool, handing it a token (a child of
    /// this operation's) to poll.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let work = op.spawn_blocking(|token| {
    ///     let mut rounds = 0;
    ///     while !token.is_cancelled() { rounds += 1; std::thread::yield_now(); }
    ///     rounds
    /// });
    /// op.cancel();
    /// work.await.unwrap();
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Blocking code cannot be interrupted: it stops when it looks at its token. Dropping the
    /// `JoinHandle` detaches it.
    pub fn spawn_blocking<T, F>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce(CancellationToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let token = self.scope().child_token();
        let admitted = self.inner.children.admit().map(|_| GiveBack(self.clone()));
        let record = self.record_blocking(&token);
        tokio::task::spawn_blocking(move || {
            // Dropped in reverse order: the record is done before the admission goes back.
            let _admitted = admitted;
            let _record = record;
            f(token)
        })
    }

    /// Runs `fut` until it completes or the operation is cancelled, whichever comes first:
    /// `Ok(output)` or the operation's cancellation. Unlike [`run`](Self::run) this starts no
    /// lifecycle: no status, no callbacks, no child scope. Built for loops that make several
    /// attempts inside one operation.
    ///
    /// Already cancelled: `fut` is never polled. A cancellation always wins a tie, as in
    /// [`run`](Self::run): when both are ready at one poll, the result is `Err`. (tokio-util's
    /// [`CancellationToken::run_until_cancelled`] gives a tie to the future after its first
    /// poll, and so does ours on the token.)
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// assert_eq!(op.run_until_cancelled(async { 42 }).await.unwrap(), 42);
    /// op.cancel();
    /// assert!(op.run_until_cancelled(async { 42 }).await.unwrap_err().is_manual());
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Dropping the returned future drops `fut` and unregisters its waker; the operation is
    /// not touched.
    pub fn run_until_cancelled<F: Future>(&self, fut: F) -> OrCancelled<F> {
        OrCancelled {
            op: self.clone(),
            fut: Some(fut),
            wait_key: None,
        }
    }
}

/// The admission of a `spawn_blocking` closure, given back when it returns or unwinds.
struct GiveBack(Cancelable);

impl Drop for GiveBack {
    fn drop(&mut self) {
        self.0.release_child();
    }
}

pin_project! {
    /// The future of [`Cancelable::run_until_cancelled`]: the output of a future, or the
    /// operation's cancellation if that comes first.
    #[must_use = "futures do nothing unless polled"]
    pub struct OrCancelled<F> {
        op: Cancelable,
        #[pin]
        fut: Option<F>,
        wait_key: Option<usize>,
    }

    impl<F> PinnedDrop for OrCancelled<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(key) = this.wait_key.take()
                && let Some(scope) = this.op.made_scope()
            {
                scope.node().remove_waiter(key);
            }
        }
    }
}

impl<F: Future> Future for OrCancelled<F> {
    type Output = Result<F::Output, CancellationError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let token = this.op.scope().node();
        loop {
            if let Some(error) = token.with_error(|e| this.op.attribute(e)) {
                this.fut.set(None);
                return Poll::Ready(Err(error));
            }
            let Some(fut) = this.fut.as_mut().as_pin_mut() else {
                panic!("`OrCancelled` polled after it completed");
            };
            if let Poll::Ready(output) = fut.poll(cx) {
                this.fut.set(None);
                return Poll::Ready(Ok(output));
            }
            if token.poll_cancelled(this.wait_key, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<F> fmt::Debug for OrCancelled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrCancelled")
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}
