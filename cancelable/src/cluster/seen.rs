//! The seen set: the command ids a node applied, so that it applies each once.
//!
//! # Invariants
//!
//! 1. A node applies a command id at most once while the id is in its seen set: for the replay
//!    window after the command's issue time, and for at least the last `seen_limit` ids. Its own
//!    commands enter the set before they are published, so their echo is skipped. Past the set,
//!    the issue-time check refuses the entry; either way cancelling again is a no-op for an
//!    operation already cancelled.

use std::collections::{HashMap, VecDeque};

/// The ids a node applied (invariant 1): expiring, bounded.
pub(super) struct Seen {
    /// id → (end of its replay window in Unix ms, sent by this node).
    ids: HashMap<String, (u64, bool)>,
    /// Insertion order, oldest first.
    order: VecDeque<String>,
    limit: usize,
}

pub(super) enum Insert {
    New,
    Own,
    Duplicate,
}

impl Seen {
    pub(super) fn new(limit: usize) -> Self {
        Seen {
            ids: HashMap::new(),
            order: VecDeque::new(),
            limit,
        }
    }

    pub(super) fn insert(&mut self, id: &str, expires_ms: u64, now_ms: u64, own: bool) -> Insert {
        while let Some(oldest) = self.order.front() {
            let expired = self.ids.get(oldest).is_none_or(|(end, _)| *end < now_ms);
            if !expired && self.order.len() < self.limit {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        if let Some((_, was_own)) = self.ids.get(id) {
            return if *was_own {
                Insert::Own
            } else {
                Insert::Duplicate
            };
        }
        self.ids.insert(id.to_owned(), (expires_ms, own));
        self.order.push_back(id.to_owned());
        Insert::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seen_set_forgets_expired_ids_and_stays_bounded() {
        let mut seen = Seen::new(3);
        assert!(matches!(seen.insert("a", 100, 0, false), Insert::New));
        assert!(matches!(seen.insert("a", 100, 0, false), Insert::Duplicate));
        assert!(matches!(seen.insert("b", 100, 0, true), Insert::New));
        assert!(matches!(seen.insert("b", 100, 0, false), Insert::Own));
        // "a" and "b" expired at 100.
        assert!(matches!(seen.insert("c", 500, 200, false), Insert::New));
        assert_eq!(seen.order.len(), 1);
        for id in ["d", "e", "f", "g"] {
            seen.insert(id, 500, 200, false);
        }
        assert_eq!((seen.order.len(), seen.ids.len()), (3, 3));
        assert!(matches!(
            seen.insert("g", 500, 200, false),
            Insert::Duplicate
        ));
    }
}
