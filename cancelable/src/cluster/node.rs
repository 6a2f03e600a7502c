//! [`ClusterCancel`]: one node of a cluster, applying every command of its bus to its
//! registry, and sending its own.
//!
//! # Invariants
//!
//! 1. An entry is checked in this order: size, signature (when the node has a key), decoding,
//!    issue time, seen set. Only a command that passes every check enters the seen set (so a
//!    forged entry cannot reserve an id) and is applied.
//! 2. A node applies a command id at most once while the id is in its seen set: for the replay
//!    window after the command's issue time, and for at least the last `seen_limit` ids. Its own
//!    commands enter the set before they are published, so their echo is skipped. Past the set,
//!    the issue-time check refuses the entry; either way cancelling again is a no-op for an
//!    operation already cancelled.
//! 3. A sticky command joins the sticky list before the registry is scanned, and an operation
//!    joins the running set before the join hook reads the list (`registry.rs`, `joined`). So
//!    every matching operation is found by the scan or by the hook, or both (a second cancel
//!    does nothing).
//! 4. The join hook runs under the joining operation's state lock: it only reads the sticky
//!    list (a leaf lock) and sends a clone of the operation to the node's task, which cancels it
//!    with no lock held.
//! 5. One node publishes one command at a time, in the order its callers took the publish lock
//!    (tokio's mutex is fair), so every node reads its commands in that order.
//! 6. The node's task owns the reader. [`ClusterCancel::stop`] and dropping the handle end the
//!    task, which drops the reader (and its connection), and remove the join hook: nothing of
//!    the node is left in the registry or on the runtime.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::bus::{BusError, BusEvent, BusReader, CancelBus, Envelope};
use super::command::{CancelCommand, MAX_ENTRY_BYTES, Refusal, SigningKey, Target, unix_ms};
use crate::error::CancellationReason;
use crate::operation::Cancelable;
use crate::registry::OperationRegistry;
use crate::token::CancellationToken;

const DEFAULT_SEEN_LIMIT: usize = 100_000;
const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// One node of a cluster: applies every command of its bus to its registry, and sends its own.
///
/// [`start`](Self::start) subscribes to the bus and returns once the node is listening; from
/// then on a task applies each command from any node of the namespace to `registry`, once, with
/// the sender's reason, and a message that keeps the sender's text and names its node
/// (`tenant removed (from node-a)`). [`cancel`](Self::cancel),
/// [`cancel_matching`](Self::cancel_matching) and [`cancel_all`](Self::cancel_all) apply a
/// command locally at once, then publish it. [`stop`](Self::stop) (or dropping the handle) ends
/// the task and leaves nothing behind. The [module docs](super) give the delivery semantics and
/// the security model.
///
/// # Examples
///
/// ```
/// use cancelable::cluster::{ClusterCancel, InMemoryBus};
/// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus = InMemoryBus::new();
/// let registries = [OperationRegistry::new(), OperationRegistry::new(), OperationRegistry::new()];
/// let mut nodes = Vec::new();
/// for (i, registry) in registries.iter().enumerate() {
///     nodes.push(ClusterCancel::start(registry, bus.clone(), format!("node-{i}")).await.unwrap());
/// }
/// let jobs: Vec<_> = registries
///     .iter()
///     .map(|registry| {
///         let op = Cancelable::new().named("tenant_42_report").register_in(registry);
///         tokio::spawn(async move { op.run(std::future::pending::<()>()).await })
///     })
///     .collect();
/// tokio::task::yield_now().await;
///
/// let here = nodes[0].cancel_matching("tenant_42_*", CancellationReason::Manual, "tenant removed").await.unwrap();
/// assert_eq!(here, 1, "one operation cancelled on this node; the others apply it themselves");
/// for job in jobs {
///     let err = job.await.unwrap().unwrap_err();
///     assert_eq!(err.reason(), CancellationReason::Manual);
///     assert_eq!(err.message(), Some("tenant removed (from node-0)"));
/// }
/// for node in nodes {
///     node.stop().await;
/// }
/// # }
/// ```
pub struct ClusterCancel {
    node: Arc<Node>,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    hook: Option<usize>,
}

/// Options for a [`ClusterCancel`]; made by [`ClusterCancel::builder`].
///
/// ```
/// use cancelable::cluster::{ClusterCancel, InMemoryBus};
/// use cancelable::OperationRegistry;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = OperationRegistry::new();
/// let node = ClusterCancel::builder(&registry, "node-a")
///     .signing_key(b"a shared secret of 16+ bytes")
///     .seen_limit(10_000)
///     .start(InMemoryBus::new())
///     .await
///     .unwrap();
/// assert!(node.is_signed());
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct ClusterBuilder {
    registry: OperationRegistry,
    name: String,
    key: Option<Vec<u8>>,
    seen_limit: usize,
    max_clock_skew: Duration,
}

/// What a node counted since it started: see [`ClusterCancel::stats`].
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

/// The state shared by the handle, its task and (through the sticky list) the join hook.
struct Node {
    name: String,
    registry: OperationRegistry,
    bus: Box<dyn Publish>,
    namespace: String,
    retention: Duration,
    key: Option<SigningKey>,
    max_clock_skew: Duration,
    seen: Mutex<Seen>,
    sticky: Arc<StickyList>,
    publishing: tokio::sync::Mutex<()>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    applied: AtomicU64,
    cancelled: AtomicU64,
    duplicates: AtomicU64,
    oversized: AtomicU64,
    malformed: AtomicU64,
    rejected: AtomicU64,
    expired: AtomicU64,
    reconnects: AtomicU64,
    restarts: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The publishing half of a bus, object safe, so that the handle is not generic.
trait Publish: Send + Sync {
    fn publish(
        &self,
        envelope: Envelope,
    ) -> Pin<Box<dyn Future<Output = Result<(), BusError>> + Send + '_>>;
}

impl<B: CancelBus> Publish for B {
    fn publish(
        &self,
        envelope: Envelope,
    ) -> Pin<Box<dyn Future<Output = Result<(), BusError>> + Send + '_>> {
        Box::pin(CancelBus::publish(self, envelope))
    }
}

/// What a cancelled operation joining later gets from a sticky command.
type Due = (Cancelable, CancellationReason, String);

impl ClusterCancel {
    /// Starts a node named `node` on `bus`, applying the cluster's commands to `registry`;
    /// returns once the node is listening. Must be called inside a tokio runtime.
    ///
    /// The node first applies the commands still inside the bus's retention window (a node
    /// that starts late catches up), then every new one. Fails when the bus cannot subscribe
    /// (an unreachable server is an error within seconds) or `node` is empty.
    ///
    /// See the [type-level example](Self).
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future before it resolves starts nothing.
    pub async fn start<B: CancelBus>(
        registry: &OperationRegistry,
        bus: B,
        node: impl Into<String>,
    ) -> Result<ClusterCancel, BusError> {
        ClusterCancel::builder(registry, node).start(bus).await
    }

    /// A node with options: a signing key, the size of the seen set, the clock skew allowed.
    ///
    /// See [`ClusterBuilder`].
    pub fn builder(registry: &OperationRegistry, node: impl Into<String>) -> ClusterBuilder {
        ClusterBuilder {
            registry: registry.clone(),
            name: node.into(),
            key: None,
            seen_limit: DEFAULT_SEEN_LIMIT,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }

    /// Cancels the operation with id `id` on every node: here at once (`true` if this node had
    /// it running), then on the others through the bus.
    ///
    /// ```
    /// use cancelable::cluster::{ClusterCancel, InMemoryBus};
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (bus, here, there) = (InMemoryBus::new(), OperationRegistry::new(), OperationRegistry::new());
    /// let node_a = ClusterCancel::start(&here, bus.clone(), "node-a").await.unwrap();
    /// let node_b = ClusterCancel::start(&there, bus.clone(), "node-b").await.unwrap();
    /// let op = Cancelable::new().operation_id("export-7").register_in(&there);
    /// let run = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    /// tokio::task::yield_now().await;
    ///
    /// assert!(!node_a.cancel("export-7", CancellationReason::Manual, "user asked").await.unwrap());
    /// let err = run.await.unwrap().unwrap_err();
    /// assert_eq!(err.message(), Some("user asked (from node-a)"));
    /// assert_eq!(node_b.stats().cancelled, 1);
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// The local cancel happens on the first poll; dropping the future afterwards may or may
    /// not have published the command.
    pub async fn cancel(
        &self,
        id: &str,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> Result<bool, BusError> {
        let command = CancelCommand::new(Target::Id(id.to_owned()), reason, message);
        Ok(self.send(command).await? > 0)
    }

    /// Cancels every operation whose name matches `glob` (`*`, `?`) on every node; returns how
    /// many this node cancelled.
    ///
    /// See the [type-level example](Self).
    ///
    /// # Cancellation safety
    ///
    /// As [`cancel`](Self::cancel).
    pub async fn cancel_matching(
        &self,
        glob: &str,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> Result<usize, BusError> {
        let command = CancelCommand::new(Target::Glob(glob.to_owned()), reason, message);
        self.send(command).await
    }

    /// Cancels every registered operation on every node; returns how many this node cancelled.
    ///
    /// ```
    /// use cancelable::cluster::{ClusterCancel, InMemoryBus};
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (bus, a, b) = (InMemoryBus::new(), OperationRegistry::new(), OperationRegistry::new());
    /// let node_a = ClusterCancel::start(&a, bus.clone(), "node-a").await.unwrap();
    /// let _node_b = ClusterCancel::start(&b, bus.clone(), "node-b").await.unwrap();
    /// let op = Cancelable::new().register_in(&b);
    /// let run = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    /// tokio::task::yield_now().await;
    /// node_a.cancel_all(CancellationReason::Signal, "maintenance").await.unwrap();
    /// assert!(run.await.unwrap().unwrap_err().is_signal());
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// As [`cancel`](Self::cancel).
    pub async fn cancel_all(
        &self,
        reason: CancellationReason,
        message: impl Into<String>,
    ) -> Result<usize, BusError> {
        self.send(CancelCommand::new(Target::All, reason, message))
            .await
    }

    /// Sends `command`, for what the shorthands cannot say (a sticky window): sets its origin
    /// to this node and its issue time to now, applies it here, then publishes it; returns how
    /// many operations it cancelled here.
    ///
    /// Fails, having applied the command here, when the bus cannot take it; fails before
    /// anything when it is over the size limit (16 KiB encoded, 4 KiB of message).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::cluster::{CancelCommand, ClusterCancel, InMemoryBus, Target};
    /// use cancelable::{Cancelable, CancellationReason, OperationRegistry};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (bus, a, b) = (InMemoryBus::new(), OperationRegistry::new(), OperationRegistry::new());
    /// let node_a = ClusterCancel::start(&a, bus.clone(), "node-a").await.unwrap();
    /// let _node_b = ClusterCancel::start(&b, bus.clone(), "node-b").await.unwrap();
    ///
    /// // Also stop the tenant's jobs that start within the next minute.
    /// let stop = CancelCommand::new(Target::Glob("tenant_42_*".into()), CancellationReason::Manual, "tenant removed")
    ///     .sticky_for(Duration::from_secs(60));
    /// node_a.send(stop).await.unwrap();
    /// tokio::task::yield_now().await;
    ///
    /// let late = Cancelable::new().named("tenant_42_import").register_in(&b);
    /// let err = late.run(std::future::pending::<()>()).await.unwrap_err();
    /// assert_eq!(err.message(), Some("tenant removed (from node-a)"));
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// As [`cancel`](Self::cancel).
    pub async fn send(&self, mut command: CancelCommand) -> Result<usize, BusError> {
        let node = &*self.node;
        command.origin.clone_from(&node.name);
        command.issued_at = SystemTime::now();
        let encoded = command.encode();
        command.check_limits(&encoded)?;
        let signature = node
            .key
            .as_ref()
            .map(|key| key.sign(&node.namespace, &encoded));
        let expires = node.expires_ms(&command);
        lock(&node.seen).insert(&command.id, expires, unix_ms(SystemTime::now()), true);
        let cancelled = node.apply(&command);
        let _order = node.publishing.lock().await;
        node.bus.publish(Envelope::new(encoded, signature)).await?;
        bump(&node.counters.published);
        Ok(cancelled)
    }

    /// This node's name.
    ///
    /// ```
    /// # use cancelable::cluster::{ClusterCancel, InMemoryBus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = cancelable::OperationRegistry::new();
    /// let node = ClusterCancel::start(&registry, InMemoryBus::new(), "node-a").await.unwrap();
    /// assert_eq!((node.node(), node.namespace()), ("node-a", "in-memory"));
    /// # }
    /// ```
    pub fn node(&self) -> &str {
        &self.node.name
    }

    /// The bus's namespace (see [`node`](Self::node)).
    pub fn namespace(&self) -> &str {
        &self.node.namespace
    }

    /// `true` when the node signs its commands and refuses unsigned or forged ones.
    ///
    /// See [`ClusterBuilder`].
    pub fn is_signed(&self) -> bool {
        self.node.key.is_some()
    }

    /// What the node counted since it started.
    ///
    /// ```
    /// # use cancelable::cluster::{CancelBus, ClusterCancel, Envelope, InMemoryBus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = cancelable::OperationRegistry::new();
    /// let bus = InMemoryBus::new();
    /// let node = ClusterCancel::start(&registry, bus.clone(), "node-a").await.unwrap();
    /// bus.publish(Envelope::new(b"not json".to_vec(), None)).await.unwrap();
    /// tokio::task::yield_now().await;
    /// assert_eq!(node.stats().malformed, 1, "skipped with a warning, never fatal");
    /// # }
    /// ```
    pub fn stats(&self) -> ClusterStats {
        let c = &self.node.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClusterStats {
            published: get(&c.published),
            applied: get(&c.applied),
            cancelled: get(&c.cancelled),
            duplicates: get(&c.duplicates),
            oversized: get(&c.oversized),
            malformed: get(&c.malformed),
            rejected: get(&c.rejected),
            expired: get(&c.expired),
            reconnects: get(&c.reconnects),
            restarts: get(&c.restarts),
        }
    }

    /// Stops the node and waits until its task has ended: the reader and its connection are
    /// dropped and the registry no longer calls the node (invariant 6). Dropping the handle does
    /// the same without waiting.
    ///
    /// ```
    /// # use cancelable::cluster::{ClusterCancel, InMemoryBus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let registry = cancelable::OperationRegistry::new();
    /// let node = ClusterCancel::start(&registry, InMemoryBus::new(), "node-a").await.unwrap();
    /// node.stop().await;
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future still stops the node, without waiting.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            // An `Err` is a panic in the task (already reported) or an abort: ended either way.
            let _ = task.await;
        }
    }
}

impl Drop for ClusterCancel {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(key) = self.hook.take() {
            self.node.registry.remove_join_hook(key);
        }
    }
}

impl fmt::Debug for ClusterCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCancel")
            .field("node", &self.node.name)
            .field("namespace", &self.node.namespace)
            .field("signed", &self.is_signed())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl ClusterBuilder {
    /// Signs every command this node sends with HMAC-SHA256 under `key`, and refuses (counts
    /// and logs, never applies) every entry that is unsigned or signed with another key. Every
    /// node of the namespace needs the same key, at least 16 bytes; 32 random bytes is right.
    ///
    /// See the [type-level example](Self).
    pub fn signing_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(key.as_ref().to_vec());
        self
    }

    /// Remembers at least the last `limit` applied command ids (default 100 000), besides those
    /// inside the replay window; at least 1.
    pub fn seen_limit(mut self, limit: usize) -> Self {
        self.seen_limit = limit.max(1);
        self
    }

    /// How far the nodes' clocks may disagree (default 30 s): a command issued more than the
    /// bus's retention plus this ago, or more than this in the future, is not applied.
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Starts the node on `bus`: see [`ClusterCancel::start`].
    pub async fn start<B: CancelBus>(self, bus: B) -> Result<ClusterCancel, BusError> {
        if self.name.is_empty() || self.name.len() > 256 {
            return Err(BusError::config(
                "a node name is 1 to 256 bytes long (e.g. the host name)",
            ));
        }
        let key = match &self.key {
            Some(key) if key.len() < SigningKey::MIN_LEN => {
                return Err(BusError::config(format!(
                    "a signing key is at least {} bytes long",
                    SigningKey::MIN_LEN
                )));
            }
            Some(key) => Some(SigningKey::new(key)),
            None => None,
        };
        let reader = bus.subscribe(&self.name).await?;
        let sticky = Arc::new(StickyList::default());
        let node = Arc::new(Node {
            namespace: bus.namespace().to_owned(),
            retention: bus.retention(),
            name: self.name,
            registry: self.registry,
            bus: Box::new(bus),
            key,
            max_clock_skew: self.max_clock_skew,
            seen: Mutex::new(Seen::new(self.seen_limit)),
            sticky: sticky.clone(),
            publishing: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
        });
        let (due_tx, due_rx) = mpsc::unbounded_channel::<Due>();
        let hook = node
            .registry
            .add_join_hook(Arc::new(move |op: &Cancelable| {
                // Invariant 4: read, clone, hand over; nothing else under the operation's lock.
                if let Some((reason, message)) = sticky.matching(op) {
                    let _ = due_tx.send((op.clone(), reason, message));
                }
            }));
        let stop = CancellationToken::new();
        let task = tokio::spawn(listen(node.clone(), reader, stop.clone(), due_rx));
        Ok(ClusterCancel {
            node,
            stop,
            task: Some(task),
            hook: Some(hook),
        })
    }
}

/// The node's task (invariant 6). A read in flight is kept while sticky cancels are served,
/// so a reader's blocked request is never abandoned and re-sent.
async fn listen<R: BusReader>(
    node: Arc<Node>,
    mut reader: R,
    stop: CancellationToken,
    mut due: mpsc::UnboundedReceiver<Due>,
) {
    loop {
        let event = {
            let next = reader.next();
            tokio::pin!(next);
            loop {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return,
                    Some((op, reason, message)) = due.recv() => {
                        if op.cancel_with(reason, message) {
                            bump(&node.counters.cancelled);
                        }
                    }
                    event = &mut next => break event,
                }
            }
        };
        match event {
            Some(event) => node.handle(event),
            None => return,
        }
    }
}

impl Node {
    /// When the seen set may forget `command`: the end of its replay window.
    fn expires_ms(&self, command: &CancelCommand) -> u64 {
        let window = self.retention + self.max_clock_skew;
        command
            .issued_at_ms()
            .saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
    }

    fn handle(&self, event: BusEvent) {
        match event {
            BusEvent::Entry { id, envelope } => self.receive(&id, envelope),
            BusEvent::Reconnected { restarted } => {
                bump(&self.counters.reconnects);
                if restarted {
                    bump(&self.counters.restarts);
                }
                tracing::info!(
                    target: "cancelable::cluster",
                    node = %self.name,
                    restarted,
                    "cluster bus reconnected",
                );
            }
        }
    }

    /// Checks an untrusted entry (invariant 1) and applies it.
    fn receive(&self, entry: &str, envelope: Envelope) {
        let refuse = |counter: &AtomicU64, why: &dyn fmt::Display| {
            bump(counter);
            tracing::warn!(
                target: "cancelable::cluster",
                node = %self.name,
                namespace = %self.namespace,
                entry,
                "cluster entry skipped: {why}",
            );
        };
        let c = &self.counters;
        if envelope.command.len() > MAX_ENTRY_BYTES {
            let size = envelope.command.len();
            return refuse(&c.oversized, &format_args!("{size} bytes, over the limit"));
        }
        if let Some(key) = &self.key {
            match &envelope.signature {
                None => return refuse(&c.rejected, &"unsigned, and this node has a key"),
                Some(sig) if !key.verify(&self.namespace, &envelope.command, sig) => {
                    return refuse(&c.rejected, &"wrong signature");
                }
                Some(_) => {}
            }
        }
        let command = match CancelCommand::decode(&envelope.command) {
            Ok(command) => command,
            Err(Refusal::Oversized(size)) => {
                return refuse(&c.oversized, &format_args!("{size} bytes, over the limit"));
            }
            Err(Refusal::Malformed(why)) => return refuse(&c.malformed, &why),
        };
        let now = unix_ms(SystemTime::now());
        let skew = u64::try_from(self.max_clock_skew.as_millis()).unwrap_or(u64::MAX);
        let expires = self.expires_ms(&command);
        if expires < now || command.issued_at_ms() > now.saturating_add(skew) {
            return refuse(&c.expired, &"issued outside the replay window");
        }
        match lock(&self.seen).insert(&command.id, expires, now, false) {
            Insert::New => {}
            Insert::Own => return,
            Insert::Duplicate => {
                bump(&c.duplicates);
                return;
            }
        }
        let cancelled = self.apply(&command);
        bump(&c.applied);
        c.cancelled.fetch_add(cancelled as u64, Ordering::Relaxed);
        tracing::debug!(
            target: "cancelable::cluster",
            node = %self.name,
            origin = %command.origin,
            command = %command.id,
            cancelled,
            "cluster command applied: cancel {}",
            command.target,
        );
    }

    /// Applies `command` to the registry; returns how many operations it cancelled.
    fn apply(&self, command: &CancelCommand) -> usize {
        let message = command.applied_message();
        let window = command.sticky_for.min(self.retention);
        if !window.is_zero() {
            let until_ms = command
                .issued_at_ms()
                .saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
            // Invariant 3: before the scan.
            self.sticky.add(Sticky {
                target: command.target.clone(),
                reason: command.reason,
                message: message.clone(),
                until_ms,
            });
        }
        let registry = &self.registry;
        match &command.target {
            Target::Id(id) => usize::from(registry.cancel(id, command.reason, message)),
            Target::Glob(glob) => registry.cancel_matching(glob, command.reason, message),
            Target::All => registry.cancel_all(command.reason, message),
        }
    }
}

/// The ids a node applied (invariant 2): expiring, bounded.
struct Seen {
    /// id → (end of its replay window in Unix ms, sent by this node).
    ids: HashMap<String, (u64, bool)>,
    /// Insertion order, oldest first.
    order: VecDeque<String>,
    limit: usize,
}

enum Insert {
    New,
    Own,
    Duplicate,
}

impl Seen {
    fn new(limit: usize) -> Self {
        Seen {
            ids: HashMap::new(),
            order: VecDeque::new(),
            limit,
        }
    }

    fn insert(&mut self, id: &str, expires_ms: u64, now_ms: u64, own: bool) -> Insert {
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

/// A sticky command still inside its window.
struct Sticky {
    target: Target,
    reason: CancellationReason,
    message: String,
    until_ms: u64,
}

/// The sticky commands of a node, shared with its join hook; a flag spares the lock when
/// there are none.
#[derive(Default)]
struct StickyList {
    any: AtomicBool,
    list: Mutex<Vec<Sticky>>,
}

impl StickyList {
    fn add(&self, sticky: Sticky) {
        let mut list = lock(&self.list);
        let now = unix_ms(SystemTime::now());
        list.retain(|s| s.until_ms > now);
        list.push(sticky);
        self.any.store(true, Ordering::Release);
    }

    /// The reason and message of the first live sticky command that targets `op`.
    fn matching(&self, op: &Cancelable) -> Option<(CancellationReason, String)> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut list = lock(&self.list);
        let now = unix_ms(SystemTime::now());
        list.retain(|s| s.until_ms > now);
        if list.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        list.iter()
            .find(|s| s.target.matches(op))
            .map(|s| (s.reason, s.message.clone()))
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
