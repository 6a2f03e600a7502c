//! A service shut down the way Kubernetes asks for it (feature `axum`, Unix): on SIGTERM it
//! stops accepting connections, lets the request in flight finish, cancels its background
//! worker, forces the one task that ignores cancellation, and prints the report.
//!
//! The process sends itself the SIGTERM; everything is on 127.0.0.1 and ends by itself in
//! about two seconds:
//!
//! 1. `GET /slow` (400 ms) is in flight when the signal arrives: the 300 ms drain and the
//!    shutdown's budget let it finish with `200`;
//! 2. the background worker stops when the root is cancelled (reason `Parent`, cause the
//!    signal): it ended when asked, so it is not in the report;
//! 3. a reindex in a shield that would take a minute is forced at the 1.5 s grace and listed
//!    in the report, whose exit code is then 1.
//!
//! Run it with `cargo run --example graceful_shutdown`.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use cancelable::Cancelable;
use cancelable::axum::{CancelableLayer, RequestCancelable};
use cancelable::shutdown::Shutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep};

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let t = move || format!("{:>5}ms", started.elapsed().as_millis());

    let shutdown = Shutdown::builder() // SIGINT and SIGTERM
        .drain(Duration::from_millis(300))
        .grace(Duration::from_millis(1500))
        .named("shop-api")
        .build();
    let root = shutdown.root().clone();

    // A background worker: it reports progress, and stops when cancelled.
    root.spawn(async {
        let op = Cancelable::current().expect("inside the worker");
        for batch in 1.. {
            op.report_progress(format!("sent email batch {batch}"));
            sleep(Duration::from_millis(100)).await;
        }
    });
    // A task that ignores cancellation: its cleanup would take a minute.
    let reindex = Cancelable::new().named("reindex").parent(&root);
    tokio::spawn(async move {
        reindex
            .run(async {
                let op = Cancelable::current().expect("inside the reindex");
                op.report_progress("reindexed 12000 of 50000 products");
                op.shield(sleep(Duration::from_secs(60))).await
            })
            .await
    });

    let app = Router::new()
        .route(
            "/slow",
            get(|RequestCancelable(cancel): RequestCancelable| async move {
                cancel.report_progress("computing the invoice");
                sleep(Duration::from_millis(400)).await;
                "invoice ready"
            }),
        )
        .layer(CancelableLayer::new().parent(shutdown.root()));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let addr = listener.local_addr().expect("its address");
    println!("{} serving on {addr}", t());

    let client = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
            .await
            .expect("send the request");
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .await
            .expect("read the reply");
        reply
    });
    let kill = tokio::spawn(async move {
        sleep(Duration::from_millis(100)).await;
        println!("{} sending SIGTERM to ourselves (kubectl delete pod)", t());
        signal_hook::low_level::raise(signal_hook::consts::SIGTERM).expect("raise SIGTERM");
    });

    let draining = shutdown.draining();
    let report = shutdown
        .run(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(draining)
                .await
                .expect("the server")
        })
        .await;
    kill.await.expect("the signal task");
    let reply = client.await.expect("the client");
    let status = reply.lines().next().unwrap_or_default();
    println!("{} the request in flight got: {status}", t());
    println!("{} the report, as an operator reads it in the logs:", t());
    for line in report.to_string().lines() {
        println!("         {line}");
    }
    println!(
        "{} a real service would now `std::process::exit({})`",
        t(),
        report.exit_code()
    );
}
