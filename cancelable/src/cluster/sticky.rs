//! Sticky commands: the live ones a node keeps, and the join hook that cancels the matching
//! operations joining its registry within their windows.
//!
//! # Invariants
//!
//! 1. A sticky command joins the sticky list before the registry is scanned (`apply.rs`,
//!    `Node::apply`), and an operation joins the running set before the join hook reads the
//!    list (`registry.rs`, `joined`). So every matching operation is found by the scan or by the
//!    hook, or both (a second cancel does nothing).
//! 2. The join hook runs under the joining operation's state lock: it only reads the sticky
//!    list (a leaf lock) and sends a clone of the operation to the node's task, which cancels it
//!    with no lock held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::mpsc;

use super::apply::lock;
use super::command::{Target, unix_ms};
use crate::error::CancellationReason;
use crate::operation::Cancelable;

/// What a cancelled operation joining later gets from a sticky command.
pub(super) type Due = (Cancelable, CancellationReason, String);

/// A sticky command still inside its window.
pub(super) struct Sticky {
    pub(super) target: Target,
    pub(super) reason: CancellationReason,
    pub(super) message: String,
    pub(super) until_ms: u64,
}

/// The sticky commands of a node, shared with its join hook; a flag spares the lock when
/// there are none.
#[derive(Default)]
pub(super) struct StickyList {
    any: AtomicBool,
    list: Mutex<Vec<Sticky>>,
}

impl StickyList {
    pub(super) fn add(&self, sticky: Sticky) {
        let mut list = lock(&self.list);
        let now = unix_ms(SystemTime::now());
        list.retain(|s| s.until_ms > now);
        list.push(sticky);
        self.any.store(true, Ordering::Release);
    }

    /// The reason and message of the first live sticky command that targets `op`.
    pub(super) fn matching(&self, op: &Cancelable) -> Option<(CancellationReason, String)> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut list = lock(&self.list);
        let now = unix_ms(SystemTime::now());
        list.retain(|s| s.until_ms > now);
        if list.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        list.iter()
            .find(|s| s.target.matches(op))
            .map(|s| (s.reason, s.message.clone()))
    }
}

/// The join hook of a node: hands each joining operation that a sticky command of `sticky`
/// targets to the node's task through `due`.
pub(super) fn join_hook(
    sticky: Arc<StickyList>,
    due: mpsc::UnboundedSender<Due>,
) -> impl Fn(&Cancelable) + Send + Sync + 'static {
    move |op: &Cancelable| {
        // Invariant 2: read, clone, hand over; nothing else under the operation's lock.
        if let Some((reason, message)) = sticky.matching(op) {
            let _ = due.send((op.clone(), reason, message));
        }
    }
}
