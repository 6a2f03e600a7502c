//! Web requests as operations, for [`axum`] (and any tower/hyper stack: plain hyper, tonic).
//!
//! * [`CancelableLayer`] runs every request as an operation, named after its route
//!   (`"GET /users/{id}"`) by default, with an optional timeout and registry; with
//!   [`accept_deadlines`](CancelableLayer::accept_deadlines), the caller's deadline
//!   (`grpc-timeout`, `request-timeout-ms`) shortens it.
//! * A handler takes its operation with the [`RequestCancelable`] extractor: work it starts
//!   with [`Cancelable::spawn`] or runs in child scopes stops with the request, and
//!   [`Cancelable::remaining`] is its budget.
//! * When the client goes away before the response is complete, the server drops the request's
//!   future (or its response body): the operation is cancelled with reason
//!   [`Disconnect`](crate::CancellationReason::Disconnect) and its children stop.
//! * [`CancellationError`](crate::CancellationError) is a response: `504` for a timeout, `499`
//!   for a disconnect, `503` otherwise, its text only with
//!   [`expose_reasons`](CancelableLayer::expose_reasons). A gRPC call
//!   (`content-type: application/grpc…`) cancelled by the layer gets a gRPC answer: HTTP `200`,
//!   trailers-only, `grpc-status: 4` (`DEADLINE_EXCEEDED`) for a timeout, `1` (`CANCELLED`)
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
//! its operation (one allocation; its run is inline in the response future; its default name
//! is made once per route and method, not per request), and a timer only if it has a timeout
//! and is still running after its first poll; a streamed response moves
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
mod name;
mod response;
mod sse;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
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
use self::name::RouteNames;
pub use self::response::ResponseFuture;
pub use self::sse::CancelableEvents;
use crate::operation::Cancelable;
use crate::propagation::DeadlineHeaders;
use crate::registry::OperationRegistry;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A tower [`Layer`] that runs every request as an operation.
///
/// Under axum, plain hyper (through `hyper_util`'s `TowerToHyperService`) and a tonic server
/// (`Server::builder().layer(..)`). The handler's future runs inside the operation:
/// [`Cancelable::current`] is the request's operation there, and under axum the
/// [`RequestCancelable`] extractor hands it out.
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
///             .timeout(Duration::from_secs(10)) // 504 after ten seconds
///             .accept_deadlines()               // or sooner, if the caller says so
///             .register(),                      // listed as "GET /users/{id}"
///     );
/// # drop(app);
/// ```
///
/// # On the handler, for the least cost
///
/// axum boxes each route that [`Router::layer`](::axum::Router::layer) wraps, and its
/// response future, whatever the layer. On the handler itself (axum's `Handler::layer`), the
/// layer is not boxed again, and it names, times out and hands out the request alike: about
/// 400 instructions less per request (`BENCHMARKS.md`).
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, handler::Handler, routing::get};
/// use cancelable::axum::CancelableLayer;
///
/// let layer = CancelableLayer::new().timeout(Duration::from_secs(10));
/// let app: Router = Router::new()
///     .route("/users/{id}", get((|| async { "ok" }).layer(layer.clone())))
///     .route("/teams/{id}", get((|| async { "ok" }).layer(layer)));
/// # drop(app);
/// ```
///
/// # Layers inside layers
///
/// A `CancelableLayer` on a route or a nested router, under one on the whole router, replaces
/// the outer one's timeout for the requests it sees: its own operation (a child of the outer
/// one's) has its own timeout, and the outer timeout no longer applies. A deadline the caller
/// sent, once accepted by either layer, still does.
#[derive(Clone)]
pub struct CancelableLayer {
    /// What its services share: wrapping a service costs a reference count, so that a layer
    /// applied per request (axum's `Handler::layer`) costs no more than one applied once.
    shared: Arc<Shared>,
}

/// What a [`CancelableLayer`] was configured with, shared by its services.
#[derive(Clone)]
struct Config {
    timeout: Option<Duration>,
    registry: Option<OperationRegistry>,
    parent: Option<Cancelable>,
    /// `None`: the route template (the default name).
    name_with: Option<Arc<NameWith>>,
    /// Accepted deadline headers, when the layer accepts deadlines.
    deadlines: Option<DeadlineHeaders>,
    expose_reasons: bool,
}

type NameWith = dyn Fn(&Parts) -> String + Send + Sync;

impl CancelableLayer {
    /// Every request an operation named `"METHOD /route/{template}"`, with no timeout and no
    /// registry.
    pub fn new() -> Self {
        CancelableLayer {
            shared: Arc::new(Shared {
                config: Config {
                    timeout: None,
                    registry: None,
                    parent: None,
                    name_with: None,
                    deadlines: None,
                    expose_reasons: false,
                },
                names: RouteNames::default(),
            }),
        }
    }

    /// The configuration, to change (the layer's own copy, if its services share it).
    fn config(&mut self) -> &mut Config {
        &mut Arc::make_mut(&mut self.shared).config
    }

    /// Cancels a request that has not completed its response after `timeout` (reason
    /// `Timeout`: the client gets a `504` if the handler had not answered yet, a gRPC client
    /// `DEADLINE_EXCEEDED`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config().timeout = Some(timeout);
        self
    }

    /// Gives each request the deadline its caller sent: `grpc-timeout` on a gRPC call,
    /// `request-timeout-ms` on plain HTTP (the smallest when several are present; Envoy's
    /// `x-envoy-expected-rq-timeout-ms` only through
    /// [`deadline_headers`](Self::deadline_headers)). It never lengthens the layer's own
    /// [`timeout`](Self::timeout): a caller can only shorten its own request. A malformed value
    /// is ignored (and logged at `debug`). The handler sees the deadline as
    /// [`Cancelable::remaining`], and a client layer
    /// ([`PropagateLayer`](crate::propagation::PropagateLayer)) sends what is left on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::{Router, routing::get};
    /// use cancelable::axum::{CancelableLayer, RequestCancelable};
    ///
    /// async fn search(RequestCancelable(cancel): RequestCancelable) -> String {
    ///     // `request-timeout-ms: 800` from the caller: about 800 ms left, not 30 s.
    ///     format!("{:?} left", cancel.remaining())
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/search", get(search))
    ///     .layer(CancelableLayer::new().timeout(Duration::from_secs(30)).accept_deadlines());
    /// # drop(app);
    /// ```
    pub fn accept_deadlines(self) -> Self {
        self.deadline_headers(DeadlineHeaders::default())
    }

    /// [`accept_deadlines`](Self::accept_deadlines), reading the headers `headers` names.
    ///
    /// ```
    /// use cancelable::axum::CancelableLayer;
    /// use cancelable::propagation::DeadlineHeaders;
    ///
    /// // Behind an Envoy that sets (or strips) its expected-timeout header.
    /// let layer = CancelableLayer::new().deadline_headers(DeadlineHeaders::default().envoy(true));
    /// # drop(layer);
    /// ```
    pub fn deadline_headers(mut self, headers: DeadlineHeaders) -> Self {
        self.config().deadlines = Some(headers);
        self
    }

    /// Registers every request in the [global registry](OperationRegistry::global): listed
    /// while it runs (under its name, `"GET /users/{id}"`), cancellable by id or name pattern.
    pub fn register(self) -> Self {
        self.register_in(OperationRegistry::global())
    }

    /// Registers every request in `registry`.
    pub fn register_in(mut self, registry: &OperationRegistry) -> Self {
        self.config().registry = Some(registry.clone());
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
        self.config().parent = Some(parent.clone());
        self
    }

    /// Names each request's operation with `name` (a closure or a `fn`).
    ///
    /// The default is the method and the route's template, `"GET /users/{id}"`, as axum's
    /// [`MatchedPath`](::axum::extract::MatchedPath) has it: few distinct names, fit for span names and metrics. Without a
    /// template (plain hyper, tonic, axum's fallback) it is the method and the path (for gRPC,
    /// `/package.Service/Method`).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use cancelable::axum::CancelableLayer;
    ///
    /// let service = "billing";
    /// let app: Router = Router::new()
    ///     .route("/invoices/{id}", get(|| async { "ok" }))
    ///     .layer(CancelableLayer::new().name_with(move |parts| {
    ///         format!("{service} {}", parts.method)
    ///     }));
    /// # drop(app);
    /// ```
    pub fn name_with<N>(mut self, name: N) -> Self
    where
        N: Fn(&Parts) -> String + Send + Sync + 'static,
    {
        self.config().name_with = Some(Arc::new(name));
        self
    }

    /// Puts the cancellation's text (operation name, reason, message) in the body of the
    /// `503`/`504` (and in a gRPC answer's `grpc-message`), for the layer's own answers and a
    /// handler's returned [`CancellationError`](crate::CancellationError) alike. Default: off,
    /// the body says only what happened (`request timed out`): operation names and messages
    /// are internal.
    ///
    /// ```
    /// use cancelable::axum::CancelableLayer;
    ///
    /// // For a service whose clients are its own developers.
    /// let layer = CancelableLayer::new().expose_reasons(true);
    /// # drop(layer);
    /// ```
    pub fn expose_reasons(mut self, expose: bool) -> Self {
        self.config().expose_reasons = expose;
        self
    }
}

impl Default for CancelableLayer {
    fn default() -> Self {
        CancelableLayer::new()
    }
}

impl fmt::Debug for CancelableLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.shared.config;
        f.debug_struct("CancelableLayer")
            .field("timeout", &config.timeout)
            .field("registered", &config.registry.is_some())
            .field("parent", &config.parent)
            .field("deadlines", &config.deadlines)
            .field("expose_reasons", &config.expose_reasons)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for CancelableLayer {
    type Service = CancelableService<S>;

    fn layer(&self, inner: S) -> CancelableService<S> {
        CancelableService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service of a [`CancelableLayer`].
#[derive(Clone)]
pub struct CancelableService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// What the services of one [`CancelableLayer`] share.
struct Shared {
    config: Config,
    /// The default names of the requests they have seen.
    names: RouteNames,
}

impl Clone for Shared {
    /// The same configuration, and names of its own to learn.
    fn clone(&self) -> Self {
        Shared {
            config: self.config.clone(),
            names: RouteNames::default(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for CancelableService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelableService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CancelableService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let Shared { config, names } = &*self.shared;
        // The caller's timeout, counted from now: it can only shorten the request. No clock is
        // read: the operation's clock starts with its run, within this poll of the server.
        let mut caller = config
            .deadlines
            .as_ref()
            .and_then(|headers| headers.read(request.headers()));
        if let Some(outer) = request.extensions().get::<RequestOp>() {
            // A layer further out: this one replaces its timeout, and keeps its caller's
            // deadline (see "Layers inside layers").
            outer.op.disarm_deadline();
            caller = min_option(caller, outer.caller);
        }
        let op = match min_option(config.timeout, caller) {
            Some(timeout) => Cancelable::with_timeout(timeout),
            None => Cancelable::new(),
        };
        let name = match &config.name_with {
            Some(name_with) => {
                let (parts, body) = request.into_parts();
                let name = Cow::Owned(name_with(&parts));
                request = Request::from_parts(parts, body);
                name
            }
            None => names.name(request.method(), request.uri(), request.extensions()),
        };
        let mut op = op.named(name);
        if let Some(parent) = &config.parent {
            op = op.parent(parent);
        }
        if let Some(registry) = &config.registry {
            op = op.register_in(registry);
        }
        let head = request.method() == http::Method::HEAD;
        let answer = Answer::new(request.method(), request.headers(), config.expose_reasons);
        request.extensions_mut().insert(RequestOp {
            op: op.clone(),
            caller,
        });
        let handler = self.inner.call(request);
        ResponseFuture::new(op, handler, head, answer)
    }
}

fn min_option<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
