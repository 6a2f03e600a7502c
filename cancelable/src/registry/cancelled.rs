//! [`CancelledOperations`]: what a registry's `cancel*` call cancelled.

use std::fmt;
use std::ops::Deref;

use crate::context::OperationContext;
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
