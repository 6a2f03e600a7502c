//! What an [`OperationRecorder`](super::OperationRecorder) records: [`Event`]s, their
//! [`EventKind`], and the [`EventMatcher`]s that assertions look them up with.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::CancellationReason;

/// One thing that happened to an operation, stamped on tokio's clock.
///
/// Serialises with serde (the kind flattened in, tagged `"kind"`), so a whole log can be
/// compared as JSON or snapshotted; `at` is serde's `Duration` (`{"secs", "nanos"}`), exact.
///
/// ```
/// use std::time::Duration;
/// use cancelable::Cancelable;
/// use cancelable::testing::{EventKind, OperationRecorder};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let recorder = OperationRecorder::new();
/// let op = recorder.attach(&Cancelable::new().named("import").operation_id("import-1"));
/// op.run(tokio::time::sleep(Duration::from_secs(2))).await.unwrap();
///
/// let last = recorder.events().pop().unwrap();
/// assert_eq!(last.at, Duration::from_secs(2));
/// assert_eq!(last.kind, EventKind::Completed);
/// assert_eq!(last.to_string(), r#"2s import-1 "import": completed"#);
/// assert_eq!(
///     serde_json::to_value(&last).unwrap(),
///     serde_json::json!({
///         "at": { "secs": 2, "nanos": 0 },
///         "operation_id": "import-1",
///         "operation_name": "import",
///         "kind": "completed",
///     })
/// );
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// When, since the recorder was created, on tokio's clock.
    pub at: Duration,
    /// The operation's id.
    pub operation_id: String,
    /// The operation's name (empty when unnamed).
    pub operation_name: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened to an operation: its lifecycle and its progress reports.
///
/// ```
/// use cancelable::testing::{EventKind, EventType};
///
/// let kind = EventKind::Progress { message: "halfway".into(), metadata: None };
/// assert_eq!(kind.event_type(), EventType::Progress);
/// assert_eq!(kind.to_string(), r#"progress "halfway""#);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The operation started (its `on_start`).
    Started,
    /// It reported progress (its `on_progress`).
    Progress {
        /// The report's message.
        message: String,
        /// The report's structured details, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<serde_json::Value>,
    },
    /// It completed (its `on_completed`).
    Completed,
    /// It ended cancelled (its `on_cancelled`), with the recorded reason and message.
    Cancelled {
        /// Why; `None` only if the runtime recorded no reason, which it always does.
        reason: Option<CancellationReason>,
        /// The cancellation message, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// It failed (its `on_failed`): the error's text or the panic message.
    Failed {
        /// The failure's text, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
}

impl EventKind {
    /// The kind without its data.
    pub fn event_type(&self) -> EventType {
        match self {
            EventKind::Started => EventType::Started,
            EventKind::Progress { .. } => EventType::Progress,
            EventKind::Completed => EventType::Completed,
            EventKind::Cancelled { .. } => EventType::Cancelled,
            EventKind::Failed { .. } => EventType::Failed,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Started => f.write_str("started"),
            EventKind::Progress { message, metadata } => {
                write!(f, "progress {message:?}")?;
                match metadata {
                    Some(metadata) => write!(f, " {metadata}"),
                    None => Ok(()),
                }
            }
            EventKind::Completed => f.write_str("completed"),
            EventKind::Cancelled { reason, message } => {
                f.write_str("cancelled")?;
                if let Some(reason) = reason {
                    write!(f, " ({reason})")?;
                }
                match message {
                    Some(message) => write!(f, ": {message}"),
                    None => Ok(()),
                }
            }
            EventKind::Failed { failure } => match failure {
                Some(failure) => write!(f, "failed: {failure}"),
                None => f.write_str("failed"),
            },
        }
    }
}

impl fmt::Display for Event {
    /// `1.5s fetch-1 "fetch_user": cancelled (timeout): timeout after 1.5s`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {} {:?}: {}",
            self.at, self.operation_id, self.operation_name, self.kind
        )
    }
}

/// The kind of an [`Event`] without its data: the simplest [`EventMatcher`].
///
/// ```
/// use cancelable::testing::{EventMatcher, EventType};
///
/// assert_eq!(EventType::Cancelled.to_string(), "cancelled");
/// assert_eq!(EventType::Cancelled.describe(), "a `cancelled` event");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// [`EventKind::Started`].
    Started,
    /// [`EventKind::Progress`].
    Progress,
    /// [`EventKind::Completed`].
    Completed,
    /// [`EventKind::Cancelled`].
    Cancelled,
    /// [`EventKind::Failed`].
    Failed,
}

impl EventType {
    /// The lower-case name, as in `Display` and serde.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Started => "started",
            EventType::Progress => "progress",
            EventType::Completed => "completed",
            EventType::Cancelled => "cancelled",
            EventType::Failed => "failed",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`OperationRecorder::assert_event`](super::OperationRecorder::assert_event) and
/// [`wait_for`](super::OperationRecorder::wait_for) look for: an [`EventType`], or any
/// `Fn(&Event) -> bool`.
///
/// ```
/// use cancelable::testing::{Event, EventKind, EventMatcher, EventType};
///
/// let halfway = |event: &Event| {
///     matches!(&event.kind, EventKind::Progress { message, .. } if message == "halfway")
/// };
/// assert_eq!(halfway.describe(), "an event matching the predicate");
/// # let _ = EventType::Progress.describe();
/// ```
pub trait EventMatcher {
    /// Whether `event` is one of those looked for.
    fn matches(&self, event: &Event) -> bool;

    /// What is looked for, for panic messages: "a `cancelled` event".
    fn describe(&self) -> String;
}

impl EventMatcher for EventType {
    fn matches(&self, event: &Event) -> bool {
        event.kind.event_type() == *self
    }

    fn describe(&self) -> String {
        format!("a `{self}` event")
    }
}

impl<F: Fn(&Event) -> bool> EventMatcher for F {
    fn matches(&self, event: &Event) -> bool {
        self(event)
    }

    fn describe(&self) -> String {
        "an event matching the predicate".to_owned()
    }
}

/// The progress report `message`, for the scenario's expectations.
pub(crate) struct ProgressMessage<'a>(pub(crate) &'a str);

impl EventMatcher for ProgressMessage<'_> {
    fn matches(&self, event: &Event) -> bool {
        matches!(&event.kind, EventKind::Progress { message, .. } if message == self.0)
    }

    fn describe(&self) -> String {
        format!("the progress report {:?}", self.0)
    }
}
