//! What a registry counts: [`RegistryStats`] and [`StatusCounts`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::status::OperationStatus;

/// Operation counts by [`OperationStatus`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusCounts {
    /// Created, not started.
    pub pending: u64,
    /// Inside `run`.
    pub running: u64,
    /// Ended with the body's output.
    pub completed: u64,
    /// Ended cancelled.
    pub cancelled: u64,
    /// Ended with a panic or an error.
    pub failed: u64,
}

impl StatusCounts {
    pub(super) fn from_fn(count: impl Fn(OperationStatus) -> u64) -> Self {
        StatusCounts {
            pending: count(OperationStatus::Pending),
            running: count(OperationStatus::Running),
            completed: count(OperationStatus::Completed),
            cancelled: count(OperationStatus::Cancelled),
            failed: count(OperationStatus::Failed),
        }
    }

    pub(super) fn add(&mut self, status: OperationStatus) {
        let count = match status {
            OperationStatus::Pending => &mut self.pending,
            OperationStatus::Running => &mut self.running,
            OperationStatus::Completed => &mut self.completed,
            OperationStatus::Cancelled => &mut self.cancelled,
            OperationStatus::Failed => &mut self.failed,
        };
        *count += 1;
    }

    /// The count for `status`.
    ///
    /// ```
    /// use cancelable::{OperationRegistry, OperationStatus};
    /// let stats = OperationRegistry::new().statistics();
    /// assert_eq!(stats.finished.get(OperationStatus::Failed), 0);
    /// ```
    pub fn get(&self, status: OperationStatus) -> u64 {
        match status {
            OperationStatus::Pending => self.pending,
            OperationStatus::Running => self.running,
            OperationStatus::Completed => self.completed,
            OperationStatus::Cancelled => self.cancelled,
            OperationStatus::Failed => self.failed,
        }
    }

    /// The sum over every status.
    ///
    /// ```
    /// assert_eq!(cancelable::OperationRegistry::new().statistics().running.total(), 0);
    /// ```
    pub fn total(&self) -> u64 {
        self.pending + self.running + self.completed + self.cancelled + self.failed
    }
}

/// What [`OperationRegistry::statistics`](crate::OperationRegistry::statistics) counts.
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
    /// The operations in the running set, by status. An operation cancelled while a shield
    /// runs is still `running` until its `run` returns.
    pub running: StatusCounts,
    /// The operations that finished since the registry was created, by final status.
    pub finished: StatusCounts,
    /// The mean duration of the completed operations, if any completed.
    pub average_duration: Option<Duration>,
    /// Operations registered since the registry was created.
    pub total: u64,
    /// Entries in the history now.
    pub history_len: usize,
}
