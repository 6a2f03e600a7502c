//! [`ClusterCancel`]: one node of a cluster, applying every command of its bus to its
//! registry, and sending its own.
//!
//! # Invariants
//!
//! 1. One node publishes one command at a time, in the order its callers took the publish lock
//!    (tokio's mutex is fair), so every node reads its commands in that order.
//! 2. The node's task owns the reader. [`ClusterCancel::stop`] and dropping the handle end the
//!    task, which drops the reader (and its connection), and remove the join hook: nothing of
//!    the node is left in the registry or on the runtime.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::task::JoinHandle;

use super::apply::{Node, lock};
use super::builder::ClusterBuilder;
use super::bus::{BusError, CancelBus, Envelope};
use super::command::{CancelCommand, Target, unix_ms};
use super::stats::{ClusterStats, bump};
use crate::error::CancellationReason;
use crate::registry::OperationRegistry;
use crate::token::CancellationToken;

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
    pub(super) node: Arc<Node>,
    pub(super) stop: CancellationToken,
    pub(super) task: Option<JoinHandle<()>>,
    pub(super) hook: Option<usize>,
}

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
        ClusterBuilder::new(registry, node)
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
        self.node.counters.snapshot()
    }

    /// Stops the node and waits until its task has ended: the reader and its connection are
    /// dropped and the registry no longer calls the node (invariant 2). Dropping the handle does
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
