//! The operation whose body is being polled on this thread: what [`Cancelable::current`]
//! returns and what a newly started operation becomes the child of.
//!
//! # Invariants
//!
//! 1. A frame sits in the thread's slot only while [`Run`](crate::Run) or
//!    [`Shield`](crate::Shield) polls its inner future, inside [`enter`]; the previous frame is
//!    put back when that poll returns *or unwinds*. Polls nest, so the slot behaves like a stack.
//! 2. Frames are moved into the slot and back out, never cloned: polling an operation costs no
//!    reference-count traffic. Each `Run` clones its operation into its frame once, at start.
//!
//! This is the mechanism of `tokio::task_local!`'s `TaskLocalFuture`, without its per-poll
//! `RefCell` bookkeeping.

use std::cell::Cell;

use super::Cancelable;

thread_local! {
    static CURRENT: Cell<Option<Frame>> = const { Cell::new(None) };
}

/// The current operation, as seen by code polled inside it.
pub(crate) struct Frame {
    pub(crate) op: Cancelable,
    /// `false` inside a shield: scopes started there do not become children.
    pub(crate) adopts_children: bool,
}

/// Runs `f` with `frame` as the current frame, then takes it back.
pub(crate) fn enter<R>(frame: &mut Option<Frame>, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        slot: &'a Cell<Option<Frame>>,
        frame: &'a mut Option<Frame>,
        previous: Option<Frame>,
    }

    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            *self.frame = self.slot.replace(self.previous.take());
        }
    }

    CURRENT.with(|slot| {
        let previous = slot.replace(frame.take());
        let _restore = Restore {
            slot,
            frame,
            previous,
        };
        f()
    })
}

/// Looks at the current frame, if any.
pub(crate) fn with<R>(f: impl FnOnce(Option<&Frame>) -> R) -> R {
    CURRENT.with(|slot| {
        let frame = slot.take();
        let result = f(frame.as_ref());
        slot.set(frame);
        result
    })
}
