//! [`OperationStatus`]: where an operation is in its life.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an operation is in its life.
///
/// # Examples
///
/// ```
/// use cancelable::{Cancelable, OperationStatus};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let op = Cancelable::new();
/// assert_eq!(op.status(), OperationStatus::Pending);
/// op.run(async {}).await.unwrap();
/// assert_eq!(op.status(), OperationStatus::Completed);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum OperationStatus {
    /// Created, not started.
    Pending = 0,
    /// Inside `run`.
    Running = 1,
    /// `run` returned the body's output.
    Completed = 2,
    /// A source fired and the body was dropped.
    Cancelled = 3,
    /// The body panicked, or `try_run`'s body returned `Err`.
    Failed = 4,
}

impl OperationStatus {
    /// How many statuses there are: the length of a table indexed by `status as usize`.
    #[cfg(test)]
    pub(crate) const COUNT: usize = 5;

    /// Every status, in discriminant order.
    #[cfg(test)]
    pub(crate) const ALL: [OperationStatus; OperationStatus::COUNT] = [
        OperationStatus::Pending,
        OperationStatus::Running,
        OperationStatus::Completed,
        OperationStatus::Cancelled,
        OperationStatus::Failed,
    ];

    /// The status whose discriminant is `value`.
    ///
    /// # Panics
    ///
    /// If `value` is no status's discriminant: only `status as u8` is ever stored.
    #[inline]
    pub(crate) fn from_u8(value: u8) -> OperationStatus {
        const PENDING: u8 = OperationStatus::Pending as u8;
        const RUNNING: u8 = OperationStatus::Running as u8;
        const COMPLETED: u8 = OperationStatus::Completed as u8;
        const CANCELLED: u8 = OperationStatus::Cancelled as u8;
        const FAILED: u8 = OperationStatus::Failed as u8;
        match value {
            PENDING => OperationStatus::Pending,
            RUNNING => OperationStatus::Running,
            COMPLETED => OperationStatus::Completed,
            CANCELLED => OperationStatus::Cancelled,
            FAILED => OperationStatus::Failed,
            _ => unreachable!("{value} is not an OperationStatus"),
        }
    }

    /// The lower-case name, as in `Display` and serde.
    pub const fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Pending => "pending",
            OperationStatus::Running => "running",
            OperationStatus::Completed => "completed",
            OperationStatus::Cancelled => "cancelled",
            OperationStatus::Failed => "failed",
        }
    }

    /// `true` once the operation has ended, however it ended.
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            OperationStatus::Completed | OperationStatus::Cancelled | OperationStatus::Failed
        )
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OperationStatus;

    #[test]
    fn a_status_survives_its_discriminant() {
        for (i, status) in OperationStatus::ALL.into_iter().enumerate() {
            assert_eq!(status as usize, i);
            assert_eq!(OperationStatus::from_u8(status as u8), status);
        }
    }
}
