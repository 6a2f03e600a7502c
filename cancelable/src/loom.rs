//! The synchronization primitives of the token tree, swapped for loom's in this crate's
//! `--cfg loom` tests.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p cancelable --lib --release loom
//! ```
//!
//! Under `cfg(all(test, loom))` the token tree's [`Mutex`] and the atomic behind its
//! [`OnceLock`] are loom's, so the model checker permutes every interleaving of them
//! (`src/token/loom_tests.rs`). Everywhere else, including builds of dependents that set
//! `--cfg loom` for their own models, these are the `std` types and this module compiles
//! away.
//!
//! Two things stay `std` under loom, by necessity:
//!
//! * `Arc` and `Weak`: loom's `Arc` has no `Weak`, which the tree needs (a parent holds its
//!   children weakly). Only the reference count goes unpermuted; every access to a node's
//!   state goes through the loom `Mutex` or the loom atomic of its `OnceLock`.
//! * `OnceLock`: loom has none, and a safe one cannot be written on loom's `UnsafeCell`
//!   (this crate forbids `unsafe`). Its loom twin below keeps the state machine in a loom
//!   atomic and the value in a `std` `OnceLock` written once by the winner, so loom permutes
//!   the publication exactly where `std`'s `OnceLock` synchronizes.

#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard, OnceLock};

#[cfg(all(test, loom))]
pub(crate) use self::once::OnceLock;
#[cfg(all(test, loom))]
pub(crate) use ::loom::sync::{Mutex, MutexGuard};

#[cfg(all(test, loom))]
mod once {
    use ::loom::sync::Mutex;
    use ::loom::sync::atomic::{AtomicBool, Ordering};

    /// `std::sync::OnceLock`'s contract, on loom's primitives:
    ///
    /// * `set` has exactly one winner; a loser returns only once the winner's value is
    ///   visible (`std` parks it on the `Once` meanwhile; here it waits for the winner's lock).
    /// * `get` is one acquire load; it returns the value only after the winner's release.
    pub(crate) struct OnceLock<T> {
        ready: AtomicBool,
        init: Mutex<()>,
        value: std::sync::OnceLock<T>,
    }

    impl<T> Default for OnceLock<T> {
        fn default() -> Self {
            OnceLock {
                ready: AtomicBool::new(false),
                init: Mutex::new(()),
                value: std::sync::OnceLock::new(),
            }
        }
    }

    impl<T> OnceLock<T> {
        pub(crate) fn get(&self) -> Option<&T> {
            match self.ready.load(Ordering::Acquire) {
                true => self.value.get(),
                false => None,
            }
        }

        pub(crate) fn set(&self, value: T) -> Result<(), T> {
            let _init = self.init.lock().unwrap_or_else(|p| p.into_inner());
            if self.ready.load(Ordering::Acquire) {
                return Err(value);
            }
            // The only writer, and nobody reads it before `ready`: this cannot fail.
            let _ = self.value.set(value);
            self.ready.store(true, Ordering::Release);
            Ok(())
        }
    }
}
