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
//! these are the `std` types and this module compiles away.
//!
//! `Arc` and `Weak` stay `std` under loom: loom's `Arc` has no `Weak`, which the tree needs (a
//! parent holds its children weakly). Only the reference count goes unpermuted; every access to
//! a node's state goes through the loom `Mutex` or the loom flag.

#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(not(all(test, loom)))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(all(test, loom))]
pub(crate) use ::loom::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(all(test, loom))]
pub(crate) use ::loom::sync::{Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;
