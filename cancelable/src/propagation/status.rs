//! How a cancellation leaves [`Propagate`](super::Propagate): as itself, or, for a gRPC call
//! with the `tonic` feature, as the `tonic::Status` a gRPC client expects.
//!
//! # Invariants
//!
//! 1. The cancellation is never lost: without `tonic` it is the boxed error itself; with it,
//!    a gRPC call's error is a `Status` whose source is the `CancellationError`.
//! 2. A deadline is `DEADLINE_EXCEEDED`, whether the operation timed out itself or was
//!    cancelled because an ancestor did (its root cause); every other cancellation is
//!    `CANCELLED`, as grpc-go reports a cancelled context.

use super::BoxError;
use crate::CancellationError;

/// The boxed error for a call ended by `error`.
pub(super) fn boxed(error: CancellationError, grpc: bool) -> BoxError {
    #[cfg(feature = "tonic")]
    if grpc {
        return Box::new(tonic::Status::from(error));
    }
    let _ = grpc;
    Box::new(error)
}

/// With the `tonic` feature: a cancellation as a gRPC status (invariant 2), the cancellation
/// as its source.
///
/// ```
/// use cancelable::{CancellationError, CancellationReason};
///
/// let timeout = CancellationError::new(CancellationReason::Timeout).with_message("after 2s");
/// let status = tonic::Status::from(timeout);
/// assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
/// assert_eq!(status.message(), "operation cancelled: after 2s");
///
/// let stopped = tonic::Status::from(CancellationError::new(CancellationReason::Manual));
/// assert_eq!(stopped.code(), tonic::Code::Cancelled);
/// ```
#[cfg(feature = "tonic")]
impl From<CancellationError> for tonic::Status {
    fn from(error: CancellationError) -> Self {
        let code = if error.root_cause().is_timeout() {
            tonic::Code::DeadlineExceeded
        } else {
            tonic::Code::Cancelled
        };
        let mut status = tonic::Status::new(code, error.to_string());
        status.set_source(std::sync::Arc::new(error));
        status
    }
}
