//! Web requests as operations, for [`axum`] (and any tower/hyper stack).
//!
//! * [`CancelableLayer`] runs every request as an operation, named `"GET /path"` by default,
//!   with an optional timeout and registry.
//! * A handler takes its operation with the [`RequestCancelable`] extractor: work it starts
//!   with [`Cancelable::spawn`] or runs in child scopes stops with the request.
//! * When the client goes away before the response is complete, the server drops the request's
//!   future (or its response body): the operation is cancelled with reason
//!   [`Disconnect`](crate::CancellationReason::Disconnect) and its children stop.
//! * [`CancellationError`](crate::CancellationError) is a response: `504` for a timeout, `499` for a disconnect, `503`
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
//! its operation (one allocation; its run is inline in the response future), and a timer only
//! if it has a timeout and is still running after its first poll; a streamed response moves
//! its run into one box, which its body owns.
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

mod answer;
mod extract;
mod response;
mod sse;

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use ::axum::body::Bytes;
use ::axum::response::Response;
use http::Request;
use http::request::Parts;
use tower::{Layer, Service};

use self::answer::Answer;
use self::extract::RequestOp;
pub use self::extract::{MissingCancelableLayer, RequestCancelable};
pub use self::response::ResponseFuture;
pub use self::sse::CancelableEvents;
use crate::operation::Cancelable;
use crate::registry::OperationRegistry;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    parent: Option<Cancelable>,
    name_with: fn(&Parts) -> String,
}

impl CancelableLayer {
    /// Every request an operation named `"METHOD /path"`, with no timeout and no registry.
    pub fn new() -> Self {
        CancelableLayer {
            timeout: None,
            registry: None,
            parent: None,
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

    /// Makes every request's operation a child of `parent`: typically a
    /// [`Shutdown`](crate::shutdown::Shutdown)'s root, which then tracks the requests in
    /// flight and, when it cancels, cancels them with reason `Parent` (its cause: the signal),
    /// not `Disconnect`, so that long-lived streams (SSE) end and the server's graceful
    /// shutdown can finish.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use cancelable::axum::CancelableLayer;
    /// use cancelable::shutdown::Shutdown;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let shutdown = Shutdown::builder().build();
    /// let app: Router = Router::new()
    ///     .route("/", get(|| async { "ok" }))
    ///     .layer(CancelableLayer::new().parent(shutdown.root()));
    /// // axum::serve(listener, app).with_graceful_shutdown(shutdown.draining()), run inside
    /// // shutdown.run(..)
    /// # drop(app);
    /// # }
    /// ```
    pub fn parent(mut self, parent: &Cancelable) -> Self {
        self.parent = Some(parent.clone());
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
            .field("parent", &self.parent)
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

/// The service of a [`CancelableLayer`].
#[derive(Clone, Debug)]
pub struct CancelableService<S> {
    inner: S,
    layer: CancelableLayer,
}

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
    type Future = ResponseFuture<S::Future, ResBody>;

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
        if let Some(parent) = &layer.parent {
            op = op.parent(parent);
        }
        if let Some(registry) = &layer.registry {
            op = op.register_in(registry);
        }
        let head = parts.method == http::Method::HEAD;
        parts.extensions.insert(RequestOp(op.clone()));
        let handler = self.inner.call(Request::from_parts(parts, body));
        ResponseFuture::new(op, handler, head, Answer::default())
    }
}
