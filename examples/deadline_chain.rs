//! A deadline across three services (features `axum` and `propagation`): `gateway` calls
//! `orders`, which calls `inventory`, all in this process on 127.0.0.1.
//!
//! Each service accepts its caller's deadline (`CancelableLayer::accept_deadlines`) and calls
//! the next one through a hyper client with `PropagateLayer`, so each hop prints a little less
//! time left than the one before it:
//!
//! 1. `GET /order`: the client gives the whole chain two seconds;
//! 2. `GET /order?slow`: `inventory` is slow, and an operator cancels the `orders` request
//!    mid-way from the registry: its call to `inventory` is dropped (the connection closes),
//!    `inventory` stops with reason `Disconnect`, and the client gets `orders`' `503`.
//!
//! Run it with `cargo run --example deadline_chain` (about a second).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use bytes::Bytes;
use cancelable::axum::{CancelableLayer, RequestCancelable};
use cancelable::propagation::{Propagate, PropagateLayer};
use cancelable::{Cancelable, CancellationReason, OperationRegistry};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::sleep;
use tower::{Layer, ServiceExt};

type HttpClient = Propagate<Client<HttpConnector, Empty<Bytes>>>;

/// One service of the chain.
#[derive(Clone)]
struct Hop {
    name: &'static str,
    next: Option<String>,
    client: HttpClient,
    stopped: Arc<Notify>,
}

/// Prints the time left, works a little, then asks the next service (the last one answers).
async fn order(
    State(hop): State<Hop>,
    RequestCancelable(op): RequestCancelable,
    RawQuery(query): RawQuery,
) -> (StatusCode, String) {
    match op.remaining() {
        Some(left) => println!("  {:>9}: {} ms left", hop.name, left.as_millis()),
        None => println!("  {:>9}: no deadline", hop.name),
    }
    let (name, stopped) = (hop.name, hop.stopped.clone());
    op.on_cancelled(move |ctx| {
        let reason = ctx.reason.map(|r| r.to_string()).unwrap_or_default();
        println!(
            "  {name:>9}: stopped, {reason} ({})",
            ctx.message.as_deref().unwrap_or("")
        );
        stopped.notify_one();
    });
    sleep(Duration::from_millis(50)).await;
    let Some(next) = hop.next else {
        if query.is_some() {
            sleep(Duration::from_secs(10)).await;
        }
        return (StatusCode::OK, "3 in stock".to_owned());
    };
    let url = match query {
        Some(query) => format!("{next}?{query}"),
        None => next,
    };
    // The request's operation is the current one: the layer sends what is left of it.
    fetch(&hop.client, &url).await
}

async fn fetch(client: &HttpClient, url: &str) -> (StatusCode, String) {
    let request = http::Request::get(url).body(Empty::new()).unwrap();
    match client.clone().oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()),
    }
}

/// Starts a service on a free port; its URL.
async fn start(hop: Hop, layer: CancelableLayer) -> String {
    let app = Router::new()
        .route("/order", axum::routing::get(order))
        .with_state(hop)
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/order", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::main]
async fn main() {
    let client = PropagateLayer::new().layer(Client::builder(TokioExecutor::new()).build_http());
    let registry = OperationRegistry::new();
    let inventory_stopped = Arc::new(Notify::new());
    let hop = |name, next| Hop {
        name,
        next,
        client: client.clone(),
        stopped: if name == "inventory" {
            inventory_stopped.clone()
        } else {
            Arc::new(Notify::new())
        },
    };
    let accept = CancelableLayer::new().accept_deadlines();
    let inventory = start(hop("inventory", None), accept.clone()).await;
    let orders = start(
        hop("orders", Some(inventory)),
        accept.clone().register_in(&registry),
    )
    .await;
    let gateway = start(hop("gateway", Some(orders)), accept).await;

    println!("1. GET /order, two seconds for the whole chain");
    let call = Cancelable::with_timeout(Duration::from_secs(2)).named("client");
    let (status, body) = call.run(fetch(&client, &gateway)).await.unwrap();
    println!("   client: {status} {body}");

    println!("2. GET /order?slow, the orders request cancelled mid-way");
    let call = Cancelable::with_timeout(Duration::from_secs(2)).named("client");
    let slow = format!("{gateway}?slow");
    let answer = tokio::spawn(async move { call.run(fetch(&client, &slow)).await });
    sleep(Duration::from_millis(300)).await;
    let cancelled = registry.cancel_matching(
        "GET /order",
        CancellationReason::Manual,
        "stopped by an operator",
    );
    assert_eq!(cancelled.len(), 1);
    let (status, body) = answer.await.unwrap().unwrap();
    println!("   client: {status} {body}");
    tokio::time::timeout(Duration::from_secs(5), inventory_stopped.notified())
        .await
        .expect("inventory sees its caller go away");
}
