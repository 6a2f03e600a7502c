//! Progress reports: [`Cancelable::report_progress`], [`Cancelable::on_progress`] and
//! [`ProgressEvent`] (kept as an [`OwnedProgressEvent`](crate::OwnedProgressEvent)).
//!
//! # Cost
//!
//! With no `on_progress` callback and no `tracing` subscriber interested in the event, a report
//! is one atomic load and tracing's level check: no allocation, no lock, no id generated, and
//! the message is never converted. With callbacks and no subscriber, it takes no lock either:
//! the listeners are read from a list that only grows, and called with a [`ProgressEvent`]
//! that borrows the message, the metadata, the id and the name. A report with a `&str`
//! message allocates nothing and reads the clock only if a callback asks for
//! [`ProgressEvent::at`]. A registered or supervised operation keeps the last message, under
//! the state lock, written into the previous one's buffer.

use std::borrow::Cow;

use crate::context::ProgressEvent;
use crate::operation::Cancelable;

impl Cancelable {
    /// Reports progress: calls the [`on_progress`](Self::on_progress) callbacks in order, on
    /// this thread, and emits a `DEBUG` event in the operation's span.
    ///
    /// Synchronous, callable from any thread, before, during or after the run. When nobody
    /// listens (no callback, no interested subscriber) it returns at once: no allocation, no
    /// lock, and `message` is not even converted. `message` is anything that makes a
    /// `Cow<str>`: a `&str` (borrowed for the callbacks, never copied), a `String`, a `Cow`.
    ///
    /// ```
    /// use cancelable::Cancelable;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = Cancelable::new().named("fetch_user");
    /// op.on_progress(|event| println!("{}: {}", event.operation_name, event.message));
    /// op.run(async {
    ///     Cancelable::current().unwrap().report_progress("fetching 7");
    /// }).await.unwrap();
    /// # }
    /// ```
    #[inline]
    pub fn report_progress<'m>(&self, message: impl Into<Cow<'m, str>>) {
        if self.progress_observed() {
            self.emit_progress(&message.into(), None);
        }
    }

    /// [`report_progress`](Self::report_progress) with structured details.
    ///
    /// ```
    /// use cancelable::Cancelable;
    /// let op = Cancelable::new();
    /// op.on_progress(|event| assert_eq!(event.metadata.as_ref().unwrap()["done"], 3));
    /// op.report_progress_with("3 of 10", serde_json::json!({ "done": 3, "total": 10 }));
    /// ```
    #[inline]
    pub fn report_progress_with<'m>(
        &self,
        message: impl Into<Cow<'m, str>>,
        metadata: serde_json::Value,
    ) {
        if self.progress_observed() {
            self.emit_progress(&message.into(), Some(&metadata));
        }
    }

    /// Calls `f` with every progress report from now on, after the callbacks registered before
    /// it. A callback that panics is contained and logged; the others still run.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let op = cancelable::Cancelable::new();
    /// let r = reports.clone();
    /// op.on_progress(move |_| { r.fetch_add(1, Ordering::Relaxed); });
    /// op.report_progress("one");
    /// op.report_progress("two");
    /// assert_eq!(reports.load(Ordering::Relaxed), 2);
    /// ```
    pub fn on_progress(&self, f: impl Fn(&ProgressEvent<'_>) + Send + Sync + 'static) -> &Self {
        self.add_progress_listener(f);
        self
    }

    /// Whether a report would reach anyone: a callback, a registry or supervisor keeping the
    /// last message, or a subscriber.
    #[inline]
    pub(crate) fn progress_observed(&self) -> bool {
        self.progress_flagged() || Cancelable::progress_traced()
    }
}
