//! The helpers' one clock: time since a helper was created, read on tokio's clock.
//!
//! On a paused runtime (`#[tokio::test(start_paused = true)]`) tokio's [`Instant`] only moves
//! when the runtime sleeps or advances, so every stamp is an exact, reproducible `Duration`.

use std::time::Duration;

use tokio::time::Instant;

/// A start instant on tokio's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    /// Starts now.
    pub(crate) fn start() -> Self {
        Clock {
            origin: Instant::now(),
        }
    }

    /// Time since the start. Read on a thread outside the runtime, tokio's clock is the real
    /// one; a stamp taken there before the start reads zero rather than panicking.
    pub(crate) fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }
}
