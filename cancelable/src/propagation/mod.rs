//! Deadlines across service hops: a caller's remaining time travels with its requests.
//!
//! * Client: [`PropagateLayer`], for any tower HTTP client (hyper-util's `Client`, tonic's
//!   `Channel`), writes the caller's remaining time into each request, fails at once a call
//!   whose deadline has passed, and stops a call when its operation is cancelled.
//! * Server: `cancelable::axum::CancelableLayer::accept_deadlines()` reads those headers and
//!   gives each request's operation the caller's deadline (shortened only: never past the
//!   layer's own timeout).
//!
//! A deadline goes on the wire as the time left, never as an absolute time, so the clocks of
//! two machines need not agree: `grpc-timeout` for gRPC calls, exactly as the gRPC spec writes
//! it, and `request-timeout-ms` (decimal milliseconds) for plain HTTP. [`DeadlineHeaders`]
//! chooses the names; the functions below are the codec.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::propagation::{DeadlineHeaders, parse_grpc_timeout};
//! use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
//!
//! let mut request = HeaderMap::new();
//! request.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
//! DeadlineHeaders::default().write(&mut request, Duration::from_millis(1500));
//! assert_eq!(request["grpc-timeout"], "1500000u");
//! assert_eq!(parse_grpc_timeout(b"1500000u"), Some(Duration::from_millis(1500)));
//! ```
//!
//! The [guide page](crate::guide::propagation) walks through a chain of services.

mod codec;
mod layer;
mod status;

pub use self::codec::{
    DeadlineHeaders, ENVOY_EXPECTED_RQ_TIMEOUT_MS, GRPC_TIMEOUT, REQUEST_TIMEOUT_MS,
    encode_grpc_timeout, encode_timeout_ms, is_grpc, parse_grpc_timeout, parse_timeout_ms,
};
pub use self::layer::{BoxError, Propagate, PropagateLayer, ResponseFuture};
