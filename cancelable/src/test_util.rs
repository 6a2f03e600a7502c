//! Probes into the runtime's internals for this workspace's own tests and benchmarks
//! (feature `test-util`, enabled by `tests/` and `benches/`). Not a public API: nothing here is
//! stable, and nothing outside this repository should enable the feature.

use crate::{Cancelable, CancellationToken};

/// For leak tests: (linked children, parked waiters) of `op`'s scope token.
pub fn registrations(op: &Cancelable) -> (usize, usize) {
    op.made_scope().map_or((0, 0), |scope| {
        (scope.node().child_count(), scope.node().waiter_count())
    })
}

/// For leak tests: (linked children, parked waiters) of `token`.
pub fn token_registrations(token: &CancellationToken) -> (usize, usize) {
    (token.node().child_count(), token.node().waiter_count())
}

/// For leak tests: process-wide signal listeners installed now.
pub fn signal_listeners() -> usize {
    #[cfg(all(unix, feature = "signal"))]
    return crate::signal::listener::installed();
    #[cfg(not(all(unix, feature = "signal")))]
    0
}

/// For leak tests: watches whether the state behind a token or an operation is still
/// allocated, without keeping it alive.
pub struct Probe(Box<dyn Fn() -> bool + Send + Sync>);

impl Probe {
    /// `true` while something (a handle, a parent's link, a registry, a callback) still holds
    /// the state.
    pub fn is_alive(&self) -> bool {
        (self.0)()
    }
}

impl core::fmt::Debug for Probe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Probe")
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// For leak tests: a [`Probe`] of `token`'s node in the cancellation tree.
pub fn token_probe(token: &CancellationToken) -> Probe {
    let node = std::sync::Arc::downgrade(token.node());
    Probe(Box::new(move || node.strong_count() > 0))
}

/// For leak tests: a [`Probe`] of `op` itself (its scope token has its own, see
/// [`token_probe`]).
pub fn operation_probe(op: &Cancelable) -> Probe {
    let operation = op.downgrade();
    Probe(Box::new(move || operation.strong_count() > 0))
}

/// For the benchmarks' memory report: sizes of the internal parts of an operation.
pub fn internal_sizes() -> [(&'static str, usize); 3] {
    let (operation, state) = crate::operation::internal_sizes();
    [
        ("operation (one allocation)", operation),
        (
            "token node (one allocation)",
            std::mem::size_of::<crate::token::Node>(),
        ),
        ("operation state (inline in the operation)", state),
    ]
}

/// For leak tests: join hooks installed in `registry` (a `ClusterCancel` holds one while it runs).
#[cfg(feature = "cluster")]
pub fn registry_join_hooks(registry: &crate::OperationRegistry) -> usize {
    registry.join_hook_count()
}

/// For leak tests: the blocking closures recorded, as still running, by the supervisor above
/// `op` (a shutdown's root).
pub fn blocking_records(op: &Cancelable) -> usize {
    op.supervisor()
        .map_or(0, |supervisor| supervisor.records().blocking.len())
}
