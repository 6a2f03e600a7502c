//! # Progress, callbacks and the registry
//!
//! ## Progress and lifecycle callbacks
//!
//! [`report_progress`](Cancelable::report_progress) calls the
//! [`on_progress`](Cancelable::on_progress) callbacks with a [`ProgressEvent`] (and emits a
//! tracing event); it costs nothing when nobody listens. The event borrows from the report, so
//! a callback copies what it keeps (`event.message.to_string()`, or the whole event with
//! [`to_owned`](ProgressEvent::to_owned)). `on_start`, `on_completed`,
//! `on_cancelled` and `on_failed` see an [`OperationContext`] snapshot; exactly one of the last three fires.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use cancelable::Cancelable;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let op = Cancelable::new().named("import");
//! let log = seen.clone();
//! op.on_progress(move |event| log.lock().unwrap().push(event.message.to_string()));
//! let log = seen.clone();
//! op.on_completed(move |ctx| log.lock().unwrap().push(format!("{} {}", ctx.name, ctx.status)));
//! op.run(async {
//!     let cancel = Cancelable::current().unwrap();
//!     cancel.report_progress("50%");
//!     cancel.report_progress("100%");
//! })
//! .await
//! .unwrap();
//! assert_eq!(*seen.lock().unwrap(), ["50%", "100%", "import completed"]);
//! # }
//! ```
//!
//! ## The registry
//!
//! Operations built with [`register`](Cancelable::register) (the global registry) or
//! [`register_in`](Cancelable::register_in) are listed from when they are built (status
//! `Pending`, say in a job queue) until their `run` ends; any thread can find them by status,
//! name glob, parent or metadata, cancel them by id or pattern (and learn which it cancelled),
//! and read a bounded history of the finished ones with statistics, for every operation or for
//! a filter. A listing serialises as JSON ready to serve: `Json(registry.list())`.
//!
//! ```
//! use cancelable::{Cancelable, CancellationReason, OperationFilter, OperationRegistry, OperationStatus};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let registry = OperationRegistry::new();
//! let jobs: Vec<_> = ["user_export", "user_import", "nightly_backup"]
//!     .into_iter()
//!     .map(|name| {
//!         let op = Cancelable::new().named(name).register_in(&registry);
//!         tokio::spawn(async move { op.run(std::future::pending::<()>()).await })
//!     })
//!     .collect();
//! tokio::task::yield_now().await;
//!
//! assert_eq!(registry.find(&OperationFilter::new().name("user_*")).len(), 2);
//! let r = registry.clone();
//! let stopped = std::thread::spawn(move || {
//!     r.cancel_matching("user_*", CancellationReason::Manual, "maintenance").len()
//! });
//! assert_eq!(stopped.join().unwrap(), 2);
//! registry.cancel_all(CancellationReason::Manual, "shutdown");
//! for job in jobs {
//!     assert!(job.await.unwrap().is_err());
//! }
//! assert!(registry.list().is_empty());
//! assert!(registry.history(10).iter().all(|ctx| ctx.status == OperationStatus::Cancelled));
//! # }
//! ```
//!
//! With the `axum` feature, `CancelableLayer::register` lists every running request, so an
//! operator can cancel requests by pattern (`"GET /export/*"`).

#[allow(unused_imports)] // the links above
use crate::{Cancelable, OperationContext, ProgressEvent};
