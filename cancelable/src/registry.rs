//! [`OperationRegistry`]: the running operations of a process (or of one subsystem) and a
//! bounded history of the finished ones.
//!
//! # Invariants
//!
//! 1. Only operations built with [`register`](Cancelable::register) or
//!    [`register_in`](Cancelable::register_in) touch a registry: the others never take one of
//!    its locks.
//! 2. A registered operation joins the running set when `run` starts it and leaves it in
//!    `finish`, after its final status is recorded, however `run` ended (output, cancellation,
//!    failure, panic, drop). It then goes to the back of the history, whose oldest entries are
//!    dropped past the limit.
//! 3. The running set is split into shards by the operation's address. Joining and leaving lock
//!    one shard each, and the counters live in the shard, under the same lock; the slot is a slab
//!    key, so leaving needs no lookup and no id.
//!
//! # Deadlock safety
//!
//! This is the registry's side of the one two-way association between modules: operations
//! join and leave from their `run` (`operation/lifecycle.rs`, "Registry"), and the registry lists and
//! cancels them. An operation joins and leaves while holding its own state lock, so a registry lock is never
//! held while locking an operation's state, calling user code or cancelling an operation:
//! methods that act on operations (`list`, `find`, `cancel*`, `history`) copy the handles out
//! first. An entry evicted from the history is handed back, to be dropped with no lock held.

mod filter;
#[cfg(feature = "cluster")]
mod hooks;
mod stats;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use slab::Slab;

pub use self::filter::OperationFilter;
#[cfg(feature = "cluster")]
pub(crate) use self::filter::glob_match;
#[cfg(feature = "cluster")]
pub(crate) use self::hooks::JoinHook;
#[cfg(feature = "cluster")]
use self::hooks::JoinHooks;
pub use self::stats::{RegistryStats, StatusCounts};
use crate::context::OperationContext;
use crate::error::CancellationReason;
use crate::operation::Cancelable;
use crate::status::OperationStatus;

const SHARDS: usize = 16;
const DEFAULT_HISTORY_LIMIT: usize = 1000;

/// A directory of running operations, with a bounded history of the finished ones.
///
/// Operations join with [`Cancelable::register`] (the [global](Self::global) registry) or
/// [`Cancelable::register_in`], from the moment `run` starts until it ends, however it ends.
/// Every method is synchronous and thread-safe: call it from a task, a plain OS thread or a
/// signal handler's thread. Clones are cheap and share the registry.
///
/// # Examples
///
/// ```
/// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
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
/// tokio::task::yield_now().await;
/// assert_eq!(registry.list().len(), 3);
///
/// // From any thread: stop every user job.
/// let r = registry.clone();
/// let stopped = std::thread::spawn(move || {
///     r.cancel_matching("user_*", CancellationReason::Manual, "maintenance")
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

struct Inner {
    shards: [Shard; SHARDS],
    history: Mutex<VecDeque<Finished>>,
    history_limit: usize,
    #[cfg(feature = "cluster")]
    join_hooks: JoinHooks,
}

/// One lock of the running set, on its own cache line.
#[derive(Default)]
#[repr(align(64))]
struct Shard(Mutex<ShardData>);

#[derive(Default)]
struct ShardData {
    running: Slab<Cancelable>,
    registered: u64,
    finished: [u64; OperationStatus::COUNT],
    completed_nanos: u64,
}

struct Finished {
    /// On tokio's clock, like the operation's own times.
    ended_at: Instant,
    op: Cancelable,
}

/// Where a running operation sits in its registry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    shard: usize,
    key: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks: a poisoned one still holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

    pub(crate) fn insert(&self, op: &Cancelable) -> Slot {
        let shard = shard_of(op);
        let mut data = lock(&self.inner.shards[shard].0);
        data.registered += 1;
        let slot = Slot {
            shard,
            key: data.running.insert(op.clone()),
        };
        drop(data);
        #[cfg(feature = "cluster")]
        self.joined(op);
        slot
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

    /// Moves the operation in `slot` to the history; returns the entry that makes room, if any.
    #[must_use = "the evicted operation is to be dropped with no lock held"]
    pub(crate) fn remove(
        &self,
        slot: Slot,
        status: OperationStatus,
        ended_at: Instant,
        duration: Option<Duration>,
    ) -> Option<Cancelable> {
        let op = {
            let mut data = lock(&self.inner.shards[slot.shard].0);
            data.finished[status as usize] += 1;
            if let (OperationStatus::Completed, Some(duration)) = (status, duration) {
                let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
                data.completed_nanos = data.completed_nanos.saturating_add(nanos);
            }
            data.running.try_remove(slot.key)?
        };
        let mut history = lock(&self.inner.history);
        history.push_back(Finished { ended_at, op });
        if history.len() > self.inner.history_limit {
            return history.pop_front().map(|entry| entry.op);
        }
        None
    }

    /// Handles to the running operations that satisfy `keep`.
    fn running_where(&self, keep: impl Fn(&Cancelable) -> bool) -> Vec<Cancelable> {
        let mut found = Vec::new();
        for shard in &self.inner.shards {
            let data = lock(&shard.0);
            found.extend(
                data.running
                    .iter()
                    .map(|(_, op)| op)
                    .filter(|op| keep(op))
                    .cloned(),
            );
        }
        found
    }

    fn contexts(ops: Vec<Cancelable>) -> Vec<OperationContext> {
        let mut contexts: Vec<_> = ops.iter().map(Cancelable::context).collect();
        contexts.sort_by_key(|ctx| ctx.started_at);
        contexts
    }

    fn finished_ops(&self, limit: usize) -> Vec<Cancelable> {
        let history = lock(&self.inner.history);
        let skip = history.len().saturating_sub(limit);
        history
            .iter()
            .skip(skip)
            .map(|entry| entry.op.clone())
            .collect()
    }

    /// Snapshots of the running operations, oldest first.
    ///
    /// ```
    /// use cancelable::{Cancelable, OperationRegistry, OperationStatus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().named("crawl").register_in(&registry);
    /// op.run(async {
    ///     let running = registry.list();
    ///     assert_eq!(running.len(), 1);
    ///     assert_eq!(running[0].status, OperationStatus::Running);
    /// }).await.unwrap();
    /// # }
    /// ```
    pub fn list(&self) -> Vec<OperationContext> {
        OperationRegistry::contexts(self.running_where(|_| true))
    }

    /// Snapshots of the operations that match `filter`: the running ones (oldest first), then
    /// those in the history (newest last). Filter on a status to pick one side.
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
        let mut found = OperationRegistry::contexts(self.running_where(|op| filter.admits(op)));
        let finished = self.finished_ops(usize::MAX);
        found.extend(
            finished
                .iter()
                .filter(|op| filter.admits(op))
                .map(Cancelable::context),
        );
        found.retain(|ctx| filter.matches(ctx));
        found
    }

    /// The operation with id `id`: a running one, or a finished one still in the history.
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
        if let Some(op) = self.running_where(has_id).pop() {
            return Some(op);
        }
        let history = lock(&self.inner.history);
        history
            .iter()
            .rev()
            .map(|entry| &entry.op)
            .find(|op| has_id(op))
            .cloned()
    }

    /// Cancels the running operation with id `id`; `true` if this call cancelled it.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().operation_id("job-1").register_in(&registry);
    /// let err = op.run(async {
    ///     assert!(registry.cancel("job-1", CancellationReason::Manual, "stop requested"));
    ///     std::future::pending::<()>().await
    /// }).await.unwrap_err();
    /// assert_eq!(err.message(), Some("stop requested"));
    /// assert!(!registry.cancel("job-1", CancellationReason::Manual, "again"));
    /// # }
    /// ```
    pub fn cancel(&self, id: &str, reason: CancellationReason, message: impl Into<String>) -> bool {
        let message = message.into();
        let targets = self.running_where(|op| op.known_id() == Some(id));
        targets
            .iter()
            .filter(|op| op.cancel_with(reason, message.clone()))
            .count()
            > 0
    }

    /// Cancels every running operation whose name matches `glob` (`*` any run of characters,
    /// `?` one character, e.g. `user_*`, `*_job`, `job_?`); returns how many this call
    /// cancelled.
    ///
    /// See the [type-level example](Self).
    pub fn cancel_matching(
        &self,
        glob: &str,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> usize {
        let message = message.into();
        let targets = self.running_where(|op| filter::glob_match(glob, op.name()));
        targets
            .iter()
            .filter(|op| op.cancel_with(reason, message.clone()))
            .count()
    }

    /// Cancels every running operation; returns how many this call cancelled.
    ///
    /// ```
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = OperationRegistry::new();
    /// let op = Cancelable::new().register_in(&registry);
    /// let err = op.run(async {
    ///     assert_eq!(registry.cancel_all(CancellationReason::Signal, "shutting down"), 1);
    ///     std::future::pending::<()>().await
    /// }).await.unwrap_err();
    /// assert!(err.is_signal());
    /// # }
    /// ```
    pub fn cancel_all(&self, reason: CancellationReason, message: impl Into<String>) -> usize {
        let message = message.into();
        let targets = self.running_where(|_| true);
        targets
            .iter()
            .filter(|op| op.cancel_with(reason, message.clone()))
            .count()
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

    /// Counts: running operations by status, finished ones by status, the average duration
    /// of the completed ones, operations registered so far.
    ///
    /// The finished counts and the average cover every operation since the registry was
    /// created, not only those still in the history.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::{Cancelable, OperationRegistry};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let registry = OperationRegistry::new();
    /// Cancelable::new().register_in(&registry).run(async {}).await.unwrap();
    /// let timeout = Cancelable::with_timeout(Duration::from_millis(5)).register_in(&registry);
    /// timeout.run(std::future::pending::<()>()).await.unwrap_err();
    ///
    /// let stats = registry.statistics();
    /// assert_eq!(stats.running.total(), 0);
    /// assert_eq!((stats.finished.completed, stats.finished.cancelled), (1, 1));
    /// assert!(stats.average_duration.is_some());
    /// assert_eq!(stats.total, 2);
    /// # }
    /// ```
    pub fn statistics(&self) -> RegistryStats {
        let mut running = StatusCounts::default();
        let mut finished = [0; 5];
        let (mut total, mut nanos) = (0, 0u64);
        for shard in &self.inner.shards {
            let data = lock(&shard.0);
            for (_, op) in data.running.iter() {
                running.add(op.status());
            }
            for (sum, count) in finished.iter_mut().zip(data.finished) {
                *sum += count;
            }
            total += data.registered;
            nanos = nanos.saturating_add(data.completed_nanos);
        }
        let finished = StatusCounts::from_fn(|status| finished[status as usize]);
        let average_duration = match finished.completed {
            0 => None,
            completed => Some(Duration::from_nanos(nanos / completed)),
        };
        RegistryStats {
            running,
            finished,
            average_duration,
            total,
            history_len: lock(&self.inner.history).len(),
        }
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
            let mut history = lock(&self.inner.history);
            let (expired, kept): (VecDeque<_>, _) = history
                .drain(..)
                .partition(|entry| entry.ended_at <= cutoff);
            *history = kept;
            expired
        };
        expired.len()
    }
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
