//! [`ClusterBuilder`]: a node's options, and the start that puts its parts together.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::apply::{Node, listen};
use super::bus::{BusError, CancelBus};
use super::command::SigningKey;
use super::node::ClusterCancel;
use super::seen::Seen;
use super::stats::Counters;
use super::sticky::{Due, StickyList, join_hook};
use crate::registry::OperationRegistry;
use crate::token::CancellationToken;

const DEFAULT_SEEN_LIMIT: usize = 100_000;
const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);

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

impl ClusterBuilder {
    /// The default options, for [`ClusterCancel::builder`].
    pub(super) fn new(registry: &OperationRegistry, node: impl Into<String>) -> Self {
        ClusterBuilder {
            registry: registry.clone(),
            name: node.into(),
            key: None,
            seen_limit: DEFAULT_SEEN_LIMIT,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
        }
    }

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
            .add_join_hook(Arc::new(join_hook(sticky, due_tx)));
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
