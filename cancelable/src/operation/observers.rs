//! What watches an operation besides its registry: lifecycle callbacks, progress listeners and
//! the operation's span. The public methods that add them are in `callbacks.rs` and
//! `progress.rs`; this file keeps the data and the rules.
//!
//! # Invariants
//!
//! 1. Callbacks wait in the operation's state. `start` and `finish` record the status and take
//!    the callbacks due in one critical section of the state lock, and registering checks the
//!    status under the same lock: a callback registered while the event happens is either taken
//!    by it or sees that it already happened and runs at once. None is lost or run twice.
//! 2. `finish` runs once per operation and takes only the list matching the final status
//!    (dropping the other two), so exactly one of completed/cancelled/failed fires.
//! 3. Callbacks run with no lock held, in registration order, each isolated
//!    ([`crate::panic::isolated`]): a panic is logged and the next callback still runs.
//! 4. Progress listeners live in the operation itself, in a list that only grows and that a
//!    report walks with no lock (`observers/listeners.rs`); its word is set by the first
//!    listener, or when the operation starts keeping its progress for a supervisor or a
//!    registry (`record_progress`), and is never cleared. A report takes the state lock only
//!    for that keeping, or for the span when a subscriber wants the event.
//! 5. A report borrows: the event handed to the listeners points into the report's message and
//!    metadata and the operation's id and name, and reads the clock only if a listener asks
//!    (`ProgressEvent::at`). The id is made and formatted when the first listener is added, so
//!    a report only reads it. The one copy made is the message kept as `last_progress` for a
//!    registered or supervised operation, written into the previous message's buffer.

mod listeners;

use std::any::Any;
use std::mem::ManuallyDrop;

use tracing::Span;

use super::{Cancelable, Operation, State};
use crate::context::{OperationContext, ProgressEvent};
use crate::id::OperationId;
use crate::panic::{isolated, message};
use crate::status::OperationStatus;

pub(crate) use self::listeners::{ProgressFlags, ProgressListeners};

pub(crate) type LifecycleCallback = Box<dyn Fn(&OperationContext) + Send + Sync>;

/// A point in an operation's life that callbacks can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Start = 0,
    Completed = 1,
    Cancelled = 2,
    Failed = 3,
}

impl Event {
    /// The event that ends an operation with `status`.
    #[inline]
    pub(super) fn ending(status: OperationStatus) -> Event {
        match status {
            OperationStatus::Completed => Event::Completed,
            OperationStatus::Cancelled => Event::Cancelled,
            _ => Event::Failed,
        }
    }

    fn callback_name(self) -> &'static str {
        match self {
            Event::Start => "on_start",
            Event::Completed => "on_completed",
            Event::Cancelled => "on_cancelled",
            Event::Failed => "on_failed",
        }
    }

    /// Whether an operation in `status` is past this event: `Some(true)` if it happened,
    /// `Some(false)` if it never will, `None` if it may still come.
    fn passed(self, status: OperationStatus) -> Option<bool> {
        match (self, status) {
            (_, OperationStatus::Pending) => None,
            (Event::Start, _) => Some(true),
            (_, OperationStatus::Running) => None,
            (event, status) => Some(event == Event::ending(status)),
        }
    }
}

/// The callbacks an operation still waits to call, and its span.
#[derive(Default)]
pub(super) struct Observers {
    lifecycle: [Vec<LifecycleCallback>; 4],
    /// The operation's span while it runs, when a subscriber wants it.
    pub(super) span: Option<Span>,
}

impl Observers {
    #[inline]
    pub(super) fn take(&mut self, event: Event) -> Vec<LifecycleCallback> {
        std::mem::take(&mut self.lifecycle[event as usize])
    }

    /// The callbacks for the event that ends the operation; the other endings' are dropped
    /// (invariant 2).
    #[inline]
    pub(super) fn take_ending(&mut self, event: Event) -> Vec<LifecycleCallback> {
        let due = self.take(event);
        self.lifecycle = Default::default();
        due
    }
}

impl State {
    #[inline]
    pub(super) fn observers(&mut self) -> &mut Observers {
        self.cold().observers.get_or_insert_with(Box::default)
    }

    /// The observers, if anything was ever set up on this operation.
    #[inline]
    pub(super) fn observers_mut(&mut self) -> Option<&mut Observers> {
        self.cold
            .as_deref_mut()
            .and_then(|cold| cold.observers.as_deref_mut())
    }
}

/// Calls `due` in order with the context made by `context` (invariant 3).
pub(super) fn run(
    event: Event,
    due: Vec<LifecycleCallback>,
    context: impl FnOnce() -> OperationContext,
) {
    let context = context();
    for callback in due {
        isolated(event.callback_name(), || callback(&context));
    }
}

impl Cancelable {
    /// Adds `callback` for `event`, or runs it at once if the event already happened
    /// (invariant 1).
    pub(crate) fn add_lifecycle_callback(&self, event: Event, callback: LifecycleCallback) {
        let mut state = self.state();
        match event.passed(self.status()) {
            None => state.observers().lifecycle[event as usize].push(callback),
            Some(true) => {
                drop(state);
                let context = self.context();
                isolated(event.callback_name(), || callback(&context));
            }
            Some(false) => {}
        }
    }

    /// Adds a progress listener after the others (invariant 4).
    pub(crate) fn add_progress_listener(
        &self,
        f: impl Fn(&ProgressEvent<'_>) + Send + Sync + 'static,
    ) {
        // Made now, so that a report only reads it (invariant 5).
        self.id();
        self.inner.progress.add(Box::new(f));
        self.inner.progress_flags.listened();
    }

    /// Keeps the last progress message from now on, for a registry or a supervisor.
    pub(crate) fn record_progress(&self) {
        self.inner.progress_flags.keep_last();
    }

    /// Whether a report has anything to do besides tracing: one atomic load.
    #[inline]
    pub(crate) fn progress_flagged(&self) -> bool {
        self.inner.progress_flags.is_observed()
    }

    /// Whether a subscriber wants the progress event: the global max level (one relaxed load),
    /// then the callsite's interest only when some subscriber could want DEBUG at all.
    #[inline]
    pub(crate) fn progress_traced() -> bool {
        Cancelable::progress_maybe_traced() && progress_enabled()
    }

    /// Whether some subscriber could want DEBUG events at all: one relaxed load.
    #[inline(always)]
    fn progress_maybe_traced() -> bool {
        use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
        tracing::Level::DEBUG <= STATIC_MAX_LEVEL && tracing::Level::DEBUG <= LevelFilter::current()
    }

    /// Hands one report to the span, the listeners and a registry or supervisor
    /// ([`Operation::emit_progress`]).
    #[inline(always)]
    pub(crate) fn emit_progress(&self, message: &str, metadata: Option<&serde_json::Value>) {
        self.inner.emit_progress(message, metadata);
    }
}

impl Operation {
    /// Hands one report to the listeners with no lock (invariant 4). A registry, a supervisor,
    /// a subscriber that could want DEBUG, or an id not formatted yet take the slow path. The
    /// fast one calls nothing before the listener, so it saves no register.
    #[inline(never)]
    fn emit_progress(&self, message: &str, metadata: Option<&serde_json::Value>) {
        if self.progress_flags.keeps_last() || Cancelable::progress_maybe_traced() {
            return self.emit_progress_slowly(message, metadata);
        }
        let Some(listeners) = self.progress.listeners() else {
            return;
        };
        let Some(id) = self.formatted_id() else {
            return self.emit_progress_slowly(message, metadata);
        };
        listeners.call(&self.progress_event(id, message, metadata));
    }

    /// [`emit_progress`](Self::emit_progress) that keeps the message for a registry or a
    /// supervisor (invariant 5), emits the tracing event in the operation's span, and makes the
    /// id if it has to.
    #[cold]
    #[inline(never)]
    fn emit_progress_slowly(&self, message: &str, metadata: Option<&serde_json::Value>) {
        let traced = Cancelable::progress_traced();
        let span = if traced || self.progress_flags.keeps_last() {
            let mut state = self.state.lock();
            if self.children.is_recording() || state.registry.is_some() {
                keep(&mut state.cold().last_progress, message);
            }
            match state.observers_mut() {
                Some(observers) if traced => observers.span.clone(),
                _ => None,
            }
        } else {
            None
        };
        if traced {
            let details = metadata.map(tracing::field::display);
            match &span {
                Some(span) => {
                    tracing::debug!(parent: span, progress.metadata = details, "{message}")
                }
                None => tracing::debug!(progress.metadata = details, "{message}"),
            }
        }
        if let Some(listeners) = self.progress.listeners() {
            let id = self.id.get_or_init(OperationId::generate).as_str();
            listeners.call(&self.progress_event(id, message, metadata));
        }
    }

    /// The listeners and flags of an operation `combine` makes of this one
    /// (`listeners.rs`, invariant 4).
    pub(super) fn progress_handed_on(&self) -> (ProgressFlags, ProgressListeners) {
        (self.progress_flags.handed_on(), self.progress.handed_on())
    }

    /// Takes the listeners and flags `progress_handed_on` made.
    pub(super) fn take_progress(&mut self, (flags, listeners): (ProgressFlags, ProgressListeners)) {
        self.progress_flags = flags;
        self.progress = listeners;
    }

    /// The id, if it is already made and formatted: loads only, no call.
    #[inline(always)]
    fn formatted_id(&self) -> Option<&str> {
        self.id.get()?.formatted()
    }

    /// The event of a report, borrowing everything (invariant 5): it has nothing to free, and
    /// `ManuallyDrop` spares it the check of its lazy time's `OnceLock`.
    #[inline(always)]
    fn progress_event<'a>(
        &'a self,
        id: &'a str,
        message: &'a str,
        metadata: Option<&'a serde_json::Value>,
    ) -> ManuallyDrop<ProgressEvent<'a>> {
        ManuallyDrop::new(ProgressEvent::borrowed(id, &self.name, message, metadata))
    }
}

/// The callsite's interest in the progress event, out of line: a report's frame does not pay
/// for the dispatcher call when no subscriber wants DEBUG.
#[cold]
#[inline(never)]
fn progress_enabled() -> bool {
    tracing::enabled!(tracing::Level::DEBUG)
}

/// Logs a listener's panic with the event [`isolated`] logs, and drops it: one call for the
/// report's landing pad.
#[cold]
#[inline(never)]
pub(super) fn listener_panicked(panic: Box<dyn Any + Send>) {
    tracing::error!(
        callback = "on_progress",
        panic = message(&*panic),
        "the on_progress callback panicked; the other callbacks still run"
    );
}

/// `message` as the last progress, in the buffer of the one before when it fits.
#[cold]
#[inline(never)]
fn keep(last: &mut Option<String>, message: &str) {
    match last {
        Some(last) => {
            last.clear();
            last.push_str(message);
        }
        None => *last = Some(message.to_owned()),
    }
}
