//! An operation's progress listeners: a list that only grows, added to and walked with no lock.
//!
//! In the operation: a flag byte ([`ProgressFlags`]) and a `OnceLock` ([`ProgressListeners`],
//! 16 bytes); the list itself is allocated with the first listener. Adding one walks to the
//! end of the list (an operation has a few listeners); a report only reads.
//!
//! # Invariants
//!
//! 1. A listener is never removed before the list is dropped. The first is published with the
//!    list (`OnceLock::get_or_init`; an add that finds the list made appends), each next one
//!    with `OnceLock::set` on the `next` of the last node, which publishes the node whole; an
//!    add that loses the race for a link moves on to the node that won it. A report therefore
//!    walks shared references only, with no lock, while adds go on.
//! 2. The count is raised after a listener is linked, and links are taken in order, so the
//!    first `count` links are always set. A report calls the `count` it reads when it starts:
//!    a listener added meanwhile, by a listener or by another thread, hears the next report.
//! 3. The flags are never cleared: `LISTENED` is set after a listener is counted,
//!    `KEEPS_LAST` when a registry or a supervisor may want the last message; once either is
//!    set, every report leaves `report_progress`'s inline check.
//! 4. `handed_on` gives `combine`'s operation a list of its own, whose first listener calls
//!    the first `count` listeners of this one: the lists share no link, so neither operation's
//!    later listeners reach the other.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::context::ProgressEvent;

type Listener = Box<dyn Fn(&ProgressEvent<'_>) + Send + Sync>;

/// A listener was added (invariant 3).
const LISTENED: u8 = 1;
/// A registry or a supervisor may want the last message (invariant 3).
const KEEPS_LAST: u8 = 2;

/// What a report has to do besides tracing (invariant 3): a byte of its own in the
/// operation, beside its other flags.
#[derive(Default)]
pub(crate) struct ProgressFlags(AtomicU8);

/// The `on_progress` listeners of one operation, in the order they were added.
#[derive(Default)]
pub(crate) struct ProgressListeners(OnceLock<Arc<List>>);

struct List {
    count: AtomicUsize,
    first: Node,
}

struct Node {
    listener: Listener,
    next: OnceLock<Box<Node>>,
}

impl ProgressFlags {
    /// Whether a report has anything to do besides tracing: one atomic load (invariant 3).
    #[inline]
    pub(crate) fn is_observed(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// Whether a registry or a supervisor may want the last message.
    #[inline(always)]
    pub(crate) fn keeps_last(&self) -> bool {
        self.0.load(Ordering::Relaxed) & KEEPS_LAST != 0
    }

    /// From now on, reports take the slow path that keeps the last message.
    pub(crate) fn keep_last(&self) {
        self.0.fetch_or(KEEPS_LAST, Ordering::Release);
    }

    /// A listener is counted: reports leave the inline check from now on.
    pub(crate) fn listened(&self) {
        self.0.fetch_or(LISTENED, Ordering::Release);
    }

    /// The flags for the operation `combine` makes of this one (invariant 4).
    pub(crate) fn handed_on(&self) -> ProgressFlags {
        ProgressFlags(AtomicU8::new(self.0.load(Ordering::Acquire)))
    }
}

impl ProgressListeners {
    /// Adds `listener` after the others (invariants 1 and 2).
    pub(crate) fn add(&self, listener: Listener) {
        let mut listener = Some(listener);
        let list = self.0.get_or_init(|| {
            Arc::new(List {
                count: AtomicUsize::new(1),
                first: Node::new(listener.take().expect("called once")),
            })
        });
        if let Some(listener) = listener {
            list.append(Node::new(listener));
        }
    }

    /// The listeners a report calls now, if there is any (invariant 2).
    #[inline(always)]
    pub(crate) fn listeners(&self) -> Option<Listeners<'_>> {
        let list = self.0.get()?;
        Some(Listeners {
            first: &list.first,
            count: list.count.load(Ordering::Acquire),
        })
    }

    /// A list for the operation `combine` makes of this one (invariant 4).
    pub(crate) fn handed_on(&self) -> ProgressListeners {
        let handed = ProgressListeners::default();
        if let Some(list) = self.0.get() {
            let (list, count) = (list.clone(), list.count.load(Ordering::Acquire));
            handed.add(Box::new(move |event| {
                Listeners {
                    first: &list.first,
                    count,
                }
                .call(event)
            }));
        }
        handed
    }
}

impl List {
    fn append(&self, node: Node) {
        let mut node = Box::new(node);
        let mut last = &self.first;
        loop {
            match last.next.get() {
                Some(next) => last = next,
                None => match last.next.set(node) {
                    Ok(()) => break,
                    Err(lost) => node = lost,
                },
            }
        }
        self.count.fetch_add(1, Ordering::Release);
    }
}

/// The listeners one report calls.
pub(crate) struct Listeners<'a> {
    first: &'a Node,
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
    fn new(listener: Listener) -> Self {
        Node {
            listener,
            next: OnceLock::new(),
        }
    }

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
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}
