//! # Integrations
//!
//! Each integration is a cargo feature of `cancelable`, off by default:
//!
//! ```toml
//! cancelable = { version = "0.1", features = ["backon", "axum", "resources"] }
//! ```
//!
//! ## Retries: `backon`
//!
//! `cancel.retry(backoff, op)` retries with any backon backoff (`ExponentialBuilder`,
//! `ConstantBuilder`, `FibonacciBuilder`, or an iterator of durations). A cancellation from any
//! source ends the loop at once — no attempt starts once cancelled, an attempt in flight and a
//! backoff sleep are dropped — and the result tells "cancelled" from "gave up"
//! (`cancelable::retry::RetryError`). Every attempt reports progress (`attempt 3`).
//!
#![cfg_attr(feature = "backon", doc = "```")]
#![cfg_attr(not(feature = "backon"), doc = "```ignore")]
//! use std::time::Duration;
//! use backon::ExponentialBuilder;
//! use cancelable::{Cancelable, CancellationToken};
//! use cancelable::retry::RetryError;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let user = CancellationToken::new();
//! let op = Cancelable::with_timeout(Duration::from_secs(10))
//!     .combine(Cancelable::with_token(user.clone()))
//!     .named("fetch_prices");
//! let mut calls = 0;
//! let outcome = op
//!     .run(
//!         op.retry(ExponentialBuilder::default().with_jitter(), || {
//!             calls += 1;
//!             let n = calls;
//!             async move { if n < 3 { Err("503") } else { Ok("prices") } }
//!         })
//!         .when(|status| *status == "503")
//!         .notify(|status, wait| println!("{status}, retrying in {wait:?}")),
//!     )
//!     .await;
//! // `run` reports a cancellation (timeout, token, …); the inner result a success or a give-up.
//! match outcome {
//!     Ok(Ok(prices)) => assert_eq!(prices, "prices"),
//!     Ok(Err(RetryError::Exhausted { attempts, last })) => panic!("{attempts}: {last}"),
//!     Ok(Err(RetryError::NotRetryable { last, .. })) => panic!("not retryable: {last}"),
//!     Ok(Err(RetryError::Cancelled(err))) | Err(err) => panic!("{err}"),
//! }
//! # }
//! ```
//!
//! ## Web requests: `axum`
//!
//! `cancelable::axum::CancelableLayer` runs every request as an operation (named after its
//! route, `"GET /users/{id}"`, with an optional timeout and registry); handlers take it with the
//! `RequestCancelable` extractor. When the client goes away before the response is complete,
//! the server drops the request's future, and the layer's drop guard cancels the operation with
//! reason `Disconnect`: work the handler spawned in child scopes stops. No task is spawned per
//! request. `CancellationError` is a response (`504` timeout, `499` disconnect, `503`
//! otherwise), and `cancel.sse(stream)` sends server-sent events that end with
//! `event: cancelled`.
//!
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use cancelable::axum::{CancelableLayer, RequestCancelable};
//! use cancelable::CancellationError;
//!
//! async fn report(RequestCancelable(cancel): RequestCancelable) -> Result<String, CancellationError> {
//!     let rows = cancel.spawn(async { 42 }).await.expect("no panic")?;
//!     Ok(format!("{rows} rows"))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/report", get(report))
//!     .layer(CancelableLayer::new().timeout(Duration::from_secs(30)).register());
//! # drop(app);
//! ```
//!
//! ## Resource limits: `resources`
//!
//! `Cancelable::with_resource_limits(limits, check_interval)` cancels with reason `Condition`
//! when the machine's memory, CPU or disk usage goes above a limit, measured through sysinfo;
//! the message names the limit and the value measured.
//!
#![cfg_attr(feature = "resources", doc = "```")]
#![cfg_attr(not(feature = "resources"), doc = "```ignore")]
//! use std::time::Duration;
//! use cancelable::{Cancelable, ResourceLimits};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let limits = ResourceLimits::new()
//!     .memory_percent(100.0)
//!     .cpu_percent(100.0)
//!     .disk_percent("/", 100.0);
//! let op = Cancelable::with_resource_limits(limits, Duration::from_secs(5)).named("batch");
//! assert_eq!(op.run(async { "done" }).await, Ok("done"));
//! # }
//! ```
//!
//! ## `tokio-util`
//!
//! Always on: a [`CancellationToken`](crate::CancellationToken) converts to and from
//! `tokio_util::sync::CancellationToken`.
