//! # Deadlines across services
//!
//! Feature `propagation` (the client layer and the codec), with `axum` for the server side:
//!
//! ```toml
//! cancelable = { version = "0.1", features = ["axum", "propagation"] }
//! ```
//!
//! A request that fans out to other services has one budget. When the first service gives
//! its caller two seconds, the services it calls should stop when those two seconds are up,
//! not keep a whole call tree busy for a caller that already gave up. So each hop sends on the
//! time it has left, and each service runs its request under that deadline.
//!
//! ## On the wire
//!
//! Only the time left travels, never an absolute time: the clocks of two machines need not
//! agree. A gRPC call carries `grpc-timeout` exactly as the gRPC spec writes it (at most eight
//! digits in the finest unit that holds them: `1500000u`); plain HTTP carries
//! `request-timeout-ms` in decimal milliseconds (`1500`). Both are rounded down, so a callee
//! never gets more time than its caller had. [`DeadlineHeaders`] names the headers.
//!
//! The time a request spends on the network and in queues before the next service reads the
//! header is not deducted: each hop's deadline is a little later than its caller's, by that
//! one-way latency. Each side enforces its own, and the caller's comes first.
//!
//! ## Sending: `PropagateLayer`
//!
//! [`PropagateLayer`] wraps any tower HTTP client: hyper-util's `Client`, tonic's `Channel`,
//! your own `Service<http::Request<B>>`. For each call it takes the operation from the
//! request's extensions or, failing that, [`Cancelable::current`], then:
//!
//! * writes the time left into the request (`grpc-timeout` when the `content-type` is
//!   `application/grpc…`, `request-timeout-ms` otherwise; a shorter value already there stays);
//! * fails the call at once, sending nothing, when the deadline has passed or the operation is
//!   cancelled;
//! * runs the call inside the operation: a cancellation drops it, which resets the HTTP/2 stream
//!   or closes the HTTP/1 connection, so the service at the other end stops too.
//!
#![cfg_attr(feature = "propagation", doc = "```")]
#![cfg_attr(not(feature = "propagation"), doc = "```ignore")]
//! use std::time::Duration;
//! use cancelable::Cancelable;
//! use cancelable::propagation::{BoxError, PropagateLayer};
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! // Stands in for `hyper_util::client::legacy::Client` (or tonic's `Channel`).
//! let transport = tower::service_fn(|request: Request<()>| async move {
//!     let sent = request.headers().get("request-timeout-ms").cloned();
//!     Ok::<_, BoxError>(Response::new(sent))
//! });
//! let client = ServiceBuilder::new().layer(PropagateLayer::new()).service(transport);
//!
//! let checkout = Cancelable::with_timeout(Duration::from_secs(2)).named("checkout");
//! checkout
//!     .run(async {
//!         tokio::time::sleep(Duration::from_millis(300)).await;
//!         let sent = client.clone().oneshot(Request::new(())).await.unwrap().into_body();
//!         assert_eq!(sent.unwrap(), "1700");
//!     })
//!     .await
//!     .unwrap();
//!
//! // Past its deadline, an operation sends nothing: the call fails with `Timeout` at once.
//! let late = Cancelable::with_deadline(tokio::time::Instant::now());
//! let mut request = Request::new(());
//! request.extensions_mut().insert(late);
//! let error = client.oneshot(request).await.unwrap_err();
//! let cancellation = error.downcast_ref::<cancelable::CancellationError>().unwrap();
//! assert!(cancellation.is_timeout());
//! # }
//! ```
//!
//! With the real clients:
//!
//! ```text
//! // hyper-util: a Service<http::Request<B>> like any other.
//! let client = PropagateLayer::new().layer(Client::builder(TokioExecutor::new()).build_http());
//! let response = client.clone().oneshot(request).await?;
//!
//! // tonic: wrap the channel, give it to the generated client (or `tonic::client::Grpc`).
//! let channel = Endpoint::from_static("http://inventory:50051").connect().await?;
//! let mut inventory = InventoryClient::new(PropagateLayer::new().layer(channel));
//! ```
//!
//! The layer's error is a [`BoxError`], as with tower's own middleware: a
//! [`CancellationError`] for a cancellation or a passed deadline (a transport error that ends a
//! call after its deadline is reported as the timeout it is), else the client's own error,
//! boxed unchanged. tonic maps the client's errors to their status as before. With the `tonic`
//! feature, a cancellation on the client's side is the status a gRPC client expects:
//! `DEADLINE_EXCEEDED` for a deadline (the operation's own or an ancestor's), `CANCELLED` for
//! any other cancellation, with the `CancellationError` as the status's source; without it,
//! tonic reports it as `Code::Unknown`. A deadline that the server reaches first comes back as
//! the server's `DEADLINE_EXCEEDED` either way.
//!
//! The operation is found from the task: a call made in a task started with `tokio::spawn`
//! has no current operation. Start it with [`Cancelable::spawn`], or put the operation in the
//! request's extensions.
//!
//! ## Accepting: `CancelableLayer::accept_deadlines`
//!
//! On the server, `CancelableLayer::new().accept_deadlines()` gives each request's operation
//! the deadline its caller sent, so the handler sees it as [`Cancelable::remaining`], and the
//! calls it makes send on what is left. It works under axum, plain hyper and a tonic server
//! (`Server::builder().layer(..)`).
//!
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use std::time::Duration;
//! use axum::{Router, body::Body, routing::get};
//! use cancelable::axum::{CancelableLayer, RequestCancelable};
//! use http::Request;
//! use tower::ServiceExt;
//!
//! async fn left(RequestCancelable(cancel): RequestCancelable) -> String {
//!     format!("{:?}", cancel.remaining().map(|left| left.as_millis()))
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let app = Router::new().route("/", get(left)).layer(
//!     CancelableLayer::new()
//!         .timeout(Duration::from_secs(10)) // the most any request gets
//!         .accept_deadlines(),
//! );
//! let ask = |timeout: &str| {
//!     let request = Request::get("/").header("request-timeout-ms", timeout);
//!     app.clone().oneshot(request.body(Body::empty()).unwrap())
//! };
//! let body = |response: http::Response<Body>| async {
//!     let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
//!     String::from_utf8(bytes.to_vec()).unwrap()
//! };
//! assert_eq!(body(ask("1500").await.unwrap()).await, "Some(1500)");
//! // A caller can only shorten its own request: not past the layer's ten seconds,
//! assert_eq!(body(ask("60000").await.unwrap()).await, "Some(10000)");
//! // and a value that does not parse is ignored.
//! assert_eq!(body(ask("soon").await.unwrap()).await, "Some(10000)");
//! # }
//! ```
//!
//! A request whose deadline passes is cancelled with reason `Timeout`, like one that outlives
//! the layer's own timeout: plain HTTP gets `504`. A gRPC call gets a gRPC answer: HTTP `200`
//! with `grpc-status: 4` (`DEADLINE_EXCEEDED`) in a trailers-only response, and `1`
//! (`CANCELLED`) for the other cancellations.
//!
#![cfg_attr(feature = "axum", doc = "```")]
#![cfg_attr(not(feature = "axum"), doc = "```ignore")]
//! use axum::{Router, body::Body, routing::post};
//! use cancelable::axum::CancelableLayer;
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let slow = || async { std::future::pending::<()>().await };
//! let app = Router::new()
//!     .route("/inventory.Stock/Check", post(slow))
//!     .layer(CancelableLayer::new().accept_deadlines());
//! let call = Request::post("/inventory.Stock/Check")
//!     .header("content-type", "application/grpc")
//!     .header("grpc-timeout", "250m")
//!     .body(Body::empty())
//!     .unwrap();
//! let response = app.oneshot(call).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["grpc-status"], "4");
//! # }
//! ```
//!
//! ## What is trusted
//!
//! A deadline header is input from the network, so:
//!
//! * it can only shorten a request: the layer's own `timeout(..)` is the most any caller gets
//!   (set one on a service that faces the internet; without it, a caller's value is taken as
//!   is, up to the ten digits the format allows);
//! * a malformed value (a sign, a space, a fraction, a ninth digit, an unknown unit) is
//!   ignored, as if absent, and logged at `debug`; it never fails a request;
//! * the parsers read at most ten bytes, and only the first four values of a repeated header.
//!
//! A client that sends a tiny deadline only cuts its own request short.
//!
//! ## Behind Envoy, on Kubernetes
//!
//! * Envoy and the Istio or Linkerd sidecars pass `request-timeout-ms` and `grpc-timeout`
//!   through like any header, and a pod's clock does not matter: only durations travel.
//! * An Envoy route has its own timeout; an egress Envoy tells the upstream what it gives the
//!   request in `x-envoy-expected-rq-timeout-ms`. Read it with
//!   `.deadline_headers(DeadlineHeaders::default().envoy(true))`, only behind an Envoy that sets
//!   it (or strips it from clients): the smallest of the headers present wins.
//! * Envoy honours `grpc-timeout` only when the route says so (`max_stream_duration` with
//!   `grpc_timeout_header_max`); its `grpc_timeout_header_offset` takes a margin off the header
//!   so that the server, not the client, times the call out.
//! * During a rolling update, a pod that stops gets its requests cancelled by its
//!   [`Shutdown`](crate::shutdown::Shutdown) (through `CancelableLayer::parent`): their calls to
//!   other services stop with them.
//!
//! ## Clients that are not tower services
//!
//! For a client that is not a tower service (reqwest, say), do by hand what the layer does:
//! write the time left with [`DeadlineHeaders::write`] and run the call inside the operation.
//!
#![cfg_attr(feature = "propagation", doc = "```")]
#![cfg_attr(not(feature = "propagation"), doc = "```ignore")]
//! use std::time::Duration;
//! use cancelable::Cancelable;
//! use cancelable::propagation::DeadlineHeaders;
//! use http::HeaderMap;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! # async fn send(_: HeaderMap) -> &'static str { "ok" }
//! let op = Cancelable::with_timeout(Duration::from_secs(1));
//! op.run(async {
//!     let mut headers = HeaderMap::new(); // e.g. `request.headers_mut()` of a reqwest request
//!     let op = Cancelable::current().unwrap();
//!     if let Some(left) = op.remaining() {
//!         DeadlineHeaders::default().write(&mut headers, left);
//!     }
//!     assert_eq!(headers["request-timeout-ms"], "1000");
//!     let answer = op.run_until_cancelled(send(headers)).await;
//!     assert_eq!(answer.unwrap(), "ok");
//! })
//! .await
//! .unwrap();
//! # }
//! ```
//!
//! `examples/deadline_chain.rs` runs three services on loopback, printing each hop's deadline
//! and cancelling one of them mid-way.
//!
//! [`DeadlineHeaders`]: crate::propagation::DeadlineHeaders
//! [`DeadlineHeaders::write`]: crate::propagation::DeadlineHeaders::write
//! [`PropagateLayer`]: crate::propagation::PropagateLayer
//! [`BoxError`]: crate::propagation::BoxError
//! [`CancellationError`]: crate::CancellationError
//! [`Cancelable::current`]: crate::Cancelable::current
//! [`Cancelable::remaining`]: crate::Cancelable::remaining
//! [`Cancelable::spawn`]: crate::Cancelable::spawn
