//! [`Items`]: what an operation's streams delivered, kept in the operation itself so that its
//! context has the count even when the stream, or the body that owned it, was dropped.
//!
//! # Invariants
//!
//! 1. `delivered` is `u64::MAX` until a stream is attached, then only grows: an operation with
//!    no stream reports no count, one whose stream yielded nothing reports zero.
//! 2. `exhausted` is set once and never cleared.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The item counter of one operation's streams.
#[derive(Debug)]
pub(crate) struct Items {
    delivered: AtomicU64,
    exhausted: AtomicBool,
}

impl Default for Items {
    fn default() -> Self {
        Items {
            delivered: AtomicU64::new(u64::MAX),
            exhausted: AtomicBool::new(false),
        }
    }
}

impl Items {
    /// A stream now counts here (invariant 1).
    #[inline]
    pub(crate) fn attach(&self) {
        let _ = self
            .delivered
            .compare_exchange(u64::MAX, 0, Ordering::AcqRel, Ordering::Acquire);
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::AcqRel);
    }

    /// Items delivered so far, if a stream was ever attached.
    #[inline]
    pub(crate) fn delivered(&self) -> Option<u64> {
        Some(self.delivered.load(Ordering::Acquire)).filter(|&n| n != u64::MAX)
    }

    /// One of the streams ran to its end (invariant 2).
    #[inline]
    pub(crate) fn set_exhausted(&self) {
        self.exhausted.store(true, Ordering::Release);
    }

    #[inline]
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }
}
