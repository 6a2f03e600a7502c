//! [`FutureExt`]: `tokio_util::future::FutureExt`'s cancellation adapters, for our
//! [`CancellationToken`].
//!
//! # Fairness
//!
//! The same as `tokio_util` 0.7.20's (and [`CancellationToken::run_until_cancelled`]'s, which
//! checks the token when first polled instead of when called):
//!
//! * [`with_cancellation_token`](FutureExt::with_cancellation_token) and
//!   [`with_cancellation_token_owned`](FutureExt::with_cancellation_token_owned) check the
//!   token *when called*: already cancelled, the future is dropped there and then, never
//!   polled, and the adapter is `Ready(None)` on its first poll without registering a waker.
//! * Otherwise every poll polls the future first and the token second: when the future is
//!   ready it wins, even if the token was cancelled meanwhile (biased towards completion). The
//!   token's waker is registered only when the future is pending.
//!
//! [`Cancelable::run`](crate::Cancelable::run) is the other way round: there a fired source
//! wins, checked before every poll of the body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::token::{CancellationToken, Cancelled};

pin_project! {
    /// `fut` against `cancellation`, `fut` first on every poll.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct RunUntilCancelledFuture<F> {
        cancellation: Cancelled,
        #[pin]
        future: F,
    }
}

impl<F: Future> RunUntilCancelledFuture<F> {
    pub(crate) fn new(token: &CancellationToken, future: F) -> Self {
        RunUntilCancelledFuture {
            cancellation: token.cancelled(),
            future,
        }
    }
}

impl<F: Future> Future for RunUntilCancelledFuture<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            Poll::Ready(Some(output))
        } else if Pin::new(this.cancellation).poll(cx).is_ready() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// Cancellation adapters for every [`Future`], as `tokio_util::future::FutureExt` has them: a
/// port changes `use tokio_util::future::FutureExt` to `use cancelable::FutureExt`.
///
/// (`tokio_util`'s trait also has `timeout` and `timeout_at`; for those use
/// [`cancelable::with_timeout`](crate::with_timeout) or tokio's own.)
///
/// ```
/// use cancelable::{CancellationToken, FutureExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let token = CancellationToken::new();
/// assert_eq!(async { 7 }.with_cancellation_token(&token).await, Some(7));
/// token.cancel();
/// assert_eq!(std::future::pending::<()>().with_cancellation_token(&token).await, None);
/// # }
/// ```
pub trait FutureExt: Future {
    /// Runs `self` until it completes (`Some(output)`) or `token` is cancelled (`None`, and
    /// `self` is dropped); the chaining form of
    /// [`CancellationToken::run_until_cancelled`].
    ///
    /// # Fairness
    ///
    /// `token` is checked *now*: already cancelled, `self` is dropped here without being
    /// polled, and the result is `Ready(None)` on its first poll. Otherwise each poll polls
    /// `self` first, then the token: a `self` that is ready wins over a cancellation that
    /// happened meanwhile. (Unlike [`Cancelable::run`](crate::Cancelable::run), where a fired
    /// source always wins.)
    ///
    /// # Cancellation safety
    ///
    /// As cancel-safe as `self`: dropping the returned future drops `self` and unregisters from
    /// the token.
    ///
    /// ```
    /// use cancelable::{CancellationToken, FutureExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    /// let token = CancellationToken::new();
    /// let t = token.clone();
    /// tokio::spawn(async move {
    ///     tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    ///     t.cancel();
    /// });
    /// assert!(rx.with_cancellation_token(&token).await.is_none());
    /// # }
    /// ```
    fn with_cancellation_token(self, token: &CancellationToken) -> WithCancellationTokenFuture<Self>
    where
        Self: Sized,
    {
        WithCancellationTokenFuture {
            run_until_cancelled: (!token.is_cancelled())
                .then(|| RunUntilCancelledFuture::new(token, self)),
        }
    }

    /// [`with_cancellation_token`](Self::with_cancellation_token), taking the token by value
    /// (the chaining form of [`CancellationToken::run_until_cancelled_owned`]).
    ///
    /// # Fairness
    ///
    /// As [`with_cancellation_token`](Self::with_cancellation_token): checked now; then `self`
    /// first on every poll.
    ///
    /// # Cancellation safety
    ///
    /// As cancel-safe as `self`: dropping the returned future drops `self` and unregisters from
    /// the token.
    ///
    /// ```
    /// use cancelable::{CancellationToken, FutureExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    /// let token = CancellationToken::new();
    /// let waiting = tokio::spawn(rx.with_cancellation_token_owned(token.clone()));
    /// token.cancel();
    /// assert!(waiting.await.unwrap().is_none());
    /// # }
    /// ```
    fn with_cancellation_token_owned(
        self,
        token: CancellationToken,
    ) -> WithCancellationTokenFutureOwned<Self>
    where
        Self: Sized,
    {
        WithCancellationTokenFutureOwned {
            run_until_cancelled: (!token.is_cancelled())
                .then(|| RunUntilCancelledFuture::new(&token, self)),
        }
    }
}

impl<T: Future + ?Sized> FutureExt for T {}

pin_project! {
    /// The future returned by [`FutureExt::with_cancellation_token`]: `Some(output)`, or `None`
    /// once the token is cancelled.
    ///
    /// It holds its own reference to the token's state, so unlike `tokio_util`'s it does not
    /// borrow the token.
    ///
    /// ```
    /// use cancelable::{CancellationToken, FutureExt, WithCancellationTokenFuture};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// let fut: WithCancellationTokenFuture<_> = async { 1 }.with_cancellation_token(&token);
    /// assert_eq!(fut.await, Some(1));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct WithCancellationTokenFuture<F> {
        #[pin]
        run_until_cancelled: Option<RunUntilCancelledFuture<F>>,
    }
}

impl<F: Future> Future for WithCancellationTokenFuture<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().run_until_cancelled.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => Poll::Ready(None),
        }
    }
}

pin_project! {
    /// The future returned by [`FutureExt::with_cancellation_token_owned`]: `Some(output)`, or
    /// `None` once the token is cancelled.
    ///
    /// ```
    /// use cancelable::{CancellationToken, FutureExt, WithCancellationTokenFutureOwned};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// token.cancel();
    /// let fut: WithCancellationTokenFutureOwned<_> =
    ///     async { 1 }.with_cancellation_token_owned(token);
    /// assert_eq!(fut.await, None);
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct WithCancellationTokenFutureOwned<F> {
        #[pin]
        run_until_cancelled: Option<RunUntilCancelledFuture<F>>,
    }
}

impl<F: Future> Future for WithCancellationTokenFutureOwned<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().run_until_cancelled.as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => Poll::Ready(None),
        }
    }
}

impl<F> std::fmt::Debug for WithCancellationTokenFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithCancellationTokenFuture")
            .field("cancelled_at_start", &self.run_until_cancelled.is_none())
            .finish_non_exhaustive()
    }
}

impl<F> std::fmt::Debug for WithCancellationTokenFutureOwned<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithCancellationTokenFutureOwned")
            .field("cancelled_at_start", &self.run_until_cancelled.is_none())
            .finish_non_exhaustive()
    }
}
