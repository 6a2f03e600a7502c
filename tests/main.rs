//! Integration tests of `cancelable`: one harness, a module per area.
//!
//! Time-based tests run on tokio's paused clock; signal tests signal their own process.

#[cfg(feature = "axum")]
mod axum;
mod callbacks;
mod capture;
#[cfg(unix)]
mod child;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "redis")]
mod cluster_redis;
mod composition;
mod conditions;
mod context;
mod deadline;
mod errors;
mod leaks;
mod lifecycle;
mod macros;
mod nesting;
mod progress;
#[cfg(feature = "propagation")]
mod propagation;
mod registry;
#[cfg(feature = "resources")]
mod resources;
#[cfg(feature = "backon")]
mod retry;
mod shield;
#[cfg(unix)]
mod shutdown;
#[cfg(unix)]
mod signals;
mod spans;
mod streams;
mod testing;
mod timeout;
mod token;
mod tokio_util_parity;

/// Polls `fut` once with a no-op waker.
pub(crate) fn poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}
