//! Shutting a service down: a grace period, tracked work, escalation, and a report of what did
//! not finish and why ([`crate::shutdown`]).
//!
//! # The shape of a service
//!
#![cfg_attr(feature = "axum", doc = "```no_run")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use cancelable::axum::CancelableLayer;
//! use cancelable::shutdown::Shutdown;
//!
//! #[tokio::main]
//! async fn main() {
//!     let shutdown = Shutdown::builder()   // SIGINT and SIGTERM
//!         .drain(Duration::from_secs(5))   // the load balancer still sends traffic
//!         .grace(Duration::from_secs(25))  // under terminationGracePeriodSeconds (30 s)
//!         .build();
//!     let root = shutdown.root();
//!     root.spawn(async { /* a background consumer: stopped with reason `Parent` */ });
//!     let app: Router = Router::new()
//!         .route("/", get(|| async { "ok" }))
//!         .layer(CancelableLayer::new().parent(root)); // requests are tracked and cancelled
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await.unwrap();
//!     let draining = shutdown.draining();
//!     let report = shutdown
//!         .run(async move {
//!             axum::serve(listener, app).with_graceful_shutdown(draining).await.unwrap()
//!         })
//!         .await;
//!     eprintln!("{report}");
//!     std::process::exit(report.exit_code());
//! }
//! ```
//!
//! On SIGTERM: the server stops accepting connections at once (`draining`), requests on open
//! connections are still served for the drain, then everything under the root is cancelled
//! (requests answer `503`, SSE streams end with their `cancelled` frame, workers stop), and
//! whatever is still running at 25 s (shields, grace periods) is cut and listed. A second
//! Ctrl+C skips to the cut; a third kills the process.
//!
//! # Cleanup when cancelled
//!
//! Three ways for work to clean up, from the most local:
//!
//! 1. A **grace period** on the operation ([`Cancelable::grace`](crate::Cancelable::grace)):
//!    the body sees the cancellation and finishes with its locals at hand.
//! 2. A **shield** around the cleanup ([`Cancelable::shield`](crate::Cancelable::shield)): it
//!    runs to its end even though the operation is cancelled.
//! 3. **After `run`** returns the cancellation, with whatever the body handed out.
//!
//! The [cleanup page](super::cleanup) shows each with a runnable example.
//!
//! Under a shutdown, the first two are bounded by the budget: at forcing, both are cut and the
//! operation is reported with the cause chain and its last progress message.
//!
#![cfg_attr(all(unix, feature = "signal"), doc = "```")]
#![cfg_attr(not(all(unix, feature = "signal")), doc = "```ignore")]
//! use std::time::Duration;
//! use cancelable::Cancelable;
//! use cancelable::shutdown::Shutdown;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let shutdown = Shutdown::builder().on_signals([]).grace(Duration::from_secs(10)).build();
//! let upload = Cancelable::new()
//!     .named("upload")
//!     .parent(shutdown.root())
//!     .grace(Duration::from_secs(3)); // finish the part being sent
//! let task = tokio::spawn(async move {
//!     upload
//!         .run(async {
//!             let op = Cancelable::current().unwrap();
//!             op.cancelled().await;
//!             tokio::time::sleep(Duration::from_secs(1)).await; // the part's last bytes
//!             "part 7 sent"
//!         })
//!         .await
//! });
//! shutdown.trigger("deploy");
//! let root = shutdown.root().clone();
//! let report = shutdown.run(async move { root.cancelled().await }).await;
//! assert!(task.await.unwrap().unwrap_err().is_parent());
//! assert_eq!(report.exit_code(), 0); // it ended within its grace: no leftover
//! assert_eq!(report.phases.done, Duration::from_secs(1));
//! # }
//! ```
//!
//! # Waiting for children without a shutdown
//!
//! [`Cancelable::wait_children`](crate::Cancelable::wait_children) is tokio-util's
//! `TaskTracker::wait` for any operation: it completes once everything started under it has
//! ended. [`run`](crate::Cancelable::run) itself does not wait for spawned work.
//!
//! # Testing a shutdown
//!
//! With the `testing` feature, `cancelable::testing::ShutdownProbe` triggers a shutdown from a
//! test and reads the exact instant of each phase on the paused clock.
