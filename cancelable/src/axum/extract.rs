//! The request's operation in a handler ([`RequestCancelable`]), and a cancellation as an HTTP
//! response.

use std::fmt;

use ::axum::extract::FromRequestParts;
use ::axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::answer::Exposed;
use crate::error::{CancellationError, CancellationReason};
use crate::operation::Cancelable;

/// The request's operation, in the request's extensions, and the timeout its caller sent
/// (once a layer accepted it), counted from the request's arrival: a layer further in, called
/// within the same poll, counts it from its own call.
#[derive(Clone)]
pub(super) struct RequestOp {
    pub(super) op: Cancelable,
    pub(super) caller: Option<std::time::Duration>,
}

/// The request's operation, for a handler behind a [`CancelableLayer`](super::CancelableLayer).
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
            Some(RequestOp { op, .. }) => Ok(RequestCancelable(op.clone())),
            None => Err(MissingCancelableLayer),
        }
    }
}

/// The rejection of [`RequestCancelable`] on a route without a [`CancelableLayer`](super::CancelableLayer): a `500`.
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

/// `499 Client Closed Request`, as nginx names it.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// `504 Gateway Timeout` for a timeout, `499` for a disconnect, `503 Service Unavailable`
/// otherwise. The body says only what happened (`request timed out`, `client closed request`,
/// `request cancelled`): operation names and messages are internal, and a
/// [`CancelableLayer`](super::CancelableLayer) shows them only with
/// [`expose_reasons(true)`](super::CancelableLayer::expose_reasons).
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
        let (status, text) = match self.reason() {
            CancellationReason::Timeout => (StatusCode::GATEWAY_TIMEOUT, "request timed out"),
            CancellationReason::Disconnect => (
                StatusCode::from_u16(CLIENT_CLOSED_REQUEST)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "client closed request",
            ),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "request cancelled"),
        };
        let mut response = (status, text).into_response();
        response.extensions_mut().insert(Exposed(self));
        response
    }
}
