//! The cancelation tree: one [`Node`] per token, linked to the tokens it follows.
//!
//! A node is cancelled once, by storing its [`CancelationError`] in a `OnceLock`: that store
//! is the *publication* of the cancel. Everything that waits on it (wakers, callbacks, linked
//! nodes) sits in `Inner`, behind a mutex.
//!
//! # Publication
//!
//! The `OnceLock` is the cancel flag and the error at once: its `set` picks the one winner
//! among racing cancels, and its `get` is a single acquire load that returns the error only
//! after the winner's release, so a thread that sees the node cancelled also sees the whole
//! error. The error is never moved or replaced afterwards, so [`Node::error`] hands out a
//! plain `&CancelationError` with no lock and no clone. A losing `set` returns only once the
//! winner's error is visible: after any `cancel` returns, `is_cancelled` is `true`.
//!
//! Under `--cfg loom` the `OnceLock` and the `Mutex` come from [`crate::loom`], whose
//! `OnceLock` keeps this contract on loom's mutex and atomics: the models in `loom_tests.rs`
//! check every interleaving of publication, locking and registration below.
//!
//! # Invariants
//!
//! 1. `error` is set at most once; the first setter wins and is the only caller that fires the
//!    node. Reading it (`is_cancelled`) is one atomic acquire load and never takes a lock.
//! 2. `error` is set *before* `inner` is locked to fire, and every registration (waker,
//!    callback, child link) checks `error` *while holding* `inner`. So a registration either
//!    sees the node cancelled (and acts at once) or is in `inner` when the node fires: no
//!    wake-up, callback or child is ever lost. (If the registration's lock comes first, the
//!    firing lock sees it; if the firing lock comes first, its unlock happens before the
//!    registration's lock, and the `set` before that unlock, so the check sees the error.)
//! 3. Once fired, a node never registers anything again (registrations see invariant 2), so
//!    stale slab keys held by waiters or children are never reused: removing them is a no-op.
//! 4. A child holds strong references to its parents (to unlink itself on drop); a parent holds
//!    only `Weak` references to its children. Dropping the last handle of a node removes it from
//!    every parent: long-lived parents do not accumulate finished children.
//! 5. A child is cancelled by its parent's firing thread, which wins the child's `set` or finds
//!    it already cancelled; either way the child is cancelled before the parent's `cancel`
//!    returns. A child linked while its parent fires either is in the taken `children` (and is
//!    cancelled by the firing thread) or sees the parent's error under the lock and cancels
//!    itself: a child created during a cancel ends cancelled.
//!
//! # Deadlock safety
//!
//! No code path holds two node locks at once: firing takes the waiters, callbacks and children
//! out of `inner` and releases the lock before waking, calling or cancelling any of them. Wakers
//! and callbacks are never called with a lock held. Cancelling a subtree walks it with an
//! explicit stack, so depth costs no recursion.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::error::CancelationError;
use crate::loom::{Mutex, MutexGuard, OnceLock};

pub(crate) type Callback = Box<dyn FnOnce(&CancelationError) + Send>;

/// How a node inherits its parent's cancelation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// The child is cancelled with reason `Parent`, the parent's error as its cause.
    Parent,
    /// The child is cancelled with the parent's own error (any-of composition, `with_token`).
    Forward,
}

#[derive(Default)]
pub(crate) struct Node {
    error: OnceLock<CancelationError>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    waiters: Waiters,
    callbacks: Vec<Callback>,
    children: Slab<(Weak<Node>, Link)>,
    parents: Parents,
}

/// The wakers parked on a node. The first sits inline: a node with one waiter (an operation's
/// own `run`, a lone `cancelled()`) allocates nothing for it. Key 0 is the inline slot.
#[derive(Default)]
struct Waiters {
    first: Option<Waker>,
    more: Slab<Waker>,
}

impl Waiters {
    fn insert(&mut self, waker: Waker) -> usize {
        match self.first {
            None => {
                self.first = Some(waker);
                0
            }
            Some(_) => self.more.insert(waker) + 1,
        }
    }

    fn get_mut(&mut self, key: usize) -> Option<&mut Waker> {
        match key {
            0 => self.first.as_mut(),
            key => self.more.get_mut(key - 1),
        }
    }

    fn remove(&mut self, key: usize) {
        match key {
            0 => self.first = None,
            key => drop(self.more.try_remove(key - 1)),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn wake_all(self) {
        if let Some(waker) = self.first {
            waker.wake();
        }
        for (_, waker) in self.more {
            waker.wake();
        }
    }
}

/// The nodes this one follows, each with this node's key among its children. The first sits
/// inline: most nodes follow exactly one.
#[derive(Default)]
struct Parents {
    first: Option<(Arc<Node>, usize)>,
    more: Vec<(Arc<Node>, usize)>,
}

impl Parents {
    fn push(&mut self, parent: (Arc<Node>, usize)) {
        match self.first {
            None => self.first = Some(parent),
            Some(_) => self.more.push(parent),
        }
    }

    fn pop(&mut self) -> Option<(Arc<Node>, usize)> {
        self.more.pop().or_else(|| self.first.take())
    }

    fn append(&mut self, other: &mut Parents) {
        while let Some(parent) = other.pop() {
            self.push(parent);
        }
    }
}

impl Node {
    pub(crate) fn new() -> Arc<Node> {
        Arc::new(Node::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing runs user code while holding the lock, so poisoning can only come from an
        // allocation failure; the data is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.error.get().is_some()
    }

    #[inline]
    pub(crate) fn error(&self) -> Option<&CancelationError> {
        self.error.get()
    }

    /// Cancels this node and, iteratively, everything linked below it.
    /// Returns `false` if it was already cancelled.
    pub(crate) fn cancel(self: &Arc<Self>, error: CancelationError) -> bool {
        if self.error.set(error).is_err() {
            return false;
        }
        let mut pending = Vec::new();
        self.fire(&mut pending);
        while let Some(node) = pending.pop() {
            node.fire(&mut pending);
        }
        true
    }

    /// Wakes, calls back and cancels the children of a node whose error was just set.
    fn fire(&self, pending: &mut Vec<Arc<Node>>) {
        let (waiters, callbacks, children) = {
            let mut inner = self.lock();
            (
                std::mem::take(&mut inner.waiters),
                std::mem::take(&mut inner.callbacks),
                std::mem::take(&mut inner.children),
            )
        };
        let Some(error) = self.error.get() else {
            return;
        };
        waiters.wake_all();
        // Every `Parent` child gets the same error (one allocation per firing node, not per child).
        let mut as_parent: Option<CancelationError> = None;
        for (_, (weak, link)) in children {
            let Some(child) = weak.upgrade() else {
                continue;
            };
            let child_error = match link {
                Link::Parent => as_parent
                    .get_or_insert_with(|| CancelationError::from_parent(error))
                    .clone(),
                Link::Forward => error.clone(),
            };
            if child.error.set(child_error).is_ok() {
                pending.push(child);
            }
        }
        for callback in callbacks {
            run_callback(callback, error);
        }
    }

    /// Makes `self` follow `parent`: when `parent` is cancelled, so is `self`. If `parent`
    /// already is, `self` is cancelled now.
    pub(crate) fn link_to(self: &Arc<Self>, parent: &Arc<Node>, link: Link) {
        if self.is_cancelled() {
            return;
        }
        let key = {
            let mut inner = parent.lock();
            match parent.error.get() {
                Some(_) => None,
                None => Some(inner.children.insert((Arc::downgrade(self), link))),
            }
        };
        match key {
            Some(key) => self.lock().parents.push((parent.clone(), key)),
            None => {
                if let Some(error) = parent.error() {
                    let error = match link {
                        Link::Parent => CancelationError::from_parent(error),
                        Link::Forward => error.clone(),
                    };
                    self.cancel(error);
                }
            }
        }
    }

    /// Runs `callback` when this node is cancelled, or now if it is.
    pub(crate) fn on_cancel(&self, callback: Callback) {
        let callback = {
            let mut inner = self.lock();
            if self.error.get().is_none() {
                inner.callbacks.push(callback);
                return;
            }
            callback
        };
        if let Some(error) = self.error.get() {
            run_callback(callback, error);
        }
    }

    /// Registers `cx`'s waker under `key` (updating it if it changed) unless cancelled.
    pub(crate) fn poll_cancelled(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_cancelled() {
            return Poll::Ready(());
        }
        let mut inner = self.lock();
        if self.error.get().is_some() {
            return Poll::Ready(());
        }
        match key.and_then(|k| inner.waiters.get_mut(k)) {
            Some(waker) => {
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => *key = Some(inner.waiters.insert(cx.waker().clone())),
        }
        Poll::Pending
    }

    /// Forgets a waker registered by [`Node::poll_cancelled`].
    pub(crate) fn remove_waiter(&self, key: usize) {
        if self.error.get().is_none() {
            self.lock().waiters.remove(key);
        }
    }

    pub(crate) fn child_count(&self) -> usize {
        self.lock().children.len()
    }

    pub(crate) fn waiter_count(&self) -> usize {
        self.lock().waiters.len()
    }
}

impl Drop for Node {
    /// Unlinks from every parent. A parent whose last reference this was is dropped here too,
    /// iteratively: dropping the leaf of a deep chain does not recurse.
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        // `more` only fills once `first` is taken, so no `first` means no parent at all.
        if inner.parents.first.is_none() {
            return;
        }
        let mut parents = std::mem::take(&mut inner.parents);
        while let Some((parent, key)) = parents.pop() {
            parent.lock().children.try_remove(key);
            if let Some(mut parent) = Arc::into_inner(parent) {
                let inner = parent.inner.get_mut().unwrap_or_else(|p| p.into_inner());
                parents.append(&mut inner.parents);
            }
        }
    }
}

fn run_callback(callback: Callback, error: &CancelationError) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| callback(error))) {
        tracing::error!(
            panic = crate::panic_message(&panic),
            "an on_cancel callback panicked; the other callbacks still run"
        );
    }
}
