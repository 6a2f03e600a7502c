//! What a cancelled [`Run`](super::Run) keeps: the timer's slot ([`Timer`]) holds the
//! timeout's deadline while the operation runs, then the kept body's grace period and forcing
//! ([`Kept`]). The rules they follow are `run.rs`'s invariants 4 and 5.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;

use super::{Cancelable, Supervisor};
use crate::error::CancellationError;
use crate::out_of_line::OutOfLine;
use crate::source::ArmedDeadline;
use crate::token::Cancelled;

/// What the timer is for: the timeout's deadline while the operation runs, then, once it is
/// cancelled, the body it keeps (the deadline no longer matters then, so they share a slot).
pub(super) enum Timer {
    Idle,
    Deadline(ArmedDeadline),
    Kept(OutOfLine<Kept>),
}

impl Timer {
    pub(super) fn kept(&self) -> Option<&Kept> {
        match self {
            Timer::Kept(kept) => kept.as_deref(),
            _ => None,
        }
    }

    pub(super) fn kept_mut(&mut self) -> Option<&mut Kept> {
        match self {
            Timer::Kept(kept) => kept.as_deref_mut(),
            _ => None,
        }
    }
}

/// A cancelled `run` that keeps polling its body: a shield is open, or a grace period runs
/// (`run.rs`, invariant 4).
pub(super) struct Kept {
    /// The end of the grace period; `None` without one, or when it is too far to represent.
    pub(super) grace_until: Option<Instant>,
    /// The operation has a grace period (it may still be running).
    pub(super) graceful: bool,
    /// The supervisor's forcing, when the operation is under one (`supervisor.rs`).
    pub(super) force: Option<(Arc<Supervisor>, Cancelled)>,
}

impl Kept {
    /// Looks up the grace period and the supervisor: once per run, on a rare path.
    #[cold]
    pub(super) fn new(op: &Cancelable) -> Box<Kept> {
        let grace = op.state().cold.as_deref().and_then(|cold| cold.grace);
        let force = op.supervisor().map(|supervisor| {
            let wait = supervisor.force_token().cancelled();
            (supervisor, wait)
        });
        Box::new(Kept {
            grace_until: grace.and_then(|grace| Instant::now().checked_add(grace)),
            graceful: grace.is_some(),
            force,
        })
    }

    /// The forcing error, once the supervisor forced (`run.rs`, invariant 5).
    pub(super) fn poll_forced(&mut self, cx: &mut Context<'_>) -> Option<CancellationError> {
        let (supervisor, wait) = self.force.as_mut()?;
        match Pin::new(wait).poll(cx) {
            Poll::Ready(()) => supervisor.force_token().cancellation(),
            Poll::Pending => None,
        }
    }
}
