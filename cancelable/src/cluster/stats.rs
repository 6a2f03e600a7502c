//! [`ClusterStats`]: what a node counted since it started, and the counters behind it.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// What a node counted since it started: see [`ClusterCancel::stats`](super::ClusterCancel::stats).
///
/// Every refused entry (`oversized`, `malformed`, `rejected`, `expired`) is also a `WARN`
/// event of target `cancelable::cluster`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Commands this node sent.
    pub published: u64,
    /// Commands from other nodes applied here (each once).
    pub applied: u64,
    /// Operations of this registry cancelled by other nodes' commands (sticky ones included).
    pub cancelled: u64,
    /// Entries skipped because their command was applied already.
    pub duplicates: u64,
    /// Entries over the size limit (16 KiB), not parsed.
    pub oversized: u64,
    /// Entries that are not a valid command.
    pub malformed: u64,
    /// Entries unsigned or with a wrong signature, while this node has a signing key.
    pub rejected: u64,
    /// Commands issued outside the replay window (older than the bus's retention, or from
    /// the future beyond the allowed clock skew).
    pub expired: u64,
    /// Times the reader reconnected.
    pub reconnects: u64,
    /// Reconnects that found the server had lost the stream (restarted empty, failed over, or
    /// the stream expired) and read it again from the start.
    pub restarts: u64,
}

/// The live counters of a node, one per field of [`ClusterStats`].
#[derive(Default)]
pub(super) struct Counters {
    pub(super) published: AtomicU64,
    pub(super) applied: AtomicU64,
    pub(super) cancelled: AtomicU64,
    pub(super) duplicates: AtomicU64,
    pub(super) oversized: AtomicU64,
    pub(super) malformed: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) expired: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) restarts: AtomicU64,
}

impl Counters {
    /// The counters' values now.
    pub(super) fn snapshot(&self) -> ClusterStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClusterStats {
            published: get(&self.published),
            applied: get(&self.applied),
            cancelled: get(&self.cancelled),
            duplicates: get(&self.duplicates),
            oversized: get(&self.oversized),
            malformed: get(&self.malformed),
            rejected: get(&self.rejected),
            expired: get(&self.expired),
            reconnects: get(&self.reconnects),
            restarts: get(&self.restarts),
        }
    }
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
