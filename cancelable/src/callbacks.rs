//! Lifecycle callbacks: [`on_start`](Cancelable::on_start) when the body is about to run, and
//! one of [`on_completed`](Cancelable::on_completed), [`on_cancelled`](Cancelable::on_cancelled)
//! or [`on_failed`](Cancelable::on_failed) once its final status is recorded.
//!
//! The ending callbacks are named after the status they observe. They are not
//! [`CancellationToken::on_cancel`](crate::CancellationToken::on_cancel), which runs at the
//! moment of the cancel, on the cancelling thread: `on_cancelled` runs when `run` ends
//! cancelled, after any shield, on the thread that polls `run`.

use crate::context::OperationContext;
use crate::operation::{Cancelable, Event, LifecycleCallback};

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
    /// Exactly one of `on_completed`, [`on_cancelled`](Self::on_cancelled) and
    /// [`on_failed`](Self::on_failed) fires for an operation that ran.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use cancelable::{Cancelable, OperationStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let seen = Arc::new(Mutex::new(None));
    /// let op = Cancelable::new();
    /// let s = seen.clone();
    /// op.on_completed(move |ctx| *s.lock().unwrap() = Some(ctx.status));
    /// op.run(async { 7 }).await.unwrap();
    /// assert_eq!(*seen.lock().unwrap(), Some(OperationStatus::Completed));
    /// # }
    /// ```
    pub fn on_completed(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Completed, Box::new(f))
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
    /// op.on_cancelled(move |ctx| *w.lock().unwrap() = ctx.message.clone());
    /// op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(why.lock().unwrap().as_deref(), Some("timeout after 10ms"));
    /// # }
    /// ```
    pub fn on_cancelled(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Cancelled, Box::new(f))
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
    /// op.on_failed(move |ctx| *e.lock().unwrap() = ctx.failure.clone());
    /// let result: Result<(), std::io::Error> =
    ///     op.try_run(async { Err(std::io::Error::other("disk full")) }).await;
    /// assert!(result.is_err());
    /// assert_eq!(error.lock().unwrap().as_deref(), Some("disk full"));
    /// # }
    /// ```
    pub fn on_failed(&self, f: impl Fn(&OperationContext) + Send + Sync + 'static) -> &Self {
        self.add_callback(Event::Failed, Box::new(f))
    }

    fn add_callback(&self, event: Event, callback: LifecycleCallback) -> &Self {
        self.add_lifecycle_callback(event, callback);
        self
    }
}
