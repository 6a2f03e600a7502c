//! [`InMemoryBus`]: the embedded bus, for many nodes in one process.
//!
//! # Invariants
//!
//! 1. The log holds entries in publish order, numbered from 1 without gaps; it drops entries
//!    from the front only, once they are older than the retention or past the entry limit.
//! 2. A reader remembers the last number it handed out and takes the first entry after it, so
//!    it sees every entry still in the log exactly once, in order. A reader that fell behind
//!    the front (its next entries were dropped) goes on from the front.
//! 3. A reader waits on a `watch` of the last number, never by polling; publish bumps it after
//!    appending, under the log's lock.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::bus::{BusError, BusEvent, BusReader, CancelBus, Envelope};

const DEFAULT_RETENTION: Duration = Duration::from_secs(300);
const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// The embedded bus: every clone is a node's connection to the same log, in this process.
///
/// For clusters of tasks or subsystems inside one process, for examples and tests. Entries
/// are kept for the retention window (five minutes unless
/// [`with_retention`](Self::with_retention) says otherwise, and at most 100 000), so a node
/// that starts late still gets them.
///
/// # Examples
///
/// ```
/// use cancelable::cluster::{ClusterCancel, InMemoryBus};
/// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus = InMemoryBus::new();
/// let (a, b) = (OperationRegistry::new(), OperationRegistry::new());
/// let node_a = ClusterCancel::start(&a, bus.clone(), "node-a").await.unwrap();
/// let _node_b = ClusterCancel::start(&b, bus.clone(), "node-b").await.unwrap();
///
/// let job = Cancelable::new().named("tenant_42_export").register_in(&b);
/// let job = tokio::spawn(async move { job.run(std::future::pending::<()>()).await });
/// tokio::task::yield_now().await;
///
/// node_a.cancel_matching("tenant_42_*", CancellationReason::Manual, "tenant removed").await.unwrap();
/// let err = job.await.unwrap().unwrap_err();
/// assert_eq!(err.message(), Some("tenant removed (from node-a)"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InMemoryBus {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    namespace: String,
    retention: Duration,
    max_entries: usize,
    log: Mutex<Log>,
    last: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Log {
    /// `(number, published at, entry)`, oldest first (invariant 1).
    entries: VecDeque<(u64, Instant, Envelope)>,
    last: u64,
}

impl Log {
    fn trim(&mut self, retention: Duration, max_entries: usize) {
        let cutoff = Instant::now().checked_sub(retention);
        while let Some((_, at, _)) = self.entries.front() {
            let expired = cutoff.is_some_and(|cutoff| *at < cutoff);
            if !expired && self.entries.len() <= max_entries {
                break;
            }
            self.entries.pop_front();
        }
    }
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    // No user code runs under the lock.
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

impl InMemoryBus {
    /// A new, empty bus (namespace `in-memory`), keeping entries for five minutes.
    pub fn new() -> Self {
        InMemoryBus::with_retention(DEFAULT_RETENTION)
    }

    /// A new, empty bus keeping entries for `retention`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::cluster::{CancelBus, InMemoryBus};
    /// let bus = InMemoryBus::with_retention(Duration::from_secs(60));
    /// assert_eq!(bus.retention(), Duration::from_secs(60));
    /// ```
    pub fn with_retention(retention: Duration) -> Self {
        InMemoryBus {
            shared: Arc::new(Shared {
                namespace: "in-memory".to_owned(),
                retention,
                max_entries: DEFAULT_MAX_ENTRIES,
                log: Mutex::new(Log::default()),
                last: watch::Sender::new(0),
            }),
        }
    }

    /// How many entries the bus holds now.
    ///
    /// ```
    /// assert_eq!(cancelable::cluster::InMemoryBus::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        let mut log = lock(&self.shared.log);
        log.trim(self.shared.retention, self.shared.max_entries);
        log.entries.len()
    }

    /// `true` when the bus holds no entry.
    ///
    /// ```
    /// assert!(cancelable::cluster::InMemoryBus::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for InMemoryBus {
    fn default() -> Self {
        InMemoryBus::new()
    }
}

impl CancelBus for InMemoryBus {
    type Reader = InMemoryReader;

    fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    fn retention(&self) -> Duration {
        self.shared.retention
    }

    async fn publish(&self, envelope: Envelope) -> Result<(), BusError> {
        let mut log = lock(&self.shared.log);
        log.last += 1;
        let number = log.last;
        log.entries.push_back((number, Instant::now(), envelope));
        log.trim(self.shared.retention, self.shared.max_entries);
        self.shared.last.send_replace(number);
        Ok(())
    }

    async fn subscribe(&self, _node: &str) -> Result<InMemoryReader, BusError> {
        let mut changed = self.shared.last.subscribe();
        changed.mark_changed();
        Ok(InMemoryReader {
            shared: self.shared.clone(),
            changed,
            last: 0,
        })
    }
}

/// The reader of an [`InMemoryBus`] (see [`CancelBus::subscribe`]).
#[derive(Debug)]
pub struct InMemoryReader {
    shared: Arc<Shared>,
    changed: watch::Receiver<u64>,
    /// The last number handed out (invariant 2).
    last: u64,
}

impl InMemoryReader {
    fn take_next(&mut self) -> Option<BusEvent> {
        let mut log = lock(&self.shared.log);
        log.trim(self.shared.retention, self.shared.max_entries);
        // Numbers are contiguous (invariant 1): the next one is at a known index.
        let front = log.entries.front()?.0;
        let index = usize::try_from((self.last + 1).saturating_sub(front)).ok()?;
        let (number, _, envelope) = log.entries.get(index)?;
        self.last = *number;
        Some(BusEvent::Entry {
            id: number.to_string(),
            envelope: envelope.clone(),
        })
    }
}

impl BusReader for InMemoryReader {
    async fn next(&mut self) -> Option<BusEvent> {
        loop {
            // Marked seen before looking, so a publish after the look wakes us (invariant 3).
            self.changed.borrow_and_update();
            if let Some(event) = self.take_next() {
                return Some(event);
            }
            // The sender lives in `shared`, which this reader holds: never closed.
            if self.changed.changed().await.is_err() {
                return None;
            }
        }
    }
}
