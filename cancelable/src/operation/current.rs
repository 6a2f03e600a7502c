//! The operation whose body is being polled on this thread: what [`Cancelable::current`]
//! returns and what a newly started operation becomes the child of.
//!
//! # Invariants
//!
//! 1. A frame is installed only while [`Run`](crate::Run) or [`Shield`](crate::Shield) polls its
//!    inner future, inside [`enter`]; the previous frame is put back when that poll returns *or
//!    unwinds*. Polls nest, so the slot behaves like a stack.
//! 2. A frame is the operation's handle, borrowed for the call to [`enter`] (a scoped thread
//!    local, `scoped-tls`), and whether scopes started in it become its children (`false` in a
//!    shield). Installing one is two thread-local stores and their restore: no reference
//!    counting, and nothing for the run future to hold.
//!
//! This is the mechanism of `tokio::task_local!`'s `TaskLocalFuture`, without its per-poll
//! `RefCell` bookkeeping or the moves of an owned value.

use std::cell::Cell;

use super::Cancelable;

scoped_tls::scoped_thread_local!(static CURRENT: Cancelable);

thread_local! {
    /// Whether the installed frame adopts scopes started in it (invariant 2).
    static ADOPTS: Cell<bool> = const { Cell::new(false) };
}

/// The current operation, as seen by code polled inside it.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub(crate) op: &'a Cancelable,
    /// `false` inside a shield: scopes started there do not become children.
    pub(crate) adopts_children: bool,
}

/// Runs `f` with `op` as the current operation, then puts the previous frame back.
#[inline]
pub(crate) fn enter<R>(op: &Cancelable, adopts_children: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);

    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            ADOPTS.set(self.0);
        }
    }

    let _restore = Restore(ADOPTS.replace(adopts_children));
    CURRENT.set(op, f)
}

/// Looks at the current frame, if any.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(Option<Frame<'_>>) -> R) -> R {
    if !CURRENT.is_set() {
        return f(None);
    }
    CURRENT.with(|op| {
        f(Some(Frame {
            op,
            adopts_children: ADOPTS.get(),
        }))
    })
}
