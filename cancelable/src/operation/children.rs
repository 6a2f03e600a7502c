//! Tracking: which operations are still running under an operation, with no task and no list.
//!
//! Every operation counts its *admitted* children: an operation is admitted by its parent when
//! it is linked to it (the `parent` builder, [`Cancelable::child`], [`Cancelable::spawn`], or
//! adoption by the running operation when `run` starts), and `spawn_blocking` admits its closure
//! the same way. A child gives its admission back once it has ended *and* its own admitted
//! children have, so a parent's count reaches zero exactly when its whole subtree is done,
//! whatever order things end in. [`Cancelable::wait_children`] waits for that.
//!
//! # Invariants
//!
//! 1. One word holds the count of admitted children and the flags below, and every change to it
//!    is one compare-and-swap (or one `fetch_or`/`fetch_and` for flags that never race a count
//!    change into a wrong decision): an admission and the close that refuses later ones are
//!    ordered, so a child is never admitted after admission closed, and a waiter that saw zero
//!    under a closed word sees zero forever.
//! 2. `ALIVE` is set from construction until the operation ended (`finish`, or dropped without
//!    running). The change that leaves the word with no children and no `ALIVE` also sets
//!    `RELEASED | CLOSED`, and only that change gives the admission back to the parent: exactly
//!    once, and never while a child or the operation itself is still running.
//! 3. `ADMITTED` is set only after the parent accepted the admission, and before the operation
//!    can end: whoever sets `RELEASED` knows whether there is an admission to give back.
//! 4. `WAITED` is set, under the state lock, before a waiter checks the count; the change that
//!    brings the count to zero sees it and wakes the waiters under the same lock. No wake-up is
//!    lost.
//! 5. `RECORDING` is copied from the parent at admission: the operations under a shutdown root
//!    keep their last progress message for its report.
//!
//! Giving an admission back may release the parent in turn, and so on up: that walk is a loop,
//! not a recursion, and takes no lock unless a waiter is registered.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use tokio::sync::Notify;

use super::{Cancelable, Operation};
use crate::loom::{AtomicUsize, Ordering};

/// The operation itself has not ended (invariant 2).
const ALIVE: usize = 1;
/// No admission is accepted any more.
const CLOSED: usize = 1 << 1;
/// The admission in the parent was given back (invariant 2).
const RELEASED: usize = 1 << 2;
/// The operation was admitted by its parent (invariant 3).
const ADMITTED: usize = 1 << 3;
/// Someone waits for the count to reach zero (invariant 4).
const WAITED: usize = 1 << 4;
/// The operation keeps its last progress message (invariant 5).
const RECORDING: usize = 1 << 5;
/// Started by [`Cancelable::spawn`], for reports.
const SPAWNED: usize = 1 << 6;
/// Has a grace period: `run` looks it up when it finds the operation cancelled.
const GRACE: usize = 1 << 7;
/// A shield ended while the operation was cancelled: the cancellation lands even if the body
/// returns in the same poll (`shield.rs`, invariant 2).
const LANDED: usize = 1 << 8;
const ONE: usize = 1 << 9;

/// The word of invariant 1.
#[derive(Debug)]
pub(crate) struct Admissions(AtomicUsize);

/// What a change that gave something back must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    /// Give the admission back to the parent (invariant 2).
    pub(crate) parent: bool,
    /// Wake the waiters (invariant 4).
    pub(crate) waiters: bool,
}

impl Default for Admissions {
    fn default() -> Self {
        Admissions(AtomicUsize::new(ALIVE))
    }
}

impl Admissions {
    /// Admits one child, unless admission is closed; on success, returns whether this one
    /// records progress (the child inherits it).
    #[inline]
    pub(crate) fn admit(&self) -> Option<bool> {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            if word & CLOSED != 0 {
                return None;
            }
            match self.0.compare_exchange_weak(
                word,
                word + ONE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(word & RECORDING != 0),
                Err(now) => word = now,
            }
        }
    }

    /// Marks the admission accepted (invariant 3), and the inherited flags.
    #[inline]
    pub(crate) fn admitted(&self, recording: bool) {
        let flags = ADMITTED | if recording { RECORDING } else { 0 };
        self.0.fetch_or(flags, Ordering::AcqRel);
    }

    /// A child gave its admission back.
    #[inline]
    pub(crate) fn release_child(&self) -> Released {
        let word = self.0.fetch_sub(ONE, Ordering::AcqRel) - ONE;
        if word >= ONE || word & (ALIVE | RELEASED) != 0 {
            // Children left, or the operation is still running: nothing to give back.
            return Released {
                parent: false,
                waiters: word < ONE && word & WAITED != 0,
            };
        }
        // The last child of an operation that ended: release it, unless an admission came in
        // since (then that child's release will).
        self.update_from(word, |word| word)
    }

    /// The operation itself ended; `None` if it had already (a second call is a no-op).
    #[inline]
    pub(crate) fn end(&self) -> Option<Released> {
        // The usual case, an operation that admitted nothing and was admitted by nobody: one
        // swap, and nothing to give back.
        match self.0.compare_exchange(
            ALIVE,
            RELEASED | CLOSED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => None,
            Err(word) if word & ALIVE == 0 => None,
            Err(word) => Some(self.update_from(word, |word| word & !ALIVE)),
        }
    }

    /// Applies `change` from `word`, the value last seen, until it sticks.
    #[inline]
    fn update_from(&self, mut word: usize, change: impl Fn(usize) -> usize) -> Released {
        loop {
            let mut next = change(word);
            let done = next < ONE && next & (ALIVE | RELEASED) == 0;
            if done {
                next |= RELEASED | CLOSED;
            }
            match self
                .0
                .compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Released {
                        parent: done && next & ADMITTED != 0,
                        waiters: next < ONE && next & WAITED != 0,
                    };
                }
                Err(now) => word = now,
            }
        }
    }

    /// Refuses every later admission (invariant 1).
    pub(crate) fn close(&self) {
        self.0.fetch_or(CLOSED, Ordering::AcqRel);
    }

    /// Admitted children that have not given their admission back.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::Acquire) / ONE
    }

    pub(crate) fn set_waited(&self) {
        self.0.fetch_or(WAITED, Ordering::AcqRel);
    }

    pub(crate) fn set_recording(&self) {
        self.0.fetch_or(RECORDING, Ordering::AcqRel);
    }

    #[inline]
    pub(crate) fn is_recording(&self) -> bool {
        self.0.load(Ordering::Relaxed) & RECORDING != 0
    }

    pub(crate) fn set_spawned(&self) {
        self.0.fetch_or(SPAWNED, Ordering::Relaxed);
    }

    pub(crate) fn set_grace(&self) {
        self.0.fetch_or(GRACE, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn has_grace(&self) -> bool {
        self.0.load(Ordering::Relaxed) & GRACE != 0
    }

    pub(crate) fn set_landed(&self) {
        self.0.fetch_or(LANDED, Ordering::Release);
    }

    #[inline]
    pub(crate) fn landed(&self) -> bool {
        self.0.load(Ordering::Acquire) & LANDED != 0
    }

    pub(crate) fn is_spawned(&self) -> bool {
        self.0.load(Ordering::Relaxed) & SPAWNED != 0
    }
}

impl Cancelable {
    /// Asks `parent` to admit this operation, its parent from now on. Refused when `parent`
    /// closed admission (it ended with its subtree, or a shutdown closed it): then this one is
    /// not tracked, and, if `parent` is cancelled, it is cancelled through its link anyway.
    pub(super) fn join(&self, parent: &Cancelable) {
        if let Some(recording) = parent.inner.children.admit() {
            self.inner.children.admitted(recording);
            if recording {
                self.record_progress();
            }
        }
    }

    /// The operation ended: gives its admission back if its subtree is done too.
    #[inline]
    pub(super) fn leave(&self) {
        self.inner.leave();
    }

    /// A `spawn_blocking` closure of this operation ended.
    pub(super) fn release_child(&self) {
        let released = self.inner.children.release_child();
        give_back(&self.inner, released);
    }

    /// Closes admission: operations linked to this one from now on are not tracked by it.
    pub(crate) fn close_admission(&self) {
        self.inner.children.close();
    }

    /// Admitted children (operations and `spawn_blocking` closures) whose subtree has not
    /// ended yet.
    pub(crate) fn running_children(&self) -> usize {
        self.inner.children.count()
    }

    /// Completes once every operation admitted under this one, at any depth, has ended: the
    /// operations started with [`spawn`](Self::spawn), built with [`parent`](Self::parent) or
    /// [`child`](Self::child), nested in its body, and the closures of
    /// [`spawn_blocking`](Self::spawn_blocking). tokio-util's `TaskTracker::wait`, without a
    /// tracker to pass around.
    ///
    /// [`run`](Self::run) does not wait for spawned children: await this after it (or inside
    /// the body, before returning) when the caller must know that nothing is left running.
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let op = cancelable::Cancelable::new().named("batch");
    /// op.run(async {
    ///     for i in 1..=3 {
    ///         op.spawn(tokio::time::sleep(Duration::from_secs(i)));
    ///     }
    /// })
    /// .await
    /// .unwrap(); // returns at once: the workers still run
    /// let start = tokio::time::Instant::now();
    /// op.wait_children().await;
    /// assert_eq!(start.elapsed(), Duration::from_secs(3));
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Cancel-safe: dropping the future unregisters it and changes nothing.
    pub fn wait_children(&self) -> impl Future<Output = ()> + Send + 'static {
        let op = self.clone();
        async move {
            let notify = {
                let mut state = op.state();
                op.inner.children.set_waited();
                state
                    .cold()
                    .children_done
                    .get_or_insert_with(Arc::default)
                    .clone()
            };
            loop {
                let mut notified = pin!(notify.notified());
                notified.as_mut().enable();
                if op.inner.children.count() == 0 {
                    return;
                }
                notified.await;
            }
        }
    }
}

pub(super) type ChildrenDone = Arc<Notify>;

impl Operation {
    /// Ends the operation itself (invariant 2); a no-op the second time.
    #[inline]
    pub(super) fn leave(&self) {
        if let Some(released) = self.children.end() {
            give_back(self, released);
        }
    }
}

/// Wakes the waiters and gives admissions back up the tree, as far as subtrees are done.
fn give_back(mut op: &Operation, mut released: Released) {
    loop {
        if released.waiters {
            wake_child_waiters(op);
        }
        if !released.parent {
            return;
        }
        let Some(parent) = op.parent.get() else {
            return;
        };
        op = &parent.inner;
        released = op.children.release_child();
    }
}

#[cold]
fn wake_child_waiters(op: &Operation) {
    let notify = op
        .state
        .lock()
        .cold
        .as_deref()
        .and_then(|cold| cold.children_done.clone());
    if let Some(notify) = notify {
        notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_releases_its_parent_once_when_everything_in_it_ended() {
        let parent = Admissions::default();
        let child = Admissions::default();
        assert_eq!(parent.admit(), Some(false));
        child.admitted(false);
        assert_eq!(child.admit(), Some(false)); // a grandchild
        let ended = child.end().unwrap();
        assert!(!ended.parent, "the grandchild still runs");
        assert_eq!(child.end(), None, "ending twice is a no-op");
        let released = child.release_child();
        assert!(released.parent);
        assert_eq!(child.admit(), None, "a released operation admits nothing");
        assert_eq!(parent.count(), 1);
        parent.release_child();
        assert_eq!(parent.count(), 0);
    }

    #[test]
    fn close_refuses_later_admissions_and_keeps_the_count() {
        let root = Admissions::default();
        assert!(root.admit().is_some());
        root.close();
        assert_eq!(root.admit(), None);
        assert_eq!(root.count(), 1);
        assert!(!root.release_child().parent, "the root itself still runs");
        assert_eq!(root.count(), 0);
    }

    #[test]
    fn recording_is_inherited_and_waiters_are_told() {
        let root = Admissions::default();
        root.set_recording();
        assert_eq!(root.admit(), Some(true));
        root.set_waited();
        assert!(root.release_child().waiters);
    }
}

/// Loom models of the admission word: run with the token tree's (`src/token/loom_tests.rs`).
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    use super::{Admissions, Released};
    use crate::loom::Ordering;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(2);
        }
        builder.check(f);
    }

    /// A shutdown closes admission and waits for zero while a spawn races it: the spawn is
    /// either admitted and waited for, or refused; never admitted once the wait is over.
    #[test]
    fn loom_no_child_is_admitted_after_close_and_zero() {
        model(|| {
            let root = Arc::new(Admissions::default());
            let running = Arc::new(AtomicBool::new(false));
            let waited = Arc::new(AtomicBool::new(false));
            let spawn = {
                let (root, running, waited) = (root.clone(), running.clone(), waited.clone());
                thread::spawn(move || {
                    if root.admit().is_some() {
                        assert!(!waited.load(Ordering::SeqCst), "admitted after the wait");
                        running.store(true, Ordering::SeqCst);
                        running.store(false, Ordering::SeqCst);
                        root.release_child();
                    }
                })
            };
            root.close();
            while root.count() != 0 {
                thread::yield_now();
            }
            waited.store(true, Ordering::SeqCst);
            assert!(
                !running.load(Ordering::SeqCst),
                "a child still runs after the wait"
            );
            assert_eq!(root.admit(), None);
            spawn.join().unwrap();
        });
    }

    /// The last child of an operation that ended gives its admission back while another child
    /// is admitted: the operation's own admission goes back exactly once, and no child is
    /// admitted after it went back.
    #[test]
    fn loom_an_admission_racing_the_last_release_is_waited_for() {
        model(|| {
            let op = Arc::new(Admissions::default());
            let given_back = Arc::new(AtomicBool::new(false));
            op.admitted(false);
            assert!(op.admit().is_some());
            assert_eq!(
                op.end(),
                Some(Released {
                    parent: false,
                    waiters: false
                })
            );
            let second = {
                let (op, given_back) = (op.clone(), given_back.clone());
                thread::spawn(move || {
                    op.admit()?;
                    assert!(
                        !given_back.load(Ordering::SeqCst),
                        "admitted after it went back"
                    );
                    let parent = op.release_child().parent;
                    if parent {
                        given_back.store(true, Ordering::SeqCst);
                    }
                    Some(parent)
                })
            };
            let first = op.release_child().parent;
            if first {
                given_back.store(true, Ordering::SeqCst);
            }
            let second = second.join().unwrap().unwrap_or(false);
            assert!(
                first != second,
                "gone back {} times",
                u8::from(first) + u8::from(second)
            );
            assert_eq!(op.count(), 0);
            assert_eq!(op.admit(), None);
        });
    }

    /// A child ends while its last grandchild gives its admission back: the parent's
    /// admission is given back exactly once.
    #[test]
    fn loom_a_subtree_is_released_exactly_once() {
        model(|| {
            let parent = Arc::new(Admissions::default());
            let child = Arc::new(Admissions::default());
            assert!(parent.admit().is_some());
            child.admitted(false);
            assert!(child.admit().is_some());
            let grandchild = {
                let (child, parent) = (child.clone(), parent.clone());
                thread::spawn(move || {
                    if child.release_child().parent {
                        parent.release_child();
                    }
                })
            };
            if child.end().unwrap().parent {
                parent.release_child();
            }
            grandchild.join().unwrap();
            assert_eq!(parent.count(), 0);
            assert_eq!(child.admit(), None, "a released subtree admits nothing");
        });
    }
}
