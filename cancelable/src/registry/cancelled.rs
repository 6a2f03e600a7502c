//! Cancelling through a registry: [`OperationRegistry::cancel`], `cancel_matching` and
//! `cancel_all`, and [`CancelledOperations`], what such a call cancelled.

use std::fmt;
use std::ops::Deref;

use super::OperationRegistry;
use crate::context::OperationContext;
use crate::error::{CancellationError, CancellationReason};
use crate::operation::Cancelable;

/// The operations one [`cancel`](crate::OperationRegistry::cancel),
/// [`cancel_matching`](crate::OperationRegistry::cancel_matching) or
/// [`cancel_all`](crate::OperationRegistry::cancel_all) call cancelled: exactly those this call
/// cancelled (not those cancelled already), as handles.
///
/// It derefs to a slice of [`Cancelable`], so `.len()`, `.is_empty()` and iteration work as on
/// a `Vec`; [`contexts`](Self::contexts) snapshots them, for a reply or a log line. The handles
/// keep their operations alive: a pending one whose owner dropped it stays listed until this is
/// dropped too.
///
/// ```
/// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
///
/// let registry = OperationRegistry::new();
/// let jobs: Vec<_> = ["job_acme_1", "job_acme_2", "job_other_1"]
///     .into_iter()
///     .map(|name| Cancelable::new().named(name).register_in(&registry))
///     .collect();
///
/// let stopped = registry.cancel_matching("job_acme_*", CancellationReason::Manual, "tenant left");
/// assert_eq!(stopped.len(), 2);
/// let mut names: Vec<_> = stopped.iter().map(|op| op.name()).collect();
/// names.sort();
/// assert_eq!(names, ["job_acme_1", "job_acme_2"]);
/// assert!(stopped.contexts().iter().all(|ctx| ctx.message.as_deref() == Some("tenant left")));
/// # drop(jobs);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CancelledOperations {
    ops: Vec<Cancelable>,
}

impl CancelledOperations {
    pub(super) fn new(ops: Vec<Cancelable>) -> Self {
        CancelledOperations { ops }
    }

    /// A snapshot of each cancelled operation (id, name, status, reason, message, …).
    pub fn contexts(&self) -> Vec<OperationContext> {
        self.ops.iter().map(Cancelable::context).collect()
    }

    /// The ids of the cancelled operations.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().operation_id("job-7").register_in(&registry);
    /// let stopped = registry.cancel_all(CancellationReason::Manual, "maintenance");
    /// assert_eq!(stopped.ids(), ["job-7"]);
    /// # drop(op);
    /// ```
    pub fn ids(&self) -> Vec<&str> {
        self.ops.iter().map(Cancelable::id).collect()
    }

    /// The handles themselves.
    pub fn into_vec(self) -> Vec<Cancelable> {
        self.ops
    }
}

impl Deref for CancelledOperations {
    type Target = [Cancelable];

    fn deref(&self) -> &[Cancelable] {
        &self.ops
    }
}

impl IntoIterator for CancelledOperations {
    type Item = Cancelable;
    type IntoIter = std::vec::IntoIter<Cancelable>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.into_iter()
    }
}

impl<'a> IntoIterator for &'a CancelledOperations {
    type Item = &'a Cancelable;
    type IntoIter = std::slice::Iter<'a, Cancelable>;

    fn into_iter(self) -> Self::IntoIter {
        self.ops.iter()
    }
}

impl fmt::Debug for CancelledOperations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.ops.iter().map(|op| (op.id(), op.name())))
            .finish()
    }
}

impl OperationRegistry {
    /// Cancels `targets` with one shared error; keeps those this call cancelled.
    fn cancel_each(
        mut targets: Vec<Cancelable>,
        reason: CancellationReason,
        message: String,
    ) -> CancelledOperations {
        const BATCH: usize = 32;
        let error = CancellationError::new(reason).with_message(message);
        // In address order: the operations' memory is then read as one forward sweep.
        targets.sort_unstable_by_key(Cancelable::address);
        let mut kept = 0;
        for start in (0..targets.len()).step_by(BATCH) {
            let batch = start..targets.len().min(start + BATCH);
            // Plain loads first, so that the batch's cache misses overlap (see `held_where`).
            let cancelled_already = targets[batch.clone()]
                .iter()
                .filter(|op| op.is_cancelled())
                .count();
            if cancelled_already == batch.len() {
                continue;
            }
            for i in batch {
                if targets[i].cancel_error(error.clone()) {
                    targets.swap(kept, i);
                    kept += 1;
                }
            }
        }
        targets.truncate(kept);
        CancelledOperations::new(targets)
    }

    /// Cancels the held operation with id `id` (pending or running); returns it if this call
    /// cancelled it (empty otherwise: no such operation, or cancelled or finished already).
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().operation_id("job-1").register_in(&registry);
    /// let err = op.run(async {
    ///     let stopped = registry.cancel("job-1", CancellationReason::Manual, "stop requested");
    ///     assert_eq!(stopped.ids(), ["job-1"]);
    ///     std::future::pending::<()>().await
    /// }).await.unwrap_err();
    /// assert_eq!(err.message(), Some("stop requested"));
    /// assert!(registry.cancel("job-1", CancellationReason::Manual, "again").is_empty());
    /// # }
    /// ```
    pub fn cancel(
        &self,
        id: &str,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> CancelledOperations {
        let mut targets = self.held();
        targets.retain(|op| op.known_id() == Some(id));
        OperationRegistry::cancel_each(targets, reason, message.into())
    }

    /// Cancels every held operation (pending or running) whose name matches `glob` (`*` any
    /// run of characters, `?` one character, e.g. `user_*`, `*_job`, `job_?`); returns those
    /// this call cancelled.
    ///
    /// A pending one's `run` then returns the cancellation without polling its body:
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let queue: Vec<_> = (0..3)
    ///     .map(|i| Cancelable::new().named(format!("job_acme_{i}")).register_in(&registry))
    ///     .collect();
    /// let stopped = registry.cancel_matching("job_acme_*", CancellationReason::Manual, "tenant left");
    /// assert_eq!(stopped.len(), 3);
    /// for op in &queue {
    ///     let err = op.run(async { unreachable!("never polled") }).await.unwrap_err();
    ///     assert_eq!(err.message(), Some("tenant left"));
    /// }
    /// # }
    /// ```
    pub fn cancel_matching(
        &self,
        glob: &str,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> CancelledOperations {
        let targets = self.held_where(|name| super::filter::glob_match(glob, name));
        OperationRegistry::cancel_each(targets, reason, message.into())
    }

    /// Cancels every held operation (pending or running); returns those this call cancelled.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().register_in(&registry);
    /// let err = op.run(async {
    ///     assert_eq!(registry.cancel_all(CancellationReason::Signal, "shutting down").len(), 1);
    ///     std::future::pending::<()>().await
    /// }).await.unwrap_err();
    /// assert!(err.is_signal());
    /// # }
    /// ```
    pub fn cancel_all(
        &self,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> CancelledOperations {
        OperationRegistry::cancel_each(self.held(), reason, message.into())
    }
}
