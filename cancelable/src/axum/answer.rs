//! How a request's cancellation is answered: as gRPC to a gRPC call (HTTP `200`, trailers-only,
//! `grpc-status` `4` for a timeout, `1` otherwise; a streamed response cancelled mid-way ends
//! with those trailers), as `504` / `499` / `503` to the rest; the cancellation's text only when
//! the layer exposes reasons.
//!
//! # Invariants
//!
//! 1. A cancellation turned into a response carries itself in the response's extensions
//!    (`Exposed`), whoever turned it (the layer, or a handler that returned it): the layer
//!    puts its text in the body only when asked to, so that the two answer alike.

use ::axum::body::{Body, Bytes};
use ::axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::BoxError;
use crate::error::{CancellationError, CancellationReason};
use crate::propagation::is_grpc;

/// How the layer answers a request's cancellation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Answer {
    grpc: bool,
    expose: bool,
}

/// The cancellation a response stands for, in its extensions (invariant 1).
#[derive(Clone, Debug)]
pub(super) struct Exposed(pub(super) CancellationError);

/// `grpc-status` codes (the gRPC spec's `statuscodes.md`).
const GRPC_CANCELLED: &str = "1";
const GRPC_DEADLINE_EXCEEDED: &str = "4";

impl Answer {
    pub(super) fn new(method: &Method, headers: &HeaderMap, expose: bool) -> Self {
        Answer {
            // Every gRPC call is a `POST`: the others skip the header lookup.
            grpc: method == Method::POST && is_grpc(headers),
            expose,
        }
    }

    /// The response to a request cancelled before its handler answered.
    pub(super) fn respond(self, cancellation: CancellationError) -> Response {
        if self.grpc {
            return grpc_answer(&cancellation, self.expose);
        }
        self.pass(cancellation.into_response())
    }

    /// How a streamed response cancelled mid-way ends: with gRPC trailers for a gRPC call
    /// (`None`: cut off, with an error).
    pub(super) fn trailers(self, cancellation: &CancellationError) -> Option<HeaderMap> {
        self.grpc.then(|| {
            let mut trailers = HeaderMap::new();
            grpc_status(cancellation, self.expose, &mut trailers);
            trailers
        })
    }

    /// The handler's response, as it goes out. A cancellation the handler returned is
    /// answered like the layer's own: as gRPC to a gRPC call, its text only if asked to.
    pub(super) fn pass<B>(self, response: http::Response<B>) -> Response
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if let Some(Exposed(cancellation)) = response.extensions().get::<Exposed>() {
            if self.grpc {
                return grpc_answer(cancellation, self.expose);
            }
            if self.expose {
                let text = cancellation.to_string();
                let (parts, _) = response.into_parts();
                return Response::from_parts(parts, Body::from(text));
            }
        }
        response.map(Body::new)
    }
}

/// A trailers-only gRPC answer: status `200`, no body, `grpc-status` and `grpc-message` in the
/// headers (hyper ends the stream with them).
fn grpc_answer(cancellation: &CancellationError, expose: bool) -> Response {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    grpc_status(cancellation, expose, headers);
    *response.status_mut() = StatusCode::OK;
    response
}

/// `grpc-status` (`4` for a timeout, `1` otherwise) and `grpc-message` for `cancellation`.
fn grpc_status(cancellation: &CancellationError, expose: bool, headers: &mut HeaderMap) {
    let (status, summary) = match cancellation.reason() {
        CancellationReason::Timeout => (GRPC_DEADLINE_EXCEEDED, "deadline exceeded"),
        _ => (GRPC_CANCELLED, "cancelled"),
    };
    let message = if expose {
        percent_encode(&cancellation.to_string())
    } else {
        summary.to_owned()
    };
    headers.insert("grpc-status", HeaderValue::from_static(status));
    if let Ok(message) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", message);
    }
}

/// `grpc-message`'s encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn percent_encode(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(percent_encode("50% done: ü\n"), "50%25 done: %C3%BC%0A");
    }

    #[test]
    fn a_grpc_timeout_is_deadline_exceeded_and_the_rest_cancelled() {
        let timeout = grpc_answer(
            &CancellationError::timeout(std::time::Duration::from_secs(1)),
            false,
        );
        assert_eq!(timeout.status(), 200);
        assert_eq!(timeout.headers()["grpc-status"], "4");
        assert_eq!(timeout.headers()["grpc-message"], "deadline exceeded");
        let manual = grpc_answer(&CancellationError::new(CancellationReason::Manual), true);
        assert_eq!(manual.headers()["grpc-status"], "1");
        assert_eq!(
            manual.headers()["grpc-message"],
            "operation cancelled: manual"
        );
    }
}
