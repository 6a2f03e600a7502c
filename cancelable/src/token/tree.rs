//! The cancellation tree: one [`Node`] per token, linked to the tokens it follows.
//!
//! A node is cancelled once, by storing its [`CancellationError`] under its lock. Everything
//! that waits on it (wakers, callbacks, linked nodes) sits beside the error, behind the same
//! mutex, and a flag outside the lock tells without locking whether the error is there.
//!
//! # Publication
//!
//! Cancelling is one critical section: find no error, store it, set `cancelled`, take out
//! everything registered. The first to find no error is the winner and the only caller that
//! fires the node; a loser finds the winner's error under the lock, so after any `cancel`
//! returns, `is_cancelled` is `true`. `is_cancelled` is one acquire load of the flag, which is
//! set (release) only with the error in place; reading the error takes the lock and clones it.
//!
//! Under `--cfg loom` the flag and the `Mutex` come from [`crate::loom`]: the models in
//! `loom_tests.rs` check every interleaving of publication, locking and registration below.
//!
//! # Invariants
//!
//! 1. `error` is set at most once, with `cancelled`, by the winner, in the critical section
//!    that also takes out the waiters, callbacks and children. Reading `cancelled` never takes
//!    a lock.
//! 2. Every registration (waker, callback, child link) checks `error` while holding the lock.
//!    So a registration either sees the node cancelled (and acts at once) or is in `inner` when
//!    the winner takes everything out: no wake-up, callback or child is ever lost.
//! 3. Once fired, a node never registers anything again (invariant 2), so stale slab keys held
//!    by waiters or children are never reused: removing them is a no-op.
//! 4. A child holds strong references to its parents (to unlink itself on drop); a parent holds
//!    only `Weak` references to its children. Dropping the last handle of a node removes it from
//!    every parent: long-lived parents do not accumulate finished children.
//! 5. A child is cancelled by its parent's firing thread, which wins the child's publication or
//!    finds it already cancelled; either way the child is cancelled before the parent's
//!    `cancel` returns. A child linked while its parent fires either is among the taken
//!    `children` (and is cancelled by the firing thread) or sees the parent's error under the
//!    lock and cancels itself: a child created during a cancel ends cancelled.
//! 6. What one node rarely has (a second waiter, callbacks, a second parent) lives in a boxed
//!    [`More`], absent until needed: a node is small, and firing a leaf moves a few words.
//!
//! # Deadlock safety
//!
//! No code path holds two node locks at once: firing takes everything out of `inner` and
//! releases the lock before waking, calling or cancelling any of it. Wakers and callbacks are
//! never called with a lock held. Cancelling a subtree walks it with an explicit stack, so
//! depth costs no recursion.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::error::CancellationError;
use crate::loom::{AtomicBool, Mutex, MutexGuard};

pub(crate) type Callback = Box<dyn FnOnce(&CancellationError) + Send>;

/// How a node inherits its parent's cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// The child is cancelled with reason `Parent`, the parent's error as its cause.
    Parent,
    /// The child is cancelled with the parent's own error (any-of composition, `with_token`).
    Forward,
}

pub(crate) struct Node {
    /// Set with `inner.error`, never cleared (invariant 1).
    cancelled: AtomicBool,
    inner: Mutex<Inner>,
}

/// A node's registrations. Waiter key 0 is `waiter`; key `k > 0` is `more.waiters[k - 1]`.
#[derive(Default)]
struct Inner {
    error: Option<CancellationError>,
    /// The first waker parked here: an operation's own `run`, a lone `cancelled()`.
    waiter: Option<Waker>,
    /// The first node this one follows, with this node's key among its children.
    parent: Option<(Arc<Node>, usize)>,
    children: Slab<(Weak<Node>, Link)>,
    more: Option<Box<More>>,
}

/// The rarely used part of a node (invariant 6).
#[derive(Default)]
struct More {
    waiters: Slab<Waker>,
    callbacks: Vec<Callback>,
    /// Nodes followed after the first (an any-of follows each member).
    parents: Vec<(Arc<Node>, usize)>,
}

/// What a node held when it was cancelled: woken, called and cancelled with no lock held.
struct Fired {
    /// For the children and callbacks, when there are any.
    error: Option<CancellationError>,
    waiter: Option<Waker>,
    children: Slab<(Weak<Node>, Link)>,
    /// Only waiters and callbacks: the parents stay in the node, for its drop.
    more: Option<Box<More>>,
}

impl Inner {
    fn more(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }

    /// Stores `error` and takes out everything to fire (invariant 1).
    fn publish(&mut self, cancelled: &AtomicBool, error: CancellationError) -> Fired {
        let passed_on = !self.children.is_empty()
            || self
                .more
                .as_ref()
                .is_some_and(|more| !more.callbacks.is_empty());
        let fired_error = passed_on.then(|| error.clone());
        self.error = Some(error);
        cancelled.store(true, Ordering::Release);
        let mut more = self.more.take();
        if let Some(kept) = more.as_mut().filter(|more| !more.parents.is_empty()) {
            let parents = std::mem::take(&mut kept.parents);
            self.more = Some(Box::new(More {
                parents,
                ..More::default()
            }));
        }
        Fired {
            error: fired_error,
            waiter: self.waiter.take(),
            children: std::mem::take(&mut self.children),
            more,
        }
    }
}

impl Fired {
    /// Wakes the waiters, cancels the children (collecting those that fire in `pending`), then
    /// calls the callbacks.
    fn fire(self, pending: &mut Vec<Fired>) {
        if let Some(waker) = self.waiter {
            waker.wake();
        }
        let callbacks = self.more.map(|more| {
            for (_, waker) in more.waiters {
                waker.wake();
            }
            more.callbacks
        });
        let Some(error) = self.error else {
            return;
        };
        if !self.children.is_empty() {
            // Every `Parent` child gets the same error (one allocation per firing node).
            let mut as_parent: Option<CancellationError> = None;
            for (_, (weak, link)) in self.children {
                let Some(child) = weak.upgrade() else {
                    continue;
                };
                let child_error = match link {
                    Link::Parent => as_parent
                        .get_or_insert_with(|| CancellationError::from_parent(&error))
                        .clone(),
                    Link::Forward => error.clone(),
                };
                let Some(fired) = child.try_publish(child_error) else {
                    continue;
                };
                if fired.error.is_some() || fired.more.is_some() {
                    pending.push(fired);
                } else if let Some(waker) = fired.waiter {
                    // A leaf with one waiter at most is done here, not pushed.
                    waker.wake();
                }
            }
        }
        for callback in callbacks.into_iter().flatten() {
            run_callback(callback, &error);
        }
    }
}

impl Node {
    pub(crate) fn new() -> Arc<Node> {
        Arc::new(Node {
            cancelled: AtomicBool::new(false),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The error, once cancelled.
    pub(crate) fn error(&self) -> Option<CancellationError> {
        self.with_error(CancellationError::clone)
    }

    /// `f` of the error, once cancelled, under the lock: no reference-count traffic on an error
    /// that many nodes share (the `Parent` error of a fan-out). `f` must not touch this node.
    pub(crate) fn with_error<R>(&self, f: impl FnOnce(&CancellationError) -> R) -> Option<R> {
        if !self.is_cancelled() {
            return None;
        }
        self.lock().error.as_ref().map(f)
    }

    /// Publishes `error` unless the node is already cancelled; then it is up to the caller to
    /// fire what was taken out.
    fn try_publish(&self, error: CancellationError) -> Option<Fired> {
        let mut inner = self.lock();
        match inner.error {
            Some(_) => None,
            None => Some(inner.publish(&self.cancelled, error)),
        }
    }

    /// Cancels this node and, iteratively, everything linked below it.
    /// Returns `false` if it was already cancelled.
    pub(crate) fn cancel(&self, error: CancellationError) -> bool {
        let Some(fired) = self.try_publish(error) else {
            return false;
        };
        let mut pending = Vec::new();
        fired.fire(&mut pending);
        while let Some(fired) = pending.pop() {
            fired.fire(&mut pending);
        }
        true
    }

    /// Makes `self` follow `parent`: when `parent` is cancelled, so is `self`. If `parent`
    /// already is, `self` is cancelled now.
    pub(crate) fn link_to(self: &Arc<Self>, parent: &Arc<Node>, link: Link) {
        if self.is_cancelled() {
            return;
        }
        let linked = {
            let mut inner = parent.lock();
            match &inner.error {
                Some(error) => Err(error.clone()),
                None => Ok(inner.children.insert((Arc::downgrade(self), link))),
            }
        };
        match linked {
            Ok(key) => {
                let mut inner = self.lock();
                match inner.parent {
                    None => inner.parent = Some((parent.clone(), key)),
                    Some(_) => inner.more().parents.push((parent.clone(), key)),
                }
            }
            Err(error) => {
                self.cancel(match link {
                    Link::Parent => CancellationError::from_parent(&error),
                    Link::Forward => error,
                });
            }
        }
    }

    /// Runs `callback` when this node is cancelled, or now if it is.
    pub(crate) fn on_cancel(&self, callback: Callback) {
        let error = {
            let mut inner = self.lock();
            match &inner.error {
                Some(error) => error.clone(),
                None => {
                    inner.more().callbacks.push(callback);
                    return;
                }
            }
        };
        run_callback(callback, &error);
    }

    /// Registers `cx`'s waker under `key` (updating it if it changed) unless cancelled.
    pub(crate) fn poll_cancelled(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_cancelled() {
            return Poll::Ready(());
        }
        let mut inner = self.lock();
        if inner.error.is_some() {
            return Poll::Ready(());
        }
        let inner = &mut *inner;
        let registered = match *key {
            Some(0) => inner.waiter.as_mut(),
            Some(k) => inner
                .more
                .as_mut()
                .and_then(|more| more.waiters.get_mut(k - 1)),
            None => None,
        };
        if let Some(waker) = registered {
            if !waker.will_wake(cx.waker()) {
                waker.clone_from(cx.waker());
            }
        } else if inner.waiter.is_none() {
            inner.waiter = Some(cx.waker().clone());
            *key = Some(0);
        } else {
            *key = Some(inner.more().waiters.insert(cx.waker().clone()) + 1);
        }
        Poll::Pending
    }

    /// Forgets a waker registered by [`Node::poll_cancelled`].
    pub(crate) fn remove_waiter(&self, key: usize) {
        if self.is_cancelled() {
            return;
        }
        let mut inner = self.lock();
        match key {
            0 => inner.waiter = None,
            k => {
                if let Some(more) = inner.more.as_mut() {
                    more.waiters.try_remove(k - 1);
                }
            }
        }
    }

    #[cfg(any(all(test, loom), feature = "test-util"))]
    pub(crate) fn child_count(&self) -> usize {
        self.lock().children.len()
    }

    #[cfg(any(all(test, loom), feature = "test-util"))]
    pub(crate) fn waiter_count(&self) -> usize {
        let inner = self.lock();
        usize::from(inner.waiter.is_some()) + inner.more.as_ref().map_or(0, |m| m.waiters.len())
    }
}

impl Drop for Node {
    /// Unlinks from every parent. A parent whose last reference this was is dropped here too,
    /// iteratively: dropping the leaf of a deep chain does not recurse.
    fn drop(&mut self) {
        let inner = self.inner.get_mut();
        // `more.parents` only fills once `parent` is set: no `parent` means no parent at all.
        let mut next = inner.parent.take();
        if next.is_none() {
            return;
        }
        let mut rest = inner
            .more
            .as_mut()
            .map(|more| std::mem::take(&mut more.parents))
            .unwrap_or_default();
        while let Some((parent, key)) = next.take().or_else(|| rest.pop()) {
            // A cancelled parent took its children out when it fired and never registers
            // again (invariant 3): nothing to remove, and no lock to contend for.
            if !parent.is_cancelled() {
                parent.lock().children.try_remove(key);
            }
            if let Some(mut parent) = Arc::into_inner(parent) {
                let inner = parent.inner.get_mut();
                next = inner.parent.take();
                if let Some(more) = inner.more.as_mut() {
                    rest.append(&mut more.parents);
                }
            }
        }
    }
}

fn run_callback(callback: Callback, error: &CancellationError) {
    crate::panic::isolated("on_cancel", || callback(error));
}
