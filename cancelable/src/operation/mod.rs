//! [`Cancelable`]: one operation, its scope and its sources.
//!
//! The handle, the state behind it and what can be read from it live here; each other part of
//! an operation has a file of its own, with the invariants its code keeps:
//!
//! * `build.rs`: constructors (one per source) and the by-value builders.
//! * `scope.rs`: the scope token, made when first needed, and the parent link; cancelling and
//!   checking.
//! * `run.rs`: [`Run`] and [`try_run`](Cancelable::try_run); `lifecycle.rs`: what `run` does
//!   when it starts and when it ends, however it ends; `kept.rs`: what a cancelled run keeps
//!   (its grace period and its supervisor's forcing).
//! * `shield.rs`: [`Shield`].
//! * `spawn.rs`: [`spawn`](Cancelable::spawn), [`spawn_blocking`](Cancelable::spawn_blocking)
//!   and [`OrCancelled`].
//! * `current.rs`: the operation whose body this thread is polling.
//! * `deadline.rs`: [`deadline`](Cancelable::deadline) and [`remaining`](Cancelable::remaining).
//! * `observers.rs`: the callbacks and span that watch an operation.
//! * `items.rs`: what the operation's streams delivered.
//!
//! The public methods that observe an operation (`on_*`, `report_progress`, `stream`) and the
//! integrations are written on top of this module, in their own modules; none of them reaches
//! into the fields here. The one module this one depends on that also depends on it is the
//! [registry](crate::OperationRegistry): an operation joins and leaves it from `run.rs`, and the
//! registry lists and cancels operations (see `lifecycle.rs`, "Registry", and `registry.rs`,
//! "Deadlock safety").
//!
//! # Invariants
//!
//! 1. Callbacks and the span live in a boxed `Observers`, absent until one is added, and the
//!    registry handle in the state: an operation nobody observes pays a few `None` checks in
//!    `start` and `finish`.
//! 2. `status` is written only by `run.rs` (`start` sets `Running`, `finish` the final status),
//!    always as an [`OperationStatus`] discriminant, so [`Cancelable::status`] decodes it with
//!    [`OperationStatus::from_u8`].

mod build;
mod children;
mod current;
mod deadline;
mod items;
mod kept;
mod lifecycle;
mod observers;
mod run;
mod scope;
mod shield;
mod spawn;
mod supervisor;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::Waker;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::time::Instant;

pub(crate) use self::children::Admissions;
pub(crate) use self::items::Items;
pub(crate) use self::observers::{Event, LifecycleCallback};
pub use self::run::{OwnedRun, Run, RunOn};
pub use self::shield::Shield;
pub use self::spawn::OrCancelled;
pub(crate) use self::supervisor::Supervisor;
use crate::context::{CancellationCause, Clocks, OperationContext};
use crate::error::{CancellationError, CancellationReason};
use crate::id::OperationId;
use crate::out_of_line::OutOfLine;
use crate::registry::{OperationRegistry, Slot};
use crate::source::Sources;
use crate::status::OperationStatus;
use crate::token::CancellationToken;

/// A handle to one cancelable operation.
///
/// Build it from its sources ([`with_timeout`](Self::with_timeout),
/// [`with_token`](Self::with_token), [`with_signal`](Self::with_signal),
/// [`with_condition`](Self::with_condition), [`any_of`](Self::any_of), …), name it, then
/// [`run`](Self::run) a future inside it. Clones are cheap and share the operation: hand one to
/// another task or thread to [`cancel`](Self::cancel) it or watch it.
///
/// Builder methods (`named`, `parent`, `metadata`, …) take and return the operation by value and
/// must be called before it is cloned.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cancelable::{Cancelable, CancellationReason, CancellationToken};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let shutdown = CancellationToken::new();
/// let op = Cancelable::with_timeout(Duration::from_secs(5))
///     .combine(Cancelable::with_token(shutdown.clone()))
///     .named("sync_inventory");
///
/// let result = op.run(async {
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     "done"
/// }).await;
///
/// let err = result.unwrap_err();
/// assert_eq!(err.reason(), CancellationReason::Timeout);
/// assert_eq!(err.operation_name(), Some("sync_inventory"));
/// # }
/// ```
#[derive(Clone)]
pub struct Cancelable {
    inner: Arc<Operation>,
}

// No user code runs under an operation's locks, and a callback that panics is contained
// (`observers.rs`): a panic leaves nothing half-updated, so a handle crosses `catch_unwind`.
impl std::panic::UnwindSafe for Cancelable {}
impl std::panic::RefUnwindSafe for Cancelable {}

pub(crate) struct Operation {
    /// The scope token, once made (`scope.rs`, invariant 2).
    scope: OnceLock<CancellationToken>,
    /// Set by the `parent` builder or adopted by `start` (`scope.rs`, invariant 3).
    parent: Parent,
    id: OnceLock<OperationId>,
    name: Cow<'static, str>,
    /// An [`OperationStatus`] discriminant (invariant 2).
    status: AtomicU8,
    started: AtomicBool,
    shields: AtomicU32,
    /// Whether a report has anything to do besides tracing (`observers.rs`).
    progress_flags: observers::ProgressFlags,
    /// The `on_progress` listeners, read by a report with no lock (`observers.rs`).
    progress: observers::ProgressListeners,
    items: Items,
    /// Admitted children and the operation's own end (`children.rs`).
    children: Admissions,
    state: Mutex<State>,
}

impl Drop for Operation {
    /// An operation dropped without running ends here (`children.rs`, invariant 2), and
    /// leaves the registry it joined when it was built (`registry.rs`, invariant 2).
    fn drop(&mut self) {
        self.leave();
        let state = self.state.get_mut();
        if let Some(slot) = state.slot {
            forget_dropped(state, slot, *self.started.get_mut());
        }
    }
}

/// The registry's side of dropping a registered operation that did not finish.
#[cold]
#[inline(never)]
fn forget_dropped(state: &State, slot: crate::registry::Slot, started: bool) {
    if let Some(registry) = &state.registry {
        registry.forget(slot, started);
    }
}

/// An operation's parent: given by the `parent` builder while the operation is not shared yet
/// (a plain write), or adopted once by `start` from the operation whose body starts it.
#[derive(Default)]
pub(crate) struct Parent {
    built: Option<Cancelable>,
    adopted: OnceLock<Cancelable>,
}

impl Parent {
    #[inline]
    pub(crate) fn get(&self) -> Option<&Cancelable> {
        match &self.built {
            Some(parent) => Some(parent),
            None => self.adopted.get(),
        }
    }

    /// Sets the parent of an operation nobody else holds (a builder's).
    fn build(&mut self, parent: Cancelable) {
        self.built = Some(parent);
    }

    /// Adopts `parent` unless there is one: `Err` gives it back.
    fn adopt(&self, parent: Cancelable) -> Result<(), Cancelable> {
        match self.built {
            Some(_) => Err(parent),
            None => self.adopted.set(parent),
        }
    }
}

/// A handle that does not keep its operation alive: how a registry holds the operations it
/// lists (`registry.rs`, invariant 3).
pub(crate) struct WeakCancelable(Weak<Operation>);

impl WeakCancelable {
    /// Whether a handle is alive: one plain load.
    #[inline]
    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// The operation, if a handle to it is still alive somewhere.
    #[inline]
    pub(crate) fn upgrade(&self) -> Option<Cancelable> {
        self.0.upgrade().map(|inner| Cancelable { inner })
    }
}

/// What `run` touches on every operation. The rest waits in [`Cold`], allocated only for an
/// operation that is observed, registered, given metadata, shielded, failed or cancelled.
#[derive(Default)]
pub(crate) struct State {
    sources: Sources,
    /// On tokio's clock (paused in tests); converted to `SystemTime` for contexts.
    started_at: Option<Instant>,
    ended_at: Option<Instant>,
    /// The cancellation the operation ended with, attributed to it.
    outcome: Option<CancellationError>,
    /// The registry joined when the operation was registered, until `finish` (or the drop of
    /// an operation that never ran) leaves it.
    registry: Option<OperationRegistry>,
    slot: Option<Slot>,
    cold: OutOfLine<Cold>,
}

#[derive(Default)]
struct Cold {
    failure: Option<String>,
    /// `try_run`'s body returned `Err` after the scope was cancelled: the error is a consequence
    /// of the cancellation, which is the operation's outcome.
    failed_after_cancel: bool,
    metadata: serde_json::Map<String, serde_json::Value>,
    shielded_run: Option<Waker>,
    observers: Option<Box<observers::Observers>>,
    /// How long a cancelled body keeps being polled (`run.rs`, invariant 4).
    grace: Option<Duration>,
    /// Woken when the admitted children reach zero (`children.rs`, invariant 4).
    children_done: Option<children::ChildrenDone>,
    /// For a shutdown root: what the operations under it report to (`supervisor.rs`).
    supervisor: Option<std::sync::Arc<Supervisor>>,
    /// The last progress message, kept for a registry or a supervisor.
    last_progress: Option<String>,
}

impl State {
    #[inline]
    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }
}

impl Default for Cancelable {
    fn default() -> Self {
        Cancelable::new()
    }
}

impl Cancelable {
    #[inline]
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock()
    }

    /// The operation id.
    pub fn id(&self) -> &str {
        self.inner.id.get_or_init(OperationId::generate).as_str()
    }

    /// The id, if it was set or generated already (this never generates one).
    pub(crate) fn known_id(&self) -> Option<&str> {
        self.inner.id.get().map(OperationId::as_str)
    }

    /// The operation name (empty when unnamed).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Where the operation is in its life.
    #[inline]
    pub fn status(&self) -> OperationStatus {
        OperationStatus::from_u8(self.inner.status.load(Ordering::Acquire))
    }

    #[inline]
    fn set_status(&self, status: OperationStatus) {
        self.inner.status.store(status as u8, Ordering::Release);
    }

    /// Why the operation was cancelled, if it was (and not after it completed).
    pub fn reason(&self) -> Option<CancellationReason> {
        self.cancellation().map(|e| e.reason())
    }

    /// The operation's cancellation, attributed to it, if it was cancelled before it finished.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason};
    ///
    /// let op = Cancelable::new().named("import");
    /// assert!(op.cancellation().is_none());
    /// op.cancel_with(CancellationReason::Manual, "user pressed stop");
    /// let cancellation = op.cancellation().unwrap();
    /// assert_eq!(cancellation.message(), Some("user pressed stop"));
    /// assert_eq!(cancellation.operation_name(), Some("import"));
    /// ```
    pub fn cancellation(&self) -> Option<CancellationError> {
        match self.status() {
            OperationStatus::Completed | OperationStatus::Failed => None,
            OperationStatus::Cancelled => self.state().outcome.clone(),
            _ if self.is_cancelled() => self.scope().node().with_error(|e| self.attribute(e)),
            _ => None,
        }
    }

    #[inline]
    fn attribute(&self, error: &CancellationError) -> CancellationError {
        error.for_operation(
            self.inner.id.get_or_init(OperationId::generate),
            &self.inner.name,
        )
    }

    /// A snapshot of the operation.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationStatus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = Cancelable::new().named("import").metadata("rows", 1200);
    /// op.run(async {}).await.unwrap();
    /// let ctx = op.context();
    /// assert_eq!((ctx.name.as_str(), ctx.status), ("import", OperationStatus::Completed));
    /// assert_eq!(ctx.metadata["rows"], 1200);
    /// # }
    /// ```
    pub fn context(&self) -> OperationContext {
        self.context_at(&Clocks::now())
    }

    /// A snapshot, with times converted against `clocks` (one reading for many snapshots).
    pub(crate) fn context_at(&self, clocks: &Clocks) -> OperationContext {
        let status = self.status();
        let cancellation = self.cancellation();
        let items = self.inner.items.delivered();
        let state = self.state();
        let cold = state.cold.as_deref();
        OperationContext {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            status,
            reason: cancellation.as_ref().map(CancellationError::reason),
            message: cancellation
                .as_ref()
                .and_then(|e| e.message().map(str::to_owned)),
            root_cause: cancellation.as_ref().and_then(CancellationCause::of),
            failure: cold.and_then(|c| c.failure.clone()),
            parent_id: self.inner.parent.get().map(|parent| parent.id().to_owned()),
            started_at: state.started_at.map(|at| clocks.wall(at)),
            ended_at: state.ended_at.map(|at| clocks.wall(at)),
            elapsed_ms: state
                .started_at
                .map(|start| clocks.elapsed_ms(start, state.ended_at)),
            progress: cold.and_then(|c| c.last_progress.clone()),
            metadata: cold.map(|c| c.metadata.clone()).unwrap_or_default(),
            items,
            exhausted: items.map(|_| self.inner.items.exhausted()),
        }
    }

    /// The innermost operation whose body is running in this task, if any.
    ///
    /// ```
    /// use cancelable::Cancelable;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// assert!(Cancelable::current().is_none());
    /// let op = Cancelable::new().named("outer");
    /// op.run(async {
    ///     assert_eq!(Cancelable::current().unwrap().name(), "outer");
    /// }).await.unwrap();
    /// # }
    /// ```
    pub fn current() -> Option<Cancelable> {
        current::with(|frame| frame.map(|frame| frame.op.clone()))
    }

    /// What the operation's streams delivered.
    #[inline]
    pub(crate) fn items(&self) -> &Items {
        &self.inner.items
    }

    /// Plain loads of what a snapshot reads (status, name, id, scope), for a registry scan
    /// to bring a batch of operations into cache at once; the result means nothing.
    #[inline]
    pub(crate) fn touch(&self) -> usize {
        let op = &*self.inner;
        usize::from(op.status.load(Ordering::Relaxed))
            + op.name.as_bytes().first().map_or(0, |b| usize::from(*b))
            + usize::from(op.id.get().is_some())
            + usize::from(op.scope.get().is_some_and(CancellationToken::is_cancelled))
    }

    /// The name as stored, for a registry's copy (a `'static` name is not copied).
    pub(crate) fn name_cow(&self) -> &Cow<'static, str> {
        &self.inner.name
    }

    /// A handle that does not keep the operation alive.
    pub(crate) fn downgrade_weak(&self) -> WeakCancelable {
        WeakCancelable(Arc::downgrade(&self.inner))
    }

    /// Whether the parent's id is `id` (for registry filters; no snapshot).
    pub(crate) fn parent_id_is(&self, id: &str) -> bool {
        self.inner
            .parent
            .get()
            .is_some_and(|parent| parent.id() == id)
    }

    /// `test` on the metadata, under the state lock (for registry filters; no snapshot).
    pub(crate) fn metadata_has(
        &self,
        test: impl FnOnce(&serde_json::Map<String, serde_json::Value>) -> bool,
    ) -> bool {
        let state = self.state();
        match state.cold.as_deref() {
            Some(cold) => test(&cold.metadata),
            None => test(&serde_json::Map::new()),
        }
    }

    /// How long `run` took, once it ended.
    pub(crate) fn run_duration(&self) -> Option<Duration> {
        let state = self.state();
        Some(state.ended_at?.saturating_duration_since(state.started_at?))
    }

    /// A stable address for the operation, for hashing it into a registry shard.
    pub(crate) fn address(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The operation, without keeping it alive.
    #[cfg(feature = "test-util")]
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Operation> {
        Arc::downgrade(&self.inner)
    }
}

impl fmt::Debug for Cancelable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancelable")
            .field("name", &self.name())
            .field("status", &self.status())
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Cancelable {
    /// Two handles are equal when they share one operation.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Cancelable {}

impl std::hash::Hash for Cancelable {
    /// The operation's address, consistent with `Eq`: clones hash alike.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.inner).hash(state);
    }
}

/// Sizes of an operation's parts, for the benchmarks' memory report.
#[cfg(feature = "test-util")]
pub(crate) fn internal_sizes() -> (usize, usize) {
    (
        std::mem::size_of::<Operation>(),
        std::mem::size_of::<State>(),
    )
}
