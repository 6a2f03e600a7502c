//! [`OperationRecorder`]: the log of what happened to the operations it is attached to, with
//! panicking assertions that print the whole log.
//!
//! # Invariants
//!
//! 1. The recorder only listens: it attaches through the public callbacks
//!    ([`Cancelable::on_start`], [`on_progress`](Cancelable::on_progress),
//!    [`on_completed`](Cancelable::on_completed), [`on_cancelled`](Cancelable::on_cancelled),
//!    [`on_failed`](Cancelable::on_failed)) and never changes an operation's outcome.
//! 2. Events are appended in the order the callbacks run, each stamped on tokio's clock since
//!    the recorder's creation under the log's lock: `at` never decreases along the log.
//! 3. An operation's callbacks hold the recorder, the recorder holds no operation: attaching
//!    creates no cycle, and dropping the operations frees their callbacks.
//! 4. Every append wakes every [`wait_for`](OperationRecorder::wait_for); a waiter checks the
//!    log only after it is registered for the next wake-up, so no event is missed.

use std::fmt::Write as _;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::clock::Clock;
use super::event::{Event, EventKind, EventMatcher};
use crate::context::OperationContext;
use crate::operation::Cancelable;
use crate::status::OperationStatus;

/// Records what happens to operations (start, progress, end) with exact times on tokio's
/// clock, and asserts on it.
///
/// A cheap `Clone` handle: clones share one log. Assertions panic with `#[track_caller]`
/// and show the whole log.
///
/// ```
/// use std::time::Duration;
/// use cancelable::{Cancelable, CancellationReason, OperationStatus};
/// use cancelable::testing::{EventKind, EventType, OperationRecorder};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let recorder = OperationRecorder::new();
/// let op = recorder.attach(&Cancelable::with_timeout(Duration::from_secs(1)).operation_id("sync"));
/// let outcome = op
///     .run(async {
///         op.report_progress("connected");
///         tokio::time::sleep(Duration::from_secs(5)).await;
///     })
///     .await;
/// assert!(outcome.unwrap_err().is_timeout());
///
/// recorder.assert_final_status("sync", OperationStatus::Cancelled);
/// let cancelled = recorder.assert_event("sync", EventType::Cancelled);
/// assert_eq!(cancelled.at, Duration::from_secs(1));
/// assert!(matches!(
///     cancelled.kind,
///     EventKind::Cancelled { reason: Some(CancellationReason::Timeout), .. }
/// ));
/// let kinds: Vec<_> = recorder.events().iter().map(|e| e.kind.event_type()).collect();
/// assert_eq!(kinds, [EventType::Started, EventType::Progress, EventType::Cancelled]);
/// # }
/// ```
#[derive(Clone)]
pub struct OperationRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Clock,
    log: Mutex<Log>,
    appended: Notify,
}

#[derive(Default)]
struct Log {
    events: Vec<Event>,
    /// Every attached operation's latest context, in attach order.
    operations: Vec<OperationContext>,
}

impl Default for OperationRecorder {
    fn default() -> Self {
        OperationRecorder::new()
    }
}

impl std::fmt::Debug for OperationRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationRecorder")
            .field("events", &self.log().events)
            .finish_non_exhaustive()
    }
}

impl OperationRecorder {
    /// An empty recorder; its clock starts now.
    ///
    /// ```
    /// let recorder = cancelable::testing::OperationRecorder::new();
    /// assert!(recorder.events().is_empty());
    /// ```
    pub fn new() -> Self {
        OperationRecorder {
            inner: Arc::new(Inner {
                clock: Clock::start(),
                log: Mutex::default(),
                appended: Notify::new(),
            }),
        }
    }

    /// Records `op` from now on, and returns it (a clone of the same operation), so that
    /// `let op = recorder.attach(&Cancelable::new());` reads in one line.
    ///
    /// Attach before `run`; attached later, the start is recorded at once (at attach time) and
    /// an ending that already happened too, the way the callbacks behave. Attaching the same
    /// operation twice records everything twice.
    ///
    /// ```
    /// use cancelable::Cancelable;
    /// use cancelable::testing::{EventType, OperationRecorder};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let recorder = OperationRecorder::new();
    /// let op = recorder.attach(&Cancelable::new().operation_id("one"));
    /// op.run(async { op.report_progress("working") }).await.unwrap();
    /// recorder.assert_event("one", EventType::Progress);
    /// assert_eq!(recorder.events_for("one").len(), 3);
    /// # }
    /// ```
    pub fn attach(&self, op: &Cancelable) -> Cancelable {
        self.log().operations.push(op.context());
        let on = |kind: fn(&OperationContext) -> EventKind| {
            let recorder = self.clone();
            move |context: &OperationContext| recorder.record_lifecycle(context, kind(context))
        };
        op.on_start(on(|_| EventKind::Started));
        let recorder = self.clone();
        op.on_progress(move |event| {
            recorder.record(Event {
                at: Duration::ZERO,
                operation_id: event.operation_id.to_string(),
                operation_name: event.operation_name.to_string(),
                kind: EventKind::Progress {
                    message: event.message.to_string(),
                    metadata: event.metadata.cloned(),
                },
            });
        });
        op.on_completed(on(|_| EventKind::Completed));
        op.on_cancelled(on(|context| EventKind::Cancelled {
            reason: context.reason,
            message: context.message.clone(),
        }));
        op.on_failed(on(|context| EventKind::Failed {
            failure: context.failure.clone(),
        }));
        op.clone()
    }

    /// Every event so far, oldest first.
    ///
    /// ```
    /// use cancelable::testing::OperationRecorder;
    /// let recorder = OperationRecorder::new();
    /// let op = recorder.attach(&cancelable::Cancelable::new());
    /// op.report_progress("one");
    /// assert_eq!(recorder.events()[0].operation_id, op.id());
    /// ```
    pub fn events(&self) -> Vec<Event> {
        self.log().events.clone()
    }

    /// The events of the operation with id `operation_id`, oldest first.
    ///
    /// ```
    /// use cancelable::testing::OperationRecorder;
    /// let recorder = OperationRecorder::new();
    /// let a = recorder.attach(&cancelable::Cancelable::new().operation_id("a"));
    /// let b = recorder.attach(&cancelable::Cancelable::new().operation_id("b"));
    /// a.report_progress("from a");
    /// b.report_progress("from b");
    /// assert_eq!(recorder.events_for("b").len(), 1);
    /// ```
    pub fn events_for(&self, operation_id: &str) -> Vec<Event> {
        self.matching(operation_id, |_: &Event| true)
    }

    /// The events of `operation_id` that `matcher` accepts, oldest first.
    ///
    /// ```
    /// use cancelable::testing::{EventType, OperationRecorder};
    /// let recorder = OperationRecorder::new();
    /// let op = recorder.attach(&cancelable::Cancelable::new().operation_id("op"));
    /// op.report_progress("one");
    /// op.report_progress("two");
    /// assert_eq!(recorder.matching("op", EventType::Progress).len(), 2);
    /// ```
    pub fn matching(&self, operation_id: &str, matcher: impl EventMatcher) -> Vec<Event> {
        self.find(operation_id, &matcher)
    }

    fn find(&self, operation_id: &str, matcher: &dyn EventMatcher) -> Vec<Event> {
        self.log()
            .events
            .iter()
            .filter(|e| e.operation_id == operation_id && matcher.matches(e))
            .cloned()
            .collect()
    }

    /// The latest context recorded for `operation_id` (at attach, start and end), if it is
    /// attached.
    ///
    /// ```
    /// use cancelable::OperationStatus;
    /// use cancelable::testing::OperationRecorder;
    /// let recorder = OperationRecorder::new();
    /// recorder.attach(&cancelable::Cancelable::new().operation_id("op"));
    /// assert_eq!(recorder.context("op").unwrap().status, OperationStatus::Pending);
    /// assert!(recorder.context("other").is_none());
    /// ```
    pub fn context(&self, operation_id: &str) -> Option<OperationContext> {
        let log = self.log();
        log.operations
            .iter()
            .rev()
            .find(|c| c.id == operation_id)
            .cloned()
    }

    /// Asserts that `operation_id` has an event that `matcher` accepts, and returns the
    /// latest such event.
    ///
    /// # Panics
    ///
    /// With ``expected a `cancelled` event for operation "id", found none`` (or "expected an
    /// event matching the predicate …") and the whole log.
    ///
    /// ```
    /// use cancelable::testing::{Event, EventKind, OperationRecorder};
    /// let recorder = OperationRecorder::new();
    /// let op = recorder.attach(&cancelable::Cancelable::new().operation_id("op"));
    /// op.report_progress("step 1");
    /// op.report_progress("step 2");
    /// let last = recorder.assert_event("op", |e: &Event| matches!(e.kind, EventKind::Progress { .. }));
    /// assert!(matches!(last.kind, EventKind::Progress { message, .. } if message == "step 2"));
    /// ```
    #[track_caller]
    pub fn assert_event(&self, operation_id: &str, matcher: impl EventMatcher) -> Event {
        let found = self.find(operation_id, &matcher).pop();
        match found {
            Some(event) => event,
            None => panic!(
                "expected {} for operation {operation_id:?}, found none\n{}",
                matcher.describe(),
                self.render()
            ),
        }
    }

    /// Asserts that `operation_id` is attached and its latest recorded status is `status`.
    ///
    /// The status comes from the operation's own callbacks, so it is final once the operation
    /// ended: `Cancelled` for a cancelled operation, `Completed`, `Failed`.
    ///
    /// # Panics
    ///
    /// With `operation "id" not found` or `operation "id": expected status cancelled, got
    /// completed`, and the whole log.
    ///
    /// ```
    /// use cancelable::OperationStatus;
    /// use cancelable::testing::OperationRecorder;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let recorder = OperationRecorder::new();
    /// let op = recorder.attach(&cancelable::Cancelable::new().operation_id("op"));
    /// op.cancel();
    /// op.run(async {}).await.unwrap_err();
    /// recorder.assert_final_status("op", OperationStatus::Cancelled);
    /// # }
    /// ```
    #[track_caller]
    pub fn assert_final_status(&self, operation_id: &str, status: OperationStatus) {
        let Some(context) = self.context(operation_id) else {
            panic!("operation {operation_id:?} not found\n{}", self.render());
        };
        if context.status != status {
            let note = if context.status.is_finished() {
                ""
            } else {
                " (it has not ended)"
            };
            panic!(
                "operation {operation_id:?}: expected status {status}, got {}{note}\n{}",
                context.status,
                self.render()
            );
        }
    }

    /// Waits until `operation_id` has an event that `matcher` accepts (one already recorded
    /// counts) and returns the latest such event.
    ///
    /// The wait is on tokio's clock: on a paused runtime, `timeout` passes only as the runtime
    /// sleeps, so a short timeout costs nothing in real time.
    ///
    /// # Panics
    ///
    /// After `timeout`, with ``expected a `progress` event for operation "id" within 1s, found
    /// none (waited for at tests/x.rs:10:5)`` and the whole log. The panic is raised where the
    /// future is polled, so the message names the caller's line.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    /// use cancelable::testing::{EventType, OperationRecorder};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = OperationRecorder::new();
    /// let op = recorder.attach(&Cancelable::new().operation_id("worker"));
    /// let worker = tokio::spawn({
    ///     let op = op.clone();
    ///     async move {
    ///         op.run(async {
    ///             tokio::time::sleep(Duration::from_millis(300)).await;
    ///             Cancelable::current().unwrap().report_progress("ready");
    ///             std::future::pending::<()>().await
    ///         })
    ///         .await
    ///     }
    /// });
    /// let ready = recorder.wait_for("worker", EventType::Progress, Duration::from_secs(1)).await;
    /// assert_eq!(ready.at, Duration::from_millis(300));
    /// op.cancel();
    /// assert!(worker.await.unwrap().is_err());
    /// # }
    /// ```
    #[track_caller]
    pub fn wait_for<'a>(
        &'a self,
        operation_id: &'a str,
        matcher: impl EventMatcher + 'a,
        timeout: Duration,
    ) -> impl Future<Output = Event> + 'a {
        let caller = Location::caller();
        async move {
            let waiting = self.until(operation_id, &matcher);
            let found = tokio::time::timeout(timeout, waiting).await;
            match found {
                Ok(event) => event,
                Err(_) => panic!(
                    "expected {} for operation {operation_id:?} within {timeout:?}, found none \
                     (waited for at {caller})\n{}",
                    matcher.describe(),
                    self.render()
                ),
            }
        }
    }

    /// Waits, with no time limit, for an event of `operation_id` that `matcher` accepts
    /// (invariant 4).
    pub(crate) async fn until(&self, operation_id: &str, matcher: &dyn EventMatcher) -> Event {
        loop {
            let appended = self.inner.appended.notified();
            let mut appended = std::pin::pin!(appended);
            appended.as_mut().enable();
            if let Some(event) = self.find(operation_id, matcher).pop() {
                return event;
            }
            appended.await;
        }
    }

    /// The whole log, one event a line, as the assertions print it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::testing::OperationRecorder;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let recorder = OperationRecorder::new();
    /// assert_eq!(recorder.render(), "the recorder saw no events");
    /// let op = recorder.attach(&cancelable::Cancelable::new().named("job").operation_id("job-1"));
    /// tokio::time::sleep(Duration::from_millis(20)).await;
    /// op.report_progress("hello");
    /// assert_eq!(
    ///     recorder.render(),
    ///     "the recorder saw 1 event:\n    20ms job-1 \"job\": progress \"hello\""
    /// );
    /// # }
    /// ```
    pub fn render(&self) -> String {
        let log = self.log();
        let mut out = match log.events.len() {
            0 => return "the recorder saw no events".to_owned(),
            1 => "the recorder saw 1 event:".to_owned(),
            n => format!("the recorder saw {n} events:"),
        };
        for event in &log.events {
            let _ = write!(out, "\n    {event}");
        }
        out
    }

    fn record_lifecycle(&self, context: &OperationContext, kind: EventKind) {
        let mut log = self.log();
        if let Some(known) = log.operations.iter_mut().find(|c| c.id == context.id) {
            *known = context.clone();
        }
        self.append(
            log,
            Event {
                at: Duration::ZERO,
                operation_id: context.id.clone(),
                operation_name: context.name.clone(),
                kind,
            },
        );
    }

    fn record(&self, event: Event) {
        let log = self.log();
        self.append(log, event);
    }

    /// Stamps and appends under the lock (invariant 2), then wakes the waiters (invariant 4).
    fn append(&self, mut log: MutexGuard<'_, Log>, mut event: Event) {
        event.at = self.inner.clock.elapsed();
        log.events.push(event);
        drop(log);
        self.inner.appended.notify_waiters();
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        self.inner.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}
