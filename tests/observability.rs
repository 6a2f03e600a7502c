//! Lifecycle callbacks, progress reports, context snapshots and tracing.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use cancelable::{Cancelable, OperationContext, OperationStatus, ProgressEvent};
use tokio::time::sleep;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::poll_once;

/// A log of callback calls, as `label:status`.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn hook(&self, label: &'static str) -> impl Fn(&OperationContext) + Send + Sync + 'static {
        let calls = self.0.clone();
        move |ctx| {
            calls
                .lock()
                .unwrap()
                .push(format!("{label}:{}", ctx.status))
        }
    }

    fn register_all(&self, op: &Cancelable) {
        op.on_start(self.hook("start"))
            .on_completed(self.hook("complete"))
            .on_cancelled(self.hook("cancel"))
            .on_failed(self.hook("error"));
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

// ===== lifecycle callbacks =====

#[tokio::test]
async fn completion_fires_start_then_complete_in_registration_order() {
    let calls = Calls::default();
    let op = Cancelable::new().named("sync");
    calls.register_all(&op);
    op.on_completed(calls.hook("complete-2"));
    let ended = Arc::new(Mutex::new(None));
    let e = ended.clone();
    op.on_completed(move |ctx| *e.lock().unwrap() = Some(ctx.ended_at.is_some()));

    assert_eq!(op.run(async { 1 }).await, Ok(1));
    assert_eq!(
        calls.take(),
        [
            "start:running",
            "complete:completed",
            "complete-2:completed"
        ]
    );
    assert_eq!(*ended.lock().unwrap(), Some(true));
}

#[tokio::test(start_paused = true)]
async fn cancellation_fires_only_on_cancel_after_reason_and_message_are_recorded() {
    let calls = Calls::default();
    let op = Cancelable::with_timeout(Duration::from_secs(1)).named("slow");
    calls.register_all(&op);
    let seen = Arc::new(Mutex::new(None));
    let (s, handle) = (seen.clone(), op.clone());
    op.on_cancelled(move |ctx| {
        *s.lock().unwrap() = Some((ctx.reason, ctx.message.clone(), handle.status()));
    });

    let err = op.run(sleep(Duration::from_secs(5))).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(calls.take(), ["start:running", "cancel:cancelled"]);
    let (reason, message, status) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(reason, Some(cancelable::CancellationReason::Timeout));
    assert_eq!(message.as_deref(), Some("timeout after 1s"));
    assert_eq!(status, OperationStatus::Cancelled);
}

#[tokio::test]
async fn an_err_from_try_run_fires_only_on_error_with_its_text() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    let error = Arc::new(Mutex::new(None));
    let e = error.clone();
    op.on_failed(move |ctx| *e.lock().unwrap() = ctx.failure.clone());

    let result: Result<(), std::io::Error> = op
        .try_run(async { Err(std::io::Error::other("disk full")) })
        .await;
    assert!(result.is_err());
    assert_eq!(calls.take(), ["start:running", "error:failed"]);
    assert_eq!(error.lock().unwrap().as_deref(), Some("disk full"));
}

#[tokio::test]
async fn a_panic_fires_on_error_and_still_propagates() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    let task = tokio::spawn({
        let op = op.clone();
        async move { op.run(async { panic!("exploded") }).await }
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(calls.take(), ["start:running", "error:failed"]);
}

#[tokio::test]
async fn a_dropped_run_future_fires_on_cancel() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    let message = Arc::new(Mutex::new(None));
    let m = message.clone();
    op.on_cancelled(move |ctx| *m.lock().unwrap() = ctx.message.clone());

    let mut run = Box::pin(op.run(std::future::pending::<()>()));
    assert!(poll_once(&mut run).is_pending());
    drop(run);
    assert_eq!(calls.take(), ["start:running", "cancel:cancelled"]);
    assert!(
        message
            .lock()
            .unwrap()
            .as_deref()
            .unwrap()
            .contains("dropped")
    );
}

#[tokio::test]
async fn cancel_before_run_fires_start_then_cancel() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    op.cancel();
    op.run(async {}).await.unwrap_err();
    assert_eq!(calls.take(), ["start:running", "cancel:cancelled"]);
}

#[tokio::test]
async fn callbacks_registered_during_the_run_fire() {
    let calls = Calls::default();
    let op = Cancelable::new();
    let c = calls.clone();
    op.run(async move {
        let current = Cancelable::current().unwrap();
        current.on_completed(c.hook("complete"));
        current.on_start(c.hook("late-start"));
    })
    .await
    .unwrap();
    assert_eq!(calls.take(), ["late-start:running", "complete:completed"]);
}

#[tokio::test]
async fn callbacks_registered_after_the_end_run_at_once_only_if_they_match() {
    let calls = Calls::default();
    let op = Cancelable::new();
    op.run(async {}).await.unwrap();
    calls.register_all(&op);
    assert_eq!(calls.take(), ["start:completed", "complete:completed"]);
}

#[tokio::test]
async fn callbacks_registered_before_start_wait_for_it() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    assert!(calls.take().is_empty());
    drop(op);
    assert!(calls.take().is_empty());
}

#[test]
fn no_callback_is_lost_when_registrations_race_the_completion() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut lost = 0;
    for _ in 0..3_000 {
        let op = Cancelable::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let registrar = std::thread::spawn({
            let (op, fired, barrier) = (op.clone(), fired.clone(), barrier.clone());
            move || {
                barrier.wait();
                let mut registered = 0;
                loop {
                    let fired = fired.clone();
                    op.on_completed(move |_| {
                        fired.fetch_add(1, Ordering::SeqCst);
                    });
                    registered += 1;
                    if op.status().is_finished() {
                        return registered;
                    }
                }
            }
        });
        barrier.wait();
        runtime.block_on(op.run(async {})).unwrap();
        let registered = registrar.join().unwrap();
        lost += registered - fired.load(Ordering::SeqCst);
    }
    assert_eq!(lost, 0, "every on_completed registered runs exactly once");
}

#[test]
fn exactly_one_ending_callback_fires_when_registration_races_the_end() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for round in 0..200 {
        let op = Cancelable::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let task = runtime.spawn({
            let op = op.clone();
            async move { op.run(tokio::task::yield_now()).await }
        });
        let registrar = std::thread::spawn({
            let (op, fired) = (op.clone(), fired.clone());
            move || {
                for _ in 0..3 {
                    let (a, b, c) = (fired.clone(), fired.clone(), fired.clone());
                    op.on_completed(move |_| {
                        a.fetch_add(1, Ordering::SeqCst);
                    });
                    op.on_cancelled(move |_| {
                        b.fetch_add(1, Ordering::SeqCst);
                    });
                    op.on_failed(move |_| {
                        c.fetch_add(1, Ordering::SeqCst);
                    });
                }
            }
        });
        if round % 2 == 0 {
            op.cancel();
        }
        registrar.join().unwrap();
        let _ = runtime.block_on(task).unwrap();
        assert_eq!(
            fired.load(Ordering::SeqCst),
            3,
            "round {round}: one ending, three callbacks"
        );
    }
}

#[tokio::test]
async fn a_panicking_callback_is_contained_logged_and_changes_nothing() {
    let (capture, _guard) = Capture::install();
    let calls = Calls::default();
    let op = Cancelable::new().named("fragile");
    op.on_completed(|_| panic!("callback exploded"));
    op.on_completed(calls.hook("complete"));
    op.on_progress(|_| panic!("listener exploded"));
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    op.on_progress(move |_| {
        h.fetch_add(1, Ordering::SeqCst);
    });

    let result = op
        .run(async {
            Cancelable::current().unwrap().report_progress("step");
            5
        })
        .await;
    assert_eq!(result, Ok(5));
    assert_eq!(op.status(), OperationStatus::Completed);
    assert_eq!(calls.take(), ["complete:completed"]);
    assert_eq!(heard.load(Ordering::SeqCst), 1);

    let errors: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|e| e.level == Level::ERROR)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].fields["panic"], "listener exploded");
    assert_eq!(errors[0].fields["callback"], "on_progress");
    assert_eq!(errors[1].fields["panic"], "callback exploded");
    assert_eq!(errors[1].fields["callback"], "on_completed");
}

// ===== progress =====

#[test]
fn progress_reaches_listeners_in_order_with_the_event_fields() {
    let events: Arc<Mutex<Vec<(usize, ProgressEvent)>>> = Arc::default();
    let op = Cancelable::new().named("import").operation_id("import-1");
    for listener in 0..2 {
        let events = events.clone();
        op.on_progress(move |event| events.lock().unwrap().push((listener, event.clone())));
    }
    let before = SystemTime::now();
    op.report_progress("starting");
    op.report_progress_with("rows", serde_json::json!({ "rows": 1200 }));
    let after = SystemTime::now();

    let events = events.lock().unwrap();
    let order: Vec<_> = events
        .iter()
        .map(|(l, e)| format!("{l}:{}", e.message))
        .collect();
    assert_eq!(order, ["0:starting", "1:starting", "0:rows", "1:rows"]);
    let (_, last) = &events[3];
    assert_eq!(last.operation_id, "import-1");
    assert_eq!(last.operation_name, "import");
    assert_eq!(last.metadata, Some(serde_json::json!({ "rows": 1200 })));
    assert_eq!(events[0].1.metadata, None);
    assert!(before <= last.at && last.at <= after);
}

#[test]
fn report_progress_without_listeners_does_not_allocate() {
    let _lock = tracing_lock();
    tracing::callsite::rebuild_interest_cache();
    let op = Cancelable::new();
    op.report_progress("warm up");

    let quiet = allocation_counter::measure(|| {
        for _ in 0..100 {
            op.report_progress("tick");
            op.report_progress_with("tick", serde_json::Value::Null);
        }
    });
    assert_eq!(quiet.count_total, 0);

    op.on_progress(|_| {});
    let heard = allocation_counter::measure(|| op.report_progress("tick"));
    assert!(
        heard.count_total > 0,
        "the check above can fail: a listener makes it allocate"
    );
}

// ===== context =====

#[tokio::test]
async fn context_snapshots_serialize_every_field() {
    let parent = Cancelable::new().named("batch").operation_id("batch-1");
    let op = Cancelable::new()
        .named("import")
        .operation_id("import-1")
        .parent(&parent)
        .metadata("rows", 1200);
    assert_eq!(op.context().duration(), None);
    let stream = op.stream(futures::stream::iter([1, 2, 3]));
    let total = op.run(futures::StreamExt::count(stream)).await.unwrap();
    assert_eq!(total, 3);

    let ctx = op.context();
    let json = serde_json::to_value(&ctx).unwrap();
    for key in [
        "id",
        "name",
        "status",
        "reason",
        "message",
        "failure",
        "parent_id",
        "started_at",
        "ended_at",
        "metadata",
        "items",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["status"], "completed");
    assert_eq!(json["parent_id"], "batch-1");
    assert_eq!(json["metadata"]["rows"], 1200);
    assert_eq!(json["items"], 3);
    let back: OperationContext = serde_json::from_value(json).unwrap();
    assert_eq!(back, ctx);
    assert!(ctx.duration().is_some());
    assert_eq!(
        ctx.ended_at
            .unwrap()
            .duration_since(ctx.started_at.unwrap())
            .ok(),
        ctx.duration()
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_context_records_reason_and_message() {
    let op = Cancelable::with_timeout(Duration::from_millis(250)).named("slow");
    op.run(std::future::pending::<()>()).await.unwrap_err();
    let ctx = op.context();
    assert_eq!(ctx.status, OperationStatus::Cancelled);
    assert_eq!(ctx.reason, Some(cancelable::CancellationReason::Timeout));
    assert_eq!(ctx.message.as_deref(), Some("timeout after 250ms"));
    assert_eq!(ctx.items, None);
    let json = serde_json::to_value(&ctx).unwrap();
    assert_eq!(json["reason"], "timeout");
}

// ===== tracing =====

#[tokio::test(start_paused = true)]
async fn each_operation_runs_in_its_span_with_lifecycle_events() {
    let (capture, _guard) = Capture::install();

    let op = Cancelable::new().named("fetch_user").operation_id("op-1");
    op.run(async {
        Cancelable::current()
            .unwrap()
            .report_progress_with("fetching 7", serde_json::json!({"id": 7}));
    })
    .await
    .unwrap();

    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name, "operation");
    assert_eq!(spans[0].fields["operation.id"], "op-1");
    assert_eq!(spans[0].fields["operation.name"], "fetch_user");

    let events = capture.events();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.level, e.message.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (Level::DEBUG, "operation started"),
            (Level::INFO, "fetching 7"),
            (Level::DEBUG, "operation completed"),
        ]
    );
    assert!(
        events.iter().all(|e| e.span.as_deref() == Some("op-1")),
        "{events:#?}"
    );
    assert_eq!(events[1].fields["progress.metadata"], r#"{"id":7}"#);
}

#[tokio::test(start_paused = true)]
async fn cancellation_and_failure_are_events_with_reason_message_and_error() {
    let (capture, _guard) = Capture::install();

    let slow = Cancelable::with_timeout(Duration::from_secs(2))
        .named("slow")
        .operation_id("op-slow");
    slow.run(std::future::pending::<()>()).await.unwrap_err();
    let failing = Cancelable::new().named("failing").operation_id("op-fail");
    let _ = failing
        .try_run(async { Err::<(), _>(std::io::Error::other("no route")) })
        .await;

    let events = capture.events();
    let cancelled = events
        .iter()
        .find(|e| e.message == "operation cancelled")
        .unwrap();
    assert_eq!(cancelled.level, Level::INFO);
    assert_eq!(cancelled.span.as_deref(), Some("op-slow"));
    assert_eq!(cancelled.fields["cancellation.reason"], "timeout");
    assert_eq!(cancelled.fields["cancellation.message"], "timeout after 2s");
    let failed = events
        .iter()
        .find(|e| e.message == "operation failed")
        .unwrap();
    assert_eq!(failed.level, Level::WARN);
    assert_eq!(failed.span.as_deref(), Some("op-fail"));
    assert_eq!(failed.fields["error"], "no route");
}

#[tokio::test]
async fn nested_operation_spans_nest_and_progress_from_other_threads_lands_in_the_span() {
    let (capture, _guard) = Capture::install();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);

    let outer = Cancelable::new().named("outer").operation_id("op-outer");
    outer
        .run(async {
            let inner = Cancelable::new().named("inner").operation_id("op-inner");
            inner
                .run(async {
                    let handle = Cancelable::current().unwrap();
                    let dispatch = dispatch.clone();
                    std::thread::spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            handle.report_progress("from a thread");
                        })
                    })
                    .join()
                    .unwrap();
                })
                .await
                .unwrap();
        })
        .await
        .unwrap();

    let spans = capture.spans();
    let inner = spans
        .iter()
        .find(|s| s.fields["operation.id"] == "op-inner")
        .unwrap();
    assert_eq!(inner.parent.as_deref(), Some("op-outer"));
    let progress = capture
        .events()
        .into_iter()
        .find(|e| e.message == "from a thread")
        .unwrap();
    assert_eq!(progress.span.as_deref(), Some("op-inner"));
}

// ===== a capturing subscriber =====

/// Serializes the tests that depend on which subscribers exist (tracing's interest cache is
/// process-wide).
fn tracing_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Debug)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<String, String>,
    /// The `operation.id` of the parent span.
    parent: Option<String>,
}

#[derive(Clone, Debug)]
struct EventRecord {
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
    /// The `operation.id` of the span the event belongs to.
    span: Option<String>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    events: Arc<Mutex<Vec<EventRecord>>>,
}

struct Installed {
    _default: tracing::subscriber::DefaultGuard,
    _lock: MutexGuard<'static, ()>,
}

impl Capture {
    /// Captures everything on this thread until the guard drops.
    ///
    /// tracing caches each callsite's interest when it is first hit. A callsite first hit by
    /// another test while this one installs its subscriber could keep "never" for good, so
    /// every callsite of the lifecycle is hit here first, and the cache rebuilt after.
    fn install() -> (Capture, Installed) {
        let lock = tracing_lock();
        warm_up_callsites();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let default = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        (
            capture,
            Installed {
                _default: default,
                _lock: lock,
            },
        )
    }

    fn spans(&self) -> Vec<SpanRecord> {
        self.spans.lock().unwrap().clone()
    }

    fn events(&self) -> Vec<EventRecord> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| !e.fields.contains_key("log.target"))
            .cloned()
            .collect()
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let span = ctx.span(id).unwrap();
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<SpanRecord>().map(op_id));
        let record = SpanRecord {
            name: attrs.metadata().name(),
            fields: fields.0,
            parent,
        };
        span.extensions_mut().insert(record.clone());
        self.spans.lock().unwrap().push(record);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let span = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<SpanRecord>().map(op_id));
        let record = EventRecord {
            level: *event.metadata().level(),
            message,
            fields: fields.0,
            span,
        };
        self.events.lock().unwrap().push(record);
    }
}

fn warm_up_callsites() {
    let quiet_panics = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let completes = Cancelable::new();
    completes.on_completed(|_| panic!("warm up"));
    completes.on_progress(|_| {});
    let mut run = Box::pin(completes.run(async {
        Cancelable::current().unwrap().report_progress("warm up");
    }));
    let _ = poll_once(&mut run);
    completes.report_progress("warm up");
    let cancelled = Cancelable::new();
    cancelled.cancel();
    let _ = poll_once(&mut Box::pin(cancelled.run(async {})));
    let fails = Cancelable::new();
    let _ = poll_once(&mut Box::pin(
        fails.try_run(async { Err::<(), _>(std::io::Error::other("x")) }),
    ));
    std::panic::set_hook(quiet_panics);
}

fn op_id(span: &SpanRecord) -> String {
    span.fields.get("operation.id").cloned().unwrap_or_default()
}
