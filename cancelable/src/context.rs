//! What observers are handed: [`OperationContext`], a snapshot of one operation, and
//! [`ProgressEvent`], one progress report.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::CancellationReason;
use crate::status::OperationStatus;

/// A snapshot of an operation: who it is, where it is in its life and why it ended.
///
/// # Examples
///
/// ```
/// use cancelable::{Cancelable, OperationStatus};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let op = Cancelable::new().named("import").metadata("rows", 1200);
/// op.run(async {}).await.unwrap();
/// let ctx = op.context();
/// assert_eq!(ctx.name, "import");
/// assert_eq!(ctx.status, OperationStatus::Completed);
/// assert_eq!(ctx.metadata["rows"], 1200);
/// assert!(ctx.duration().is_some());
/// println!("{}", serde_json::to_string(&ctx).unwrap());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OperationContext {
    /// The operation id (a UUID unless set with `operation_id`).
    pub id: String,
    /// The operation name (empty when unnamed).
    pub name: String,
    /// Where the operation is in its life.
    pub status: OperationStatus,
    /// Why it was cancelled, if it was.
    pub reason: Option<CancellationReason>,
    /// The cancellation message, if any.
    pub message: Option<String>,
    /// For `Failed`: the error's text or the panic message.
    pub failure: Option<String>,
    /// The id of the parent operation, if any.
    pub parent_id: Option<String>,
    /// When `run` started.
    pub started_at: Option<SystemTime>,
    /// When `run` ended.
    pub ended_at: Option<SystemTime>,
    /// User metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Items delivered by the operation's streams ([`Cancelable::stream`](crate::Cancelable::stream)),
    /// if it has one.
    pub items: Option<u64>,
    /// With a stream: whether one ran to its end (`Some(false)` while none has, for instance
    /// because the operation was cancelled first).
    #[serde(default)]
    pub exhausted: Option<bool>,
}

impl OperationContext {
    /// How long `run` took, or has taken so far while it runs.
    pub fn duration(&self) -> Option<Duration> {
        let started = self.started_at?;
        let ended = self.ended_at.unwrap_or_else(SystemTime::now);
        Some(ended.duration_since(started).unwrap_or_default())
    }
}

/// One progress report of an operation, as handed to [`Cancelable::on_progress`](crate::Cancelable::on_progress) callbacks.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use cancelable::{Cancelable, ProgressEvent};
///
/// let events: Arc<Mutex<Vec<ProgressEvent>>> = Arc::default();
/// let op = Cancelable::new().named("import").operation_id("import-1");
/// let sink = events.clone();
/// op.on_progress(move |event| sink.lock().unwrap().push(event.clone()));
///
/// op.report_progress_with("rows loaded", serde_json::json!({ "rows": 1200 }));
///
/// let events = events.lock().unwrap();
/// assert_eq!(events[0].operation_id, "import-1");
/// assert_eq!(events[0].operation_name, "import");
/// assert_eq!(events[0].message, "rows loaded");
/// assert_eq!(events[0].metadata.as_ref().unwrap()["rows"], 1200);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProgressEvent {
    /// The id of the operation that reported.
    pub operation_id: String,
    /// Its name (empty when unnamed).
    pub operation_name: String,
    /// What it said.
    pub message: String,
    /// Structured details, from [`Cancelable::report_progress_with`](crate::Cancelable::report_progress_with).
    pub metadata: Option<serde_json::Value>,
    /// When it was reported.
    pub at: SystemTime,
}
