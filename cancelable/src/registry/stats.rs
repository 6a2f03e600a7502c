//! What a registry counts: [`RegistryStats`], with [`RunningCounts`] for the operations it
//! holds and [`FinishedCounts`] for those that ended.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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
