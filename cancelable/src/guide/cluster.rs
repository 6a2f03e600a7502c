//! # Cluster-wide cancel
//!
//! Features `cluster` (the module, the in-memory bus) and `redis` (the Redis bus):
//!
//! ```toml
//! cancelable = { version = "0.1", features = ["redis"] }
//! ```
//!
//! ## Nodes
//!
//! A [`ClusterCancel`] makes a registry a node of a cluster. `cancel`, `cancel_matching` and
//! `cancel_all` apply a command to the node's own registry at once, then publish it; every
//! other node of the namespace applies it to its registry. The cancelled operations record the
//! sender's reason, and its text followed by the sending node's name.
//!
//! ```
//! use cancelable::cluster::{ClusterCancel, InMemoryBus};
//! use cancelable::{Cancelable, CancellationReason, OperationRegistry};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = InMemoryBus::new();
//! let (api, worker) = (OperationRegistry::new(), OperationRegistry::new());
//! let api_node = ClusterCancel::start(&api, bus.clone(), "api-1").await.unwrap();
//! let worker_node = ClusterCancel::start(&worker, bus.clone(), "worker-1").await.unwrap();
//!
//! let export = Cancelable::new().named("export").operation_id("export-81").register_in(&worker);
//! let export = tokio::spawn(async move { export.run(std::future::pending::<()>()).await });
//! tokio::task::yield_now().await;
//!
//! // The user pressed "stop" on the API node; the export runs on a worker.
//! api_node.cancel("export-81", CancellationReason::Manual, "stopped by user").await.unwrap();
//! let err = export.await.unwrap().unwrap_err();
//! assert_eq!(err.to_string(), r#"operation "export" cancelled: stopped by user (from api-1)"#);
//! assert_eq!(worker_node.stats().applied, 1);
//! # }
//! ```
//!
//! ## Operations that start later: sticky commands
//!
//! A plain command cancels what runs when it arrives. "Stop every job of tenant 42" must also
//! catch the retry that a queue starts a second later: give the command a sticky window, and
//! each node also cancels matching operations that join its registry within that window after
//! the issue time (capped by the bus's retention).
//!
//! ```
//! use std::time::Duration;
//! use cancelable::cluster::{CancelCommand, ClusterCancel, InMemoryBus, Target};
//! use cancelable::{Cancelable, CancellationReason, OperationRegistry};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = InMemoryBus::new();
//! let (a, b) = (OperationRegistry::new(), OperationRegistry::new());
//! let node_a = ClusterCancel::start(&a, bus.clone(), "node-a").await.unwrap();
//! let _node_b = ClusterCancel::start(&b, bus.clone(), "node-b").await.unwrap();
//!
//! let command = CancelCommand::new(Target::Glob("tenant_42_*".into()), CancellationReason::Manual, "tenant removed")
//!     .sticky_for(Duration::from_secs(300));
//! node_a.send(command).await.unwrap();
//! tokio::task::yield_now().await;
//!
//! let retry = Cancelable::new().named("tenant_42_retry").register_in(&b);
//! assert!(retry.run(std::future::pending::<()>()).await.is_err());
//! # }
//! ```
//!
//! ## Trust: signing
//!
//! Whoever can write to the bus can cancel everything. With a shared key, every node signs what
//! it sends and refuses what is unsigned or signed with another key; the refusals are counted
//! and logged.
//!
//! ```
//! use cancelable::cluster::{ClusterCancel, InMemoryBus};
//! use cancelable::{CancellationReason, OperationRegistry};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let key = b"32 random bytes from your vault!";
//! let bus = InMemoryBus::new();
//! let (a, b) = (OperationRegistry::new(), OperationRegistry::new());
//! let trusted = ClusterCancel::builder(&a, "node-a").signing_key(key).start(bus.clone()).await.unwrap();
//! let intruder = ClusterCancel::start(&b, bus.clone(), "intruder").await.unwrap();
//!
//! intruder.cancel_all(CancellationReason::Manual, "everything").await.unwrap();
//! tokio::task::yield_now().await;
//! assert_eq!(trusted.stats().rejected, 1);
//! assert_eq!(trusted.stats().applied, 0);
//! # }
//! ```
//!
//! ## On Redis
//!
//! Between processes and machines, use `cluster::RedisBus` (feature `redis`): one stream per
//! namespace, read by one blocked connection per node that resumes from its last id after any
//! reconnect. Every node of the namespace uses the same URL, namespace, retention and key.
//!
//! ```ignore
//! let bus = RedisBus::connect("rediss://cancel:password@redis.internal:6380", "billing").await?;
//! let node = ClusterCancel::builder(OperationRegistry::global(), hostname)
//!     .signing_key(std::env::var("CANCEL_KEY")?)
//!     .start(bus)
//!     .await?;
//! // Keep `node` for the life of the process; `node.stop().await` on shutdown.
//! ```
//!
//! The module docs ([`cluster`](crate::cluster)) state the delivery semantics, the security model
//! (signing, replay window, ACLs, TLS) and the stream layout; `examples/cluster_cancel.rs` runs
//! three nodes in one process, in memory or on Redis.

#[allow(unused_imports)] // the links above
use crate::cluster::ClusterCancel;
