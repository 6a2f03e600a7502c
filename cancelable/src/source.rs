//! Sources of cancellation and how they compose.
//!
//! An operation's sources are collected into a [`Sources`] set when the operation is built and
//! *armed* when its `run` starts. Armed sources are polled by `run` itself: no task or thread
//! is spawned per timeout, token or condition.
//!
//! # Composition
//!
//! * **Any-of** ([`Cancelable::any_of`], [`Cancelable::combine`]) merges the members' sets: all
//!   timeouts and deadlines fold into the single earliest deadline (so the earliest always wins,
//!   whatever the order of combination), and each member's token is linked to the composite's,
//!   so cancelling a member, or a token a member follows, cancels the composite at once with the
//!   member's own reason and message.
//! * **All-of** ([`Cancelable::all_of`]) keeps each member apart and fires once every member has
//!   fired at least once; the reason is that of the last member to fire, the message names all.
//!
//! Both nest freely: `any_of([timeout, all_of([min_time, condition])])` works.
//!
//! [`Cancelable::any_of`]: crate::Cancelable::any_of
//! [`Cancelable::combine`]: crate::Cancelable::combine
//! [`Cancelable::all_of`]: crate::Cancelable::all_of

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::error::{CancellationError, CancellationReason, DisplayDuration};
use crate::out_of_line::OutOfLine;
use crate::signal::SignalSet;
use crate::token::CancellationToken;

mod all_of;

use self::all_of::{AllOfMember, all_fired};

/// A user-written source of cancellation.
///
/// `run` polls it beside the operation's body; when it returns `Ready(error)`, the operation
/// is cancelled with that error's reason and message. Every future whose output is a
/// [`CancellationError`] is a source.
///
/// # Examples
///
/// ```
/// use cancelable::{Cancelable, CancellationError, CancellationReason};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (tx, rx) = tokio::sync::oneshot::channel::<()>();
/// let op = Cancelable::with_source(async move {
///     let _ = rx.await;
///     CancellationError::new(CancellationReason::Manual).with_message("shutdown requested")
/// });
/// tx.send(()).unwrap();
/// let err = op.run(std::future::pending::<()>()).await.unwrap_err();
/// assert_eq!(err.message(), Some("shutdown requested"));
/// # }
/// ```
pub trait CancellationSource: Send + 'static {
    /// `Ready(error)` once the source fires; registers `cx`'s waker otherwise.
    fn poll_fire(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CancellationError>;
}

impl<F> CancellationSource for F
where
    F: Future<Output = CancellationError> + Send + 'static,
{
    fn poll_fire(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CancellationError> {
        self.poll(cx)
    }
}

type Predicate = Box<dyn FnMut() -> bool + Send>;
type AsyncPredicate = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send>;

/// The not-yet-armed sources of one operation.
///
/// Timeouts and signals are inline; the rarer sources are boxed, so a timeout-only set costs
/// no drop glue.
#[derive(Default)]
pub(crate) struct Sources {
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    #[cfg_attr(not(all(unix, feature = "signal")), allow(dead_code))]
    signals: SignalSet,
    /// The timeout and deadline were taken back ([`disarm`](Self::disarm)).
    disarmed: bool,
    others: OutOfLine<Others>,
}

#[derive(Default)]
struct Others {
    pollers: Vec<PollerSpec>,
}

enum PollerSpec {
    Condition {
        name: Cow<'static, str>,
        predicate: Predicate,
        interval: Duration,
    },
    AsyncCondition {
        name: Cow<'static, str>,
        predicate: AsyncPredicate,
        interval: Duration,
    },
    Custom(Pin<Box<dyn CancellationSource>>),
    AllOf(Vec<(CancellationToken, Sources)>),
}

impl Sources {
    pub(crate) fn timeout(timeout: Duration) -> Self {
        Sources {
            timeout: Some(timeout),
            ..Sources::default()
        }
    }

    pub(crate) fn deadline(deadline: Instant) -> Self {
        Sources {
            deadline: Some(deadline),
            ..Sources::default()
        }
    }

    #[cfg(all(unix, feature = "signal"))]
    pub(crate) fn signals(signals: SignalSet) -> Self {
        Sources {
            signals,
            ..Sources::default()
        }
    }

    pub(crate) fn condition<P>(name: Cow<'static, str>, predicate: P, interval: Duration) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        let predicate = Box::new(predicate);
        Sources::poller(PollerSpec::Condition {
            name,
            predicate,
            interval,
        })
    }

    pub(crate) fn async_condition<P, Fut>(
        name: Cow<'static, str>,
        mut predicate: P,
        interval: Duration,
    ) -> Self
    where
        P: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let predicate: AsyncPredicate = Box::new(move || Box::pin(predicate()));
        Sources::poller(PollerSpec::AsyncCondition {
            name,
            predicate,
            interval,
        })
    }

    pub(crate) fn custom(source: impl CancellationSource) -> Self {
        Sources::poller(PollerSpec::Custom(Box::pin(source)))
    }

    pub(crate) fn all_of(members: Vec<(CancellationToken, Sources)>) -> Self {
        Sources::poller(PollerSpec::AllOf(members))
    }

    fn poller(spec: PollerSpec) -> Self {
        Sources {
            others: OutOfLine::new(Some(Box::new(Others {
                pollers: vec![spec],
            }))),
            ..Sources::default()
        }
    }

    /// Any-of: the earliest timeout and deadline, and every other source of both.
    pub(crate) fn merge(&mut self, mut other: Sources) {
        self.timeout = min_option(self.timeout, other.timeout);
        self.deadline = min_option(self.deadline, other.deadline);
        self.signals = self.signals.union(other.signals);
        if let Some(theirs) = other.others.take() {
            match self.others.as_deref_mut() {
                Some(mine) => mine.pollers.extend(theirs.pollers),
                None => self.others = OutOfLine::new(Some(theirs)),
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.timeout.is_none()
            && self.deadline.is_none()
            && self.signals.is_empty()
            && self.others.is_none()
    }

    /// Takes the sources out for a `run` that starts at `now`: the deadline to watch (the
    /// earliest of the timeout, counted from `now`, and the absolute deadline), and the other
    /// sources, to [`arm`](Self::arm). Only that deadline stays behind: what
    /// [`Cancelable::deadline`](crate::Cancelable::deadline) reads once the run started.
    pub(crate) fn take_for_run(&mut self, now: Instant) -> (Option<ArmedDeadline>, Sources) {
        let mut rest = std::mem::take(self);
        let deadline = earliest_deadline(rest.timeout.take(), rest.deadline.take(), now);
        self.deadline = deadline.as_ref().map(|d| d.at);
        (deadline, rest)
    }

    /// Takes back the timeout and deadline: before `run`, they are never armed; after, the
    /// armed timer, when it fires, finds them [disarmed](Self::is_disarmed) and stops.
    #[cfg(feature = "axum")]
    pub(crate) fn disarm(&mut self) {
        self.timeout = None;
        self.deadline = None;
        self.disarmed = true;
    }

    pub(crate) fn is_disarmed(&self) -> bool {
        self.disarmed
    }

    /// The absolute deadline: before `run`, the one the operation was built with; after
    /// [`take_for_run`](Self::take_for_run), the armed one.
    pub(crate) fn fixed_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Arms the sources with the clock of a timeout starting at `now`: returns the deadline to
    /// watch, and the other sources when there are any. Signals are subscribed here.
    pub(crate) fn arm(
        mut self,
        now: Instant,
    ) -> std::io::Result<(Option<ArmedDeadline>, Option<Box<Armed>>)> {
        let deadline = earliest_deadline(self.timeout, self.deadline, now);
        if self.signals.is_empty() && self.others.is_none() {
            return Ok((deadline, None));
        }
        #[cfg(all(unix, feature = "signal"))]
        let mut signals: [Option<SignalWait>; crate::Signal::ALL.len()] = Default::default();
        #[cfg(all(unix, feature = "signal"))]
        for signal in self.signals.iter() {
            signals[signal.index()] = Some(SignalWait::subscribe(signal)?);
        }
        let pollers = match self.others.take() {
            None => Vec::new(),
            Some(others) => others
                .pollers
                .into_iter()
                .map(ArmedPoller::arm)
                .collect::<std::io::Result<Vec<_>>>()?,
        };
        let armed = Armed {
            pollers,
            #[cfg(all(unix, feature = "signal"))]
            signals,
        };
        Ok((deadline, Some(Box::new(armed))))
    }
}

fn min_option<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The deadline to arm and what kind of expiry it is.
pub(crate) struct ArmedDeadline {
    pub(crate) at: Instant,
    pub(crate) kind: Expiry,
}

/// How a deadline came to be, which its error message says.
#[derive(Clone, Copy)]
pub(crate) enum Expiry {
    /// A timeout of this length, counted from the start of `run`.
    Timeout(Duration),
    /// An absolute deadline.
    At,
}

impl Expiry {
    pub(crate) fn to_error(self) -> CancellationError {
        match self {
            Expiry::Timeout(after) => CancellationError::timeout(after),
            Expiry::At => CancellationError::new(CancellationReason::Timeout)
                .with_message("deadline exceeded"),
        }
    }
}

fn earliest_deadline(
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    now: Instant,
) -> Option<ArmedDeadline> {
    // A timeout too far away to represent as an `Instant` never fires: it arms no timer.
    let from_timeout = timeout.and_then(|after| {
        Some(ArmedDeadline {
            at: now.checked_add(after)?,
            kind: Expiry::Timeout(after),
        })
    });
    let from_deadline = deadline.map(|at| ArmedDeadline {
        at,
        kind: Expiry::At,
    });
    match (from_timeout, from_deadline) {
        (Some(t), Some(d)) => Some(if d.at < t.at { d } else { t }),
        (t, d) => t.or(d),
    }
}

/// One signal an armed operation listens to: its subscription to the process-wide listener, and
/// this task's waker parked on the listener's current delivery token.
#[cfg(all(unix, feature = "signal"))]
struct SignalWait {
    /// Dropped after `wait` (field order): the last subscription removes the listener.
    wait: crate::token::Cancelled,
    _subscription: crate::signal::listener::Subscription,
}

#[cfg(all(unix, feature = "signal"))]
impl SignalWait {
    fn subscribe(signal: crate::Signal) -> std::io::Result<SignalWait> {
        let subscription = crate::signal::listener::Subscription::new(signal)?;
        Ok(SignalWait {
            wait: subscription.token().cancelled(),
            _subscription: subscription,
        })
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CancellationError> {
        ready!(Pin::new(&mut self.wait).poll(cx));
        match self.wait.cancellation() {
            Some(error) => Poll::Ready(error),
            None => Poll::Pending,
        }
    }
}

/// Armed sources other than a deadline: polled by `run` (or by an all-of).
pub(crate) struct Armed {
    pollers: Vec<ArmedPoller>,
    /// By [`Signal::index`](crate::Signal): no allocation of their own (`Armed` is boxed).
    #[cfg(all(unix, feature = "signal"))]
    signals: [Option<SignalWait>; crate::Signal::ALL.len()],
}

impl Armed {
    /// Polls every signal and poller; the first to fire wins.
    pub(crate) fn poll_pollers(&mut self, cx: &mut Context<'_>) -> Poll<CancellationError> {
        #[cfg(all(unix, feature = "signal"))]
        for signal in self.signals.iter_mut().flatten() {
            if let Poll::Ready(error) = signal.poll(cx) {
                return Poll::Ready(error);
            }
        }
        for poller in &mut self.pollers {
            if let Poll::Ready(error) = poller.poll(cx) {
                return Poll::Ready(error);
            }
        }
        Poll::Pending
    }
}

enum ArmedPoller {
    Condition {
        name: Cow<'static, str>,
        predicate: Predicate,
        ticks: Interval,
        checks: u64,
    },
    AsyncCondition {
        name: Cow<'static, str>,
        predicate: AsyncPredicate,
        ticks: Interval,
        checks: u64,
        check: Option<Pin<Box<dyn Future<Output = bool> + Send>>>,
    },
    Custom(Pin<Box<dyn CancellationSource>>),
    AllOf(Vec<AllOfMember>),
}

impl ArmedPoller {
    fn arm(spec: PollerSpec) -> std::io::Result<ArmedPoller> {
        Ok(match spec {
            PollerSpec::Condition {
                name,
                predicate,
                interval,
            } => ArmedPoller::Condition {
                name,
                predicate,
                ticks: ticks(interval),
                checks: 0,
            },
            PollerSpec::AsyncCondition {
                name,
                predicate,
                interval,
            } => ArmedPoller::AsyncCondition {
                name,
                predicate,
                ticks: ticks(interval),
                checks: 0,
                check: None,
            },
            PollerSpec::Custom(source) => ArmedPoller::Custom(source),
            PollerSpec::AllOf(members) => ArmedPoller::AllOf(
                members
                    .into_iter()
                    .map(|(token, sources)| AllOfMember::arm(token, sources))
                    .collect::<std::io::Result<_>>()?,
            ),
        })
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<CancellationError> {
        match self {
            ArmedPoller::Condition {
                name,
                predicate,
                ticks,
                checks,
            } => loop {
                ready!(ticks.poll_tick(cx));
                *checks += 1;
                match catch_unwind(AssertUnwindSafe(&mut *predicate)) {
                    Ok(true) => return Poll::Ready(condition_met(name, *checks)),
                    Ok(false) => {}
                    Err(panic) => predicate_panicked(name, &panic),
                }
            },
            ArmedPoller::AsyncCondition {
                name,
                predicate,
                ticks,
                checks,
                check,
            } => loop {
                if check.is_none() {
                    ready!(ticks.poll_tick(cx));
                    *checks += 1;
                    match catch_unwind(AssertUnwindSafe(&mut *predicate)) {
                        Ok(fut) => *check = Some(fut),
                        Err(panic) => {
                            predicate_panicked(name, &panic);
                            continue;
                        }
                    }
                }
                let Some(fut) = check.as_mut() else { continue };
                let outcome = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
                match outcome {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(true)) => {
                        *check = None;
                        return Poll::Ready(condition_met(name, *checks));
                    }
                    Ok(Poll::Ready(false)) => *check = None,
                    Err(panic) => {
                        *check = None;
                        predicate_panicked(name, &panic);
                    }
                }
            },
            ArmedPoller::Custom(source) => source.as_mut().poll_fire(cx),
            ArmedPoller::AllOf(members) => {
                let mut all_fired_now = !members.is_empty();
                for member in members.iter_mut().filter(|m| m.fired.is_none()) {
                    match member.poll(cx) {
                        Poll::Ready(error) => member.fired = Some(error),
                        Poll::Pending => all_fired_now = false,
                    }
                }
                if all_fired_now {
                    Poll::Ready(all_fired(members))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

fn ticks(interval: Duration) -> Interval {
    let period = if interval.is_zero() {
        Duration::from_millis(1)
    } else {
        interval
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

fn condition_met(name: &str, checks: u64) -> CancellationError {
    let plural = if checks == 1 { "" } else { "s" };
    CancellationError::new(CancellationReason::Condition).with_message(format!(
        "condition `{name}` met after {checks} check{plural}"
    ))
}

fn predicate_panicked(name: &str, panic: &(dyn std::any::Any + Send)) {
    tracing::error!(
        condition = name,
        panic = crate::panic::message(panic),
        "a condition predicate panicked; counted as not met, monitoring goes on"
    );
}

/// A readable name for a predicate: a fn item's own name, or `closure in <fn>` for a closure.
pub(crate) fn predicate_name<P>() -> Cow<'static, str> {
    let full = std::any::type_name::<P>();
    let mut segments: Vec<&str> = full.split("::").collect();
    if segments.last() == Some(&"{{closure}}") {
        segments.pop();
        while segments.last() == Some(&"{{closure}}") {
            segments.pop();
        }
        return match segments.last() {
            Some(func) => Cow::Owned(format!("closure in {func}")),
            None => Cow::Borrowed("closure"),
        };
    }
    Cow::Borrowed(segments.last().copied().unwrap_or("condition"))
}

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sources")
            .field(
                "timeout",
                &self.timeout.map(DisplayDuration).map(|d| d.to_string()),
            )
            .field("deadline", &self.deadline)
            .field("signals", &self.signals)
            .field(
                "pollers",
                &self.others.as_deref().map_or(0, |o| o.pollers.len()),
            )
            .finish()
    }
}
