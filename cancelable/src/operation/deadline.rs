//! The deadline an operation runs under: its own and its ancestors', for a handler to budget
//! its work and for a client to send on (`propagation`).
//!
//! # Invariants
//!
//! 1. A deadline counts once it is fixed: an absolute one ([`Cancelable::with_deadline`]) from
//!    construction, a timeout when `run` starts its clock (`start` leaves the armed deadline in
//!    the state's sources, `source.rs`). An operation that has not run yet has no timeout of
//!    its own, but its parent's deadline is already its own: built with a parent (`parent`,
//!    `child()`), an unrun operation reports it.
//! 2. A disarmed operation (`disarm_deadline`) has no deadline of its own from then on.
//! 3. Reading it takes each state lock of the chain in turn, never two at once, and never
//!    touches a scope token: it makes none.

use std::time::Duration;

use tokio::time::Instant;

use super::Cancelable;

impl Cancelable {
    /// The earliest deadline the operation runs under: its own and its ancestors', once fixed.
    ///
    /// An absolute deadline ([`with_deadline`](Self::with_deadline)) counts from construction;
    /// a timeout from when [`run`](Self::run) starts its clock. So an operation built with a
    /// parent but not run yet already sees its parent's deadline (and its own absolute one),
    /// not its own timeout. `None` when nothing in the chain has a deadline. A finished
    /// operation keeps reporting the deadline it ran under.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let request = Cancelable::with_timeout(Duration::from_secs(2));
    /// assert_eq!(request.deadline(), None); // the clock starts with `run`
    /// let start = Instant::now();
    /// request
    ///     .run(async {
    ///         assert_eq!(request.deadline(), Some(start + Duration::from_secs(2)));
    ///         // A child with a longer timeout still has to end by its parent's deadline.
    ///         let lookup = Cancelable::with_timeout(Duration::from_secs(5)).parent(&request);
    ///         assert_eq!(lookup.deadline(), Some(start + Duration::from_secs(2)));
    ///     })
    ///     .await
    ///     .unwrap();
    /// # }
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        let mut earliest = self.own_deadline();
        let mut op = self;
        while let Some(parent) = op.inner.parent.get() {
            earliest = match (earliest, parent.own_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            op = parent;
        }
        earliest
    }

    /// The time left until [`deadline`](Self::deadline), zero once it passed; `None` without
    /// a deadline.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = Cancelable::with_timeout(Duration::from_secs(10));
    /// op.run(async {
    ///     tokio::time::sleep(Duration::from_secs(3)).await;
    ///     assert_eq!(op.remaining(), Some(Duration::from_secs(7)));
    /// })
    /// .await
    /// .unwrap();
    /// assert_eq!(Cancelable::new().remaining(), None);
    /// # }
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.deadline()?;
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    /// Takes back the operation's own timeout and deadline, armed or not (its ancestors' stay):
    /// a `CancelableLayer` further in replaces an outer one's (`run.rs`, invariant 6).
    #[cfg(feature = "axum")]
    pub(crate) fn disarm_deadline(&self) {
        self.state().sources.disarm();
    }

    /// Whether [`disarm_deadline`](Self::disarm_deadline) was called.
    pub(super) fn deadline_disarmed(&self) -> bool {
        self.state().sources.is_disarmed()
    }

    fn own_deadline(&self) -> Option<Instant> {
        self.state().sources.fixed_deadline()
    }
}
