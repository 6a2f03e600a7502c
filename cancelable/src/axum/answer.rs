//! How a request's cancellation is answered.

use ::axum::body::Body;
use ::axum::response::{IntoResponse, Response};

use crate::error::CancellationError;

/// How the layer answers a request's cancellation.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Answer {}

impl Answer {
    /// The response to a request cancelled before its handler answered.
    pub(super) fn respond(self, cancellation: CancellationError) -> Response {
        cancellation.into_response()
    }

    /// The handler's response, as it goes out.
    pub(super) fn pass<B>(self, response: http::Response<B>) -> Response
    where
        B: http_body::Body<Data = ::axum::body::Bytes> + Send + 'static,
        B::Error: Into<super::BoxError>,
    {
        response.map(Body::new)
    }
}
