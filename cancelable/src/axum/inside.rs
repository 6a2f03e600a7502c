//! Which request's layer the code running on this thread is inside: how a handler finds its
//! request's operation ([`RequestCancelable`](super::RequestCancelable)) and a layer further
//! in finds the one further out, with nothing put in the request.
//!
//! # Invariants
//!
//! 1. A layer's request is installed only while its service calls the service it wraps, and
//!    while its response future polls the request's run; the previous one is put back when
//!    that call or poll returns or unwinds (a scoped thread local), so they nest like the
//!    layers do.
//! 2. Installing one moves the response future's handle into a thread local and back, and
//!    looking at it takes it out and puts it back: nothing is allocated, counted or hashed
//!    per request, and no reference to the future outlives the call or poll.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::time::Duration;

use crate::operation::Cancelable;

thread_local! {
    /// Never left holding a request (invariant 1), so it needs no destructor: a thread local
    /// without one is a plain load and store.
    static INSIDE: Cell<Option<ManuallyDrop<Inside>>> = const { Cell::new(None) };
}

/// A request as its layer installs it.
pub(super) struct Inside {
    pub(super) op: Cancelable,
    /// The timeout the request's caller sent, once the layer accepted it, counted from the
    /// layer's call: a layer further in, called within the same poll, counts it from its own.
    pub(super) caller: Option<Duration>,
}

/// Runs `f` inside the request in `slot`, which is empty meanwhile (invariants 1 and 2).
#[inline]
pub(super) fn enter<R>(slot: &mut Option<Inside>, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        slot: &'a mut Option<Inside>,
        previous: Option<ManuallyDrop<Inside>>,
    }

    impl Drop for Restore<'_> {
        #[inline]
        fn drop(&mut self) {
            *self.slot = INSIDE
                .replace(self.previous.take())
                .map(ManuallyDrop::into_inner);
        }
    }

    let previous = INSIDE.replace(slot.take().map(ManuallyDrop::new));
    let _restore = Restore { slot, previous };
    f()
}

/// Looks at the innermost request installed on this thread, if any.
#[inline]
pub(super) fn with<R>(f: impl FnOnce(Option<&Inside>) -> R) -> R {
    struct PutBack(Option<ManuallyDrop<Inside>>);

    impl Drop for PutBack {
        #[inline]
        fn drop(&mut self) {
            INSIDE.set(self.0.take());
        }
    }

    let inside = PutBack(INSIDE.take());
    f(inside.0.as_deref())
}
