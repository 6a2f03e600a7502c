//! Parity with `tokio_util`'s cancellation token (DESIGN §7: a port is an import change).
//!
//! * `sync_cancellation_token` and `future`: tokio-util 0.7.20's own
//!   `tests/sync_cancellation_token.rs` and `tests/future.rs`, with only their `use` lines
//!   changed (each file's header lists how).
//! * `support`: the two test helpers those files import from `futures-test` and `tokio-test`.
//! * `conversions`: a `tokio_util` token converted into ours, with no runtime anywhere.

mod conversions;
mod future;
mod support;
mod sync_cancellation_token;
