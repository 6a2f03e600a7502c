//! Lifecycle callbacks: [`on_start`](Cancelable::on_start),
//! [`on_complete`](Cancelable::on_complete), [`on_cancel`](Cancelable::on_cancel) and
//! [`on_error`](Cancelable::on_error).
//!
//! # Invariants
//!
//! 1. Callbacks wait in the operation's state. `start` and `finish` record the status and take
//!    the callbacks due in one critical section of the state lock, and registering checks the
//!    status under the same lock: a callback registered while the event happens is either taken
//!    by it or sees that it already happened and runs at once. None is lost or run twice.
//! 2. `finish` runs once per operation and takes only the list matching the final status
//!    (dropping the other two), so exactly one of complete/cancel/error fires.
//! 3. Callbacks run with no lock held, in registration order, each inside `catch_unwind`: a
//!    panic is logged through `tracing` and the next callback still runs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::context::OperationContext;
use crate::error::OperationStatus;
use crate::operation::Cancelable;
use crate::progress::{ProgressCallback, ProgressEvent};

pub(crate) type LifecycleCallback = Box<dyn Fn(&OperationContext) + Send + Sync>;

/// A point in an operation's life that callbacks can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Start = 0,
    Complete = 1,
    Cancel = 2,
    Error = 3,
}

impl Event {
    /// The event that ends an operation with `status`.
    pub(crate) fn ending(status: OperationStatus) -> Event {
        match status {
            OperationStatus::Completed => Event::Complete,
            OperationStatus::Cancelled => Event::Cancel,
            _ => Event::Error,
        }
    }

    fn callback_name(self) -> &'static str {
        match self {
            Event::Start => "on_start",
            Event::Complete => "on_complete",
            Event::Cancel => "on_cancel",
            Event::Error => "on_error",
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

/// The callbacks an operation still waits to call.
#[derive(Default)]
pub(crate) struct Callbacks {
    lists: [Vec<LifecycleCallback>; 4],
    /// Copied on write, so that a report calls them with no lock held.
    pub(crate) progress: Option<Arc<[ProgressCallback]>>,
    /// The last event reported, reused by the next report.
    pub(crate) spare_event: Option<Box<ProgressEvent>>,
}

impl Callbacks {
    pub(crate) fn take(&mut self, event: Event) -> Vec<LifecycleCallback> {
        std::mem::take(&mut self.lists[event as usize])
    }

    /// The callbacks for the event that ends the operation; the other endings' are dropped.
    pub(crate) fn take_ending(&mut self, event: Event) -> Vec<LifecycleCallback> {
        let due = self.take(event);
        self.lists = Default::default();
        due
    }
}

/// Calls `due` in order with the context made by `context`.
pub(crate) fn run(
    event: Event,
    due: Vec<LifecycleCallback>,
    context: impl FnOnce() -> OperationContext,
) {
    let context = context();
    for callback in due {
        isolated(event.callback_name(), || callback(&context));
    }
}

/// Runs a callback; a panic is logged and goes no further.
pub(crate) fn isolated(kind: &str, callback: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(callback)) {
        tracing::error!(
            callback = kind,
            panic = crate::panic_message(&*panic),
            "an operation callback panicked; the other callbacks still run"
        );
    }
}

// ===== impl Cancelable =====

impl Cancelable {
    /// Calls `f` when the operation starts (status `Running`, before the body is first polled),
    /// or at once if it already has.
    ///
    /// Callbacks can be registered before or during the run, from any thread; they run on the
    /// thread that polls `run`, in registration order. One that panics is contained and logged
    /// through `tracing`: the others still run and the operation's outcome does not change.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use cancelable::{Cancelable, OperationStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let started = Arc::new(AtomicBool::new(false));
    /// let op = Cancelable::new().named("sync");
    /// let flag = started.clone();
    /// op.on_start(move |ctx| {
    ///     assert_eq!(ctx.status, OperationStatus::Running);
    ///     flag.store(true, Ordering::SeqCst);
    /// });
    /// op.run(async {}).await.unwrap();
    /// assert!(started.load(Ordering::SeqCst));
    /// # }
    /// ```
    pub fn on_start(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Start, Box::new(f))
    }

    /// Calls `f` when the operation completes (`run` returned the body's output), after its
    /// status and end time are recorded; at once if it already completed. See
    /// [`on_start`](Self::on_start) for how callbacks run.
    ///
    /// Exactly one of `on_complete`, [`on_cancel`](Self::on_cancel) and
    /// [`on_error`](Self::on_error) fires for an operation that ran.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use cancelable::{Cancelable, OperationStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let seen = Arc::new(Mutex::new(None));
    /// let op = Cancelable::new();
    /// let s = seen.clone();
    /// op.on_complete(move |ctx| *s.lock().unwrap() = Some(ctx.status));
    /// op.run(async { 7 }).await.unwrap();
    /// assert_eq!(*seen.lock().unwrap(), Some(OperationStatus::Completed));
    /// # }
    /// ```
    pub fn on_complete(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Complete, Box::new(f))
    }

    /// Calls `f` when the operation ends cancelled, after its status, reason and message are
    /// recorded (the context carries them); at once if it already did. See
    /// [`on_start`](Self::on_start) for how callbacks run.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let why = Arc::new(Mutex::new(None));
    /// let op = Cancelable::with_timeout(Duration::from_millis(10));
    /// let w = why.clone();
    /// op.on_cancel(move |ctx| *w.lock().unwrap() = ctx.message.clone());
    /// op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(why.lock().unwrap().as_deref(), Some("timeout after 10ms"));
    /// # }
    /// ```
    pub fn on_cancel(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Cancel, Box::new(f))
    }

    /// Calls `f` when the operation fails (its body panicked, or `try_run`'s body returned
    /// `Err`), after the error text is recorded; at once if it already did. See
    /// [`on_start`](Self::on_start) for how callbacks run.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use cancelable::Cancelable;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let error = Arc::new(Mutex::new(None));
    /// let op = Cancelable::new();
    /// let e = error.clone();
    /// op.on_error(move |ctx| *e.lock().unwrap() = ctx.error.clone());
    /// let result: Result<(), std::io::Error> =
    ///     op.try_run(async { Err(std::io::Error::other("disk full")) }).await;
    /// assert!(result.is_err());
    /// assert_eq!(error.lock().unwrap().as_deref(), Some("disk full"));
    /// # }
    /// ```
    pub fn on_error(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Error, Box::new(f))
    }

    fn add_callback(&self, event: Event, callback: LifecycleCallback) -> &Self {
        let mut state = self.state();
        match event.passed(self.status()) {
            None => state.observers().callbacks.lists[event as usize].push(callback),
            Some(true) => {
                drop(state);
                let context = self.context();
                isolated(event.callback_name(), || callback(&context));
            }
            Some(false) => {}
        }
        self
    }
}
