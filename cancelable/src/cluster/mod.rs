//! Cluster-wide cancel: "the tenant was deleted, stop all of its jobs, everywhere".
//!
//! [`OperationRegistry::cancel_matching`](crate::OperationRegistry::cancel_matching) stops the
//! matching operations of one process. A [`ClusterCancel`] makes a process (or a subsystem
//! with its own registry) a *node* of a cluster: it sends [`CancelCommand`]s — by operation id,
//! name glob, or all — over a [`CancelBus`], and applies every node's commands to its own
//! registry.
//!
//! ```
//! use cancelable::cluster::{ClusterCancel, InMemoryBus};
//! use cancelable::{Cancelable, CancellationReason, OperationRegistry};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = InMemoryBus::new(); // or `RedisBus::connect("redis://…", "billing").await?`
//! let (web, worker) = (OperationRegistry::new(), OperationRegistry::new());
//! let web_node = ClusterCancel::start(&web, bus.clone(), "web-1").await.unwrap();
//! let _worker_node = ClusterCancel::start(&worker, bus.clone(), "worker-1").await.unwrap();
//!
//! let job = Cancelable::new().named("tenant_42_export").register_in(&worker);
//! let job = tokio::spawn(async move { job.run(std::future::pending::<()>()).await });
//! tokio::task::yield_now().await;
//!
//! web_node.cancel_matching("tenant_42_*", CancellationReason::Manual, "tenant removed").await.unwrap();
//! let err = job.await.unwrap().unwrap_err();
//! assert_eq!(err.reason(), CancellationReason::Manual);
//! assert_eq!(err.message(), Some("tenant removed (from web-1)"));
//! # }
//! ```
//!
//! # Buses
//!
//! * [`InMemoryBus`] (feature `cluster`): many nodes in one process; examples and tests.
//! * `RedisBus` (feature `redis`): nodes in any number of processes and machines, on a Redis
//!   (or Redis-compatible) server the operators already run, through **Redis Streams**, not bare
//!   Pub/Sub, which loses every message sent while a subscriber reconnects.
//! * Your own: implement [`CancelBus`] and [`BusReader`]; [`ClusterCancel`] does the encoding,
//!   signing, checking and deduplication.
//!
//! # Semantics
//!
//! * **At least once, to every node connected within the retention window.** A command reaches
//!   every node of the namespace that is listening when it is published, or that connects or
//!   reconnects within the bus's [retention](CancelBus::retention) (five minutes by default):
//!   a reader resumes from the last entry it saw, and a node that starts late reads what is
//!   still in the window. A node away for longer than the window misses what it missed; make
//!   the window longer than your longest expected outage.
//! * **Idempotent apply.** Each node applies a command id once (a bounded set of seen ids,
//!   expiring with the window; see [`ClusterBuilder::seen_limit`]); duplicates on the bus, and a
//!   node's own echo, are skipped. Cancelling an already cancelled operation is a no-op anyway.
//! * **Ordered per publisher.** The commands one node sends arrive everywhere in the order it
//!   sent them; commands of different nodes interleave in the order the bus stored them.
//! * **What a command cancels.** The matching operations running in the node's registry when
//!   the command arrives. A *sticky* command ([`CancelCommand::sticky_for`]) also cancels the
//!   matching operations that join the registry within its window after the issue time (capped
//!   by the retention), right after they start: Celery's "revoked" list, without a second
//!   protocol.
//! * **The message.** Every cancelled operation records the sender's reason, and a message
//!   that keeps the sender's text and names the origin node: `tenant removed (from node-a)`.
//!   The sender's own registry gets the same, at once, before the command is published.
//! * **Namespaces.** Nodes on different namespaces of one server never see each other's
//!   commands (a Redis key per namespace); signatures cover the namespace too.
//! * **Untrusted entries.** An entry over 16 KiB, one that is not a valid command, and (with a
//!   key) one unsigned or wrongly signed, is skipped with a `WARN` event and counted in
//!   [`ClusterStats`]; never fatal, never applied.
//! * **Failures.** An unreachable server is a [`BusError`] from `connect`/`start` within
//!   seconds, never a hang. A dropped connection is recovered from on its own: the reader
//!   resumes from its last id, and a publish reconnects (a publish that failed midway is retried
//!   once; the duplicate that may leave is harmless).
//! * **Cost.** An idle node holds one connection blocked in a read, and no polling loop; a
//!   command costs one round trip to the bus, then one registry scan on each node.
//!
//! # Security
//!
//! Whoever can write to the bus can cancel work on every node. Two lines of defence:
//!
//! * **A shared signing key** ([`ClusterBuilder::signing_key`]): every command carries an
//!   HMAC-SHA256 over its exact bytes and its namespace; a node with a key refuses, logs and
//!   counts every unsigned or forged entry. Commands carry their issue time and are not
//!   replayed once older than the retention (plus the allowed clock skew), and a replay inside
//!   the window is a duplicate id: a copied entry does nothing. Rotate the key by restarting
//!   the nodes with the new one (entries signed with the old key are refused).
//! * **The server's own access control**, for operators. Give the nodes a Redis ACL user of
//!   their own, limited to their key and the commands they use:
//!   `ACL SETUSER cancel on >password ~cancelable:{billing}:* +xadd +pexpire +xread
//!   +xrevrange +time +ping +client|setname`, and put the user and password in the URL
//!   (`redis://cancel:password@host:6379`). Listening needs only `+xread +xrevrange +time`
//!   (with `+ping +client|setname`): a node that must never send can have a user without
//!   `+xadd`, and its sends fail with `NOPERM` (the tests run both users).
//!   Across machines use TLS (`rediss://`, checked against the system's root certificates).
//!
//! The signing key does not hide the commands (they are readable JSON on the bus), and does
//! not stop a writer from filling the stream: size limits bound the damage to memory, the
//! ACL bounds who can write.
//!
//! # Redis layout
//!
//! One stream per namespace, `cancelable:{<namespace>}:cancels` (the braces are a hash tag: a
//! Redis Cluster keeps it on one shard), trimmed by age at each `XADD`
//! (`MINID ~ <server time − retention>`) and expiring after twice the retention without
//! publishes. See `RedisBus` for the reader's resume and restart rules.

mod apply;
mod builder;
mod bus;
mod command;
mod memory;
mod node;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_publisher;
#[cfg(feature = "redis")]
mod redis_reader;
mod seen;
mod stats;
mod sticky;

pub use self::builder::ClusterBuilder;
pub use self::bus::{BusError, BusEvent, BusReader, CancelBus, Envelope};
pub use self::command::{CancelCommand, Target};
pub use self::memory::{InMemoryBus, InMemoryReader};
pub use self::node::ClusterCancel;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisBus;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis_reader::RedisReader;
pub use self::stats::ClusterStats;
