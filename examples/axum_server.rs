//! An axum server whose requests are operations (feature `axum`), with no watcher task per
//! request.
//!
//! The server serves a few requests to itself over real TCP, then shuts down:
//!
//! 1. `GET /hello`: a normal request, `200`;
//! 2. `GET /slow`: the handler outlives the layer's 300 ms timeout: `504`;
//! 3. `GET /report`: the client hangs up mid-request; the operation is cancelled with reason
//!    `Disconnect`, and the work the handler spawned stops;
//! 4. `GET /export/7`: listed in the registry while it runs, cancelled from it by pattern: `503`;
//! 5. `GET /events`: server-sent events until the layer's timeout, then `event: cancelled`.
//!
//! Run it with `cargo run --example axum_server` (about two seconds).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::response::sse::Event;
use axum::routing::get;
use cancelable::axum::{CancelableLayer, RequestCancelable};
use cancelable::{CancellationError, CancellationReason, CancellationToken, OperationRegistry};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::sleep;

async fn hello() -> &'static str {
    "hello\n"
}

async fn slow() -> &'static str {
    sleep(Duration::from_secs(5)).await;
    "too late\n"
}

/// Spawns the work in a child scope: it stops with the request.
async fn report(RequestCancelable(cancel): RequestCancelable) -> Result<String, CancellationError> {
    cancel.on_cancelled(|ctx| {
        println!(
            "   server: {} cancelled: {} ({})",
            ctx.name,
            ctx.reason.map(|r| r.to_string()).unwrap_or_default(),
            ctx.message.as_deref().unwrap_or_default()
        )
    });
    let work = cancel.spawn(async {
        for step in 1..=10 {
            sleep(Duration::from_millis(50)).await;
            println!("   server: report step {step}/10");
        }
        "report ready\n".to_owned()
    });
    work.await.expect("the work panicked")
}

async fn export() -> &'static str {
    std::future::pending().await
}

async fn events(RequestCancelable(cancel): RequestCancelable) -> impl IntoResponse {
    let ticks = futures::stream::iter(1..).then(|n| async move {
        sleep(Duration::from_millis(80)).await;
        Event::default().event("tick").data(n.to_string())
    });
    cancel.sse(ticks)
}

/// A raw HTTP/1.0 request (the body ends when the server closes); the status line and body.
async fn get_raw(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: example\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.trim_end().to_owned())
}

#[tokio::main]
async fn main() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/slow", get(slow))
        .route("/report", get(report))
        .route("/events", get(events))
        .layer(
            CancelableLayer::new()
                .timeout(Duration::from_millis(300))
                .register_in(&registry),
        );
    // `/export` has no timeout: it waits for the registry.
    let app = app.merge(
        Router::new()
            .route("/export/{id}", get(export))
            .layer(CancelableLayer::new().register_in(&registry)),
    );

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
                .unwrap()
        }
    });
    println!("listening on http://{addr}");

    let (status, body) = get_raw(addr, "/hello").await;
    println!("1. GET /hello: {status} | {body}");
    let (status, body) = get_raw(addr, "/slow").await;
    println!("2. GET /slow: {status} | {body}");

    println!("3. GET /report, hanging up after 120 ms");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /report HTTP/1.1\r\nHost: example\r\n\r\n")
        .await
        .unwrap();
    sleep(Duration::from_millis(120)).await;
    drop(stream);
    sleep(Duration::from_millis(150)).await; // no more report steps after the hang-up

    let export = tokio::spawn(get_raw(addr, "/export/7"));
    sleep(Duration::from_millis(50)).await;
    for ctx in registry.list() {
        println!(
            "4. running: {} (id {}, since {:?})",
            ctx.name,
            &ctx.id[..8],
            ctx.duration()
        );
    }
    let n = registry
        .cancel_matching(
            "GET /export/*",
            CancellationReason::Manual,
            "export disabled",
        )
        .len();
    let (status, body) = export.await.unwrap();
    println!("4. cancelled {n} from the registry: {status} | {body}");

    let (status, body) = get_raw(addr, "/events").await;
    println!("5. GET /events: {status}");
    for event in body.split("\n\n") {
        println!("   {}", event.replace('\n', " | "));
    }

    shutdown.cancel();
    server.await.unwrap();
    let stats = registry.statistics();
    println!(
        "server stopped; {} requests finished",
        stats.finished.completed + stats.finished.cancelled
    );
}
