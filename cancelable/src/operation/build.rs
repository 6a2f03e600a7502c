//! Building an operation: one constructor per source, and the by-value builders that name,
//! parent, describe and register it before it is shared.
//!
//! # Invariants
//!
//! 1. A builder takes the operation by value and configures it through `Arc::get_mut`: it
//!    panics if the operation was cloned (or started) already, so no other handle ever sees a
//!    configuration change.
//! 2. `register_in` puts the operation in the registry at once (status `Pending`). The
//!    registry holds it weakly, which `Arc::get_mut` refuses, so a builder called after it
//!    takes the operation out of the registry first ([`Reconfigure`]), changes it, and puts
//!    it back, under its new name; `combine` moves the registration to the operation it makes.
//! 3. Constructing links nothing and arms nothing: a timeout's clock starts when `run` starts.
//!    Only `with_token`, `any_of` and a second parent make the scope token at once, because
//!    they link it (`scope.rs`, invariant 2).

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{Admissions, Cancelable, Items, Operation, Parent, State};
use crate::id::OperationId;
use crate::out_of_line::OutOfLine;
use crate::registry::OperationRegistry;
use crate::source::{CancellationSource, Sources, predicate_name};
use crate::status::OperationStatus;
use crate::token::{CancellationToken, Link};

impl Cancelable {
    #[inline]
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
                parent: Parent::default(),
                id: OnceLock::new(),
                name,
                status: AtomicU8::new(OperationStatus::Pending as u8),
                started: AtomicBool::new(false),
                shields: AtomicU32::new(0),
                progress_flags: Default::default(),
                progress: Default::default(),
                items: Items::default(),
                children: Admissions::default(),
                state: Mutex::new(State {
                    sources,
                    ..State::default()
                }),
            }),
        }
    }

    /// An operation with no source: cancelled only by [`cancel`](Self::cancel), its token,
    /// a parent or the registry.
    #[inline]
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
    #[inline]
    pub fn with_timeout(timeout: Duration) -> Self {
        Cancelable::from_parts(None, Sources::timeout(timeout))
    }

    /// [`with_timeout`](Self::with_timeout) and [`named`](Self::named) at once.
    #[inline]
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
    /// one ends, the signal's previous disposition is back (see [`Signal`](crate::Signal)).
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

    /// Any-of `self` and `other`, keeping `self`'s name, id, metadata, callbacks and registry
    /// (a registered `self` leaves it, and the combined operation joins in its place).
    pub fn combine(self, other: Cancelable) -> Self {
        let name = self.inner.name.clone();
        let id = self.inner.id.get().cloned();
        let (cold, registry) = {
            let mut state = self.state();
            let slot = state.slot.take();
            if let (Some(registry), Some(slot)) = (&state.registry, slot) {
                registry.forget(slot, false);
            }
            (state.cold.take(), state.registry.take())
        };
        let progress = self.inner.progress_handed_on();
        let mut combined = Cancelable::any_of([self, other]).named(name);
        if let Some(id) = id {
            combined.configure().id = OnceLock::from(id);
        }
        combined.configure().take_progress(progress);
        combined.state().cold = OutOfLine::new(cold);
        match registry {
            Some(registry) => combined.register_in(&registry),
            None => combined,
        }
    }

    fn take_sources(&self) -> Sources {
        std::mem::take(&mut self.state().sources)
    }

    /// Takes a registered operation out of its registry for a builder (invariant 2); the
    /// returned guard puts it back. Unregistered, one atomic load.
    #[inline]
    fn reconfigure(&mut self) -> Reconfigure {
        if Arc::weak_count(&self.inner) == 0 {
            return Reconfigure(None);
        }
        self.leave_registry_to_configure()
    }

    #[cold]
    #[inline(never)]
    fn leave_registry_to_configure(&mut self) -> Reconfigure {
        let mut state = self.state();
        match (state.registry.clone(), state.slot.take()) {
            (Some(registry), Some(slot)) => {
                registry.leave_to_configure(slot);
                Reconfigure(Some(registry))
            }
            (_, slot) => {
                state.slot = slot;
                Reconfigure(None)
            }
        }
    }

    /// Runs the by-value builder `f` on this operation, out of its registry meanwhile
    /// (invariant 2).
    #[inline]
    fn reconfigured(mut self, f: impl FnOnce(&mut Cancelable)) -> Self {
        let again = self.reconfigure();
        f(&mut self);
        again.rejoin(self)
    }

    /// The state of an operation being built (invariant 1): no lock is taken.
    fn configure_state(&mut self) -> &mut State {
        self.configure().state.get_mut()
    }

    fn configure(&mut self) -> &mut Operation {
        Arc::get_mut(&mut self.inner).expect(
            "Cancelable builder methods must be called before the operation is cloned, \
             registered or started (`register`/`register_in` come last)",
        )
    }

    /// Names the operation (shown in errors, tracing and the registry).
    pub fn named(self, name: impl Into<Cow<'static, str>>) -> Self {
        self.reconfigured(|op| op.configure().name = name.into())
    }

    /// Sets the operation id (default: a fresh UUID, made when first needed).
    pub fn operation_id(self, id: impl Into<String>) -> Self {
        self.reconfigured(|op| op.configure().id = OnceLock::from(OperationId::given(id.into())))
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
    pub fn parent(self, parent: &Cancelable) -> Self {
        self.reconfigured(|this| {
            let op = this.configure();
            if op.parent.get().is_none() && op.scope.get().is_none() {
                op.parent.build(parent.clone());
                this.join(parent);
                return;
            }
            // A second parent, or a scope token made already (`with_token`, `any_of`): link now.
            this.scope()
                .node()
                .link_to(parent.scope().node(), Link::Parent);
            if this.inner.parent.adopt(parent.clone()).is_ok() {
                this.join(parent);
            }
        })
    }

    /// Keeps polling the body for up to `grace` once the operation is cancelled, so that it
    /// can see [`is_cancelled`](Self::is_cancelled), [`cancelled`](Self::cancelled) or
    /// [`check`](Self::check) and clean up with its locals at hand. When the body returns,
    /// `run` returns the cancellation (status `Cancelled`); when the grace runs out, the body
    /// is dropped. Under a [shutdown](crate::shutdown), forcing ends every grace. On an
    /// annotated function: `#[cancelable(grace = "5s")]`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = Cancelable::with_timeout(Duration::from_secs(1)).grace(Duration::from_secs(5));
    /// let mut flushed = false;
    /// let err = op
    ///     .run(async {
    ///         op.cancelled().await; // the timeout fired: the body is still polled
    ///         tokio::time::sleep(Duration::from_secs(2)).await; // flush what it holds
    ///         flushed = true;
    ///     })
    ///     .await
    ///     .unwrap_err();
    /// assert!(err.is_timeout() && flushed);
    /// # }
    /// ```
    pub fn grace(self, grace: Duration) -> Self {
        self.reconfigured(|op| {
            op.configure_state().cold().grace = Some(grace);
            op.inner.children.set_grace();
        })
    }

    /// Attaches a metadata entry, visible in [`context`](Self::context).
    pub fn metadata(self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.reconfigured(|op| {
            let metadata = &mut op.configure_state().cold().metadata;
            metadata.insert(key.into(), value.into());
        })
    }

    /// Joins the [global registry](OperationRegistry::global) now; see
    /// [`register_in`](Self::register_in).
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = Cancelable::new().named("nightly_report").operation_id("report-1").register();
    /// assert!(OperationRegistry::global().get("report-1").is_some());
    /// op.run(async {}).await.unwrap();
    /// assert!(OperationRegistry::global().list().iter().all(|ctx| ctx.id != "report-1"));
    /// # }
    /// ```
    pub fn register(self) -> Self {
        self.register_in(OperationRegistry::global())
    }

    /// Joins `registry` now, status `Pending`: listed, found and cancelled from the moment it is
    /// built (say, while it waits in a job queue), then `Running` inside [`run`](Self::run),
    /// until `run` ends, however it ends; then its final context goes to the registry's
    /// history. Cancelled while pending, its `run` returns the cancellation at once, without
    /// polling the body. Dropped without running, it leaves the registry with its last handle.
    ///
    /// Builders called after it (`named`, `metadata`, …) take the operation out of the registry
    /// and put it back changed, so the order does not matter; [`combine`](Self::combine) moves
    /// the registration to the operation it makes. A registered operation keeps its last
    /// progress message for its [context](Self::context).
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry, OperationStatus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().named("import").register_in(&registry);
    /// assert_eq!(registry.list()[0].status, OperationStatus::Pending);
    /// op.run(async {
    ///     assert_eq!(registry.list()[0].status, OperationStatus::Running);
    /// }).await.unwrap();
    /// assert!(registry.list().is_empty());
    /// assert_eq!(registry.history(10)[0].status, OperationStatus::Completed);
    ///
    /// let queued = Cancelable::new().named("job_acme_1").register_in(&registry);
    /// registry.cancel_matching("job_acme_*", CancellationReason::Manual, "tenant left");
    /// assert!(queued.run(async { unreachable!() }).await.is_err());
    ///
    /// drop(Cancelable::new().named("abandoned").register_in(&registry));
    /// assert!(registry.list().is_empty());
    /// # }
    /// ```
    pub fn register_in(mut self, registry: &OperationRegistry) -> Self {
        drop(self.reconfigure());
        self.configure_state().registry = Some(registry.clone());
        self.record_progress();
        let slot = registry.insert(&self);
        self.state().slot = Some(slot);
        self
    }
}

/// A registered operation taken out of its registry while a builder changes it.
#[must_use = "the operation joins its registry again through `rejoin`"]
struct Reconfigure(Option<OperationRegistry>);

impl Reconfigure {
    /// Puts `op` back in the registry it left, as it is now.
    #[inline]
    fn rejoin(self, op: Cancelable) -> Cancelable {
        match self.0 {
            None => op,
            Some(registry) => Reconfigure::rejoin_registry(registry, op),
        }
    }

    #[cold]
    #[inline(never)]
    fn rejoin_registry(registry: OperationRegistry, op: Cancelable) -> Cancelable {
        let slot = registry.insert(&op);
        op.state().slot = Some(slot);
        op
    }
}
