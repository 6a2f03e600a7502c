//! [`ShutdownProbe`]: a shutdown seen from a test: trigger it, and read when each phase began.

use std::fmt::Write as _;
use std::panic::Location;
use std::time::Duration;

use super::clock::Clock;
use crate::shutdown::{PhaseWatch, Shutdown, ShutdownPhase};

/// Triggers a [`Shutdown`] from a test and reads the instants of its phases, as `Duration`s
/// since the probe was made, on tokio's clock: on a paused runtime they are exact.
///
/// ```
/// use std::time::Duration;
/// use cancelable::shutdown::{Shutdown, ShutdownPhase};
/// use cancelable::testing::ShutdownProbe;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let shutdown = Shutdown::builder().drain(Duration::from_secs(5)).build();
/// let probe = ShutdownProbe::new(&shutdown);
/// let root = shutdown.root().clone();
/// let service = tokio::spawn(async move {
///     shutdown.run(async move { root.cancelled().await }).await
/// });
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// probe.trigger("test");
/// probe.wait_for(ShutdownPhase::Done).await;
/// probe.assert_phase_at(ShutdownPhase::Draining, Duration::from_secs(1));
/// probe.assert_phase_at(ShutdownPhase::Cancelling, Duration::from_secs(6));
/// assert_eq!(service.await.unwrap().exit_code(), 0);
/// # }
/// ```
pub struct ShutdownProbe {
    watch: PhaseWatch,
    clock: Clock,
}

impl ShutdownProbe {
    /// A probe of `shutdown`; its instants count from now.
    pub fn new(shutdown: &Shutdown) -> ShutdownProbe {
        ShutdownProbe {
            watch: shutdown.watch(),
            clock: Clock::start(),
        }
    }

    /// Triggers the shutdown, as [`Shutdown::trigger`] does (reason `Manual`, with `message`).
    pub fn trigger(&self, message: impl Into<String>) {
        self.watch.trigger(message.into());
    }

    /// The phases entered so far after `Running`, each with when it began (zero for one
    /// entered before the probe was made).
    pub fn phases(&self) -> Vec<(ShutdownPhase, Duration)> {
        let origin = tokio::time::Instant::now() - self.clock.elapsed();
        self.watch
            .log()
            .into_iter()
            .filter(|(phase, _)| *phase != ShutdownPhase::Running)
            .map(|(phase, at)| (phase, at.saturating_duration_since(origin)))
            .collect()
    }

    /// When `phase` began, if it did.
    pub fn phase_at(&self, phase: ShutdownPhase) -> Option<Duration> {
        self.phases()
            .into_iter()
            .find_map(|(entered, at)| (entered == phase).then_some(at))
    }

    /// Completes once `phase`, or a later one, is entered.
    ///
    /// # Cancellation safety
    ///
    /// Cancel-safe: dropping it changes nothing.
    pub async fn wait_for(&self, phase: ShutdownPhase) {
        self.watch.reached(phase).await;
    }

    /// Panics unless `phase` began exactly `at` after the probe was made; the message lists
    /// every phase seen.
    #[track_caller]
    pub fn assert_phase_at(&self, phase: ShutdownPhase, at: Duration) {
        let phases = self.phases();
        let seen = phases
            .iter()
            .find_map(|(entered, when)| (*entered == phase).then_some(*when));
        if seen != Some(at) {
            let mut log = String::new();
            for (entered, when) in &phases {
                let _ = write!(log, "\n  {entered} at {when:?}");
            }
            if phases.is_empty() {
                log.push_str("\n  (none: the shutdown was not triggered)");
            }
            let verdict = match seen {
                Some(when) => format!("began at {when:?}"),
                None => String::from("never began"),
            };
            panic!(
                "expected the {phase} phase at {at:?}, but it {verdict}; phases seen:{log}\n\
                 (asserted at {})",
                Location::caller()
            );
        }
    }
}

impl std::fmt::Debug for ShutdownProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownProbe")
            .field("phases", &self.phases())
            .finish()
    }
}
