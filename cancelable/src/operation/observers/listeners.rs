//! An operation's progress listeners: a list that only grows, added to and walked with no lock.
//!
//! # Invariants
//!
//! 1. A listener is never removed before the list is dropped. It is linked with
//!    `OnceLock::set` on the `next` of the last node (the head for the first), which publishes
//!    the node whole; an add that loses the race for a link moves on to the node that won it.
//!    A report therefore walks shared references only, with no lock, while adds go on.
//! 2. The word counts the listeners linked (from bit 1) and holds the "keeps the last progress"
//!    bit (bit 0). A listener is counted after it is linked, and links are taken in order, so
//!    the first `count` links are always set. A report calls the `count` it reads when it
//!    starts: a listener added meanwhile, by a listener or by another thread, hears the next.
//! 3. The word is never cleared: once it is non-zero, every report leaves
//!    `report_progress`'s inline check.
//! 4. `handed_on` gives `combine`'s operation a list of its own, whose first listener calls
//!    the first `count` listeners of this one: the lists share no link, so neither operation's
//!    later listeners reach the other.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::context::ProgressEvent;

type Listener = Box<dyn Fn(&ProgressEvent<'_>) + Send + Sync>;
type Link = OnceLock<Arc<Node>>;

/// The "keeps the last progress" bit of the word (invariant 2).
const KEEPS_LAST: usize = 1;
/// One listener in the word's count.
const ONE: usize = 2;

/// The `on_progress` listeners of one operation, in the order they were added.
#[derive(Default)]
pub(crate) struct ProgressListeners {
    word: AtomicUsize,
    head: Link,
}

struct Node {
    listener: Listener,
    next: Link,
}

impl ProgressListeners {
    /// Whether a report has anything to do besides tracing: one atomic load (invariant 3).
    #[inline]
    pub(crate) fn is_observed(&self) -> bool {
        self.word.load(Ordering::Relaxed) != 0
    }

    /// The word, read once by a report.
    #[inline(always)]
    pub(crate) fn read(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    /// From now on, reports take the slow path that keeps the last message.
    pub(crate) fn keep_last(&self) {
        self.word.fetch_or(KEEPS_LAST, Ordering::Release);
    }

    /// Adds `listener` after the others (invariants 1 and 2).
    pub(crate) fn add(&self, listener: Listener) {
        let mut node = Arc::new(Node {
            listener,
            next: OnceLock::new(),
        });
        let mut link = &self.head;
        loop {
            match link.get() {
                Some(taken) => link = &taken.next,
                None => match link.set(node) {
                    Ok(()) => break,
                    Err(lost) => node = lost,
                },
            }
        }
        self.word.fetch_add(ONE, Ordering::Release);
    }

    /// The listeners a report that read `word` calls, if there is any (invariant 2).
    #[inline(always)]
    pub(crate) fn listeners(&self, word: Word) -> Option<Listeners<'_>> {
        Some(Listeners {
            first: self.head.get()?,
            count: word.0 / ONE,
        })
    }

    /// A list for the operation `combine` makes of this one (invariant 4).
    pub(crate) fn handed_on(&self) -> ProgressListeners {
        let word = self.read();
        let list = ProgressListeners {
            word: AtomicUsize::new(word.0 & KEEPS_LAST),
            head: OnceLock::new(),
        };
        if let Some(Listeners { first, count }) = self.listeners(word)
            && count > 0
        {
            let first = first.clone();
            list.add(Box::new(move |event| {
                Listeners {
                    first: &first,
                    count,
                }
                .call(event)
            }));
        }
        list
    }
}

/// The word as one report read it.
#[derive(Clone, Copy)]
pub(crate) struct Word(usize);

impl Word {
    /// Whether a registry or a supervisor may want the last message.
    #[inline(always)]
    pub(crate) fn keeps_last(self) -> bool {
        self.0 & KEEPS_LAST != 0
    }
}

/// The listeners one report calls.
pub(crate) struct Listeners<'a> {
    first: &'a Arc<Node>,
    count: usize,
}

impl Listeners<'_> {
    /// Calls each listener in order with `event`; a panic is logged and the next still runs.
    /// One listener is called right here, so that a report to it needs no saved register.
    #[inline(always)]
    pub(crate) fn call(self, event: &ProgressEvent<'_>) {
        if self.count == 1 {
            self.first.call(event);
        } else {
            self.call_each(event);
        }
    }

    #[inline(never)]
    fn call_each(self, event: &ProgressEvent<'_>) {
        if self.count == 0 {
            return;
        }
        let mut node = self.first;
        for _ in 1..self.count {
            node.call(event);
            match node.next.get() {
                Some(next) => node = next,
                None => return,
            }
        }
        node.call(event);
    }
}

impl Node {
    #[inline(always)]
    fn call(&self, event: &ProgressEvent<'_>) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (self.listener)(event))) {
            super::listener_panicked(panic);
        }
    }
}

impl Drop for Node {
    /// Drops the nodes after this one in a loop rather than by recursion, which a long list
    /// would overflow the stack with.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(node) = next {
            next = Arc::into_inner(node).and_then(|mut node| node.next.take());
        }
    }
}
