//! The client side: a tower layer that sends the caller's remaining time with each request and
//! stops the call with its operation.
//!
//! # Invariants
//!
//! 1. A request goes to the inner service only if its operation is neither cancelled nor past
//!    its deadline when `call` runs: the inner service's `call` may send at once (hyper's
//!    HTTP/2 client does), so the check is made before it, not in the response future.
//! 2. The header written is the time left when `call` runs, rounded down by the codec, so the
//!    callee never gets more time than the caller has (`codec.rs`, invariant 1).
//! 3. An error of the inner service that ends a call after its deadline is reported as the
//!    timeout it is, not as the transport error the deadline caused.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Request;
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use super::{DeadlineHeaders, status};
use crate::operation::{Cancelable, OrCancelled};
use crate::{CancellationError, CancellationReason};

/// The error of a [`Propagate`] service, boxed as tower's own middleware do: a
/// [`CancellationError`] when the operation was cancelled or its deadline passed (for a gRPC
/// call with the `tonic` feature, a `tonic::Status` with that cancellation as its source), else
/// the inner service's error, boxed unchanged.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A tower [`Layer`] for HTTP clients that sends the caller's deadline with each request and
/// stops the call when the caller's operation is cancelled.
///
/// For any `Service<http::Request<B>>`: hyper-util's `Client`, tonic's `Channel`, a
/// `tower::service_fn`. On each call the layer takes the operation from the request's
/// extensions (a [`Cancelable`] put there with `extensions_mut().insert(..)`) or else
/// [`Cancelable::current`], then:
///
/// * no operation: the request passes through untouched;
/// * the operation is cancelled, or its [deadline](Cancelable::deadline) has passed: the call
///   fails at once with that [`CancellationError`] (reason `Timeout` for a deadline) and
///   nothing is sent;
/// * else it has a deadline: the time left goes into the request's headers
///   ([`DeadlineHeaders::write`]: `grpc-timeout` for gRPC, `request-timeout-ms` otherwise);
/// * and the call runs inside the operation: a cancellation drops it (hyper resets the HTTP/2
///   stream, or closes the HTTP/1 connection) and the call fails with the cancellation. A call
///   whose inner service fails after the deadline passed fails with reason `Timeout` too.
///
/// The layer arms no timer of its own: the operation's `run` (or its ancestor's) enforces the
/// deadline, and cancels the call with it. An operation that only sits in the extensions,
/// never run, has its deadline sent and checked when the call ends, but nothing here stops
/// the call at that deadline (tonic's `Channel` does, from the `grpc-timeout` it sends).
///
/// # Errors
///
/// The service's error is a [`BoxError`], as with `tower::timeout`: downcast it to
/// [`CancellationError`] for a cancellation, or to the inner service's error. tonic's
/// `Grpc` takes it as it is and still maps the inner transport errors to their status. With
/// the `tonic` feature, a cancellation of a gRPC call is a `tonic::Status`: a deadline is
/// `DEADLINE_EXCEEDED`, any other cancellation `CANCELLED`, with the `CancellationError` as
/// the status's source. Without it, tonic reports a cancellation as `Code::Unknown` (the
/// `CancellationError` still its source).
///
/// ```
/// use std::time::Duration;
/// use cancelable::Cancelable;
/// use cancelable::propagation::PropagateLayer;
/// use http::{Request, Response};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// // Stands in for hyper-util's `Client` or tonic's `Channel`: answers with the header it got.
/// let transport = tower::service_fn(|request: Request<()>| async move {
///     let sent = request.headers()["request-timeout-ms"].to_str()?.to_owned();
///     Ok::<_, cancelable::propagation::BoxError>(Response::new(sent))
/// });
/// let client = ServiceBuilder::new().layer(PropagateLayer::new()).service(transport);
///
/// let request = Cancelable::with_timeout(Duration::from_secs(2));
/// let sent = request
///     .run(async {
///         tokio::time::sleep(Duration::from_millis(500)).await;
///         client.oneshot(Request::new(())).await.unwrap().into_body()
///     })
///     .await
///     .unwrap();
/// assert_eq!(sent, "1500");
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct PropagateLayer {
    headers: Arc<DeadlineHeaders>,
}

impl PropagateLayer {
    /// Writes the default headers ([`DeadlineHeaders::default`]).
    pub fn new() -> Self {
        PropagateLayer::default()
    }

    /// Writes the deadline into `headers`' names instead.
    ///
    /// ```
    /// use cancelable::propagation::{DeadlineHeaders, PropagateLayer};
    /// use http::HeaderName;
    ///
    /// let layer = PropagateLayer::new()
    ///     .headers(DeadlineHeaders::default().http(HeaderName::from_static("x-timeout-ms")));
    /// # drop(layer);
    /// ```
    pub fn headers(mut self, headers: DeadlineHeaders) -> Self {
        self.headers = Arc::new(headers);
        self
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = Propagate<S>;

    fn layer(&self, inner: S) -> Propagate<S> {
        Propagate {
            inner,
            headers: self.headers.clone(),
        }
    }
}

/// The service of a [`PropagateLayer`]: `inner` with the caller's deadline sent on and its
/// cancellation applied.
#[derive(Clone, Debug)]
pub struct Propagate<S> {
    inner: S,
    headers: Arc<DeadlineHeaders>,
}

impl<S> Propagate<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, to change.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for Propagate<S>
where
    S: Service<Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let op = request
            .extensions()
            .get::<Cancelable>()
            .cloned()
            .or_else(Cancelable::current);
        let Some(op) = op else {
            return ResponseFuture::pass(self.inner.call(request));
        };
        let grpc = super::is_grpc(request.headers());
        if let Some(cancelled) = op.cancellation() {
            return ResponseFuture::failed(cancelled, grpc);
        }
        let deadline = op.deadline();
        if let Some(deadline) = deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                tracing::debug!(
                    operation = op.name(),
                    "deadline passed: the request is not sent"
                );
                return ResponseFuture::failed(expired(&op, "before the request was sent"), grpc);
            }
            self.headers.write(request.headers_mut(), remaining);
        }
        let fut = op.run_until_cancelled(self.inner.call(request));
        ResponseFuture::bound(fut, op, deadline, grpc)
    }
}

/// A `Timeout` cancellation for `op`, whose deadline passed at `when`.
fn expired(op: &Cancelable, when: &'static str) -> CancellationError {
    op.cancellation().unwrap_or_else(|| {
        let name = op.name();
        let message = if name.is_empty() {
            format!("deadline passed {when}")
        } else {
            format!("deadline of operation {name:?} passed {when}")
        };
        CancellationError::new(CancellationReason::Timeout).with_message(message)
    })
}

pin_project! {
    /// The response future of [`Propagate`].
    ///
    /// # Cancellation safety
    ///
    /// Dropping it drops the inner call, as dropping the inner service's own future would.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Pass {
            #[pin]
            fut: F,
        },
        Failed {
            error: Option<CancellationError>,
            grpc: bool,
        },
        Bound {
            #[pin]
            fut: OrCancelled<F>,
            op: Cancelable,
            deadline: Option<Instant>,
            grpc: bool,
        },
    }
}

impl<F> ResponseFuture<F> {
    fn pass(fut: F) -> Self {
        ResponseFuture {
            state: State::Pass { fut },
        }
    }

    fn failed(error: CancellationError, grpc: bool) -> Self {
        ResponseFuture {
            state: State::Failed {
                error: Some(error),
                grpc,
            },
        }
    }

    fn bound(fut: OrCancelled<F>, op: Cancelable, deadline: Option<Instant>, grpc: bool) -> Self {
        ResponseFuture {
            state: State::Bound {
                fut,
                op,
                deadline,
                grpc,
            },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Pass { fut } => fut.poll(cx).map_err(Into::into),
            StateProj::Failed { error, grpc } => {
                let error = error
                    .take()
                    .expect("`ResponseFuture` polled after it completed");
                Poll::Ready(Err(status::boxed(error, *grpc)))
            }
            StateProj::Bound {
                fut,
                op,
                deadline,
                grpc,
            } => Poll::Ready(match ready!(fut.poll(cx)) {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(_)) if deadline.is_some_and(|d| d <= Instant::now()) => {
                    Err(status::boxed(expired(op, "during the call"), *grpc))
                }
                Ok(Err(error)) => Err(error.into()),
                Err(cancelled) => Err(status::boxed(cancelled, *grpc)),
            }),
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Pass { .. } => "pass",
            State::Failed { .. } => "failed",
            State::Bound { .. } => "bound",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
