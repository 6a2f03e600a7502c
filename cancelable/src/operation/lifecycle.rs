//! The lifecycle of a run: `start` when `run` is first polled, `finish` however it ends.
//!
//! # Invariants
//!
//! 1. `start` and `finish` each record the status, take the callbacks due and join or leave the
//!    registry in one critical section of the state lock; then, with no lock held, they emit
//!    the tracing event and call the callbacks. `finish` runs once, so exactly one of
//!    completed/cancelled/failed fires, after the final status, reason and message are
//!    recorded.
//! 2. `finish` ends the operation for its parent too (`children.rs`): its admission goes back
//!    once its own children are done.
//! 3. An operation with no `Cold` part (no callbacks, span, metadata, failure or cancellation)
//!    and no registry has nobody to tell but tracing: `start`, and `finish` when it completes,
//!    record the time and the status and take a short path past the rest. Everything that
//!    adds an observer allocates `Cold` under the state lock first, so the short path is never
//!    taken by an operation that someone watches.
//!
//! # Registry
//!
//! This is the operation's side of its one two-way association: `register_in` inserts the
//! operation into its registry (`build.rs`), `start` counts it as running and `finish` removes
//! it (the final context goes to the history), both under the operation's state lock; an
//! operation dropped without running is removed by its drop. The registry never takes an operation's state lock while it holds
//! its own (see `registry.rs`, "Deadlock safety"), so the order is always operation, then
//! registry.

use std::sync::atomic::Ordering;

use tokio::time::Instant;
use tracing::Span;

use super::current;
use super::observers::{self, Event};
use super::{Cancelable, LifecycleCallback, State};
use crate::error::{CancellationError, CancellationReason};
use crate::source::{Armed, ArmedDeadline, Sources};
use crate::status::OperationStatus;
use crate::token::Link;

/// What `start` records for an operation someone watches: its span, its registry's count, and
/// the start callbacks due (taken here, called once the lock is released).
fn started_watched(state: &mut State, span: &Span) -> Option<Vec<LifecycleCallback>> {
    if !span.is_disabled() {
        state.observers().span = Some(span.clone());
    }
    if let (Some(registry), Some(slot)) = (&state.registry, state.slot) {
        registry.started(slot);
    }
    state
        .observers_mut()
        .map(|observers| observers.take(Event::Start))
        .filter(|due| !due.is_empty())
}

impl Cancelable {
    pub(super) fn span(&self) -> Span {
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

    pub(super) fn start(&self, span: &Span) -> (Option<ArmedDeadline>, Option<Box<Armed>>) {
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
            && op.parent.adopt(parent).is_ok()
            && let Some(parent) = op.parent.get()
        {
            self.join(parent);
            if let Some(scope) = op.scope.get() {
                scope.node().link_to(parent.scope().node(), Link::Parent);
            }
        }
        let started_at = Instant::now();
        state.started_at = Some(started_at);
        let (deadline, sources) = state.sources.take_for_run(started_at);
        self.set_status(OperationStatus::Running);
        // Invariant 3: an operation nobody watches has nothing to tell but tracing.
        let watched = !state.cold.is_none() || state.registry.is_some() || !span.is_disabled();
        let on_start = if watched {
            started_watched(&mut state, span)
        } else {
            None
        };
        drop(state);
        tracing::debug!("operation started");
        if let Some(due) = on_start {
            observers::run(Event::Start, due, || self.context());
        }
        if sources.is_empty() {
            return (deadline, None);
        }
        self.arm(sources, started_at, deadline)
    }

    /// Arms the sources `run` polls itself (signals, conditions).
    #[inline(never)]
    fn arm(
        &self,
        sources: Sources,
        started_at: Instant,
        deadline: Option<ArmedDeadline>,
    ) -> (Option<ArmedDeadline>, Option<Box<Armed>>) {
        match sources.arm(started_at) {
            Ok((_, armed)) => (deadline, armed),
            Err(error) => {
                self.scope().cancel_error(
                    CancellationError::new(CancellationReason::Signal)
                        .with_message(format!("cannot listen for signals: {error}")),
                );
                (None, None)
            }
        }
    }

    /// Records the final status and tells every observer; returns the operation's cancellation,
    /// if it ended cancelled.
    ///
    /// The outcome of a run its supervisor cut is recorded before, in place of the scope's
    /// cancellation (see `force`).
    pub(super) fn finish(&self, status: OperationStatus) -> Option<CancellationError> {
        // Made before the state lock: making a scope token takes it.
        let scope =
            (status == OperationStatus::Cancelled || self.is_cancelled()).then(|| self.scope());
        let mut state = self.state();
        let ended_at = Instant::now();
        state.ended_at = Some(ended_at);
        if status == OperationStatus::Completed
            && scope.is_none()
            && state.cold.is_none()
            && state.registry.is_none()
        {
            // Invariant 3: completed, with nobody to tell but tracing.
            self.set_status(OperationStatus::Completed);
            let started_at = state.started_at;
            drop(state);
            tracing::debug!(
                duration = ?started_at.map(|s| ended_at.saturating_duration_since(s)),
                "operation completed"
            );
            self.leave();
            return None;
        }
        let (failed, failed_after_cancel) = state.cold.as_deref().map_or((false, false), |c| {
            (c.failure.is_some(), c.failed_after_cancel)
        });
        let status = match status {
            OperationStatus::Completed if failed => OperationStatus::Failed,
            OperationStatus::Completed if !failed_after_cancel => OperationStatus::Completed,
            OperationStatus::Completed | OperationStatus::Cancelled => {
                let outcome = state.outcome.take().or_else(|| {
                    scope.and_then(|scope| scope.node().with_error(|e| self.attribute(e)))
                });
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
            (Some(registry), Some(slot)) => {
                registry.remove(slot, self, status, ended_at, duration())
            }
            _ => None,
        };
        let observed = state
            .observers_mut()
            .map(|observers| (observers.take_ending(event), observers.span.take()));
        let cold = state.cold.as_deref();
        let outcome = state.outcome.clone();
        let failure = match status {
            OperationStatus::Failed => cold.and_then(|c| c.failure.clone()),
            _ => None,
        };
        drop(state);
        drop(evicted);
        match event {
            Event::Completed => tracing::debug!(duration = ?duration(), "operation completed"),
            Event::Cancelled => tracing::info!(
                cancellation.reason = outcome.as_ref().map(|e| e.reason().as_str()),
                cancellation.message = outcome.as_ref().and_then(|e| e.message()),
                "operation cancelled",
            ),
            Event::Failed | Event::Start => {
                tracing::warn!(error = failure.as_deref(), "operation failed")
            }
        }
        if let Some((due, span)) = observed {
            if !due.is_empty() {
                observers::run(event, due, || self.context());
            }
            drop(span);
        }
        self.leave();
        outcome
    }

    /// Records `error` as the outcome of a run its supervisor cut; `finish` keeps it.
    pub(super) fn force(&self, error: CancellationError) {
        self.state().outcome = Some(error);
    }
}
