//! [`Cancelable`]: one operation, its scope and its sources.
//!
//! # Invariants
//!
//! 1. Every operation has one [`CancellationToken`], its *scope token*. Every source ends by
//!    cancelling it: a timeout, signal or condition when `run` polls it, a token through a link
//!    in the token tree, a parent through a `Parent` link.
//! 2. The scope token is made when first needed: when `run` first parks, when something links
//!    to it or waits on it (`token()`, `cancelled()`, a child's own scope token), when it is
//!    cancelled, or at construction for sources that link (`with_token`, `any_of`). Until then
//!    the operation is cancelled exactly when its parent is: [`Cancelable::is_cancelled`] walks
//!    up to the first ancestor that has a scope token. Making the token links it to the parent
//!    (making the parent's first, iteratively); a body that completes on its first poll never
//!    allocates a token node or touches its parent's.
//! 3. The parent is set once, by the `parent` builder or adopted by `start`. Making the scope
//!    token and adopting a parent both hold the state lock, so the new token is linked to the
//!    parent exactly once whichever comes first. Lock order: an operation's state lock may be
//!    held while taking its parent's (never the other way).
//! 4. `run` arms its sources when first polled (a timeout's clock starts then) and polls them
//!    itself; the timer is created only when the body first returns `Pending`. Nothing is
//!    spawned.
//! 5. While `shields > 0`, `run` keeps polling the body even though the scope token is
//!    cancelled; it drops the body at the first poll that sees `shields == 0`.
//! 6. An operation runs once. However `run` ends (output, cancellation, panic, drop) its status is
//!    final, its waker registration and timer are gone, and its signal subscriptions are dropped.
//! 7. `start` and `finish` each record the status, take the callbacks due and join or leave the
//!    registry in one critical section of the state lock; then, with no lock held, they emit
//!    the tracing event and call the callbacks. `finish` runs once, so exactly one of
//!    complete/cancel/error fires, after the final status, reason and message are recorded.
//! 8. Callbacks and the span live in a boxed `Observers`, absent until one is added, and the
//!    registry handle in the state: an operation nobody observes pays a few `None` checks in
//!    `start` and `finish`.
//!
//! # Lock order
//!
//! An operation's state lock may be held while taking a registry's locks (joining, leaving);
//! the registry never takes an operation's state lock while holding its own. No lock is held
//! while calling a subscriber or user code.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use pin_project_lite::pin_project;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};
use tracing::Span;

use crate::callbacks::{self, Callbacks, Event};
use crate::context::OperationContext;
use crate::current::{self, Frame};
use crate::error::{CancellationError, CancellationReason, OperationStatus};
use crate::id::OperationId;
use crate::registry::{OperationRegistry, Slot};
use crate::source::{Armed, ArmedDeadline, CancellationSource, Sources, predicate_name};
use crate::token::{CancellationToken, Link};

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
    pub(crate) inner: Arc<Operation>,
}

pub(crate) struct Operation {
    /// The scope token, once made (invariant 2).
    scope: OnceLock<CancellationToken>,
    /// Set by the `parent` builder or adopted by `start` (invariant 3).
    parent: OnceLock<Cancelable>,
    id: OnceLock<OperationId>,
    name: Cow<'static, str>,
    status: AtomicU8,
    started: AtomicBool,
    shields: AtomicUsize,
    /// Set once an `on_progress` callback is registered: `report_progress`'s fast path.
    pub(crate) progress_listeners: AtomicBool,
    /// Items delivered by the operation's streams; `u64::MAX` until one is attached.
    pub(crate) items: AtomicU64,
    /// `true` once one of the operation's streams ran to its end.
    pub(crate) exhausted: AtomicBool,
    pub(crate) state: Mutex<State>,
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
    /// The registry to join when `run` starts, until `finish` leaves it.
    registry: Option<OperationRegistry>,
    slot: Option<Slot>,
    cold: Option<Box<Cold>>,
}

#[derive(Default)]
pub(crate) struct Cold {
    failure: Option<String>,
    /// `try_run`'s body returned `Err` after the scope was cancelled: the error is a consequence
    /// of the cancellation, which is the operation's outcome.
    failed_after_cancel: bool,
    metadata: serde_json::Map<String, serde_json::Value>,
    shielded_run: Option<Waker>,
    observers: Option<Box<Observers>>,
}

impl State {
    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    pub(crate) fn observers(&mut self) -> &mut Observers {
        self.cold().observers.get_or_insert_with(Box::default)
    }

    /// The observers, if anything was ever set up on this operation.
    pub(crate) fn observers_mut(&mut self) -> Option<&mut Observers> {
        self.cold
            .as_deref_mut()
            .and_then(|cold| cold.observers.as_deref_mut())
    }
}

/// What watches an operation, besides its registry.
#[derive(Default)]
pub(crate) struct Observers {
    pub(crate) callbacks: Callbacks,
    /// The operation's span while it runs, when a subscriber wants it.
    pub(crate) span: Option<Span>,
}

impl Default for Cancelable {
    fn default() -> Self {
        Cancelable::new()
    }
}

// ===== impl Cancelable: construction =====

impl Cancelable {
    fn from_parts(scope: Option<CancellationToken>, sources: Sources) -> Self {
        Cancelable::from_named_parts(scope, sources, Cow::Borrowed(""))
    }

    fn from_named_parts(
        scope: Option<CancellationToken>,
        sources: Sources,
        name: Cow<'static, str>,
    ) -> Self {
        Cancelable {
            inner: Arc::new(Operation {
                scope: scope.map_or_else(OnceLock::new, OnceLock::from),
                parent: OnceLock::new(),
                id: OnceLock::new(),
                name,
                status: AtomicU8::new(OperationStatus::Pending as u8),
                started: AtomicBool::new(false),
                shields: AtomicUsize::new(0),
                progress_listeners: AtomicBool::new(false),
                items: AtomicU64::new(u64::MAX),
                exhausted: AtomicBool::new(false),
                state: Mutex::new(State {
                    sources,
                    ..State::default()
                }),
            }),
        }
    }

    /// An operation with no source: cancelled only by [`cancel`](Self::cancel), its token,
    /// a parent or the registry.
    pub fn new() -> Self {
        Cancelable::from_parts(None, Sources::default())
    }

    /// Cancelled with reason `Timeout` once `timeout` has passed since `run` started.
    /// A zero timeout is accepted and means "already expired".
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = cancelable::Cancelable::with_timeout(Duration::from_millis(100));
    /// let err = op.run(tokio::time::sleep(Duration::from_secs(1))).await.unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.message(), Some("timeout after 100ms"));
    /// # }
    /// ```
    pub fn with_timeout(timeout: Duration) -> Self {
        Cancelable::from_parts(None, Sources::timeout(timeout))
    }

    /// [`with_timeout`](Self::with_timeout) and [`named`](Self::named) at once.
    pub(crate) fn with_timeout_named(timeout: Duration, name: &'static str) -> Self {
        Cancelable::from_named_parts(None, Sources::timeout(timeout), Cow::Borrowed(name))
    }

    /// Cancelled with reason `Timeout` at `deadline`.
    pub fn with_deadline(deadline: Instant) -> Self {
        Cancelable::from_parts(None, Sources::deadline(deadline))
    }

    /// Cancelled when `token` is, with the token's reason and message.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, CancellationToken};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let token = CancellationToken::new();
    /// let op = Cancelable::with_token(token.clone());
    /// token.cancel_with(CancellationReason::Manual, "user pressed stop");
    /// let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(err.message(), Some("user pressed stop"));
    /// # }
    /// ```
    pub fn with_token(token: impl Into<CancellationToken>) -> Self {
        Cancelable::from_parts(Some(token.into().forwarding_token()), Sources::default())
    }

    /// Cancelled with reason `Signal` when the process receives one of `signals`.
    ///
    /// Operations listening to the same signal share one process-wide listener; when the last
    /// one ends, the signal's previous disposition is back (see [`crate::signal`]).
    ///
    /// ```no_run
    /// use cancelable::{Cancelable, Signal};
    /// # #[tokio::main] async fn main() {
    /// let op = Cancelable::with_signal([Signal::Int, Signal::Term]);
    /// let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    /// println!("{err}"); // operation cancelled: received signal SIGINT
    /// # }
    /// ```
    #[cfg(all(unix, feature = "signal"))]
    pub fn with_signal(signals: impl IntoIterator<Item = crate::Signal>) -> Self {
        Cancelable::from_parts(None, Sources::signals(signals.into_iter().collect()))
    }

    /// Cancelled with reason `Condition` when `predicate` returns `true`: checked when `run`
    /// starts, then every `check_interval`, on the operation's own task. A predicate that panics
    /// counts as "not met" (and is logged); monitoring goes on.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let disk_full = Arc::new(AtomicBool::new(false));
    /// let flag = disk_full.clone();
    /// let op = cancelable::Cancelable::with_condition(
    ///     move || flag.load(Ordering::Relaxed),
    ///     Duration::from_millis(100),
    /// );
    /// let err = op.run(async {
    ///     tokio::time::sleep(Duration::from_millis(250)).await;
    ///     disk_full.store(true, Ordering::Relaxed);
    ///     std::future::pending::<()>().await
    /// }).await.unwrap_err();
    /// assert!(err.is_condition());
    /// # }
    /// ```
    pub fn with_condition<P>(predicate: P, check_interval: Duration) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        let name = predicate_name::<P>();
        Cancelable::from_parts(None, Sources::condition(name, predicate, check_interval))
    }

    /// [`with_condition`](Self::with_condition) with a name for the messages.
    pub fn with_named_condition<P>(
        name: impl Into<Cow<'static, str>>,
        predicate: P,
        check_interval: Duration,
    ) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        Cancelable::from_parts(
            None,
            Sources::condition(name.into(), predicate, check_interval),
        )
    }

    /// Like [`with_condition`](Self::with_condition) with an async predicate; a check in
    /// progress is awaited before the next one starts.
    pub fn with_async_condition<P, Fut>(predicate: P, check_interval: Duration) -> Self
    where
        P: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let name = predicate_name::<P>();
        Cancelable::from_parts(
            None,
            Sources::async_condition(name, predicate, check_interval),
        )
    }

    /// Cancelled when a user-written [`CancellationSource`] fires.
    pub fn with_source(source: impl CancellationSource) -> Self {
        Cancelable::from_parts(None, Sources::custom(source))
    }

    /// Cancelled as soon as any member is, with that member's reason and message. Among
    /// timeouts and deadlines, the earliest wins. The members' sources move into the result.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = Cancelable::any_of([
    ///     Cancelable::with_timeout(Duration::from_secs(10)),
    ///     Cancelable::with_timeout(Duration::from_secs(1)),
    /// ]);
    /// let start = tokio::time::Instant::now();
    /// op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(start.elapsed(), Duration::from_secs(1));
    /// # }
    /// ```
    pub fn any_of(members: impl IntoIterator<Item = Cancelable>) -> Self {
        let mut sources = Sources::default();
        let token = CancellationToken::new();
        for member in members {
            token.node().link_to(member.scope().node(), Link::Forward);
            sources.merge(member.take_sources());
        }
        Cancelable::from_parts(Some(token), sources)
    }

    /// Cancelled once every member has fired at least once; the reason is that of the last
    /// to fire and the message names them all. With no member it never fires by itself.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, CancellationToken};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let done = CancellationToken::new();
    /// let op = Cancelable::all_of([
    ///     Cancelable::with_timeout(Duration::from_secs(1)), // at least one second
    ///     Cancelable::with_token(done.clone()),            // and the work is marked done
    /// ]);
    /// done.cancel();
    /// let start = tokio::time::Instant::now();
    /// op.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(start.elapsed(), Duration::from_secs(1));
    /// # }
    /// ```
    pub fn all_of(members: impl IntoIterator<Item = Cancelable>) -> Self {
        let members: Vec<_> = members
            .into_iter()
            .map(|m| (m.scope().clone(), m.take_sources()))
            .collect();
        if members.is_empty() {
            return Cancelable::new();
        }
        Cancelable::from_parts(None, Sources::all_of(members))
    }

    /// Any-of `self` and `other`, keeping `self`'s name, id, metadata, callbacks and registry.
    pub fn combine(self, other: Cancelable) -> Self {
        let name = self.inner.name.clone();
        let id = self.inner.id.get().cloned();
        let (cold, registry) = {
            let mut state = self.state();
            (state.cold.take(), state.registry.take())
        };
        let listeners = self.inner.progress_listeners.load(Ordering::Acquire);
        let mut combined = Cancelable::any_of([self, other]).named(name);
        if let Some(id) = id {
            combined.configure().id = OnceLock::from(id);
        }
        combined
            .inner
            .progress_listeners
            .store(listeners, Ordering::Release);
        let mut state = combined.state();
        (state.cold, state.registry) = (cold, registry);
        drop(state);
        combined
    }

    fn take_sources(&self) -> Sources {
        std::mem::take(&mut self.state().sources)
    }

    // ===== builders =====

    fn configure(&mut self) -> &mut Operation {
        Arc::get_mut(&mut self.inner).expect(
            "Cancelable builder methods must be called before the operation is cloned or started",
        )
    }

    /// Names the operation (shown in errors, tracing and the registry).
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.configure().name = name.into();
        self
    }

    /// Sets the operation id (default: a fresh UUID, made when first needed).
    pub fn operation_id(mut self, id: impl Into<String>) -> Self {
        self.configure().id = OnceLock::from(OperationId::given(id.into()));
        self
    }

    /// Makes this operation a child of `parent`, across tasks: when `parent` is cancelled, this
    /// one is too, with reason `Parent`.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let parent = Cancelable::new().named("batch");
    /// let child = Cancelable::new().parent(&parent);
    /// let task = tokio::spawn(async move { child.run(std::future::pending::<()>()).await });
    /// tokio::task::yield_now().await;
    /// parent.cancel();
    /// let err = task.await.unwrap().unwrap_err();
    /// assert_eq!(err.reason(), CancellationReason::Parent);
    /// assert!(err.cause().unwrap().is_manual());
    /// # }
    /// ```
    pub fn parent(mut self, parent: &Cancelable) -> Self {
        let op = self.configure();
        if op.parent.get().is_none() && op.scope.get().is_none() {
            op.parent = OnceLock::from(parent.clone());
            return self;
        }
        // A second parent, or a scope token made already (`with_token`, `any_of`): link now.
        self.scope()
            .node()
            .link_to(parent.scope().node(), Link::Parent);
        let _ = self.inner.parent.set(parent.clone());
        self
    }

    /// Attaches a metadata entry, visible in [`context`](Self::context).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        let state = self
            .configure()
            .state
            .get_mut()
            .unwrap_or_else(|p| p.into_inner());
        state.cold().metadata.insert(key.into(), value.into());
        self
    }

    /// Joins the [global registry](OperationRegistry::global) while it runs.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = Cancelable::new().named("nightly_report").operation_id("report-1").register();
    /// op.run(async {
    ///     assert!(OperationRegistry::global().get("report-1").is_some());
    /// }).await.unwrap();
    /// assert!(OperationRegistry::global().list().iter().all(|ctx| ctx.id != "report-1"));
    /// # }
    /// ```
    pub fn register(self) -> Self {
        self.register_in(OperationRegistry::global())
    }

    /// Joins `registry` while it runs: from the start of [`run`](Self::run) until it ends,
    /// however it ends; then its final context goes to the registry's history.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry, OperationStatus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().named("import").register_in(&registry);
    /// op.run(async {
    ///     assert_eq!(registry.list()[0].name, "import");
    /// }).await.unwrap();
    /// assert!(registry.list().is_empty());
    /// assert_eq!(registry.history(10)[0].status, OperationStatus::Completed);
    /// # }
    /// ```
    pub fn register_in(mut self, registry: &OperationRegistry) -> Self {
        let state = self
            .configure()
            .state
            .get_mut()
            .unwrap_or_else(|p| p.into_inner());
        state.registry = Some(registry.clone());
        self
    }

    // ===== introspection =====

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
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
    pub fn status(&self) -> OperationStatus {
        match self.inner.status.load(Ordering::Acquire) {
            0 => OperationStatus::Pending,
            1 => OperationStatus::Running,
            2 => OperationStatus::Completed,
            3 => OperationStatus::Cancelled,
            _ => OperationStatus::Failed,
        }
    }

    fn set_status(&self, status: OperationStatus) {
        self.inner.status.store(status as u8, Ordering::Release);
    }

    /// Why the operation was cancelled, if it was (and not after it completed).
    pub fn reason(&self) -> Option<CancellationReason> {
        self.error().map(|e| e.reason())
    }

    /// The operation's cancellation, attributed to it, if it was cancelled before it finished.
    pub fn error(&self) -> Option<CancellationError> {
        match self.status() {
            OperationStatus::Completed | OperationStatus::Failed => None,
            OperationStatus::Cancelled => self.state().outcome.clone(),
            _ if self.is_cancelled() => self.scope().node().with_error(|e| self.attribute(e)),
            _ => None,
        }
    }

    fn attribute(&self, error: &CancellationError) -> CancellationError {
        error.for_operation(
            self.inner.id.get_or_init(OperationId::generate),
            &self.inner.name,
        )
    }

    /// A snapshot of the operation.
    pub fn context(&self) -> OperationContext {
        let status = self.status();
        let error = self.error();
        let to_system_time = system_time_converter();
        let state = self.state();
        OperationContext {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            status,
            reason: error.as_ref().map(CancellationError::reason),
            message: error.as_ref().and_then(|e| e.message().map(str::to_owned)),
            error: state.cold.as_ref().and_then(|c| c.failure.clone()),
            parent_id: self.inner.parent.get().map(|parent| parent.id().to_owned()),
            started_at: state.started_at.map(&to_system_time),
            ended_at: state.ended_at.map(&to_system_time),
            metadata: state
                .cold
                .as_ref()
                .map(|c| c.metadata.clone())
                .unwrap_or_default(),
            items: self.inner.items(),
            exhausted: self
                .inner
                .items()
                .map(|_| self.inner.exhausted.load(Ordering::Acquire)),
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

    // ===== cancellation =====

    /// Cancels with reason `Manual`. `true` only for the call that cancelled; an operation that
    /// already finished is left alone (`false`).
    pub fn cancel(&self) -> bool {
        self.cancel_error(CancellationError::new(CancellationReason::Manual, None))
    }

    /// Cancels with `reason` and `message`; see [`cancel`](Self::cancel).
    pub fn cancel_with(&self, reason: CancellationReason, message: impl Into<String>) -> bool {
        self.cancel_error(CancellationError::new(reason, Some(message.into())))
    }

    pub(crate) fn cancel_error(&self, error: CancellationError) -> bool {
        if self.status().is_finished() || self.is_cancelled() {
            return false;
        }
        self.scope().cancel_error(self.attribute(&error))
    }

    /// `true` once the operation's scope is cancelled. Two atomic loads.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        match self.inner.scope.get() {
            Some(scope) => scope.is_cancelled(),
            None => self.inherits_cancellation(),
        }
    }

    /// An operation with no scope token yet is cancelled when its nearest ancestor with one is.
    fn inherits_cancellation(&self) -> bool {
        let mut op = self;
        while let Some(parent) = op.inner.parent.get() {
            if let Some(scope) = parent.inner.scope.get() {
                return scope.is_cancelled();
            }
            op = parent;
        }
        false
    }

    /// The scope token, made now if it was not yet (invariant 2).
    #[inline]
    pub(crate) fn scope(&self) -> &CancellationToken {
        match self.inner.scope.get() {
            Some(scope) => scope,
            None => self.make_scope(),
        }
    }

    /// Makes the scope tokens of this operation and of its ancestors that have none yet,
    /// from the top down, so that linking each to its parent never recurses.
    #[cold]
    #[inline(never)]
    fn make_scope(&self) -> &CancellationToken {
        let mut missing = Vec::new();
        let mut ancestor = self.inner.parent.get();
        while let Some(op) = ancestor.filter(|op| op.inner.scope.get().is_none()) {
            missing.push(op);
            ancestor = op.inner.parent.get();
        }
        for op in missing.into_iter().rev() {
            op.init_scope();
        }
        self.init_scope()
    }

    fn init_scope(&self) -> &CancellationToken {
        // `start` sets the status once the parent is adopted: after that, nothing to wait for.
        let _adoption = (self.status() == OperationStatus::Pending).then(|| self.state());
        self.inner.scope.get_or_init(|| {
            let scope = CancellationToken::new();
            if let Some(parent) = self.inner.parent.get() {
                scope.node().link_to(parent.scope().node(), Link::Parent);
            }
            scope
        })
    }

    /// The scope token if it was made (nothing can be registered on one that was not).
    pub(crate) fn made_scope(&self) -> Option<&CancellationToken> {
        self.inner.scope.get()
    }

    /// Completes when the operation's scope is cancelled.
    pub fn cancelled(&self) -> crate::token::Cancelled {
        self.scope().cancelled()
    }

    /// `Err` once the scope is cancelled: a checkpoint for loops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let result = op.run(async {
    ///     let cancel = cancelable::Cancelable::current().unwrap();
    ///     for chunk in 0.. {
    ///         cancel.check()?;
    ///         if chunk == 3 { cancel.cancel(); }
    ///     }
    ///     Ok::<_, cancelable::CancellationError>(())
    /// }).await;
    /// assert!(result.unwrap().unwrap_err().is_manual());
    /// # }
    /// ```
    pub fn check(&self) -> Result<(), CancellationError> {
        if !self.is_cancelled() {
            return Ok(());
        }
        match self.scope().node().with_error(|e| self.attribute(e)) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The scope token: cancelling it cancels the operation.
    pub fn token(&self) -> CancellationToken {
        self.scope().clone()
    }

    /// A new operation, child of this one (reason `Parent` when this one is cancelled), with
    /// the same name.
    pub fn child(&self) -> Cancelable {
        Cancelable::new()
            .named(self.inner.name.clone())
            .parent(self)
    }

    // ===== running =====

    /// Runs `fut` inside the operation.
    ///
    /// Arms the sources (a timeout's clock starts now), polls `fut` and the sources together,
    /// and returns `Ok(output)`; when a source fires, `fut` is dropped at once (unless a
    /// [`shield`](Self::shield) is running) and the cancellation is returned. Cancelled before it
    /// starts: returns `Err` without polling `fut`. A scope started inside another's `run` in
    /// the same task becomes its child.
    ///
    /// # Panics
    ///
    /// When the operation already ran: an operation runs once. A panic in `fut` marks the
    /// operation `Failed` and propagates.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the returned future drops `fut`, cancels the operation's scope (so its children
    /// stop) and marks it `Cancelled`.
    pub fn run<F: Future>(&self, fut: F) -> Run<'_, F> {
        Run {
            op: self,
            body: Some(fut),
            sleep: None,
            deadline: None,
            armed: None,
            wait_key: None,
            phase: Phase::Init,
            span: Span::none(),
            frame: None,
        }
    }

    /// [`run`](Self::run) for a fallible body: a cancellation becomes `E::from(err)`, and an `Err`
    /// from the body marks the operation `Failed` with the error's text.
    ///
    /// An `Err` that the body returns once its scope is already cancelled (say, a nested call
    /// that failed with reason `Parent` right after a shield ended) is a consequence of that
    /// cancellation: the operation ends `Cancelled` and the caller gets `E::from` of the
    /// operation's own cancellation.
    pub async fn try_run<T, E, F>(&self, fut: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<CancellationError> + fmt::Display,
    {
        let body = async {
            let output = fut.await;
            if let Err(error) = &output {
                let mut state = self.state();
                if self.is_cancelled() {
                    state.cold().failed_after_cancel = true;
                } else {
                    state.cold().failure = Some(error.to_string());
                }
            }
            output
        };
        match self.run(body).await {
            Ok(Err(error)) => match self.state().outcome.clone() {
                Some(cancellation) => Err(E::from(cancellation)),
                None => Err(error),
            },
            Ok(output) => output,
            Err(cancellation) => Err(E::from(cancellation)),
        }
    }

    /// Runs `fut` to completion even if the operation is cancelled meanwhile; `run` returns the
    /// cancellation right after. Shields nest. Scopes started inside a shield are not children of
    /// this operation.
    ///
    /// A shield only holds off this library's cancellation: a drop that comes from outside (an
    /// enclosing `tokio::time::timeout`, a dropped request, an aborted task) still drops it.
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = cancelable::Cancelable::with_timeout(Duration::from_millis(10));
    /// let mut saved = false;
    /// let result = op.run(async {
    ///     op.shield(async {
    ///         tokio::time::sleep(Duration::from_millis(50)).await; // outlives the timeout
    ///         saved = true;
    ///     }).await;
    ///     std::future::pending::<()>().await
    /// }).await;
    /// assert!(result.unwrap_err().is_timeout());
    /// assert!(saved);
    /// # }
    /// ```
    pub fn shield<F: Future>(&self, fut: F) -> Shield<'_, F> {
        Shield {
            op: self,
            fut,
            entered: false,
            frame: None,
        }
    }

    fn leave_shield(&self) {
        if self.inner.shields.fetch_sub(1, Ordering::AcqRel) == 1
            && self.is_cancelled()
            && let Some(waker) = self
                .state()
                .cold
                .as_mut()
                .and_then(|c| c.shielded_run.take())
        {
            waker.wake();
        }
    }

    /// Runs `fut` on a new task inside a child of this operation: cancelled with reason
    /// `Parent` when this one is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let worker = op.spawn(std::future::pending::<()>());
    /// op.cancel();
    /// assert!(worker.await.unwrap().unwrap_err().is_parent());
    /// # }
    /// ```
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<Result<F::Output, CancellationError>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let child = self.child();
        tokio::spawn(async move { child.run(fut).await })
    }

    /// Runs blocking or CPU-bound `f` on tokio's blocking pool, handing it a token (a child of
    /// this operation's) to poll.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let work = op.spawn_blocking(|token| {
    ///     let mut rounds = 0;
    ///     while !token.is_cancelled() { rounds += 1; std::thread::yield_now(); }
    ///     rounds
    /// });
    /// op.cancel();
    /// work.await.unwrap();
    /// # }
    /// ```
    pub fn spawn_blocking<T, F>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce(CancellationToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let token = self.scope().child_token();
        tokio::task::spawn_blocking(move || f(token))
    }

    /// Wraps a future factory for retry loops: each call checks first (once cancelled, `f` is
    /// not called and the call returns `Err` at once), then races the call against cancellation.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let mut attempt = op.wrap(|| async { 42 });
    /// assert_eq!(attempt().await.unwrap(), 42);
    /// op.cancel();
    /// assert!(attempt().await.unwrap_err().is_manual());
    /// # }
    /// ```
    pub fn wrap<F, Fut>(&self, mut f: F) -> impl FnMut() -> OrCancelled<Fut> + use<F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future,
    {
        let op = self.clone();
        move || OrCancelled {
            fut: if op.is_cancelled() { None } else { Some(f()) },
            op: op.clone(),
            wait_key: None,
        }
    }

    // ===== lifecycle, used by `Run` =====

    fn span(&self) -> Span {
        let name = if self.name().is_empty() {
            "operation"
        } else {
            self.name()
        };
        tracing::info_span!(
            "operation",
            operation.id = %self.id(),
            operation.name = %self.name(),
            otel.name = %name,
        )
    }

    fn start(&self, span: &Span) -> (Option<ArmedDeadline>, Option<Box<Armed>>) {
        let op = &self.inner;
        if op.started.swap(true, Ordering::AcqRel) {
            panic!(
                "`Cancelable::run` called twice on operation {:?}: an operation runs once; \
                 create a new one (or use `child()`) for the next run",
                self.name()
            );
        }
        let adopted = match op.parent.get() {
            Some(_) => None,
            None => {
                current::with(|frame| frame.filter(|f| f.adopts_children).map(|f| f.op.clone()))
            }
        };
        let mut state = self.state();
        if let Some(parent) = adopted
            && op.parent.set(parent).is_ok()
            && let (Some(scope), Some(parent)) = (op.scope.get(), op.parent.get())
        {
            scope.node().link_to(parent.scope().node(), Link::Parent);
        }
        let started_at = Instant::now();
        state.started_at = Some(started_at);
        let sources = std::mem::take(&mut state.sources);
        self.set_status(OperationStatus::Running);
        if !span.is_disabled() {
            state.observers().span = Some(span.clone());
        }
        if let Some(registry) = &state.registry {
            state.slot = Some(registry.insert(self));
        }
        let on_start = state
            .observers_mut()
            .map(|observers| observers.callbacks.take(Event::Start));
        drop(state);
        tracing::debug!("operation started");
        if let Some(due) = on_start.filter(|due| !due.is_empty()) {
            callbacks::run(Event::Start, due, || self.context());
        }
        if sources.is_empty() {
            return (None, None);
        }
        match sources.arm(started_at) {
            Ok(armed) => armed,
            Err(error) => {
                self.scope().cancel_error(CancellationError::new(
                    CancellationReason::Signal,
                    Some(format!("cannot listen for signals: {error}")),
                ));
                (None, None)
            }
        }
    }

    /// Records the final status and tells every observer; returns the operation's cancellation,
    /// if it ended cancelled.
    fn finish(&self, status: OperationStatus) -> Option<CancellationError> {
        // Made before the state lock: making a scope token takes it.
        let scope =
            (status == OperationStatus::Cancelled || self.is_cancelled()).then(|| self.scope());
        let mut state = self.state();
        let ended_at = Instant::now();
        state.ended_at = Some(ended_at);
        let (failed, failed_after_cancel) = state.cold.as_deref().map_or((false, false), |c| {
            (c.failure.is_some(), c.failed_after_cancel)
        });
        let status = match status {
            OperationStatus::Completed if failed => OperationStatus::Failed,
            OperationStatus::Completed if !failed_after_cancel => OperationStatus::Completed,
            OperationStatus::Completed | OperationStatus::Cancelled => {
                let outcome =
                    scope.and_then(|scope| scope.node().with_error(|e| self.attribute(e)));
                state.outcome = outcome;
                OperationStatus::Cancelled
            }
            status => status,
        };
        self.set_status(status);
        let event = Event::ending(status);
        let started_at = state.started_at;
        let duration = || started_at.map(|s| ended_at.saturating_duration_since(s));
        let evicted = match (state.registry.take(), state.slot.take()) {
            (Some(registry), Some(slot)) => registry.remove(slot, status, ended_at, duration()),
            _ => None,
        };
        let observed = state.observers_mut().map(|observers| {
            (
                observers.callbacks.take_ending(event),
                observers.span.take(),
            )
        });
        let cold = state.cold.as_deref();
        let outcome = state.outcome.clone();
        let failure = match status {
            OperationStatus::Failed => cold.and_then(|c| c.failure.clone()),
            _ => None,
        };
        drop(state);
        drop(evicted);
        match event {
            Event::Complete => tracing::debug!(duration = ?duration(), "operation completed"),
            Event::Cancel => tracing::info!(
                cancellation.reason = outcome.as_ref().map(|e| e.reason().as_str()),
                cancellation.message = outcome.as_ref().and_then(|e| e.message()),
                "operation cancelled",
            ),
            Event::Error | Event::Start => {
                tracing::warn!(error = failure.as_deref(), "operation failed")
            }
        }
        if let Some((due, span)) = observed {
            if !due.is_empty() {
                callbacks::run(event, due, || self.context());
            }
            drop(span);
        }
        outcome
    }
}

/// Converts instants on tokio's clock to wall-clock times, all against one reading of both
/// clocks (so differences between converted times are exact).
fn system_time_converter() -> impl Fn(Instant) -> SystemTime {
    let (wall, now) = (SystemTime::now(), Instant::now());
    move |at| {
        wall.checked_sub(now.saturating_duration_since(at))
            .unwrap_or(wall)
    }
}

/// Whether a subscriber may want an `INFO` span: tracing's own level check, without a callsite.
#[inline]
fn span_wanted() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::INFO <= STATIC_MAX_LEVEL && tracing::Level::INFO <= LevelFilter::current()
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

// ===== Run =====

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Init,
    Running,
    Done,
}

pin_project! {
    /// The future returned by [`Cancelable::run`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<'a, F> {
        op: &'a Cancelable,
        #[pin]
        body: Option<F>,
        #[pin]
        sleep: Option<Sleep>,
        deadline: Option<ArmedDeadline>,
        armed: Option<Box<Armed>>,
        wait_key: Option<usize>,
        phase: Phase,
        span: Span,
        frame: Option<Frame>,
    }

    impl<F> PinnedDrop for Run<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(key) = this.wait_key.take()
                && let Some(scope) = this.op.made_scope()
            {
                scope.node().remove_waiter(key);
            }
            if *this.phase == Phase::Running {
                let _entered = this.span.enter();
                this.op.scope().cancel_error(CancellationError::new(
                    CancellationReason::Manual,
                    Some(String::from("the operation's future was dropped before it finished")),
                ));
                this.op.finish(OperationStatus::Cancelled);
            }
        }
    }
}

/// Drops everything `run` holds: the body, the timer, the other sources, the waiter.
/// (The fields, not the projection: the span stays entered meanwhile.)
fn release<F>(
    op: &Cancelable,
    mut body: Pin<&mut Option<F>>,
    mut sleep: Pin<&mut Option<Sleep>>,
    armed: &mut Option<Box<Armed>>,
    wait_key: &mut Option<usize>,
    phase: &mut Phase,
) {
    body.set(None);
    sleep.set(None);
    // Only a present box is dropped: no drop call for the usual `None`.
    if let Some(armed) = armed.take() {
        drop(armed);
    }
    if let Some(key) = wait_key.take()
        && let Some(scope) = op.made_scope()
    {
        scope.node().remove_waiter(key);
    }
    *phase = Phase::Done;
}

impl<F: Future> Future for Run<'_, F> {
    type Output = Result<F::Output, CancellationError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let op: &Cancelable = this.op;
        if *this.phase == Phase::Init && span_wanted() {
            *this.span = op.span();
        }
        let _entered = this.span.enter();
        let resumed = *this.phase == Phase::Running;
        match *this.phase {
            Phase::Running => {}
            Phase::Init => {
                *this.frame = Some(Frame {
                    op: op.clone(),
                    adopts_children: true,
                });
                let (deadline, armed) = op.start(this.span);
                *this.deadline = deadline;
                if armed.is_some() {
                    *this.armed = armed;
                }
                *this.phase = Phase::Running;
            }
            Phase::Done => panic!("`Run` polled after it completed"),
        }
        loop {
            // When woken, signals and conditions before the body: a delivery that woke the task
            // stops the body before it runs again.
            if resumed
                && let Some(armed) = this.armed.as_mut()
                && !op.is_cancelled()
                && let Poll::Ready(error) = armed.poll_pollers(cx)
            {
                op.scope().node().cancel(op.attribute(&error));
            }
            if op.is_cancelled() && op.inner.shields.load(Ordering::Acquire) == 0 {
                release(
                    op,
                    this.body.as_mut(),
                    this.sleep.as_mut(),
                    this.armed,
                    this.wait_key,
                    this.phase,
                );
                let error = op.finish(OperationStatus::Cancelled);
                return Poll::Ready(Err(
                    error.unwrap_or_else(|| CancellationError::new(CancellationReason::Manual, None))
                ));
            }
            if let Some(body) = this.body.as_mut().as_pin_mut() {
                let polled = current::enter(this.frame, || {
                    catch_unwind(AssertUnwindSafe(|| body.poll(cx)))
                });
                match polled {
                    Ok(Poll::Pending) => {}
                    Ok(Poll::Ready(output)) => {
                        release(
                            op,
                            this.body.as_mut(),
                            this.sleep.as_mut(),
                            this.armed,
                            this.wait_key,
                            this.phase,
                        );
                        op.finish(OperationStatus::Completed);
                        return Poll::Ready(Ok(output));
                    }
                    Err(panic) => {
                        // Release the timer, sources and waiter before unwinding: whoever
                        // catches the panic may keep this future.
                        release(
                            op,
                            this.body.as_mut(),
                            this.sleep.as_mut(),
                            this.armed,
                            this.wait_key,
                            this.phase,
                        );
                        op.state().cold().failure =
                            Some(format!("panicked: {}", crate::panic_message(&*panic)));
                        op.finish(OperationStatus::Failed);
                        resume_unwind(panic);
                    }
                }
            }
            if op.is_cancelled() {
                if op.inner.shields.load(Ordering::Acquire) == 0 {
                    continue;
                }
                op.state().cold().shielded_run = Some(cx.waker().clone());
                if op.inner.shields.load(Ordering::Acquire) == 0 {
                    continue;
                }
                return Poll::Pending;
            }
            // On the first poll, after the body: a body ready at once registers nothing.
            if !resumed
                && let Some(armed) = this.armed.as_mut()
                && let Poll::Ready(error) = armed.poll_pollers(cx)
            {
                op.scope().node().cancel(op.attribute(&error));
                continue;
            }
            if let Some(deadline) = this.deadline.as_ref() {
                if this.sleep.is_none() {
                    this.sleep.set(Some(tokio::time::sleep_until(deadline.at)));
                }
                if let Some(sleep) = this.sleep.as_mut().as_pin_mut()
                    && sleep.poll(cx).is_ready()
                {
                    op.scope()
                        .node()
                        .cancel(op.attribute(&deadline.error.error()));
                    continue;
                }
            }
            match op.scope().node().poll_cancelled(this.wait_key, cx) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F> fmt::Debug for Run<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("op", self.op)
            .field("phase", &self.phase)
            .finish()
    }
}

// ===== Shield =====

pin_project! {
    /// The future returned by [`Cancelable::shield`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Shield<'a, F> {
        op: &'a Cancelable,
        #[pin]
        fut: F,
        entered: bool,
        frame: Option<Frame>,
    }

    impl<F> PinnedDrop for Shield<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.entered {
                this.op.leave_shield();
            }
        }
    }
}

impl<F: Future> Future for Shield<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !*this.entered {
            this.op.inner.shields.fetch_add(1, Ordering::AcqRel);
            *this.entered = true;
        }
        if this.frame.is_none() {
            *this.frame = Some(Frame {
                op: this.op.clone(),
                adopts_children: false,
            });
        }
        let fut = this.fut;
        let output = std::task::ready!(current::enter(this.frame, || fut.poll(cx)));
        *this.entered = false;
        this.op.leave_shield();
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for Shield<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shield")
            .field("op", self.op)
            .finish_non_exhaustive()
    }
}

// ===== OrCancelled =====

pin_project! {
    /// One call of a function wrapped by [`Cancelable::wrap`]: its output, or the operation's
    /// cancellation if that comes first.
    #[must_use = "futures do nothing unless polled"]
    pub struct OrCancelled<F> {
        op: Cancelable,
        #[pin]
        fut: Option<F>,
        wait_key: Option<usize>,
    }

    impl<F> PinnedDrop for OrCancelled<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(key) = this.wait_key.take()
                && let Some(scope) = this.op.made_scope()
            {
                scope.node().remove_waiter(key);
            }
        }
    }
}

impl<F: Future> Future for OrCancelled<F> {
    type Output = Result<F::Output, CancellationError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let token = this.op.scope().node();
        loop {
            if let Some(error) = token.with_error(|e| this.op.attribute(e)) {
                this.fut.set(None);
                return Poll::Ready(Err(error));
            }
            let Some(fut) = this.fut.as_mut().as_pin_mut() else {
                panic!("`OrCancelled` polled after it completed");
            };
            if let Poll::Ready(output) = fut.poll(cx) {
                this.fut.set(None);
                return Poll::Ready(Ok(output));
            }
            if token.poll_cancelled(this.wait_key, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl<F> fmt::Debug for OrCancelled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrCancelled")
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

pub(crate) fn state_size() -> usize {
    std::mem::size_of::<State>()
}

/// Registrations held by `op`'s scope token: (linked children, parked waiters).
pub(crate) fn registrations(op: &Cancelable) -> (usize, usize) {
    op.made_scope().map_or((0, 0), |scope| {
        (scope.node().child_count(), scope.node().waiter_count())
    })
}
