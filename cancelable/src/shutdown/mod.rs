//! Graceful shutdown of a whole service: stop taking work, let work in flight finish within a
//! budget, cancel what is left, force what still will not stop, and say what did not finish
//! and why.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::shutdown::Shutdown;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let shutdown = Shutdown::builder() // SIGINT and SIGTERM, by default
//!     .drain(Duration::from_secs(5)) // a load balancer still sends traffic for a while
//!     .grace(Duration::from_secs(25)) // then everything has until here, in total
//!     .build();
//! let root = shutdown.root().clone();
//! // A background worker: stopped with reason `Parent` (cause: the signal) when cancelling.
//! root.spawn(async { loop { tokio::time::sleep(Duration::from_secs(1)).await } });
//!
//! # shutdown.trigger("deploy"); // a test triggers it by hand; a service waits for SIGTERM
//! let report = shutdown
//!     .run(async move {
//!         // The service: axum::serve(listener, app).with_graceful_shutdown(draining).await
//!         root.cancelled().await;
//!     })
//!     .await;
//! println!("{report}");
//! assert_eq!(report.exit_code(), 0);
//! # }
//! ```
//!
//! # Phases
//!
//! [`ShutdownPhase`]: `Running → Draining → Cancelling → Forcing → Done`, on tokio's clock.
//!
//! 1. **Draining**, from the trigger (a signal, [`Shutdown::trigger`], or a future given to
//!    [`ShutdownBuilder::on`]) for [`drain`](ShutdownBuilder::drain): [`Shutdown::draining`]
//!    completes (hand it to `axum::serve(..).with_graceful_shutdown`, so the server stops
//!    accepting connections), but work is still admitted and runs untouched.
//! 2. **Cancelling**: the [root](Shutdown::root) is cancelled, with reason `Signal` and
//!    `received signal SIGTERM`, or `Manual` and the trigger's message. Every operation under
//!    it sees reason `Parent` with that cause; shields run; admission closes, so an operation
//!    linked to the root from now on is not waited for (and is born cancelled). The service
//!    body itself keeps being polled (the root has a grace period as long as the budget), so a
//!    server can answer its last requests and close its connections.
//! 3. **Forcing**, at [`grace`](ShutdownBuilder::grace) after the trigger (one total budget),
//!    or at once on a second trigger ([`Escalation::Force`]): every `run` that still keeps a
//!    cancelled body (in a shield or a grace period) drops it and ends with reason `Timeout`
//!    and `grace period of 25s elapsed`, caused by the cancellation it cut short. Blocking work
//!    that ignores its token cannot be stopped: it is reported as leaked. Forcing waits at most
//!    [`sweep`](ShutdownBuilder::sweep) for the cut operations to end.
//! 4. **Done**, as soon as the body and every operation under the root have ended, or forcing
//!    swept. The signal listeners are removed: the previous dispositions are back.
//!
//! [`Shutdown::run`] returns a [`ShutdownReport`]: the trigger, the phase instants, whether it
//! escalated, and the [leftovers](Leftover), the operations that had to be forced or leaked, each
//! with its cause chain, elapsed time and last progress message. An operation that ended when it
//! was cancelled is not a leftover. `report.exit_code()` is 0 when nothing was forced or leaked.
//!
//! # What is tracked
//!
//! Every operation under the root, however it was started: [`Cancelable::spawn`],
//! [`spawn_blocking`](Cancelable::spawn_blocking), an operation built with
//! [`parent`](Cancelable::parent)`(root)` and run in a plain `tokio::spawn`, an operation nested
//! in a body, the request operations of an axum
//! `CancelableLayer` (feature `axum`) given the root as its parent. No task is
//! spawned for any of it: each operation counts its running children
//! ([`Cancelable::wait_children`]).
//!
//! # Signals
//!
//! The listeners are installed when [`run`](Shutdown::run) starts and stay installed until
//! Done, so a second Ctrl+C is seen (and escalates) rather than killing the process mid-drain.
//! Deliveries that arrive before the trigger is handled count once. With
//! [`Escalation::Exit`], a second signal restores the previous disposition and raises the
//! signal again, so the process dies of it; with [`Escalation::Force`], a third one does.
//!
//! # Invariants
//!
//! 1. Phases only move forward, and each is entered once; `phase()` reads the one in force.
//! 2. The root is cancelled before admission closes: an operation admitted in between is
//!    waited for, and one refused after is cancelled through its parent link.
//! 3. The signal subscriptions live from the start of `run` until Done; after each trigger they
//!    are renewed before they are polled again (see `triggers.rs`).

mod report;
mod run;
mod triggers;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::Instant;

pub use self::report::{Leftover, LeftoverKind, PhaseTimes, ShutdownReport, Trigger};
use self::triggers::Requests;
use crate::Cancelable;
use crate::operation::Supervisor;
use crate::token::CancellationToken;

/// Where a shutdown is (invariant 1).
///
/// ```
/// use cancelable::shutdown::{Shutdown, ShutdownPhase};
///
/// let shutdown = Shutdown::builder().build();
/// assert_eq!(shutdown.phase(), ShutdownPhase::Running);
/// assert!(ShutdownPhase::Draining < ShutdownPhase::Done);
/// assert_eq!(ShutdownPhase::Forcing.to_string(), "forcing");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum ShutdownPhase {
    /// No trigger yet.
    Running = 0,
    /// Triggered: the server stops accepting, work is still admitted.
    Draining = 1,
    /// The root is cancelled; shields and grace periods run.
    Cancelling = 2,
    /// The budget is spent: what is left is cut.
    Forcing = 3,
    /// Over; the report is made.
    Done = 4,
}

impl ShutdownPhase {
    const ALL: [ShutdownPhase; 5] = [
        ShutdownPhase::Running,
        ShutdownPhase::Draining,
        ShutdownPhase::Cancelling,
        ShutdownPhase::Forcing,
        ShutdownPhase::Done,
    ];

    /// The lower-case name, as in `Display` and serde.
    pub const fn as_str(self) -> &'static str {
        match self {
            ShutdownPhase::Running => "running",
            ShutdownPhase::Draining => "draining",
            ShutdownPhase::Cancelling => "cancelling",
            ShutdownPhase::Forcing => "forcing",
            ShutdownPhase::Done => "done",
        }
    }
}

impl fmt::Display for ShutdownPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a trigger after the first one does.
///
/// ```
/// use cancelable::shutdown::{Escalation, Shutdown};
///
/// // Ctrl+C twice: the second one kills the process, as it would without us.
/// let shutdown = Shutdown::builder().escalation(Escalation::Exit).build();
/// # drop(shutdown);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Escalation {
    /// Skip to forcing at once; a third signal then kills the process as [`Exit`](Self::Exit)
    /// does.
    #[default]
    Force,
    /// A second signal restores the previous disposition and raises the signal again: the
    /// process dies of it. A second trigger that is not a signal forces.
    Exit,
    /// Later triggers change nothing; the budget runs its course.
    Ignore,
}

type TriggerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Configures a [`Shutdown`].
///
/// ```
/// use std::time::Duration;
/// use cancelable::Signal;
/// use cancelable::shutdown::{Escalation, Shutdown};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let shutdown = Shutdown::builder()
///     .on_signals([Signal::Term])                 // only SIGTERM (default: SIGINT and SIGTERM)
///     .on(async { let _ = stopped.await; })       // or any future: an admin endpoint, a test
///     .drain(Duration::from_secs(5))
///     .grace(Duration::from_secs(25))
///     .escalation(Escalation::Force)
///     .named("billing-api")
///     .build();
/// assert_eq!(shutdown.root().name(), "billing-api");
/// # drop(stop);
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ShutdownBuilder {
    #[cfg(all(unix, feature = "signal"))]
    signals: Vec<crate::Signal>,
    on: Vec<TriggerFuture>,
    drain: Duration,
    grace: Duration,
    sweep: Duration,
    escalation: Escalation,
    name: String,
}

impl fmt::Debug for ShutdownBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ShutdownBuilder");
        #[cfg(all(unix, feature = "signal"))]
        debug.field("signals", &self.signals);
        debug
            .field("triggers", &self.on.len())
            .field("drain", &self.drain)
            .field("grace", &self.grace)
            .field("sweep", &self.sweep)
            .field("escalation", &self.escalation)
            .field("name", &self.name)
            .finish()
    }
}

impl ShutdownBuilder {
    /// The signals that trigger the shutdown (default: `SIGINT` and `SIGTERM`). An empty list
    /// listens to none.
    #[cfg(all(unix, feature = "signal"))]
    #[cfg_attr(docsrs, doc(cfg(all(unix, feature = "signal"))))]
    pub fn on_signals(mut self, signals: impl IntoIterator<Item = crate::Signal>) -> Self {
        self.signals = signals.into_iter().collect();
        self.signals.dedup();
        self
    }

    /// Also triggers when `trigger` completes (reported as [`Trigger::Future`]). May be given
    /// several times; each future that completes counts as one trigger.
    pub fn on(mut self, trigger: impl Future<Output = ()> + Send + 'static) -> Self {
        self.on.push(Box::pin(trigger));
        self
    }

    /// How long after the trigger work is still admitted before the root is cancelled
    /// (default: zero). On Kubernetes, a few seconds: endpoints are removed from the load
    /// balancers concurrently with the SIGTERM, and traffic keeps arriving meanwhile.
    pub fn drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    /// The total budget, from the trigger to forcing (default: 25 s, under Kubernetes' default
    /// `terminationGracePeriodSeconds` of 30 s, so that the report is written before the
    /// `SIGKILL`). A drain longer than the grace is cut to it.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long forcing waits for the operations it cut to end before the report is made
    /// (default: 1 s). A cut operation ends at its next poll; one that is never polled again
    /// (its task blocks inside a poll) is counted as unfinished.
    pub fn sweep(mut self, sweep: Duration) -> Self {
        self.sweep = sweep;
        self
    }

    /// What a second trigger does (default: [`Escalation::Force`]).
    pub fn escalation(mut self, escalation: Escalation) -> Self {
        self.escalation = escalation;
        self
    }

    /// The name of the root operation (default: `"service"`), the first element of every
    /// leftover's path.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The shutdown, with its root ready to be the parent of the service's operations.
    pub fn build(self) -> Shutdown {
        let supervisor = Arc::new(Supervisor::default());
        let root = Cancelable::new()
            .named(self.name.clone())
            .grace(Duration::MAX);
        root.supervise(supervisor.clone());
        Shutdown {
            root,
            shared: Arc::new(Shared {
                phase: AtomicU8::new(ShutdownPhase::Running as u8),
                log: Mutex::new(vec![(ShutdownPhase::Running, Instant::now())]),
                changed: Notify::new(),
                requests: Requests::default(),
                draining: CancellationToken::new(),
                supervisor,
            }),
            config: Config {
                #[cfg(all(unix, feature = "signal"))]
                signals: self.signals,
                drain: self.drain.min(self.grace),
                grace: self.grace,
                sweep: self.sweep,
                escalation: self.escalation,
            },
            on: Mutex::new(self.on),
        }
    }
}

/// A service's shutdown: its [root](Self::root) operation, its triggers and its phases.
///
/// See the [module docs](self) for the phases; [`run`](Self::run) drives them.
pub struct Shutdown {
    root: Cancelable,
    shared: Arc<Shared>,
    config: Config,
    on: Mutex<Vec<TriggerFuture>>,
}

struct Config {
    #[cfg(all(unix, feature = "signal"))]
    signals: Vec<crate::Signal>,
    drain: Duration,
    grace: Duration,
    sweep: Duration,
    escalation: Escalation,
}

/// What `run` shares with the other methods, callable from any task or thread.
struct Shared {
    phase: AtomicU8,
    /// Every phase entered, with its instant (for [`PhaseWatch`]).
    log: Mutex<Vec<(ShutdownPhase, Instant)>>,
    changed: Notify,
    requests: Requests,
    draining: CancellationToken,
    supervisor: Arc<Supervisor>,
}

/// A view of a shutdown's phases from outside `run`: what `testing::ShutdownProbe` reads.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) struct PhaseWatch(Arc<Shared>);

#[cfg_attr(not(feature = "testing"), allow(dead_code))]
impl PhaseWatch {
    /// The phases entered so far, in order, with their instants.
    pub(crate) fn log(&self) -> Vec<(ShutdownPhase, Instant)> {
        self.0.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Completes once `phase` (or a later one) is entered.
    pub(crate) async fn reached(&self, phase: ShutdownPhase) {
        loop {
            let mut changed = std::pin::pin!(self.0.changed.notified());
            changed.as_mut().enable();
            if self.0.phase.load(Ordering::Acquire) >= phase as u8 {
                return;
            }
            changed.await;
        }
    }

    /// As [`Shutdown::trigger`].
    pub(crate) fn trigger(&self, message: String) {
        self.0.requests.push(message);
    }
}

impl Shutdown {
    /// A builder with the defaults: `SIGINT` and `SIGTERM`, no drain, 25 s of grace.
    pub fn builder() -> ShutdownBuilder {
        ShutdownBuilder {
            #[cfg(all(unix, feature = "signal"))]
            signals: vec![crate::Signal::Int, crate::Signal::Term],
            on: Vec::new(),
            drain: Duration::ZERO,
            grace: Duration::from_secs(25),
            sweep: Duration::from_secs(1),
            escalation: Escalation::default(),
            name: String::from("service"),
        }
    }

    /// The parent of every operation of the service: spawn from it, build operations with
    /// `.parent(root)`, hand it to the axum layer. Cancelled when the shutdown cancels.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let shutdown = cancelable::shutdown::Shutdown::builder().build();
    /// let job = cancelable::Cancelable::new().named("nightly").parent(shutdown.root());
    /// assert_eq!(job.context().parent_id.as_deref(), Some(shutdown.root().id()));
    /// # }
    /// ```
    pub fn root(&self) -> &Cancelable {
        &self.root
    }

    /// Triggers the shutdown from code (reason `Manual`, with `message`); a later call counts
    /// as a second trigger. Callable from any task or thread.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let shutdown = cancelable::shutdown::Shutdown::builder().build();
    /// shutdown.trigger("maintenance window");
    /// let report = shutdown.run(std::future::pending::<()>()).await;
    /// assert_eq!(
    ///     report.trigger,
    ///     cancelable::shutdown::Trigger::Manual("maintenance window".into()),
    /// );
    /// # }
    /// ```
    pub fn trigger(&self, message: impl Into<String>) {
        self.shared.requests.push(message.into());
    }

    /// Completes when the shutdown is triggered: the future to give
    /// `axum::serve(..).with_graceful_shutdown(..)` and accept loops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let shutdown = cancelable::shutdown::Shutdown::builder().build();
    /// let draining = shutdown.draining();
    /// shutdown.trigger("test");
    /// # let report = tokio::spawn(async move { draining.await });
    /// # shutdown.run(async {}).await;
    /// # report.await.unwrap();
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Cancel-safe: dropping it changes nothing.
    pub fn draining(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shared.draining.clone().cancelled_owned()
    }

    /// Where the shutdown is now.
    pub fn phase(&self) -> ShutdownPhase {
        ShutdownPhase::ALL[usize::from(self.shared.phase.load(Ordering::Acquire))]
    }

    fn enter(&self, phase: ShutdownPhase) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((phase, Instant::now()));
        self.shared.phase.store(phase as u8, Ordering::Release);
        self.shared.changed.notify_waiters();
    }

    /// A view of the phases for the testing helpers.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn watch(&self) -> PhaseWatch {
        PhaseWatch(self.shared.clone())
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("phase", &self.phase())
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}
