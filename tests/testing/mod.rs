//! `cancelable::testing`, the helpers themselves: each assertion passing, and failing with its
//! documented message. Everything runs on the paused clock; nothing sleeps in real time.

mod mock_token;
mod recorder;
mod scenario;
mod shutdown_probe;
mod simulator;
mod slow_stream;
mod timing;

use std::time::Duration;

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
