//! The synchronization primitives of the token tree, swapped for loom's in this crate's
//! `--cfg loom` tests.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p cancelable --lib --release loom
//! ```
//!
//! Under `cfg(all(test, loom))` the token tree's [`Mutex`] and its `cancelled` flag, and the
//! admission word of an operation's children, are loom's, so the model checker permutes every
//! interleaving of them (`src/token/loom_tests.rs`, `src/operation/children.rs`).
//! Everywhere else, including builds of dependents that set `--cfg loom` for their own models,
//! these are `parking_lot`'s `Mutex` and the `std` atomics, and this module compiles away.
//!
//! `Arc` and `Weak` stay `std` under loom: loom's `Arc` has no `Weak`, which the tree needs (a
//! parent holds its children weakly). Only the reference count goes unpermuted; every access to
//! a node's state goes through the loom `Mutex` or the loom flag.

#[cfg(not(all(test, loom)))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};

#[cfg(all(test, loom))]
pub(crate) use self::model::{Mutex, MutexGuard};
#[cfg(all(test, loom))]
pub(crate) use ::loom::sync::atomic::{AtomicBool, AtomicUsize};

/// loom's `Mutex` with `parking_lot`'s signatures (no poisoning: nothing runs user code under
/// these locks), so that the code under test is the code that ships.
#[cfg(all(test, loom))]
mod model {
    pub(crate) use ::loom::sync::MutexGuard;

    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(::loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(::loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        }
    }
}

pub(crate) use std::sync::atomic::Ordering;
