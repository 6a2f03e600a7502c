//! Running an operation: [`RunOn`], the future of [`Cancelable::run`] ([`Run`], borrowing the
//! operation) and of [`Cancelable::run_owned`] ([`OwnedRun`], owning it), and
//! [`Cancelable::try_run`]. The lifecycle it drives (`start`, then `finish` however the run
//! ends) is in `lifecycle.rs`.
//!
//! # Invariants
//!
//! 1. `run` arms its sources when first polled (a timeout's clock starts then) and polls them
//!    itself; the timer is created only when the body first returns `Pending`. Nothing is
//!    spawned.
//! 2. An operation runs once. However `run` ends (output, cancellation, panic, drop) its status
//!    is final and everything it holds (the body, the timer, the armed sources and their signal
//!    subscriptions, the waker registration) is released together, before the status is
//!    recorded.
//! 3. When woken, `run` polls signals and conditions before the body, so a delivery stops the
//!    body before it runs again; on the first poll the body goes first, so a body ready at once
//!    registers nothing.
//! 4. A cancelled `run` drops its body at once, unless it has a reason to keep it: a shield is
//!    open (`shield.rs`), or the operation has a grace period, which starts when `run` first
//!    finds it cancelled and runs on the timer the timeout used. A kept body that returns makes
//!    `run` return the cancellation (status `Cancelled`); a grace period that runs out drops
//!    the body. Only a cancelled run ever looks the grace up (one flag is read before).
//! 5. A kept body under a supervisor also waits on its forcing: once forced, `run` drops the
//!    body and ends with the forcing error, caused by the cancellation it cut short, and
//!    records itself for the shutdown's report.
//! 6. A deadline can be taken back while `run` goes on (`Cancelable::disarm_deadline`): the
//!    timer is not told; when it fires, `run` looks the state up (the one lock on that path)
//!    and, finding the deadline disarmed, drops the timer instead of cancelling. Nothing is
//!    added to the paths where no timer fires.
//! 7. A running `run` can move (`RunOn::move_to`, for the axum layer's streamed responses,
//!    whose operation outlives the response future): everything it holds moves but its body,
//!    replaced, and its timer, made again: from the grace period's recorded end at once, from
//!    the deadline on the new run's first poll. The old run ends `Done` without finishing the
//!    operation.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tracing::Span;

use super::current;
use super::kept::{Kept, Timer};

use super::Cancelable;
use crate::error::{CancellationError, CancellationReason};
use crate::out_of_line::OutOfLine;
use crate::source::Armed;
use crate::status::OperationStatus;

impl Cancelable {
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
        RunOn::new(self, fut)
    }

    /// [`run`](Self::run) on an operation it owns: the future is `'static` when `fut` is, so
    /// it can be stored (a tower service's response future) or spawned without a box. Same
    /// behaviour and cost as `run`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::Cancelable;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = Cancelable::with_timeout(Duration::from_secs(1)).named("fetch");
    /// let watch = op.clone();
    /// let task = tokio::spawn(op.run_owned(std::future::pending::<()>()));
    /// let err = task.await.unwrap().unwrap_err();
    /// assert!(err.is_timeout() && watch.status().is_finished());
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`run`](Self::run): when the operation already ran.
    ///
    /// # Cancellation safety
    ///
    /// As [`run`](Self::run): dropping the returned future drops `fut`, cancels the operation's
    /// scope and marks it `Cancelled`.
    pub fn run_owned<F: Future>(self, fut: F) -> OwnedRun<F> {
        RunOn::new(self, fut)
    }
}

impl<O: Borrow<Cancelable>, F> RunOn<O, F> {
    #[inline]
    fn new(op: O, fut: F) -> Self {
        RunOn {
            op,
            body: Some(fut),
            sleep: None,
            armed: OutOfLine::default(),
            wait_key: None,
            timer: Timer::Idle,
            phase: Phase::Init,
            span: Span::none(),
        }
    }
}

impl Cancelable {
    /// [`run`](Self::run) for a fallible body: a cancellation becomes `E::from(err)`, and an `Err`
    /// from the body marks the operation `Failed` with the error's text.
    ///
    /// An `Err` that the body returns once its scope is already cancelled (say, a nested call
    /// that failed with reason `Parent` right after a shield ended) is a consequence of that
    /// cancellation: the operation ends `Cancelled` and the caller gets `E::from` of the
    /// operation's own cancellation.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationError, OperationStatus};
    ///
    /// #[derive(Debug)]
    /// enum AppError { NotFound, Cancelled(CancellationError) }
    /// impl From<CancellationError> for AppError {
    ///     fn from(e: CancellationError) -> Self { AppError::Cancelled(e) }
    /// }
    /// impl std::fmt::Display for AppError {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    ///         match self {
    ///             AppError::NotFound => f.write_str("not found"),
    ///             AppError::Cancelled(e) => write!(f, "{e}"),
    ///         }
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = Cancelable::new().named("lookup");
    /// let result: Result<u32, AppError> = op.try_run(async { Err(AppError::NotFound) }).await;
    /// assert!(matches!(result, Err(AppError::NotFound)));
    /// assert_eq!(op.status(), OperationStatus::Failed);
    /// assert_eq!(op.context().failure.as_deref(), Some("not found"));
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// As [`run`](Self::run): dropping the returned future drops `fut`, cancels the operation's
    /// scope and marks it `Cancelled`.
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
}

/// Whether a subscriber may want an `INFO` span: tracing's own level check, without a callsite.
#[inline]
fn span_wanted() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::INFO <= STATIC_MAX_LEVEL && tracing::Level::INFO <= LevelFilter::current()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Init,
    Running,
    Done,
}

/// What `run` holds until it ends, released together (invariant 2): the fields of [`Run`]
/// besides its span, which stays entered meanwhile. (Fields of `Run` itself, not a struct of
/// their own: one drop glue, inlined where `Run` is dropped.)
struct Held<'a, F> {
    body: Pin<&'a mut Option<F>>,
    // The timeout's timer, then the grace period's (invariant 4).
    sleep: Pin<&'a mut Option<Sleep>>,
    armed: &'a mut OutOfLine<Armed>,
    wait_key: &'a mut Option<usize>,
    timer: &'a mut Timer,
}

impl<F> Held<'_, F> {
    /// Drops the body, the timer and the other sources, and unregisters the waker.
    #[inline]
    fn release(&mut self, op: &Cancelable) {
        self.body.set(None);
        self.sleep.set(None);
        self.armed.clear();
        if matches!(self.timer, Timer::Kept(_)) {
            *self.timer = Timer::Idle;
        }
        self.unregister(op);
    }

    #[inline]
    fn unregister(&mut self, op: &Cancelable) {
        if let Some(key) = self.wait_key.take()
            && let Some(scope) = op.made_scope()
        {
            scope.node().remove_waiter(key);
        }
    }

    /// Keeps the body of a cancelled run that has a reason to (invariant 4); `true` if kept.
    fn keep(&mut self, op: &Cancelable, shields: u32) -> bool {
        if self.timer.kept().is_none() && (shields > 0 || op.inner.children.has_grace()) {
            let kept = Kept::new(op);
            let timer = kept.grace_until.map(tokio::time::sleep_until);
            self.sleep.set(timer);
            *self.timer = Timer::Kept(OutOfLine::new(Some(kept)));
        }
        self.timer.kept().is_some()
    }

    /// Whether the grace period of a kept body is over (or it never had one).
    fn grace_over(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(kept) = self.timer.kept() else {
            return true;
        };
        if !kept.graceful {
            return true;
        }
        match self.sleep.as_mut().as_pin_mut() {
            Some(sleep) => sleep.poll(cx).is_ready(),
            None => false,
        }
    }
}

/// The future of [`Cancelable::run`]: it borrows the operation.
pub type Run<'a, F> = RunOn<&'a Cancelable, F>;

/// The future of [`Cancelable::run_owned`]: it owns the operation, so it is `'static` when the
/// body is.
pub type OwnedRun<F> = RunOn<Cancelable, F>;

pin_project! {
    /// A run of an operation held as `O`: [`Run`] (borrowed) or [`OwnedRun`] (owned); one
    /// implementation for both.
    #[must_use = "futures do nothing unless polled"]
    #[project = RunProj]
    pub struct RunOn<O: Borrow<Cancelable>, F> {
        op: O,
        #[pin]
        body: Option<F>,
        #[pin]
        sleep: Option<Sleep>,
        armed: OutOfLine<Armed>,
        wait_key: Option<usize>,
        timer: Timer,
        phase: Phase,
        span: Span,
    }

    impl<O: Borrow<Cancelable>, F> PinnedDrop for RunOn<O, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.phase != Phase::Done {
                dropped_unfinished((*this.op).borrow(), this.wait_key, *this.phase, this.span);
            }
        }
    }
}

impl<O: Borrow<Cancelable>, F> RunOn<O, F> {
    /// The operation it runs.
    #[cfg(feature = "axum")]
    pub(crate) fn operation(&self) -> &Cancelable {
        self.op.borrow()
    }

    /// Whether it ended (or was [moved](Self::move_to)).
    #[cfg(feature = "axum")]
    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The body, while it is held.
    #[cfg(feature = "axum")]
    pub(crate) fn body(self: Pin<&mut Self>) -> Option<Pin<&mut F>> {
        self.project().body.as_pin_mut()
    }

    /// Moves a running run elsewhere, `body` in place of its body (dropped here): the new run
    /// goes on where this one was, and this one ends without ending the operation
    /// (invariant 7).
    #[cfg(feature = "axum")]
    pub(crate) fn move_to(self: Pin<&mut Self>, body: F) -> RunOn<O, F>
    where
        O: Clone,
    {
        let mut this = self.project();
        debug_assert_eq!(*this.phase, Phase::Running);
        let timer = std::mem::replace(this.timer, Timer::Idle);
        let sleep = timer
            .kept()
            .and_then(|kept| kept.grace_until)
            .map(tokio::time::sleep_until);
        let moved = RunOn {
            op: this.op.clone(),
            body: Some(body),
            sleep,
            armed: OutOfLine::new(this.armed.take()),
            wait_key: this.wait_key.take(),
            timer,
            phase: Phase::Running,
            span: std::mem::replace(this.span, Span::none()),
        };
        this.body.set(None);
        this.sleep.set(None);
        *this.phase = Phase::Done;
        moved
    }
}

/// A run dropped before it ended (a finished one released everything then, invariant 2):
/// unregisters its waker and, once started, cancels the operation with reason `Dropped` and
/// finishes it.
#[cold]
#[inline(never)]
fn dropped_unfinished(op: &Cancelable, wait_key: &mut Option<usize>, phase: Phase, span: &Span) {
    if let Some(key) = wait_key.take()
        && let Some(scope) = op.made_scope()
    {
        scope.node().remove_waiter(key);
    }
    if phase == Phase::Running {
        let _entered = span.enter();
        op.scope().cancel_error(
            CancellationError::new(CancellationReason::Dropped)
                .with_message("the operation's future was dropped before it finished"),
        );
        op.finish(OperationStatus::Cancelled);
    }
}

/// Ends a run that its supervisor forced (invariant 5): drops the body, records the forcing
/// error (caused by the cancellation it cut short) as the outcome, and reports the run.
fn cut<F>(
    op: &Cancelable,
    held: &mut Held<'_, F>,
    phase: &mut Phase,
    forced: CancellationError,
    in_shield: bool,
) -> CancellationError {
    let supervisor = held
        .timer
        .kept()
        .and_then(|kept| kept.force.as_ref())
        .map(|(s, _)| s.clone());
    held.release(op);
    *phase = Phase::Done;
    let cause = op.scope().node().with_error(|e| op.attribute(e));
    let error = match cause {
        Some(cause) => forced.caused_by(cause),
        None => forced,
    };
    let error = op.attribute(&error);
    op.force(error.clone());
    op.finish(OperationStatus::Cancelled);
    if let Some(supervisor) = supervisor {
        op.record_forced(&supervisor, error.clone(), in_shield);
    }
    error
}

impl<O: Borrow<Cancelable>, F: Future> Future for RunOn<O, F> {
    type Output = Result<F::Output, CancellationError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let RunProj {
            op,
            body,
            sleep,
            armed,
            wait_key,
            timer,
            phase,
            span,
        } = self.project();
        let op: &Cancelable = (*op).borrow();
        let mut held = Held {
            body,
            sleep,
            armed,
            wait_key,
            timer,
        };
        if *phase == Phase::Init && span_wanted() {
            *span = op.span();
        }
        // The span stays entered until the end of the poll, releases and callbacks included.
        let _entered = span.enter();
        let resumed = *phase == Phase::Running;
        match *phase {
            Phase::Running => {}
            Phase::Init => {
                let (deadline, armed) = op.start(span);
                if let Some(deadline) = deadline {
                    *held.timer = Timer::Deadline(deadline);
                }
                if armed.is_some() {
                    *held.armed = OutOfLine::new(armed);
                }
                *phase = Phase::Running;
            }
            Phase::Done => panic!("`Run` polled after it completed"),
        }
        loop {
            // Invariant 3: when woken, signals and conditions before the body.
            if resumed
                && let Some(armed) = held.armed.as_deref_mut()
                && !op.is_cancelled()
                && let Poll::Ready(error) = armed.poll_pollers(cx)
            {
                op.scope().node().cancel(op.attribute(&error));
            }
            if op.is_cancelled() {
                let shields = op.inner.shields.load(Ordering::Acquire);
                if held.keep(op, shields)
                    && let Some(forced) = held.timer.kept_mut().and_then(|k| k.poll_forced(cx))
                {
                    return Poll::Ready(Err(cut(op, &mut held, phase, forced, shields > 0)));
                }
                if shields == 0 && held.grace_over(cx) {
                    held.release(op);
                    *phase = Phase::Done;
                    let error = op.finish(OperationStatus::Cancelled);
                    return Poll::Ready(Err(
                        error.unwrap_or_else(|| CancellationError::new(CancellationReason::Manual))
                    ));
                }
            }
            if let Some(body) = held.body.as_mut().as_pin_mut() {
                let polled = current::enter(op, true, || {
                    catch_unwind(AssertUnwindSafe(|| body.poll(cx)))
                });
                match polled {
                    Ok(Poll::Pending) => {}
                    Ok(Poll::Ready(output)) => {
                        let kept = held.timer.kept().is_some() || op.inner.children.landed();
                        held.release(op);
                        *phase = Phase::Done;
                        if kept {
                            // A kept body that returns hands back the cancellation (invariant 4).
                            let error = op.finish(OperationStatus::Cancelled);
                            return Poll::Ready(Err(error.unwrap_or_else(|| {
                                CancellationError::new(CancellationReason::Manual)
                            })));
                        }
                        op.finish(OperationStatus::Completed);
                        return Poll::Ready(Ok(output));
                    }
                    Err(panic) => {
                        // Released before unwinding: whoever catches the panic may keep this
                        // future.
                        held.release(op);
                        *phase = Phase::Done;
                        op.state().cold().failure =
                            Some(format!("panicked: {}", crate::panic::message(&*panic)));
                        op.finish(OperationStatus::Failed);
                        resume_unwind(panic);
                    }
                }
            }
            if op.is_cancelled() {
                let shields = op.inner.shields.load(Ordering::Acquire);
                if shields == 0 {
                    if held.timer.kept().is_some_and(|kept| kept.graceful) {
                        // In its grace period: woken by the body, the timer or the forcing.
                        return Poll::Pending;
                    }
                    continue;
                }
                if held.keep(op, shields)
                    && let Some(forced) = held.timer.kept_mut().and_then(|k| k.poll_forced(cx))
                {
                    return Poll::Ready(Err(cut(op, &mut held, phase, forced, true)));
                }
                op.state().cold().shielded_run = Some(cx.waker().clone());
                if op.inner.shields.load(Ordering::Acquire) == 0 {
                    continue;
                }
                return Poll::Pending;
            }
            // Invariant 3: on the first poll, after the body.
            if !resumed
                && let Some(armed) = held.armed.as_deref_mut()
                && let Poll::Ready(error) = armed.poll_pollers(cx)
            {
                op.scope().node().cancel(op.attribute(&error));
                continue;
            }
            if let Timer::Deadline(deadline) = &*held.timer {
                if held.sleep.is_none() {
                    held.sleep.set(Some(tokio::time::sleep_until(deadline.at)));
                }
                if let Some(sleep) = held.sleep.as_mut().as_pin_mut()
                    && sleep.poll(cx).is_ready()
                {
                    // Invariant 6: a disarmed deadline stops its timer instead.
                    if !op.deadline_disarmed() {
                        op.scope()
                            .node()
                            .cancel(op.attribute(&deadline.kind.to_error()));
                        continue;
                    }
                    *held.timer = Timer::Idle;
                    held.sleep.set(None);
                }
            }
            match op.scope().node().poll_cancelled(held.wait_key, cx) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<O: Borrow<Cancelable>, F> fmt::Debug for RunOn<O, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("op", self.op.borrow())
            .field("phase", &self.phase)
            .finish()
    }
}
