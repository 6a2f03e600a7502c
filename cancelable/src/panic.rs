//! Containing a panic from user code: a callback, a predicate, a source.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs the callback `f`, named `what` in the log; a panic is logged and goes no further.
#[inline]
pub(crate) fn isolated(what: &str, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        tracing::error!(
            callback = what,
            panic = message(&*panic),
            "the {what} callback panicked; the other callbacks still run"
        );
    }
}

/// The text of a caught panic.
pub(crate) fn message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}
