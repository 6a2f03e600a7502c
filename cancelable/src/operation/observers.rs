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
//! 4. Progress listeners are copied on write, so a report calls them with no lock held; the
//!    `progress_listeners` flag is set after the first one is in place, or when the operation
//!    records its progress for a supervisor or a registry, and is never cleared.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tracing::Span;

use super::{Cancelable, State};
use crate::context::{OperationContext, ProgressEvent};
use crate::panic::isolated;
use crate::status::OperationStatus;

pub(crate) type LifecycleCallback = Box<dyn Fn(&OperationContext) + Send + Sync>;
type ProgressCallback = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

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

/// The callbacks an operation still waits to call, its progress listeners and its span.
#[derive(Default)]
pub(super) struct Observers {
    lifecycle: [Vec<LifecycleCallback>; 4],
    progress: Option<Arc<[ProgressCallback]>>,
    /// The last progress event, reused by the next report.
    spare_event: Option<Box<ProgressEvent>>,
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
    pub(crate) fn add_progress_listener(&self, f: impl Fn(&ProgressEvent) + Send + Sync + 'static) {
        let mut state = self.state();
        let progress = &mut state.observers().progress;
        let mut listeners = progress.as_deref().map(<[_]>::to_vec).unwrap_or_default();
        listeners.push(Arc::new(f));
        *progress = Some(listeners.into());
        self.inner.progress_listeners.store(true, Ordering::Release);
    }

    /// Keeps the last progress message from now on (for a supervisor's report).
    pub(crate) fn record_progress(&self) {
        self.inner.progress_listeners.store(true, Ordering::Release);
    }

    /// Whether an `on_progress` listener was ever added: one atomic load.
    #[inline]
    pub(crate) fn has_progress_listeners(&self) -> bool {
        self.inner.progress_listeners.load(Ordering::Acquire)
    }

    /// Hands one report to the listeners and the span (invariant 4).
    #[inline(never)]
    pub(crate) fn emit_progress(&self, message: String, metadata: Option<serde_json::Value>) {
        let (listeners, span, spare) = {
            let mut state = self.state();
            if self.inner.children.is_recording() || state.registry.is_some() {
                state.cold().last_progress = Some(message.clone());
            }
            match state.observers_mut() {
                Some(observers) => (
                    observers.progress.clone(),
                    observers.span.clone(),
                    observers.spare_event.take(),
                ),
                None => (None, None, None),
            }
        };
        let details = metadata.as_ref().map(tracing::field::display);
        match &span {
            Some(span) => tracing::debug!(parent: span, progress.metadata = details, "{message}"),
            None => tracing::debug!(progress.metadata = details, "{message}"),
        }
        let Some(listeners) = listeners else { return };
        let at = SystemTime::now();
        let event = match spare {
            Some(mut event) => {
                (event.message, event.metadata, event.at) = (message, metadata, at);
                event
            }
            None => Box::new(ProgressEvent {
                operation_id: self.id().to_owned(),
                operation_name: self.name().to_owned(),
                message,
                metadata,
                at,
            }),
        };
        for listener in listeners.iter() {
            isolated("on_progress", || listener(&event));
        }
        if let Some(observers) = self.state().observers_mut() {
            observers.spare_event.get_or_insert(event);
        }
    }
}
