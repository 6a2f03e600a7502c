//! A guide to `cancelable`, one page per topic; every example on these pages runs as a test.
//!
//! 1. [Sources](sources): what can cancel an operation — timeouts and deadlines, tokens,
//!    signals, conditions, parents, your own.
//! 2. [Composition](composition): any-of and all-of, nesting, parents and children.
//! 3. [Shields](shields): cleanup that must finish, and what a shield cannot stop.
//!    [Cleanup when cancelled](cleanup): a grace period, a shield, or after `run`.
//! 4. [Macros](macros): `#[cancelable]`, `cancel_combine!`, `shielded!`.
//! 5. [Registry](registry): progress, callbacks and the operation registry.
//! 6. [Streams](streams): streams that end on cancellation and keep count.
//! 7. [Integrations](integrations): retries with backon, axum, resource limits.
//! 8. [Coming from tokio-util](tokio_util): a port is a change of `use` lines.
//! 9. [Shutdown](shutdown): a whole service, its grace period, escalation and report; cleanup
//!    when cancelled.
#![cfg_attr(
    feature = "testing",
    doc = "10. [Testing your cancellation](testing): the paused clock and `cancelable::testing` \
           (feature `testing`)."
)]
#![cfg_attr(
    feature = "cluster",
    doc = "11. [Cluster-wide cancel](cluster): one command, every node (features `cluster`, `redis`)."
)]
#![cfg_attr(
    feature = "propagation",
    doc = "12. [Deadlines across services](propagation): the time left travels with each call \
           (feature `propagation`, and `axum` to accept it)."
)]
//!
//! The pages hold no items: they are documentation only.

pub mod cleanup;
#[cfg(feature = "cluster")]
#[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
pub mod cluster;
pub mod composition;
pub mod integrations;
pub mod macros;
#[cfg(feature = "propagation")]
#[cfg_attr(docsrs, doc(cfg(feature = "propagation")))]
pub mod propagation;
pub mod registry;
pub mod shields;
pub mod shutdown;
pub mod sources;
pub mod streams;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod tokio_util;
