//! [`OperationRegistry`]: the operations of a process (or of one subsystem) that are built or
//! running, and a bounded history of the finished ones.
//!
//! # Invariants
//!
//! 1. Only operations built with [`register`](Cancelable::register) or
//!    [`register_in`](Cancelable::register_in) touch a registry: the others never take one of
//!    its locks.
//! 2. A registered operation joins the set when it is registered (status `Pending`), and leaves
//!    it exactly once: in `finish`, after its final status is recorded, however `run` ended
//!    (output, cancellation, failure, panic, drop), going to the back of the history, whose
//!    oldest entries are dropped past the limit; or, dropped without running, when its last
//!    handle goes (`Operation`'s `Drop`).
//! 3. The set holds each operation weakly, with a copy of its name (inline when short,
//!    `registry/name.rs`): a queued operation nobody holds any more is dropped, and matching a
//!    name glob reads the slab alone, in order.
//! 4. The set is split into shards by the operation's address. Joining, starting and leaving lock
//!    one shard each, and the counters live in the shard, under the same lock: `statistics`
//!    reads counters, not operations. The slot is a slab key, so leaving needs no lookup and no
//!    id.
//!
//! # Deadlock safety
//!
//! This is the registry's side of the one two-way association between modules: operations
//! join from `register_in`, start and leave from their `run` (`operation/lifecycle.rs`,
//! "Registry") or their drop, and the registry lists and cancels them. An operation starts and
//! leaves while holding its own state lock, so a registry lock is never held while locking an
//! operation's state, calling user code, cancelling an operation or dropping a handle (whose drop
//! may be the operation's, which locks a shard): methods that act on operations (`list`, `find`,
//! `cancel*`, `statistics_matching`, `history`) copy strong handles out first, keeping every one
//! they upgraded until the lock is released. An entry evicted from the history is handed back,
//! to be dropped with no lock held.

mod cancelled;
mod filter;
#[cfg(feature = "cluster")]
mod hooks;
mod name;
mod stats;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use slab::Slab;

pub use self::cancelled::CancelledOperations;
pub use self::filter::OperationFilter;
#[cfg(feature = "cluster")]
pub(crate) use self::filter::glob_match;
#[cfg(feature = "cluster")]
pub(crate) use self::hooks::JoinHook;
#[cfg(feature = "cluster")]
use self::hooks::JoinHooks;
use self::name::EntryName;
pub use self::stats::{FinishedCounts, RegistryStats, RunningCounts};
use crate::context::OperationContext;
use crate::operation::{Cancelable, WeakCancelable};
use crate::status::OperationStatus;

const SHARDS: usize = 16;
const DEFAULT_HISTORY_LIMIT: usize = 1000;

/// A directory of the operations that are built or running, with a bounded history of the
/// finished ones.
///
/// Operations join with [`Cancelable::register`] (the [global](Self::global) registry) or
/// [`Cancelable::register_in`], from the moment they are built (status `Pending`, say in a job
/// queue) until `run` ends, however it ends; an operation dropped without running leaves
/// when its last handle goes. Cancelling one before it runs makes its `run` return the
/// cancellation at once, without polling the body.
///
/// Every method is synchronous and thread-safe: call it from a task, a plain OS thread or a
/// signal handler's thread. Clones are cheap and share the registry.
///
/// # Examples
///
/// ```
/// use cancelable::{Cancelable, CancellationReason, OperationRegistry, OperationStatus};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = OperationRegistry::new();
/// let jobs: Vec<_> = ["user_export", "user_import", "system_backup"]
///     .into_iter()
///     .map(|name| {
///         let op = Cancelable::new().named(name).register_in(&registry);
///         tokio::spawn(async move { op.run(std::future::pending::<()>()).await })
///     })
///     .collect();
/// // Listed from the start, still `Pending` until their tasks run.
/// assert_eq!(registry.list().len(), 3);
/// tokio::task::yield_now().await;
/// assert!(registry.list().iter().all(|ctx| ctx.status == OperationStatus::Running));
///
/// // From any thread: stop every user job.
/// let r = registry.clone();
/// let stopped = std::thread::spawn(move || {
///     r.cancel_matching("user_*", CancellationReason::Manual, "maintenance").len()
/// });
/// assert_eq!(stopped.join().unwrap(), 2);
///
/// registry.cancel_all(CancellationReason::Manual, "shutdown");
/// for job in jobs {
///     assert!(job.await.unwrap().is_err());
/// }
/// assert_eq!(registry.statistics().finished.cancelled, 3);
/// # }
/// ```
#[derive(Clone)]
pub struct OperationRegistry {
    inner: Arc<Inner>,
}

// No user code runs under the registry's locks ("Deadlock safety"): a panic leaves nothing
// half-updated, so a registry crosses `catch_unwind`.
impl std::panic::UnwindSafe for OperationRegistry {}
impl std::panic::RefUnwindSafe for OperationRegistry {}

struct Inner {
    shards: [Shard; SHARDS],
    history: Mutex<VecDeque<Finished>>,
    history_limit: usize,
    #[cfg(feature = "cluster")]
    join_hooks: JoinHooks,
}

/// One lock of the set, on its own cache line.
#[derive(Default)]
#[repr(align(64))]
struct Shard(Mutex<ShardData>);

#[derive(Default)]
struct ShardData {
    held: Slab<Entry>,
    live: RunningCounts,
    registered: u64,
    finished: FinishedCounts,
    completed_nanos: u64,
}

/// A held operation (invariant 3).
struct Entry {
    name: EntryName,
    op: WeakCancelable,
}

struct Finished {
    /// On tokio's clock, like the operation's own times.
    ended_at: Instant,
    op: Cancelable,
}

/// Where a registered operation sits in its registry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    shard: usize,
    key: usize,
}

fn shard_of(op: &Cancelable) -> usize {
    let address = op.address() as u64;
    (address.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
}

impl OperationRegistry {
    /// An empty registry of its own, keeping the last 1000 finished operations.
    pub fn new() -> Self {
        OperationRegistry::with_history_limit(DEFAULT_HISTORY_LIMIT)
    }

    /// An empty registry keeping the last `limit` finished operations (`0`: none).
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::with_history_limit(2);
    /// for name in ["a", "b", "c"] {
    ///     Cancelable::new().named(name).register_in(&registry).run(async {}).await.unwrap();
    /// }
    /// let names: Vec<_> = registry.history(10).into_iter().map(|ctx| ctx.name).collect();
    /// assert_eq!(names, ["b", "c"]);
    /// # }
    /// ```
    pub fn with_history_limit(limit: usize) -> Self {
        OperationRegistry {
            inner: Arc::new(Inner {
                shards: Default::default(),
                history: Mutex::new(VecDeque::new()),
                history_limit: limit,
                #[cfg(feature = "cluster")]
                join_hooks: JoinHooks::default(),
            }),
        }
    }

    /// The process-wide registry that [`Cancelable::register`] and `#[cancelable(register)]`
    /// join.
    ///
    /// ```
    /// use cancelable::OperationRegistry;
    /// let a = OperationRegistry::global();
    /// let b = OperationRegistry::global();
    /// assert!(std::ptr::eq(a, b));
    /// ```
    pub fn global() -> &'static OperationRegistry {
        static GLOBAL: OnceLock<OperationRegistry> = OnceLock::new();
        GLOBAL.get_or_init(OperationRegistry::new)
    }

    /// Adds a registered operation to the set, status `Pending` (invariant 2).
    pub(crate) fn insert(&self, op: &Cancelable) -> Slot {
        let shard = shard_of(op);
        let entry = Entry {
            name: EntryName::new(op.name_cow()),
            op: op.downgrade_weak(),
        };
        let mut data = self.inner.shards[shard].0.lock();
        data.registered += 1;
        data.live.pending += 1;
        let slot = Slot {
            shard,
            key: data.held.insert(entry),
        };
        drop(data);
        #[cfg(feature = "cluster")]
        self.joined(op);
        slot
    }

    /// The operation in `slot` entered `run`.
    pub(crate) fn started(&self, slot: Slot) {
        let mut data = self.inner.shards[slot.shard].0.lock();
        data.live.pending -= 1;
        data.live.running += 1;
    }

    /// The operation in `slot` leaves without finishing (invariant 2): dropped without
    /// running, or moved into a combined operation; `started` if its `run` had started (a
    /// leaked `Run`).
    pub(crate) fn forget(&self, slot: Slot, started: bool) {
        let mut data = self.inner.shards[slot.shard].0.lock();
        if data.held.try_remove(slot.key).is_some() {
            let count = match started {
                true => &mut data.live.running,
                false => &mut data.live.pending,
            };
            *count = count.saturating_sub(1);
        }
    }

    /// The pending operation in `slot` leaves so that a builder can change it; it joins again
    /// right after, and counts as registered once.
    pub(crate) fn leave_to_configure(&self, slot: Slot) {
        let mut data = self.inner.shards[slot.shard].0.lock();
        if data.held.try_remove(slot.key).is_some() {
            data.live.pending = data.live.pending.saturating_sub(1);
            data.registered = data.registered.saturating_sub(1);
        }
    }

    /// Calls the join hooks with `op`, which is in the running set already: a hook that
    /// finds nothing to do for `op` ran before any `cancel*` scan that would have found it.
    #[cfg(feature = "cluster")]
    fn joined(&self, op: &Cancelable) {
        self.inner.join_hooks.call(op);
    }

    /// Adds a join hook; returns the key that removes it.
    #[cfg(feature = "cluster")]
    pub(crate) fn add_join_hook(&self, hook: JoinHook) -> usize {
        self.inner.join_hooks.add(hook)
    }

    /// Removes the join hook added under `key`.
    #[cfg(feature = "cluster")]
    pub(crate) fn remove_join_hook(&self, key: usize) {
        self.inner.join_hooks.remove(key);
    }

    /// How many join hooks are installed (leak tests).
    #[cfg(all(feature = "cluster", feature = "test-util"))]
    pub(crate) fn join_hook_count(&self) -> usize {
        self.inner.join_hooks.count()
    }

    /// Moves `op`, in `slot`, to the history; returns the entry that makes room, if any.
    #[must_use = "the evicted operation is to be dropped with no lock held"]
    pub(crate) fn remove(
        &self,
        slot: Slot,
        op: &Cancelable,
        status: OperationStatus,
        ended_at: Instant,
        duration: Option<Duration>,
    ) -> Option<Cancelable> {
        {
            let mut data = self.inner.shards[slot.shard].0.lock();
            data.held.try_remove(slot.key)?;
            data.live.running -= 1;
            data.finished.add(status, 1);
            if let (OperationStatus::Completed, Some(duration)) = (status, duration) {
                let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
                data.completed_nanos = data.completed_nanos.saturating_add(nanos);
            }
        }
        let mut history = self.inner.history.lock();
        history.push_back(Finished {
            ended_at,
            op: op.clone(),
        });
        if history.len() > self.inner.history_limit {
            return history.pop_front().map(|entry| entry.op);
        }
        None
    }

    /// Handles to the held operations whose name satisfies `name`, shard by shard. Each handle
    /// upgraded under a lock is kept until it is released (see "Deadlock safety").
    ///
    /// The entries are read in batches: the names first, then, for the batch's matches, one
    /// plain load of each operation's count, so that the cache misses of a batch overlap before
    /// the upgrades (atomic read-modify-writes, which would take them one at a time).
    fn held_where(&self, name: impl Fn(&str) -> bool) -> Vec<Cancelable> {
        const BATCH: usize = 32;
        let mut found = Vec::new();
        for shard in &self.inner.shards {
            let data = shard.0.lock();
            let mut batch: Vec<&WeakCancelable> = Vec::with_capacity(BATCH);
            let mut entries = data.held.iter().map(|(_, entry)| entry).peekable();
            while entries.peek().is_some() {
                batch.extend(
                    entries
                        .by_ref()
                        .take(BATCH)
                        .filter(|e| name(e.name.as_str()))
                        .map(|e| &e.op),
                );
                let alive = batch.iter().filter(|op| op.is_alive()).count();
                found.reserve(alive);
                found.extend(batch.drain(..).filter_map(WeakCancelable::upgrade));
            }
        }
        found
    }

    fn held(&self) -> Vec<Cancelable> {
        self.held_where(|_| true)
    }

    fn finished_ops(&self, limit: usize) -> Vec<Cancelable> {
        let history = self.inner.history.lock();
        let skip = history.len().saturating_sub(limit);
        history
            .iter()
            .skip(skip)
            .map(|entry| entry.op.clone())
            .collect()
    }

    /// Snapshots of the held operations: the running ones, then the pending ones (built, `run`
    /// not started); in no particular order within each (sort by `started_at` if you need
    /// to: the registry does not, so that its cost per operation stays flat however many
    /// there are).
    ///
    /// Made to be served as it is: an `/ops` endpoint is `Json(registry.list())` (see
    /// [`OperationContext`] for the JSON shape).
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry, OperationStatus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let queued = Cancelable::new().named("queued").register_in(&registry);
    /// let op = Cancelable::new().named("crawl").register_in(&registry);
    /// op.run(async {
    ///     let held = registry.list();
    ///     assert_eq!((held[0].name.as_str(), held[0].status), ("crawl", OperationStatus::Running));
    ///     assert_eq!((held[1].name.as_str(), held[1].status), ("queued", OperationStatus::Pending));
    ///
    ///     let json = serde_json::to_value(&held).unwrap();
    ///     assert_eq!(json[0]["status"], "running");
    ///     assert!(json[0]["started_at"].is_u64()); // milliseconds since the Unix epoch
    /// }).await.unwrap();
    /// # drop(queued);
    /// # }
    /// ```
    pub fn list(&self) -> Vec<OperationContext> {
        let mut held = self.held();
        // In address order: the operations' memory is then read as one forward sweep.
        held.sort_unstable_by_key(Cancelable::address);
        contexts(&held)
    }

    /// Snapshots of the operations that match `filter`: the held ones (as in
    /// [`list`](Self::list): running, then pending), then those in the history (newest last). Filter on a status to
    /// pick one side.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationFilter, OperationRegistry, OperationStatus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// for name in ["user_sync", "user_export", "nightly_job"] {
    ///     Cancelable::new().named(name).register_in(&registry).run(async {}).await.unwrap();
    /// }
    /// let users = registry.find(&OperationFilter::new().name("user_*"));
    /// assert_eq!(users.len(), 2);
    /// let done = OperationFilter::new().status(OperationStatus::Completed).name("*_job");
    /// assert_eq!(registry.find(&done)[0].name, "nightly_job");
    /// # }
    /// ```
    pub fn find(&self, filter: &OperationFilter) -> Vec<OperationContext> {
        let mut held = self.held_where(|name| filter.admits_name(name));
        held.retain(|op| filter.admits(op));
        let mut found = contexts(&held);
        let finished = self.finished_ops(usize::MAX);
        found.extend(
            finished
                .iter()
                .filter(|op| filter.admits(op))
                .map(Cancelable::context),
        );
        found
    }

    /// The operation with id `id`: a held one, or a finished one still in the history.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().operation_id("job-42").register_in(&registry);
    /// op.run(async {
    ///     let found = registry.get("job-42").unwrap();
    ///     assert_eq!(found, Cancelable::current().unwrap());
    /// }).await.unwrap();
    /// assert!(registry.get("job-42").unwrap().status().is_finished());
    /// assert!(registry.get("job-7").is_none());
    /// # }
    /// ```
    pub fn get(&self, id: &str) -> Option<Cancelable> {
        let has_id = |op: &Cancelable| op.known_id() == Some(id);
        if let Some(op) = self.held().into_iter().find(has_id) {
            return Some(op);
        }
        let history = self.inner.history.lock();
        history
            .iter()
            .rev()
            .map(|entry| &entry.op)
            .find(|op| has_id(op))
            .cloned()
    }

    /// The final contexts of the last `limit` finished operations, newest last.
    ///
    /// See [`with_history_limit`](Self::with_history_limit).
    pub fn history(&self, limit: usize) -> Vec<OperationContext> {
        self.finished_ops(limit)
            .iter()
            .map(Cancelable::context)
            .collect()
    }

    /// Drops the history entries of operations that ended more than `older_than` ago; returns
    /// how many. Running operations are never touched.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// Cancelable::new().register_in(&registry).run(async {}).await.unwrap();
    /// assert_eq!(registry.cleanup(Duration::from_secs(3600)), 0);
    /// assert_eq!(registry.cleanup(Duration::ZERO), 1);
    /// assert!(registry.history(10).is_empty());
    /// # }
    /// ```
    pub fn cleanup(&self, older_than: Duration) -> usize {
        let Some(cutoff) = Instant::now().checked_sub(older_than) else {
            return 0;
        };
        let expired = {
            let mut history = self.inner.history.lock();
            let (expired, kept): (VecDeque<_>, _) = history
                .drain(..)
                .partition(|entry| entry.ended_at <= cutoff);
            *history = kept;
            expired
        };
        expired.len()
    }
}

/// Snapshots of `ops`: the running ones, then the pending ones.
///
/// In batches: plain loads of what a snapshot reads first, so that the batch's cache misses
/// overlap (see `held_where`). Not sorted further: a sort would cost more than the snapshots
/// at a million operations (moving each large snapshot), and a caller sorts what it keeps.
fn contexts(ops: &[Cancelable]) -> Vec<OperationContext> {
    let clocks = crate::context::Clocks::now();
    let mut contexts = Vec::with_capacity(ops.len());
    let mut pending = Vec::new();
    for batch in ops.chunks(32) {
        std::hint::black_box(batch.iter().map(Cancelable::touch).sum::<usize>());
        for op in batch {
            match op.status() {
                OperationStatus::Pending => pending.push(op),
                _ => contexts.push(op.context_at(&clocks)),
            }
        }
    }
    contexts.extend(pending.into_iter().map(|op| op.context_at(&clocks)));
    contexts
}

impl Default for OperationRegistry {
    fn default() -> Self {
        OperationRegistry::new()
    }
}

impl fmt::Debug for OperationRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.statistics();
        f.debug_struct("OperationRegistry")
            .field("running", &stats.running.total())
            .field("history", &stats.history_len)
            .finish_non_exhaustive()
    }
}
