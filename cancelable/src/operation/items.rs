//! [`Items`]: what an operation's streams delivered, kept in the operation itself so that its
//! context has the count even when the stream, or the body that owned it, was dropped.
//!
//! # Invariants
//!
//! 1. One word: the count in the low 62 bits, whether a stream is attached in bit 62 and
//!    whether one ran to its end in bit 63. The count stays unreported until a stream is
//!    attached, then only grows: an operation with no stream reports no count, one whose
//!    stream yielded nothing reports zero.
//! 2. Both flags are set once and never cleared.

use std::sync::atomic::{AtomicU64, Ordering};

const ATTACHED: u64 = 1 << 62;
const EXHAUSTED: u64 = 1 << 63;
const COUNT: u64 = ATTACHED - 1;

/// The item counter of one operation's streams.
#[derive(Debug, Default)]
pub(crate) struct Items(AtomicU64);

impl Items {
    /// A stream now counts here (invariant 1).
    #[inline]
    pub(crate) fn attach(&self) {
        self.0.fetch_or(ATTACHED, Ordering::AcqRel);
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n & COUNT, Ordering::AcqRel);
    }

    /// Items delivered so far, if a stream was ever attached.
    #[inline]
    pub(crate) fn delivered(&self) -> Option<u64> {
        let word = self.0.load(Ordering::Acquire);
        (word & ATTACHED != 0).then_some(word & COUNT)
    }

    /// One of the streams ran to its end (invariant 2).
    #[inline]
    pub(crate) fn set_exhausted(&self) {
        self.0.fetch_or(EXHAUSTED, Ordering::AcqRel);
    }

    #[inline]
    pub(crate) fn exhausted(&self) -> bool {
        self.0.load(Ordering::Acquire) & EXHAUSTED != 0
    }
}
