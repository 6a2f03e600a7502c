//! A subscriber that captures spans and events, for the tests that read what was traced.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use cancelable::Cancelable;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::poll_once;

/// Serializes the tests that depend on which subscribers exist (tracing's interest cache is
/// process-wide).
pub(crate) fn tracing_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Debug)]
pub(crate) struct SpanRecord {
    pub(crate) name: &'static str,
    pub(crate) fields: BTreeMap<String, String>,
    /// The `operation.id` of the parent span.
    pub(crate) parent: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct EventRecord {
    pub(crate) level: Level,
    pub(crate) message: String,
    pub(crate) fields: BTreeMap<String, String>,
    /// The `operation.id` of the span the event belongs to.
    pub(crate) span: Option<String>,
}

#[derive(Clone, Default)]
pub(crate) struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
    events: Arc<Mutex<Vec<EventRecord>>>,
}

pub(crate) struct Installed {
    _default: tracing::subscriber::DefaultGuard,
    _lock: MutexGuard<'static, ()>,
}

impl Capture {
    /// Captures everything on this thread until the guard drops.
    ///
    /// tracing caches each callsite's interest when it is first hit. A callsite first hit by
    /// another test while this one installs its subscriber could keep "never" for good, so
    /// every callsite of the lifecycle is hit here first, and the cache rebuilt after.
    pub(crate) fn install() -> (Capture, Installed) {
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

    pub(crate) fn spans(&self) -> Vec<SpanRecord> {
        self.spans.lock().unwrap().clone()
    }

    pub(crate) fn events(&self) -> Vec<EventRecord> {
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

pub(crate) fn warm_up_callsites() {
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

pub(crate) fn op_id(span: &SpanRecord) -> String {
    span.fields.get("operation.id").cloned().unwrap_or_default()
}
