//! What observers are handed: [`OperationContext`], a snapshot of one operation, and
//! [`ProgressEvent`], one progress report (kept as an [`OwnedProgressEvent`]).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::{CancellationError, CancellationReason};
use crate::status::OperationStatus;

/// A snapshot of an operation: who it is, where it is in its life and why it ended.
///
/// # As JSON
///
/// It serialises (serde) to an object made to be served as it is (an `/ops` endpoint is
/// `Json(registry.list())`): `started_at` and `ended_at` are integer **milliseconds since the
/// Unix epoch** (UTC; `null` while not started or not ended), `elapsed_ms` how long `run` has
/// taken (to the end, or to the snapshot while it runs), `status` and `reason` lower-case
/// strings, `root_cause` the first cancellation of a chain (for a `parent` cancellation, what
/// cancelled the ancestor), `progress` the last progress message of a registered operation.
/// Deserialising reads the same shape back (times to the millisecond).
///
/// ```
/// use cancelable::{Cancelable, OperationRegistry};
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let registry = OperationRegistry::new();
/// let batch = Cancelable::new().named("batch").operation_id("batch-1");
/// let job = Cancelable::new().named("job").parent(&batch).register_in(&registry);
/// job.run(async {
///     job.report_progress("row 1200 of 5000");
///     tokio::time::sleep(std::time::Duration::from_millis(40)).await;
///
///     let json = serde_json::to_value(registry.list()).unwrap();
///     assert_eq!(json[0]["status"], "running");
///     assert!(json[0]["started_at"].is_u64());
///     assert_eq!(json[0]["elapsed_ms"], 40);
///     assert_eq!(json[0]["progress"], "row 1200 of 5000");
///     batch.cancel_with(cancelable::CancellationReason::Manual, "operator stop");
///     std::future::pending::<()>().await
/// }).await.unwrap_err();
///
/// let json = serde_json::to_value(job.context()).unwrap();
/// assert_eq!(json["reason"], "parent");
/// assert_eq!(json["root_cause"]["reason"], "manual");
/// assert_eq!(json["root_cause"]["message"], "operator stop");
/// assert_eq!(json["root_cause"]["operation_name"], "batch");
/// # }
/// ```
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
    /// For a cancellation caused by another (reason `Parent`): the first cancellation of the
    /// chain, the one that really happened.
    #[serde(default)]
    pub root_cause: Option<CancellationCause>,
    /// When `run` started (JSON: milliseconds since the Unix epoch).
    #[serde(with = "epoch_millis")]
    pub started_at: Option<SystemTime>,
    /// When `run` ended (JSON: milliseconds since the Unix epoch).
    #[serde(with = "epoch_millis")]
    pub ended_at: Option<SystemTime>,
    /// How long `run` has taken, in milliseconds: to its end, or to the snapshot while it runs.
    #[serde(default)]
    pub elapsed_ms: Option<u64>,
    /// The last progress message ([`Cancelable::report_progress`](crate::Cancelable::report_progress)),
    /// kept for a registered operation (and for one under a shutdown).
    #[serde(default)]
    pub progress: Option<String>,
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

/// The first cancellation of a chain, in an [`OperationContext`]: for a child cancelled with
/// reason `Parent`, what cancelled the ancestor, and which operation that was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CancellationCause {
    /// Why the first operation of the chain was cancelled.
    pub reason: CancellationReason,
    /// Its cancellation message, if any.
    pub message: Option<String>,
    /// The id of the operation it was attributed to, when known.
    pub operation_id: Option<String>,
    /// The name of that operation, when it has one.
    pub operation_name: Option<String>,
}

impl CancellationCause {
    /// The root cause of `error`, if it has a cause at all.
    pub(crate) fn of(error: &CancellationError) -> Option<CancellationCause> {
        error.cause()?;
        let root = error.root_cause();
        Some(CancellationCause {
            reason: root.reason(),
            message: root.message().map(str::to_owned),
            operation_id: root.operation_id().map(str::to_owned),
            operation_name: root.operation_name().map(str::to_owned),
        })
    }
}

/// One reading of both clocks, to convert the instants of many snapshots against (so that
/// differences between converted times are exact).
pub(crate) struct Clocks {
    wall: SystemTime,
    now: Instant,
}

impl Clocks {
    pub(crate) fn now() -> Clocks {
        Clocks {
            wall: SystemTime::now(),
            now: Instant::now(),
        }
    }

    /// `at`, on tokio's clock (paused in tests), as a wall-clock time.
    pub(crate) fn wall(&self, at: Instant) -> SystemTime {
        self.wall
            .checked_sub(self.now.saturating_duration_since(at))
            .unwrap_or(self.wall)
    }

    /// Milliseconds from `start` to `end`, or to now while there is no end.
    pub(crate) fn elapsed_ms(&self, start: Instant, end: Option<Instant>) -> u64 {
        let elapsed = end.unwrap_or(self.now).saturating_duration_since(start);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }
}

/// `Option<SystemTime>` as integer milliseconds since the Unix epoch (earlier times clamp to 0).
mod epoch_millis {
    use super::{Duration, SystemTime, UNIX_EPOCH};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => {
                let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
                serializer.serialize_u64(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
            }
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        let millis = Option::<u64>::deserialize(deserializer)?;
        Ok(millis.and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms))))
    }
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
/// The event borrows from the report: its strings are the report's message and the
/// operation's id and name, and reporting copies none of them and reads no clock. The time of
/// the report, [`at`](Self::at), is read from the wall clock the first time a callback asks for
/// it, and is then the same for every callback of that report. To keep an event past the
/// callback, take [`to_owned`](Self::to_owned), an [`OwnedProgressEvent`] with its own strings
/// and its time fixed.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use cancelable::{Cancelable, OwnedProgressEvent};
///
/// let events: Arc<Mutex<Vec<OwnedProgressEvent>>> = Arc::default();
/// let op = Cancelable::new().named("import").operation_id("import-1");
/// let sink = events.clone();
/// op.on_progress(move |event| {
///     assert_eq!(event.message, "rows loaded");
///     sink.lock().unwrap().push(event.to_owned());
/// });
///
/// op.report_progress_with("rows loaded", serde_json::json!({ "rows": 1200 }));
///
/// let events = events.lock().unwrap();
/// assert_eq!(events[0].operation_id, "import-1");
/// assert_eq!(events[0].operation_name, "import");
/// assert_eq!(events[0].message, "rows loaded");
/// assert_eq!(events[0].metadata.as_ref().unwrap()["rows"], 1200);
/// assert!(events[0].at <= std::time::SystemTime::now());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProgressEvent<'a> {
    /// The id of the operation that reported.
    pub operation_id: &'a str,
    /// Its name (empty when unnamed).
    pub operation_name: &'a str,
    /// What it said.
    pub message: &'a str,
    /// Structured details, from [`Cancelable::report_progress_with`](crate::Cancelable::report_progress_with).
    pub metadata: Option<&'a serde_json::Value>,
    /// Read when first asked for (JSON: serde's `SystemTime`).
    #[serde(serialize_with = "lazy_time")]
    at: OnceLock<SystemTime>,
}

impl<'a> ProgressEvent<'a> {
    /// The event of a report being made now; no clock read yet.
    #[inline(always)]
    pub(crate) fn borrowed(
        operation_id: &'a str,
        operation_name: &'a str,
        message: &'a str,
        metadata: Option<&'a serde_json::Value>,
    ) -> Self {
        ProgressEvent {
            operation_id,
            operation_name,
            message,
            metadata,
            at: OnceLock::new(),
        }
    }

    /// When the operation reported: read from the wall clock the first time it is asked for,
    /// during the report, then fixed.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::SystemTime;
    ///
    /// let times = Arc::new(Mutex::new(Vec::new()));
    /// let op = cancelable::Cancelable::new();
    /// for _ in 0..2 {
    ///     let times = times.clone();
    ///     op.on_progress(move |event| times.lock().unwrap().push(event.at()));
    /// }
    /// let before = SystemTime::now();
    /// op.report_progress("tick");
    /// let times = times.lock().unwrap();
    /// assert_eq!(times[0], times[1], "one time per report");
    /// assert!(before <= times[0] && times[0] <= SystemTime::now());
    /// ```
    pub fn at(&self) -> SystemTime {
        *self.at.get_or_init(SystemTime::now)
    }

    /// A copy that owns its strings and metadata, with its time fixed: to keep past the
    /// callback.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use cancelable::OwnedProgressEvent;
    ///
    /// let last: Arc<Mutex<Option<OwnedProgressEvent>>> = Arc::default();
    /// let op = cancelable::Cancelable::new();
    /// let keep = last.clone();
    /// op.on_progress(move |event| *keep.lock().unwrap() = Some(event.to_owned()));
    /// op.report_progress(format!("{} of {}", 3, 10));
    /// assert_eq!(last.lock().unwrap().as_ref().unwrap().message, "3 of 10");
    /// ```
    pub fn to_owned(&self) -> OwnedProgressEvent {
        OwnedProgressEvent {
            operation_id: self.operation_id.to_owned(),
            operation_name: self.operation_name.to_owned(),
            message: self.message.to_owned(),
            metadata: self.metadata.cloned(),
            at: self.at(),
        }
    }
}

/// A [`ProgressEvent`] kept past its callback ([`ProgressEvent::to_owned`]): the same fields,
/// owned, and the time of the report fixed. It serialises (serde) to the same JSON as the
/// event it was made from, and deserialises from it.
///
/// ```
/// let event: cancelable::OwnedProgressEvent = serde_json::from_str(
///     r#"{"operation_id": "a", "operation_name": "", "message": "m", "metadata": null,
///         "at": {"secs_since_epoch": 0, "nanos_since_epoch": 0}}"#,
/// ).unwrap();
/// assert_eq!(event.message, "m");
/// assert_eq!(event.at, std::time::UNIX_EPOCH);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OwnedProgressEvent {
    /// The id of the operation that reported.
    pub operation_id: String,
    /// Its name (empty when unnamed).
    pub operation_name: String,
    /// What it said.
    pub message: String,
    /// Structured details, from [`Cancelable::report_progress_with`](crate::Cancelable::report_progress_with).
    pub metadata: Option<serde_json::Value>,
    /// When it reported.
    pub at: SystemTime,
}

/// A lazily read time as serde's `SystemTime` (read now if nobody asked yet).
fn lazy_time<S: serde::Serializer>(
    at: &OnceLock<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    at.get_or_init(SystemTime::now).serialize(serializer)
}
