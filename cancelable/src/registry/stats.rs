//! What a registry counts: [`OperationRegistry::statistics`] and `statistics_matching`, which
//! return [`RegistryStats`], with [`RunningCounts`] for the operations it holds and
//! [`FinishedCounts`] for those that ended.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{OperationFilter, OperationRegistry};
use crate::status::OperationStatus;

/// The operations a registry holds, by where they are: built and waiting for `run`, or inside
/// it.
///
/// ```
/// use cancelable::{Cancelable, OperationRegistry};
/// let registry = OperationRegistry::new();
/// let queued = Cancelable::new().named("job").register_in(&registry);
/// let stats = registry.statistics();
/// assert_eq!((stats.running.pending, stats.running.running), (1, 0));
/// # drop(queued);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunningCounts {
    /// Registered, `run` not started yet (status `Pending`).
    pub pending: u64,
    /// Inside `run` (status `Running`, or ending right now).
    pub running: u64,
}

impl RunningCounts {
    /// The count for `status`: `0` for a final status, which no held operation has.
    ///
    /// ```
    /// use cancelable::{OperationRegistry, OperationStatus};
    /// let stats = OperationRegistry::new().statistics();
    /// assert_eq!(stats.running.get(OperationStatus::Running), 0);
    /// ```
    pub fn get(&self, status: OperationStatus) -> u64 {
        match status {
            OperationStatus::Pending => self.pending,
            OperationStatus::Running => self.running,
            _ => 0,
        }
    }

    /// Pending and running together.
    ///
    /// ```
    /// assert_eq!(cancelable::OperationRegistry::new().statistics().running.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.pending + self.running
    }

    pub(super) fn add(&mut self, status: OperationStatus) {
        match status {
            OperationStatus::Pending => self.pending += 1,
            _ => self.running += 1,
        }
    }
}

/// The operations that ended, by final status.
///
/// ```
/// use cancelable::{Cancelable, OperationRegistry, OperationStatus};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = OperationRegistry::new();
/// Cancelable::new().register_in(&registry).run(async {}).await.unwrap();
/// let finished = registry.statistics().finished;
/// assert_eq!((finished.completed, finished.get(OperationStatus::Completed)), (1, 1));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FinishedCounts {
    /// Ended with the body's output.
    pub completed: u64,
    /// Ended cancelled.
    pub cancelled: u64,
    /// Ended with a panic or an error.
    pub failed: u64,
}

impl FinishedCounts {
    /// The count for `status`: `0` for `Pending` and `Running`, which are not final.
    pub fn get(&self, status: OperationStatus) -> u64 {
        match status {
            OperationStatus::Completed => self.completed,
            OperationStatus::Cancelled => self.cancelled,
            OperationStatus::Failed => self.failed,
            _ => 0,
        }
    }

    /// The sum over every final status.
    ///
    /// ```
    /// assert_eq!(cancelable::OperationRegistry::new().statistics().finished.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.completed + self.cancelled + self.failed
    }

    pub(super) fn merge(&mut self, other: &FinishedCounts) {
        self.completed += other.completed;
        self.cancelled += other.cancelled;
        self.failed += other.failed;
    }

    pub(super) fn add(&mut self, status: OperationStatus, count: u64) {
        match status {
            OperationStatus::Completed => self.completed += count,
            OperationStatus::Cancelled => self.cancelled += count,
            OperationStatus::Failed => self.failed += count,
            _ => {}
        }
    }
}

/// What [`OperationRegistry::statistics`](crate::OperationRegistry::statistics) and
/// [`statistics_matching`](crate::OperationRegistry::statistics_matching) count.
///
/// ```
/// use cancelable::{Cancelable, OperationRegistry};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = OperationRegistry::new();
/// Cancelable::new().register_in(&registry).run(async {}).await.unwrap();
/// let stats = registry.statistics();
/// println!("{}", serde_json::to_string_pretty(&stats).unwrap());
/// assert_eq!(stats.finished.total(), 1);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegistryStats {
    /// The operations the registry holds: pending (built, not run yet) and running. An
    /// operation cancelled while a shield runs is still `running` until its `run` returns.
    pub running: RunningCounts,
    /// The operations that finished, by final status.
    pub finished: FinishedCounts,
    /// The mean duration of the completed operations, if any completed.
    pub average_duration: Option<Duration>,
    /// Operations registered (for `statistics`: since the registry was created, including
    /// those dropped without running).
    pub total: u64,
    /// Entries in the history now.
    pub history_len: usize,
}

impl OperationRegistry {
    /// Counts: held operations (pending and running), finished ones by status, the average
    /// duration of the completed ones, operations registered so far.
    ///
    /// The finished counts and the average cover every operation since the registry was
    /// created, not only those still in the history. It reads counters, not operations: its
    /// cost does not grow with the number of operations.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let registry = OperationRegistry::new();
    /// Cancelable::new().register_in(&registry).run(async {}).await.unwrap();
    /// let timeout = Cancelable::with_timeout(Duration::from_millis(5)).register_in(&registry);
    /// timeout.run(std::future::pending::<()>()).await.unwrap_err();
    ///
    /// let stats = registry.statistics();
    /// assert_eq!(stats.running.total(), 0);
    /// assert_eq!((stats.finished.completed, stats.finished.cancelled), (1, 1));
    /// assert!(stats.average_duration.is_some());
    /// assert_eq!(stats.total, 2);
    /// # }
    /// ```
    pub fn statistics(&self) -> RegistryStats {
        let mut running = RunningCounts::default();
        let mut finished = FinishedCounts::default();
        let (mut total, mut nanos) = (0, 0u64);
        for shard in &self.inner.shards {
            let data = shard.0.lock();
            running.pending += data.live.pending;
            running.running += data.live.running;
            finished.merge(&data.finished);
            total += data.registered;
            nanos = nanos.saturating_add(data.completed_nanos);
        }
        RegistryStats {
            running,
            finished,
            average_duration: average(nanos, finished.completed),
            total,
            history_len: self.inner.history.lock().len(),
        }
    }

    /// The counts of [`statistics`](Self::statistics) for the operations that match `filter`,
    /// taken over what the registry holds now: the held operations and the history (so
    /// `finished`, `average_duration` and `total` cover the history only, and `history_len`
    /// is the number of matching entries in it).
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationFilter, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// for tenant in ["acme", "acme", "globex"] {
    ///     let op = Cancelable::new().named("export").metadata("tenant", tenant);
    ///     op.register_in(&registry).run(async {}).await.unwrap();
    /// }
    /// let queued = Cancelable::new().metadata("tenant", "acme").register_in(&registry);
    ///
    /// let acme = registry.statistics_matching(&OperationFilter::new().metadata("tenant", "acme"));
    /// assert_eq!((acme.finished.completed, acme.running.pending, acme.total), (2, 1, 3));
    /// # drop(queued);
    /// # }
    /// ```
    pub fn statistics_matching(&self, filter: &OperationFilter) -> RegistryStats {
        let mut held = self.held_where(|name| filter.admits_name(name));
        held.retain(|op| filter.admits(op));
        let mut running = RunningCounts::default();
        for op in &held {
            running.add(op.status());
        }
        let mut finished = FinishedCounts::default();
        let (mut history_len, mut nanos) = (0, 0u64);
        for op in self.finished_ops(usize::MAX) {
            if !filter.admits(&op) {
                continue;
            }
            history_len += 1;
            let status = op.status();
            finished.add(status, 1);
            if let (OperationStatus::Completed, Some(duration)) = (status, op.run_duration()) {
                let duration = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
                nanos = nanos.saturating_add(duration);
            }
        }
        RegistryStats {
            running,
            finished,
            average_duration: average(nanos, finished.completed),
            total: running.total() + history_len as u64,
            history_len,
        }
    }
}

fn average(nanos: u64, count: u64) -> Option<Duration> {
    (count > 0).then(|| Duration::from_nanos(nanos / count))
}
