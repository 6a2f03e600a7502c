//! Web requests as operations, for [`axum`] (and any tower/hyper stack): the FastAPI
//! integration of hother-cancelable, without its watcher task.
//!
//! * [`CancelableLayer`] runs every request as an operation, named `"GET /path"` by default,
//!   with an optional timeout and registry.
//! * A handler takes its operation with the [`RequestCancelable`] extractor: work it starts
//!   with [`Cancelable::spawn`] or runs in child scopes stops with the request.
//! * When the client goes away before the response is complete, the server drops the request's
//!   future (or its response body): the operation is cancelled with reason
//!   [`Disconnect`](crate::CancellationReason::Disconnect) and its children stop.
//! * [`CancellationError`] is a response: `504` for a timeout, `499` for a disconnect, `503`
//!   otherwise.
//! * [`Cancelable::sse`] streams server-sent events until the operation is cancelled, then
//!   sends one `event: cancelled` frame.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use cancelable::axum::{CancelableLayer, RequestCancelable};
//! use cancelable::CancellationError;
//!
//! async fn report(RequestCancelable(cancel): RequestCancelable) -> Result<String, CancellationError> {
//!     // Runs in its own task, in a child scope: it stops when the request is cancelled,
//!     // whether by the timeout, the registry, or a client that hung up.
//!     let rows = cancel.spawn(async { 42 }).await.expect("the task panicked")?;
//!     Ok(format!("{rows} rows"))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/report", get(report))
//!     .layer(CancelableLayer::new().timeout(Duration::from_secs(30)).register());
//! # drop(app);
//! ```
//!
//! # How a disconnect is seen, and what it costs
//!
//! hyper drops a request's future when it sees the connection close, or an HTTP/2 stream
//! reset (and the response body when the client goes away mid-response). For HTTP/1, hyper
//! takes a read end-of-file as "closed" unless half-close is enabled (`http1_half_close`), in
//! which case a disconnect is only seen when a write fails.
//!
//! The layer's own response future and body carry a drop guard: dropped before the response is
//! complete, they cancel the operation with reason `Disconnect`, then drop the handler. Nothing
//! watches the connection: no task, no timer, no read is added per request. A request pays for
//! its operation, one boxed future and one small shared cell; a timer only if it has a timeout
//! and is still running after its first poll.
//!
//! A response whose body has a known length (a string, bytes, JSON) is complete when the
//! handler returns it, and so is its operation. A streamed body (unknown length, such as
//! [`Cancelable::sse`] or `Body::from_stream`) keeps the operation running until it is sent, so
//! the layer's timeout, a registry cancel and a disconnect apply to it too; a streamed body
//! that does not watch the operation is cut off (ended with an error) when it is cancelled.
//!
//! A drop from further out (say, an outer `tower::timeout` layer) looks the same as a
//! disconnect and is reported as one. A [shield](Cancelable::shield) cannot outlive a dropped
//! request: spawn work that must finish anyway with `tokio::spawn`.
//!
//! [`axum`]: https://docs.rs/axum

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ::axum::body::{Body, Bytes};
use ::axum::extract::FromRequestParts;
use ::axum::response::sse::{Event, Sse};
use ::axum::response::{IntoResponse, Response};
use futures_core::Stream;
use http::request::Parts;
use http::{Request, StatusCode};
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::{CancellationError, CancellationReason};
use crate::operation::Cancelable;
use crate::registry::OperationRegistry;
use crate::stream::CancelableStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ===== CancelableLayer =====

/// A tower [`Layer`] that runs every request as an operation.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use cancelable::axum::CancelableLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "ok" }))
///     .layer(
///         CancelableLayer::new()
///             .timeout(Duration::from_secs(10))             // 504 after ten seconds
///             .name_with(|parts| format!("api {}", parts.uri.path()))
///             .register(),                                   // listed, cancellable by pattern
///     );
/// # drop(app);
/// ```
#[derive(Clone)]
pub struct CancelableLayer {
    timeout: Option<Duration>,
    registry: Option<OperationRegistry>,
    name_with: fn(&Parts) -> String,
}

impl CancelableLayer {
    /// Every request an operation named `"METHOD /path"`, with no timeout and no registry.
    pub fn new() -> Self {
        CancelableLayer {
            timeout: None,
            registry: None,
            name_with: default_name,
        }
    }

    /// Cancels a request that has not completed its response after `timeout` (reason
    /// `Timeout`: the client gets a `504` if the handler had not answered yet).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Registers every request in the [global registry](OperationRegistry::global): listed
    /// while it runs (under its name, `"GET /path"`), cancellable by id or name pattern.
    pub fn register(self) -> Self {
        self.register_in(OperationRegistry::global())
    }

    /// Registers every request in `registry`.
    pub fn register_in(mut self, registry: &OperationRegistry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Names each request's operation with `name` (default: `"GET /path"`).
    pub fn name_with(mut self, name: fn(&Parts) -> String) -> Self {
        self.name_with = name;
        self
    }
}

fn default_name(parts: &Parts) -> String {
    format!("{} {}", parts.method, parts.uri.path())
}

impl Default for CancelableLayer {
    fn default() -> Self {
        CancelableLayer::new()
    }
}

impl fmt::Debug for CancelableLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelableLayer")
            .field("timeout", &self.timeout)
            .field("registered", &self.registry.is_some())
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for CancelableLayer {
    type Service = CancelableService<S>;

    fn layer(&self, inner: S) -> CancelableService<S> {
        CancelableService {
            inner,
            layer: self.clone(),
        }
    }
}

// ===== CancelableService =====

/// The service of a [`CancelableLayer`].
#[derive(Clone, Debug)]
pub struct CancelableService<S> {
    inner: S,
    layer: CancelableLayer,
}

/// The request's operation, in the request's extensions.
#[derive(Clone)]
struct RequestOp(Cancelable);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CancelableService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let layer = &self.layer;
        let op = match layer.timeout {
            Some(timeout) => Cancelable::with_timeout(timeout),
            None => Cancelable::new(),
        };
        let mut op = op.named((layer.name_with)(&parts));
        if let Some(registry) = &layer.registry {
            op = op.register_in(registry);
        }
        let head = parts.method == http::Method::HEAD;
        parts.extensions.insert(RequestOp(op.clone()));
        let handler = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture::new(op, handler, head)
    }
}

// ===== the request's run =====

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
    fn new<F>(op: Cancelable, handler: F, head: bool) -> Self
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

// ===== OperationBody =====

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

// ===== RequestCancelable =====

/// The request's operation, for a handler behind a [`CancelableLayer`].
///
/// ```
/// use cancelable::axum::RequestCancelable;
///
/// async fn export(RequestCancelable(cancel): RequestCancelable) -> String {
///     cancel.report_progress("export started");
///     format!("running as {:?}", cancel.name()) // "GET /export"
/// }
/// # let _: axum::Router = axum::Router::new().route("/export", axum::routing::get(export));
/// ```
///
/// Without the layer, extracting it fails with a `500` ([`MissingCancelableLayer`]).
#[derive(Clone, Debug)]
pub struct RequestCancelable(pub Cancelable);

impl std::ops::Deref for RequestCancelable {
    type Target = Cancelable;

    fn deref(&self) -> &Cancelable {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCancelable {
    type Rejection = MissingCancelableLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<RequestOp>() {
            Some(RequestOp(op)) => Ok(RequestCancelable(op.clone())),
            None => Err(MissingCancelableLayer),
        }
    }
}

/// The rejection of [`RequestCancelable`] on a route without a [`CancelableLayer`]: a `500`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingCancelableLayer;

impl fmt::Display for MissingCancelableLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "`RequestCancelable` needs a `CancelableLayer` on the route: \
             `.layer(cancelable::axum::CancelableLayer::new())`",
        )
    }
}

impl std::error::Error for MissingCancelableLayer {}

impl IntoResponse for MissingCancelableLayer {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

// ===== CancellationError: IntoResponse =====

/// `499 Client Closed Request`, as nginx names it.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// `504 Gateway Timeout` for a timeout, `499` for a disconnect, `503 Service Unavailable`
/// otherwise; the body is the error's text.
///
/// ```
/// use axum::response::IntoResponse;
/// use cancelable::{CancellationError, CancellationReason};
///
/// let timeout = CancellationError::new(CancellationReason::Timeout).into_response();
/// assert_eq!(timeout.status(), 504);
/// let gone = CancellationError::new(CancellationReason::Disconnect).into_response();
/// assert_eq!(gone.status(), 499);
/// let stopped = CancellationError::new(CancellationReason::Manual).into_response();
/// assert_eq!(stopped.status(), 503);
/// ```
impl IntoResponse for CancellationError {
    fn into_response(self) -> Response {
        let status = match self.reason() {
            CancellationReason::Timeout => StatusCode::GATEWAY_TIMEOUT,
            CancellationReason::Disconnect => StatusCode::from_u16(CLIENT_CLOSED_REQUEST)
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, self.to_string()).into_response()
    }
}

// ===== Cancelable::sse =====

impl Cancelable {
    /// A server-sent-events response of `events` that ends when the operation is cancelled,
    /// with one last frame `event: cancelled` whose data is
    /// `{"reason": "timeout", "message": "…"}`.
    ///
    /// Behind a [`CancelableLayer`], the request's operation lasts as long as the stream, so
    /// the layer's timeout, the registry and a disconnect all end it. Add a keep-alive with
    /// `Sse::keep_alive` (axum's `tokio` feature).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::response::sse::Event;
    /// use cancelable::axum::RequestCancelable;
    /// use futures::StreamExt;
    ///
    /// async fn ticks(RequestCancelable(cancel): RequestCancelable) -> impl axum::response::IntoResponse {
    ///     let ticks = futures::stream::iter(0..).then(|n| async move {
    ///         tokio::time::sleep(Duration::from_secs(1)).await;
    ///         Event::default().event("tick").data(n.to_string())
    ///     });
    ///     cancel.sse(ticks)
    /// }
    /// # let _: axum::Router = axum::Router::new().route("/ticks", axum::routing::get(ticks));
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn sse<S>(&self, events: S) -> Sse<CancelableEvents<S>>
    where
        S: Stream<Item = Event> + Send + 'static,
    {
        Sse::new(CancelableEvents {
            inner: self.stream(events),
        })
    }
}

pin_project! {
    /// The events of [`Cancelable::sse`]: the stream's, then `event: cancelled` on cancellation.
    #[must_use = "streams do nothing unless polled"]
    pub struct CancelableEvents<S> {
        #[pin]
        inner: CancelableStream<S>,
    }
}

impl<S: Stream<Item = Event>> Stream for CancelableEvents<S> {
    type Item = Result<Event, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let event = match std::task::ready!(self.project().inner.poll_next(cx)) {
            None => return Poll::Ready(None),
            Some(Ok(event)) => event,
            Some(Err(cancellation)) => cancelled_event(&cancellation),
        };
        Poll::Ready(Some(Ok(event)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

fn cancelled_event(cancellation: &CancellationError) -> Event {
    let data = serde_json::json!({
        "reason": cancellation.reason(),
        "message": cancellation.message(),
    });
    Event::default().event("cancelled").data(data.to_string())
}

impl<S> fmt::Debug for CancelableEvents<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelableEvents")
            .field("inner", &self.inner)
            .finish()
    }
}
