//! [`sample_operation`]: a stand-in body that takes a while and reports progress.

use std::time::Duration;

use crate::operation::Cancelable;

/// A body for tests: reports `Operation started`, sleeps half of `duration`, reports
/// `Operation 50% complete`, sleeps the other half, reports `Operation completed` and returns
/// `"success"`. Progress goes to `op` (the Python original had to find it through the current
/// operation).
///
/// ```
/// use std::time::Duration;
/// use cancelable::Cancelable;
/// use cancelable::testing::{EventKind, OperationRecorder, sample_operation};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let recorder = OperationRecorder::new();
/// let op = recorder.attach(&Cancelable::with_timeout(Duration::from_millis(700)));
/// let outcome = op.run(sample_operation(&op, Duration::from_secs(1))).await;
/// assert!(outcome.unwrap_err().is_timeout());
/// let reports: Vec<_> = recorder
///     .events()
///     .into_iter()
///     .filter_map(|e| match e.kind {
///         EventKind::Progress { message, .. } => Some((e.at, message)),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(reports, [
///     (Duration::ZERO, "Operation started".to_owned()),
///     (Duration::from_millis(500), "Operation 50% complete".to_owned()),
/// ]);
/// # }
/// ```
pub async fn sample_operation(op: &Cancelable, duration: Duration) -> &'static str {
    op.report_progress("Operation started");
    tokio::time::sleep(duration / 2).await;
    op.report_progress("Operation 50% complete");
    tokio::time::sleep(duration - duration / 2).await;
    op.report_progress("Operation completed");
    "success"
}
