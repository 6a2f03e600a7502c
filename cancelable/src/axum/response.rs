//! The run of one request: its operation's owned run ([`OwnedRun`]) holds the handler's
//! future, inline in the response future; the response future and body carry the drop guard
//! that turns a dropped request into a `Disconnect`.
//!
//! # Invariants
//!
//! 1. The run's body hands the response out through its return value, or, when the response
//!    is streamed, by keeping it until the response future takes it in the same poll; the run
//!    then moves (`RunOn::move_to`) into the body it sends, which ends it once the body is
//!    complete. Nothing is shared between the two: no lock, no atomic, no `Arc`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use ::axum::body::{Body, Bytes};
use ::axum::response::Response;
use http::StatusCode;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;

use super::BoxError;
use super::answer::Answer;
use crate::error::{CancellationError, CancellationReason};
use crate::operation::{Cancelable, OwnedRun, RunOn};

pin_project! {
    /// The body of a request's operation: the handler, then, for a streamed response, the
    /// wait until the response body is sent.
    #[project = StageProj]
    enum Stage<F, B> {
        Handler { #[pin] handler: F, head: bool },
        /// The streamed response, until the response future takes it; then nothing but the
        /// wait.
        Streaming { response: Option<http::Response<B>> },
        /// The response body is complete: the operation's body returns.
        Sent,
    }
}

impl<F, B, E> Future for Stage<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body,
{
    /// The response, unless it was streamed.
    type Output = Result<Option<http::Response<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.as_mut().project() {
            StageProj::Handler { handler, head } => {
                let head = *head;
                let response = match ready!(handler.poll(cx)) {
                    Ok(response) => response,
                    Err(error) => return Poll::Ready(Err(error)),
                };
                // A body of known length (a string, bytes, JSON) is complete once the handler
                // returns; a streamed one keeps the operation until it is sent.
                let streamed = !head
                    && !bodiless(response.status())
                    && !response.body().is_end_stream()
                    && response.body().size_hint().exact().is_none();
                if !streamed {
                    return Poll::Ready(Ok(Some(response)));
                }
                // Taken by the response future in this same poll: no waker to register.
                self.set(Stage::Streaming {
                    response: Some(response),
                });
                Poll::Pending
            }
            StageProj::Streaming { .. } => Poll::Pending,
            StageProj::Sent => Poll::Ready(Ok(None)),
        }
    }
}

type RequestRun<F, B> = OwnedRun<Stage<F, B>>;

/// The streamed response the operation's body handed out, if it did.
fn take_streamed<F, B>(run: Pin<&mut RequestRun<F, B>>) -> Option<http::Response<B>> {
    match run.body()?.project() {
        StageProj::Streaming { response } => response.take(),
        _ => None,
    }
}

/// The server dropped the request before its response was complete: the client went away.
fn abandon(operation: &Cancelable, message: &'static str) {
    operation.cancel_with(CancellationReason::Disconnect, message);
}

pin_project! {
    /// The response future of [`CancelableService`](super::CancelableService): the request's
    /// operation runs in it, inline (no allocation), owning the handler's future `F`.
    ///
    /// Dropped before it completes (the client went away), it cancels the request's operation
    /// with reason `Disconnect` and drops the handler.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, B> {
        #[pin]
        run: RequestRun<F, B>,
        answer: Answer,
    }

    impl<F, B> PinnedDrop for ResponseFuture<F, B> {
        fn drop(this: Pin<&mut Self>) {
            let run = this.project().run;
            if !run.is_done() {
                abandon(run.operation(), "the client disconnected before the response");
            }
        }
    }
}

impl<F, B, E> ResponseFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body,
{
    pub(super) fn new(op: Cancelable, handler: F, head: bool, answer: Answer) -> Self {
        ResponseFuture {
            run: op.run_owned(Stage::Handler { handler, head }),
            answer,
        }
    }
}

/// Statuses whose responses never carry a body: hyper drops it unsent.
fn bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    F: Send + 'static,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut run = this.run;
        if run.is_done() {
            panic!("`ResponseFuture` polled after it completed");
        }
        match run.as_mut().poll(cx) {
            // Cancelled before the response started: the cancellation is the response.
            Poll::Ready(Err(cancellation)) => Poll::Ready(Ok(this.answer.respond(cancellation))),
            Poll::Ready(Ok(Err(error))) => Poll::Ready(Err(error)),
            // Complete: the operation ended with the handler.
            Poll::Ready(Ok(Ok(Some(response)))) => Poll::Ready(Ok(this.answer.pass(response))),
            Poll::Ready(Ok(Ok(None))) => {
                unreachable!("the operation's body hands over the response before it ends")
            }
            Poll::Pending => match take_streamed(run.as_mut()) {
                None => Poll::Pending,
                // A streamed body: the operation lasts until it is sent, so it moves there.
                Some(response) => {
                    let moved = Box::pin(run.move_to(Stage::Streaming { response: None }));
                    let (parts, body) = response.into_parts();
                    let body = OperationBody {
                        inner: body,
                        running: Some(moved as Pin<Box<dyn Streamed>>),
                        cancellation: None,
                        answer: *this.answer,
                        ended: false,
                    };
                    Poll::Ready(Ok(Response::from_parts(parts, Body::new(body))))
                }
            },
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("op", self.run.operation())
            .finish()
    }
}

/// A request's run once its streamed response is handed out, whatever its handler's type.
trait Streamed: Send {
    fn operation(&self) -> &Cancelable;
    /// Drives the operation's sources; `Ready` once it ended.
    fn poll_run(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), CancellationError>>;
    /// The response is complete: the operation's body returns and the operation completes.
    fn complete(self: Pin<&mut Self>);
}

impl<F, B, E> Streamed for RequestRun<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>> + Send,
    B: http_body::Body + Send,
{
    fn operation(&self) -> &Cancelable {
        RunOn::operation(self)
    }

    fn poll_run(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), CancellationError>> {
        self.poll(cx).map(|ended| ended.map(drop))
    }

    fn complete(mut self: Pin<&mut Self>) {
        if let Some(mut stage) = self.as_mut().body() {
            stage.set(Stage::Sent);
        }
        // The body is ready at once: this poll ends `run`, and `Completed` is recorded.
        let _ = self.poll(&mut Context::from_waker(Waker::noop()));
    }
}

pin_project! {
    /// A response body that keeps its request's operation running until it is complete.
    struct OperationBody<B: http_body::Body> {
        #[pin]
        inner: B,
        running: Option<Pin<Box<dyn Streamed>>>,
        // The operation was cancelled while the body was being sent.
        cancellation: Option<CancellationError>,
        answer: Answer,
        ended: bool,
    }

    impl<B: http_body::Body> PinnedDrop for OperationBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(mut running) = this.running.take() {
                if this.inner.is_end_stream() {
                    running.as_mut().complete();
                } else {
                    abandon(
                        running.operation(),
                        "the client disconnected before the end of the response",
                    );
                }
            }
        }
    }
}

impl<B: http_body::Body> OperationBody<B> {
    fn finish(running: &mut Option<Pin<Box<dyn Streamed>>>) {
        if let Some(mut running) = running.take() {
            running.as_mut().complete();
        }
    }
}

impl<B> http_body::Body for OperationBody<B>
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
            match running.as_mut().poll_run(cx) {
                Poll::Pending => {}
                Poll::Ready(Err(cancellation)) => {
                    *this.cancellation = Some(cancellation);
                    *this.running = None;
                }
                Poll::Ready(Ok(())) => *this.running = None,
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
                    match this.answer.trailers(&cancellation) {
                        Some(trailers) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                        None => Poll::Ready(Some(Err(Box::new(cancellation)))),
                    }
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
