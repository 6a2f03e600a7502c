//! The run of one request: its operation's `run` owns the handler's future, and the response
//! future and body carry the drop guard that turns a dropped request into a `Disconnect`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use ::axum::body::{Body, Bytes};
use ::axum::response::{IntoResponse, Response};
use http::StatusCode;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::error::{CancellationError, CancellationReason};
use crate::operation::Cancelable;

use super::BoxError;

/// What the operation's body hands out while `run` goes on: the response, then the word that
/// its body is complete.
struct Exchange<B> {
    response: Mutex<Option<http::Response<B>>>,
    body_done: AtomicBool,
}

type RunFuture<E> = Pin<Box<dyn Future<Output = Result<Result<(), E>, CancellationError>> + Send>>;

/// A request's operation while it runs: the `run` future (owning the handler) and its exchange.
struct Running<B, E> {
    op: Cancelable,
    run: RunFuture<E>,
    exchange: Arc<Exchange<B>>,
}

impl<B, E> Running<B, E> {
    /// The response is complete: the operation's body returns, and the operation completes.
    fn complete(mut self) {
        self.exchange.body_done.store(true, Ordering::Release);
        // The body is ready at once: this poll ends `run`, and `Completed` is recorded.
        let _ = self
            .run
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
    }

    /// The server dropped the request before its response was complete: the client went away.
    fn abandon(self, message: &'static str) {
        self.op.cancel_with(CancellationReason::Disconnect, message);
        drop(self.run);
    }
}

pin_project! {
    /// The response future of [`CancelableService`].
    ///
    /// Dropped before it completes (the client went away), it cancels the request's operation
    /// with reason `Disconnect` and drops the handler.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<B, E> {
        running: Option<Running<B, E>>,
    }

    impl<B, E> PinnedDrop for ResponseFuture<B, E> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(running) = this.project().running.take() {
                running.abandon("the client disconnected before the response");
            }
        }
    }
}

impl<B, E> ResponseFuture<B, E>
where
    B: http_body::Body + Send + 'static,
    E: Send + 'static,
{
    pub(super) fn new<F>(op: Cancelable, handler: F, head: bool) -> Self
    where
        F: Future<Output = Result<http::Response<B>, E>> + Send + 'static,
    {
        let exchange = Arc::new(Exchange {
            response: Mutex::new(None),
            body_done: AtomicBool::new(false),
        });
        let shared = exchange.clone();
        let owned = op.clone();
        let run: RunFuture<E> = Box::pin(async move {
            owned
                .run(async move {
                    let response = handler.await?;
                    // A body of known length (a string, bytes, JSON) is complete once the
                    // handler returns; a streamed one keeps the operation until it is sent.
                    let streamed = !head
                        && !bodiless(response.status())
                        && !response.body().is_end_stream()
                        && response.body().size_hint().exact().is_none();
                    *lock(&shared.response) = Some(response);
                    if streamed {
                        std::future::poll_fn(|_| {
                            if shared.body_done.load(Ordering::Acquire) {
                                Poll::Ready(())
                            } else {
                                Poll::Pending
                            }
                        })
                        .await;
                    }
                    Ok(())
                })
                .await
        });
        ResponseFuture {
            running: Some(Running { op, run, exchange }),
        }
    }
}

/// Statuses whose responses never carry a body: hyper drops it unsent.
fn bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<B, E> Future for ResponseFuture<B, E>
where
    E: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(running) = this.running.as_mut() else {
            panic!("`ResponseFuture` polled after it completed");
        };
        let ended = running.run.as_mut().poll(cx);
        let response = lock(&running.exchange.response).take();
        match (ended, response) {
            // Cancelled before the response started: the cancellation is the response.
            (Poll::Ready(Err(cancellation)), _) => {
                *this.running = None;
                Poll::Ready(Ok(cancellation.into_response()))
            }
            (Poll::Ready(Ok(Err(error))), _) => {
                *this.running = None;
                Poll::Ready(Err(error))
            }
            // Complete: the operation ended with the handler.
            (Poll::Ready(Ok(Ok(()))), Some(response)) => {
                *this.running = None;
                Poll::Ready(Ok(response.map(Body::new)))
            }
            // A streamed body: the operation lasts until it is sent.
            (Poll::Pending, Some(response)) => {
                let running = this.running.take();
                let (parts, body) = response.into_parts();
                let body = OperationBody {
                    inner: body,
                    running,
                    cancellation: None,
                    ended: false,
                };
                Poll::Ready(Ok(Response::from_parts(parts, Body::new(body))))
            }
            (Poll::Pending, None) => Poll::Pending,
            (Poll::Ready(Ok(Ok(()))), None) => {
                unreachable!("the operation's body hands over the response before it ends")
            }
        }
    }
}

impl<B, E> fmt::Debug for ResponseFuture<B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("op", &self.running.as_ref().map(|r| &r.op))
            .finish()
    }
}

pin_project! {
    /// A response body that keeps its request's operation running until it is complete.
    struct OperationBody<B: http_body::Body, E> {
        #[pin]
        inner: B,
        running: Option<Running<B, E>>,
        // The operation was cancelled while the body was being sent.
        cancellation: Option<CancellationError>,
        ended: bool,
    }

    impl<B: http_body::Body, E> PinnedDrop for OperationBody<B, E> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(running) = this.running.take() {
                if this.inner.is_end_stream() {
                    running.complete();
                } else {
                    running.abandon("the client disconnected before the end of the response");
                }
            }
        }
    }
}

impl<B: http_body::Body, E> OperationBody<B, E> {
    fn finish(running: &mut Option<Running<B, E>>) {
        if let Some(running) = running.take() {
            running.complete();
        }
    }
}

impl<B, E> http_body::Body for OperationBody<B, E>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        // The operation's sources (a timeout, the registry, …) go on while the body is sent.
        if let Some(running) = this.running.as_mut() {
            match running.run.as_mut().poll(cx) {
                Poll::Pending => {}
                Poll::Ready(Err(cancellation)) => {
                    *this.cancellation = Some(cancellation);
                    *this.running = None;
                }
                Poll::Ready(Ok(_)) => *this.running = None,
            }
        }
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    Self::finish(this.running);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                Self::finish(this.running);
                *this.ended = true;
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                Self::finish(this.running);
                *this.ended = true;
                Poll::Ready(None)
            }
            // A body that does not watch the operation is cut off when it is cancelled.
            Poll::Pending => match this.cancellation.take() {
                Some(cancellation) => {
                    *this.ended = true;
                    Poll::Ready(Some(Err(Box::new(cancellation))))
                }
                None => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || (self.running.is_none() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
