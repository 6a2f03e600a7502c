//! What a shutdown needs from the operations under its root: a way to cut the ones that are
//! still running when its budget is spent, and their account of themselves.
//!
//! A [`Supervisor`] hangs off one operation (a shutdown's root). The operations under it find
//! it by walking up their parents, which they do only on rare paths: when a cancelled `run`
//! parks on a shield or a grace period, and in `spawn_blocking`.
//!
//! # Invariants
//!
//! 1. A cancelled `run` that keeps its body (a shield is open, or a grace period runs) waits on
//!    the supervisor's `force` token besides its body: when the shutdown forces, every such
//!    `run` is woken, drops its body and ends with the forcing error.
//! 2. A `run` that was forced records itself (after its final status) before it returns; a
//!    `spawn_blocking` closure records itself when it starts and removes its record when it
//!    returns or unwinds. So when the shutdown reads the records, every forced operation that
//!    could be polled and every blocking closure still running is in them, and a long-lived
//!    service that runs blocking work all day keeps one record per closure in flight.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use slab::Slab;
use tokio::time::Instant;

use super::Cancelable;
use crate::error::CancellationError;
use crate::token::CancellationToken;

/// The operations' side of a shutdown.
#[derive(Debug, Default)]
pub(crate) struct Supervisor {
    force: CancellationToken,
    records: Mutex<Records>,
}

/// What the operations under a supervisor reported.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub(crate) forced: Vec<Forced>,
    /// The blocking closures still running (invariant 2).
    pub(crate) blocking: Slab<Blocking>,
}

/// A `run` cut by the forcing (invariant 2).
#[derive(Debug)]
pub(crate) struct Forced {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Names of the ancestors, outermost first.
    pub(crate) path: Vec<String>,
    pub(crate) started_at: Option<Instant>,
    pub(crate) forced_at: Instant,
    pub(crate) error: CancellationError,
    pub(crate) last_progress: Option<String>,
    pub(crate) in_shield: bool,
    pub(crate) spawned: bool,
}

/// A `spawn_blocking` closure (invariant 2).
#[derive(Debug)]
pub(crate) struct Blocking {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    pub(crate) started_at: Instant,
    /// The token the closure was handed.
    pub(crate) token: CancellationToken,
    pub(crate) last_progress: Option<String>,
}

impl Supervisor {
    /// The token that forcing cancels (invariant 1).
    pub(crate) fn force_token(&self) -> &CancellationToken {
        &self.force
    }

    pub(crate) fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes a blocking record when the closure returns or unwinds (invariant 2).
pub(crate) struct BlockingDone {
    supervisor: Weak<Supervisor>,
    key: usize,
}

impl Drop for BlockingDone {
    fn drop(&mut self) {
        if let Some(supervisor) = self.supervisor.upgrade() {
            let removed = supervisor.records().blocking.try_remove(self.key);
            drop(removed);
        }
    }
}

impl Cancelable {
    /// Puts this operation, and everything admitted under it from now on, under `supervisor`.
    pub(crate) fn supervise(&self, supervisor: Arc<Supervisor>) {
        self.state().cold().supervisor = Some(supervisor);
        self.inner.children.set_recording();
        self.record_progress();
    }

    /// The supervisor of the nearest supervised ancestor (or of this operation).
    pub(crate) fn supervisor(&self) -> Option<Arc<Supervisor>> {
        let mut op = self;
        loop {
            let found = op
                .state()
                .cold
                .as_deref()
                .and_then(|cold| cold.supervisor.clone());
            if found.is_some() {
                return found;
            }
            op = op.inner.parent.get()?;
        }
    }

    /// The names of the ancestors, outermost first.
    pub(crate) fn path(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut ancestor = self.inner.parent.get();
        while let Some(op) = ancestor {
            names.push(op.name().to_owned());
            ancestor = op.inner.parent.get();
        }
        names.reverse();
        names
    }

    /// The last progress message, kept for an operation under a supervisor.
    pub(crate) fn last_progress(&self) -> Option<String> {
        self.state()
            .cold
            .as_deref()
            .and_then(|cold| cold.last_progress.clone())
    }

    /// Records a forced `run` (invariant 2); called after its final status.
    pub(super) fn record_forced(
        &self,
        supervisor: &Supervisor,
        error: CancellationError,
        in_shield: bool,
    ) {
        let started_at = self.state().started_at;
        let forced = Forced {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            path: self.path(),
            started_at,
            forced_at: Instant::now(),
            error,
            last_progress: self.last_progress(),
            in_shield,
            spawned: self.inner.children.is_spawned(),
        };
        supervisor.records().forced.push(forced);
    }

    /// Records a `spawn_blocking` closure of this operation, if it is supervised.
    pub(super) fn record_blocking(&self, token: &CancellationToken) -> Option<BlockingDone> {
        let supervisor = self.supervisor()?;
        let blocking = Blocking {
            id: self.id().to_owned(),
            name: self.name().to_owned(),
            path: self.path(),
            started_at: Instant::now(),
            token: token.clone(),
            last_progress: self.last_progress(),
        };
        let key = supervisor.records().blocking.insert(blocking);
        Some(BlockingDone {
            supervisor: Arc::downgrade(&supervisor),
            key,
        })
    }
}
