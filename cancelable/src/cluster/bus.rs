//! What carries the commands between nodes: [`CancelBus`], its [`BusReader`], the
//! [`Envelope`] they move and [`BusError`].

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// A log of commands shared by the nodes of one cluster: [`InMemoryBus`](super::InMemoryBus)
/// inside one process, `RedisBus` (feature `redis`) across processes and
/// machines.
///
/// A bus moves opaque [`Envelope`]s; [`ClusterCancel`](super::ClusterCancel) encodes, signs,
/// checks and applies them, so a new backend only has to deliver. What a backend promises:
///
/// 1. [`publish`](Self::publish) resolves once the entry is stored where every reader of the
///    namespace will find it; entries published one after the other by one handle are read in
///    that order.
/// 2. A reader from [`subscribe`](Self::subscribe) first yields what is still inside the
///    [retention window](Self::retention), then every later entry, and keeps going across
///    reconnects (resuming where it stopped) until it is dropped. It may yield an entry twice;
///    it never waits by polling.
/// 3. Entries stay at least [`retention`](Self::retention) and may then be dropped.
///
/// # Examples
///
/// ```
/// use cancelable::cluster::{BusEvent, BusReader, CancelBus, Envelope, InMemoryBus};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus = InMemoryBus::new();
/// let mut reader = bus.subscribe("node-a").await.unwrap();
/// bus.publish(Envelope::new(b"{}".to_vec(), None)).await.unwrap();
/// match reader.next().await {
///     Some(BusEvent::Entry { envelope, .. }) => assert_eq!(envelope.command, b"{}"),
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
pub trait CancelBus: Send + Sync + 'static {
    /// What [`subscribe`](Self::subscribe) returns.
    type Reader: BusReader;

    /// The namespace: the cluster's name on this bus. Signatures cover it, so a signed
    /// command copied into another namespace is rejected there.
    fn namespace(&self) -> &str;

    /// How long the bus keeps an entry: a node that connects (or reconnects) within this
    /// window still gets it, and commands issued longer ago than this are not replayed.
    fn retention(&self) -> Duration;

    /// Appends `envelope` for every node of the namespace, this one included.
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future may or may not have published the entry.
    fn publish(&self, envelope: Envelope) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Starts reading; resolves once the reader is listening, so every entry published after
    /// that reaches it. `node` names the reader in the backend (e.g. its Redis client name).
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future drops the half-made reader.
    fn subscribe(&self, node: &str) -> impl Future<Output = Result<Self::Reader, BusError>> + Send;
}

/// The read side of a [`CancelBus`]: one per node.
pub trait BusReader: Send + 'static {
    /// The next event; waits, without polling, until there is one. Reconnects inside: a
    /// dropped connection is a [`BusEvent::Reconnected`], never an end. `None` only once the
    /// bus is gone for good.
    ///
    /// # Cancellation safety
    ///
    /// Cancellation safe: an entry is handed out only by the call that returns it.
    fn next(&mut self) -> impl Future<Output = Option<BusEvent>> + Send;
}

/// What a [`BusReader`] yields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusEvent {
    /// An entry, untrusted: whoever can write to the bus wrote it.
    Entry {
        /// The entry's id on the bus (a Redis stream id, a sequence number), for logs.
        id: String,
        /// Its contents.
        envelope: Envelope,
    },
    /// The reader lost its connection and has a new one.
    Reconnected {
        /// `true` when the server no longer had what the reader had seen (it restarted empty,
        /// failed over to a replica behind it, or its stream expired): reading started again
        /// from the beginning of what it holds.
        restarted: bool,
    },
}

/// One entry on a bus: an encoded command and, when the cluster has a signing key, its
/// signature. Built and checked by [`ClusterCancel`](super::ClusterCancel).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The command's JSON (see [`CancelCommand`](super::CancelCommand)).
    pub command: Vec<u8>,
    /// Lower-case hex HMAC-SHA256, or `None` when unsigned.
    pub signature: Option<String>,
}

impl Envelope {
    /// An entry with these contents.
    ///
    /// ```
    /// use cancelable::cluster::Envelope;
    /// let entry = Envelope::new(b"{}".to_vec(), None);
    /// assert!(entry.signature.is_none());
    /// ```
    pub fn new(command: Vec<u8>, signature: Option<String>) -> Self {
        Envelope { command, signature }
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("command", &String::from_utf8_lossy(&self.command))
            .field("signature", &self.signature)
            .finish()
    }
}

/// A bus could not do what was asked.
///
/// ```
/// use cancelable::cluster::BusError;
/// let err = BusError::unreachable("redis://127.0.0.1:1", "connection refused");
/// assert!(err.is_unreachable());
/// assert_eq!(err.to_string(), "cannot reach redis://127.0.0.1:1: connection refused");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusError {
    kind: Kind,
    detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unreachable,
    Timeout,
    Config,
    TooLarge,
    Backend,
}

impl BusError {
    /// The server cannot be reached (refused, unknown host, TLS or authentication failure).
    pub fn unreachable(target: impl fmt::Display, detail: impl fmt::Display) -> Self {
        BusError::new(
            Kind::Unreachable,
            format!("cannot reach {target}: {detail}"),
        )
    }

    /// The server did not answer in time.
    pub fn timeout(what: impl fmt::Display, after: Duration) -> Self {
        BusError::new(Kind::Timeout, format!("{what}: no answer after {after:?}"))
    }

    /// A bad URL, namespace or option.
    pub fn config(detail: impl fmt::Display) -> Self {
        BusError::new(Kind::Config, detail.to_string())
    }

    /// A command larger than the bus accepts.
    pub fn too_large(bytes: usize, limit: usize) -> Self {
        BusError::new(
            Kind::TooLarge,
            format!("command of {bytes} bytes, over the limit of {limit}"),
        )
    }

    /// Any other failure reported by the backend.
    pub fn backend(detail: impl fmt::Display) -> Self {
        BusError::new(Kind::Backend, detail.to_string())
    }

    fn new(kind: Kind, detail: String) -> Self {
        BusError { kind, detail }
    }

    /// The server could not be reached.
    pub fn is_unreachable(&self) -> bool {
        self.kind == Kind::Unreachable
    }

    /// The server did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// A bad URL, namespace or option.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    /// A command over the size limit.
    pub fn is_too_large(&self) -> bool {
        self.kind == Kind::TooLarge
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl StdError for BusError {}
