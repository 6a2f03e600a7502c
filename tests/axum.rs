//! `cancelable::axum` against a real axum server on 127.0.0.1, driven by raw HTTP/1.1 clients
//! over TCP.
//!
//! Real sockets need the real clock: waits are bounded by generous timeouts that only turn a
//! hang into a failure; no test asserts how long something took.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::response::sse::Event;
use axum::routing::get;
use cancelable::axum::{CancelableLayer, RequestCancelable};
use cancelable::{
    Cancelable, CancellationError, CancellationReason, OperationFilter, OperationRegistry,
    OperationStatus,
};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Bounds every wait: reached only when something is broken.
const PATIENCE: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(PATIENCE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Serves `app` on an ephemeral loopback port.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// A chunked body that ended without its last chunk.
    cut_off: bool,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes a request by hand.
async fn send(stream: &mut TcpStream, method: &str, path: &str, close: bool) {
    let connection = if close { "close" } else { "keep-alive" };
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
}

/// Reads one response (`Content-Length`, chunked, or until the connection closes).
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R, head: bool) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut reply = Reply {
        status,
        headers,
        body: String::new(),
        cut_off: false,
    };
    if head {
        return reply;
    }
    if let Some(length) = reply.header("content-length") {
        let mut body = vec![0; length.parse().unwrap()];
        reader.read_exact(&mut body).await.unwrap();
        reply.body = String::from_utf8(body).unwrap();
    } else if reply.header("transfer-encoding") == Some("chunked") {
        loop {
            line.clear();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                reply.cut_off = true;
                break;
            }
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            if reader.read_exact(&mut chunk).await.is_err() {
                reply.cut_off = true;
                break;
            }
            if size == 0 {
                break;
            }
            reply
                .body
                .push_str(std::str::from_utf8(&chunk[..size]).unwrap());
        }
    } else {
        reader.read_to_string(&mut reply.body).await.unwrap();
    }
    reply
}

/// One request on its own connection.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    within(&format!("{method} {path}"), async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        send(&mut stream, method, path, true).await;
        read_reply(&mut BufReader::new(stream), method == "HEAD").await
    })
    .await
}

/// One `GET` with extra headers, on its own connection.
async fn request_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    within(&format!("GET {path}"), async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        read_reply(&mut BufReader::new(stream), false).await
    })
    .await
}

/// Waits until `registry` lists an operation named `name`.
async fn listed(registry: &OperationRegistry, name: &str) -> cancelable::OperationContext {
    within(&format!("{name} to be listed"), async {
        loop {
            if let Some(ctx) = registry.list().into_iter().find(|c| c.name == name) {
                return ctx;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Sets a flag (or sends on a channel) when dropped: shows that work was stopped.
struct OnDrop(Option<oneshot::Sender<()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

type Slot<T> = Arc<Mutex<Option<T>>>;

fn slot<T>() -> Slot<T> {
    Arc::new(Mutex::new(None))
}

fn take<T>(slot: &Slot<T>) -> T {
    slot.lock().unwrap().take().expect("the slot is filled")
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_request_and_its_spawned_work() {
    let started = slot::<oneshot::Sender<Cancelable>>();
    let stopped = slot::<oneshot::Sender<()>>();
    let (started_tx, started_rx) = oneshot::channel();
    let (stopped_tx, stopped_rx) = oneshot::channel();
    *started.lock().unwrap() = Some(started_tx);
    *stopped.lock().unwrap() = Some(stopped_tx);
    let app = Router::new()
        .route(
            "/report",
            get(move |RequestCancelable(cancel): RequestCancelable| {
                let (started, stopped) = (started.clone(), stopped.clone());
                async move {
                    // Work in its own task, in a child scope of the request.
                    let guard = OnDrop(Some(take(&stopped)));
                    let worker = cancel.spawn(async move {
                        let _guard = guard;
                        std::future::pending::<()>().await
                    });
                    let _ = take(&started).send(cancel.clone());
                    worker.await.unwrap().map(|()| "done")
                }
            }),
        )
        .layer(CancelableLayer::new());
    let addr = serve(app).await;

    let mut client = TcpStream::connect(addr).await.unwrap();
    send(&mut client, "GET", "/report", false).await;
    let op = within("the handler to start", started_rx).await.unwrap();
    assert_eq!(op.name(), "GET /report");
    assert_eq!(op.status(), OperationStatus::Running);
    drop(client); // the client hangs up
    within("the spawned work to stop", stopped_rx)
        .await
        .unwrap();
    within("the operation to end", async {
        while op.status() == OperationStatus::Running {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(op.status(), OperationStatus::Cancelled);
    let err = op.cancellation().expect("cancelled");
    assert_eq!(err.reason(), CancellationReason::Disconnect);
    assert_eq!(
        err.to_string(),
        r#"operation "GET /report" cancelled: the client disconnected before the response"#
    );
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_cancels_with_disconnect() {
    let started = slot::<oneshot::Sender<Cancelable>>();
    let (started_tx, started_rx) = oneshot::channel();
    *started.lock().unwrap() = Some(started_tx);
    let app = Router::new()
        .route(
            "/ticks",
            get(move |RequestCancelable(cancel): RequestCancelable| {
                let started = started.clone();
                async move {
                    let _ = take(&started).send(cancel.clone());
                    let ticks = futures::stream::iter(0..).then(|n| async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Event::default().event("tick").data(n.to_string())
                    });
                    cancel.sse(ticks)
                }
            }),
        )
        .layer(CancelableLayer::new());
    let addr = serve(app).await;

    let mut client = TcpStream::connect(addr).await.unwrap();
    send(&mut client, "GET", "/ticks", false).await;
    let op = within("the handler to start", started_rx).await.unwrap();
    let mut reader = BufReader::new(client);
    let mut seen = String::new();
    within("a few ticks", async {
        while seen.matches("event: tick").count() < 3 {
            reader.read_line(&mut seen).await.unwrap();
        }
    })
    .await;
    assert_eq!(
        op.status(),
        OperationStatus::Running,
        "the stream is part of the request"
    );
    drop(reader); // hang up mid-stream

    within("the operation to end", async {
        while op.status() == OperationStatus::Running {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(op.reason(), Some(CancellationReason::Disconnect));
    assert_eq!(
        op.context().message.as_deref(),
        Some("the client disconnected before the end of the response")
    );
}

#[tokio::test]
async fn a_slow_handler_past_the_layer_timeout_answers_504() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "finally"
            }),
        )
        .layer(
            CancelableLayer::new()
                .timeout(Duration::from_millis(50))
                .register_in(&registry),
        );
    let addr = serve(app).await;

    let reply = request(addr, "GET", "/slow").await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.body, "request timed out");
    let history = registry.history(10);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, OperationStatus::Cancelled);
    assert_eq!(history[0].reason, Some(CancellationReason::Timeout));
}

#[tokio::test]
async fn a_registered_request_is_listed_while_it_runs_and_cancellable_from_the_registry() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route("/export/{id}", get(std::future::pending::<&str>))
        .layer(CancelableLayer::new().register_in(&registry));
    let addr = serve(app).await;

    let client = tokio::spawn(request(addr, "GET", "/export/7"));
    let ctx = listed(&registry, "GET /export/{id}").await;
    assert_eq!(ctx.status, OperationStatus::Running);
    let found = registry.find(&OperationFilter::new().name("GET /export/*"));
    assert_eq!(found.len(), 1);

    let cancelled = registry.cancel_matching(
        "GET /export/*",
        CancellationReason::Manual,
        "maintenance window",
    );
    assert_eq!(cancelled.len(), 1);
    let reply = client.await.unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "request cancelled");
    assert!(registry.list().is_empty());
    assert_eq!(registry.history(1)[0].status, OperationStatus::Cancelled);
}

#[tokio::test]
async fn register_uses_the_global_registry_and_name_with_names_requests() {
    let app = Router::new()
        .route("/global-registry-check", get(std::future::pending::<&str>))
        .layer(
            CancelableLayer::new()
                .name_with(|parts| format!("web:{}", parts.uri.path()))
                .register(),
        );
    let addr = serve(app).await;
    let client = tokio::spawn(request(addr, "GET", "/global-registry-check"));
    let registry = OperationRegistry::global();
    let ctx = listed(registry, "web:/global-registry-check").await;
    assert_eq!(
        registry
            .cancel(&ctx.id, CancellationReason::Manual, "test over")
            .ids(),
        [ctx.id.as_str()]
    );
    assert_eq!(client.await.unwrap().status, 503);
}

/// An SSE handler that ticks every 5 ms until its operation is cancelled.
async fn ticks(RequestCancelable(cancel): RequestCancelable) -> impl axum::response::IntoResponse {
    let ticks = futures::stream::iter(0..).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Event::default().event("tick").data(n.to_string())
    });
    cancel.sse(ticks)
}

#[tokio::test]
async fn a_cancelled_sse_stream_ends_with_a_cancelled_event() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route("/events", get(ticks))
        .layer(CancelableLayer::new().register_in(&registry));
    let addr = serve(app).await;

    let mut stream = TcpStream::connect(addr).await.unwrap();
    send(&mut stream, "GET", "/events", true).await;
    let mut reader = BufReader::new(stream);
    let client = tokio::spawn(async move { read_reply(&mut reader, false).await });
    // The request stays listed while its stream is sent.
    let ctx = listed(&registry, "GET /events").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(
        registry
            .cancel(&ctx.id, CancellationReason::Manual, "operator stop")
            .ids(),
        [ctx.id.as_str()]
    );

    let reply = within("the stream to end", client).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert!(
        reply.body.starts_with("event: tick\ndata: 0\n\n"),
        "{}",
        reply.body
    );
    let last = reply.body.trim_end().rsplit("\n\n").next().unwrap();
    assert_eq!(
        last,
        r#"event: cancelled
data: {"message":"operator stop","reason":"manual"}"#
    );
    assert_eq!(registry.history(1)[0].status, OperationStatus::Cancelled);
}

#[tokio::test]
async fn the_layer_timeout_applies_while_an_sse_stream_is_sent() {
    let app = Router::new()
        .route(
            "/events",
            get(|RequestCancelable(cancel): RequestCancelable| async move {
                let ticks = futures::stream::iter(0..).then(|n| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Event::default().data(n.to_string())
                });
                cancel.sse(ticks)
            }),
        )
        .layer(CancelableLayer::new().timeout(Duration::from_millis(100)));
    let addr = serve(app).await;
    let reply = request(addr, "GET", "/events").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .ends_with("event: cancelled\ndata: {\"message\":\"timeout after 100ms\",\"reason\":\"timeout\"}\n\n"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn a_body_that_ignores_the_operation_is_cut_off_when_it_is_cancelled() {
    let app = Router::new()
        .route(
            "/raw",
            get(|| async {
                let chunks = futures::stream::iter(0..).then(|n: u32| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok::<_, std::convert::Infallible>(format!("{n}\n"))
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        .layer(CancelableLayer::new().timeout(Duration::from_millis(100)));
    let addr = serve(app).await;
    let reply = request(addr, "GET", "/raw").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.starts_with("0\n1\n"), "{}", reply.body);
    assert!(reply.cut_off, "the body ends without its last chunk");
}

#[tokio::test]
async fn requests_that_complete_normally_end_completed() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route("/text", get(|| async { "hello" }))
        .route("/empty", get(|| async {}))
        .route(
            "/chunked",
            get(|| async {
                let parts =
                    futures::stream::iter(["a", "b", "c"]).map(Ok::<_, std::convert::Infallible>);
                axum::body::Body::from_stream(parts)
            }),
        )
        .layer(CancelableLayer::new().register_in(&registry));
    let addr = serve(app).await;

    let text = request(addr, "GET", "/text").await;
    assert_eq!((text.status, text.body.as_str()), (200, "hello"));
    let empty = request(addr, "GET", "/empty").await;
    assert_eq!((empty.status, empty.body.as_str()), (200, ""));
    let head = request(addr, "HEAD", "/text").await;
    assert_eq!(head.status, 200);
    let chunked = request(addr, "GET", "/chunked").await;
    assert_eq!(chunked.body, "abc");

    within("every request to finish", async {
        while registry.history(10).len() < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let history = registry.history(10);
    let outcomes: Vec<_> = history
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("GET /text", OperationStatus::Completed),
            ("GET /empty", OperationStatus::Completed),
            ("HEAD /text", OperationStatus::Completed),
            ("GET /chunked", OperationStatus::Completed),
        ]
    );
}

/// Handlers answer with the number of live tasks on the runtime, as they see it.
async fn alive_tasks_seen_by_handlers(
    wrap: impl FnOnce(Router) -> Router,
) -> (usize, Vec<usize>, usize) {
    let app = Router::new().route(
        "/tasks",
        get(|| async {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                .to_string()
        }),
    );
    let app = wrap(app);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut reader = BufReader::new(TcpStream::connect(addr).await.unwrap());
    // A first request, so that the connection's task exists.
    send(reader.get_mut(), "GET", "/tasks", false).await;
    within("the first reply", read_reply(&mut reader, false)).await;
    let before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let mut seen = Vec::new();
    for _ in 0..20 {
        send(reader.get_mut(), "GET", "/tasks", false).await;
        let reply = within("a reply", read_reply(&mut reader, false)).await;
        seen.push(reply.body.parse().unwrap());
    }
    let after = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    drop(reader);
    server.abort();
    let _ = server.await;
    (before, seen, after)
}

#[tokio::test(flavor = "current_thread")]
async fn requests_that_complete_normally_pay_no_background_task() {
    let (before, plain, after) = alive_tasks_seen_by_handlers(|app| app).await;
    assert!(plain.iter().all(|&n| n == before), "{before} {plain:?}");
    assert_eq!(after, before);

    let layer = CancelableLayer::new()
        .timeout(Duration::from_secs(30))
        .register_in(&OperationRegistry::new());
    let (before, layered, after) = alive_tasks_seen_by_handlers(|app| app.layer(layer)).await;
    assert!(
        layered.iter().all(|&n| n == before),
        "a request behind the layer sees no extra task: {before} {layered:?}"
    );
    assert_eq!(after, before, "and leaves none behind");
    assert_eq!(plain, layered);
}

/// The probe above sees a task per request when there is one.
#[tokio::test(flavor = "current_thread")]
async fn the_task_probe_sees_a_middleware_that_spawns_per_request() {
    async fn spawn_per_request(
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        tokio::spawn(next.run(request)).await.unwrap()
    }
    let (before, spawning, _) =
        alive_tasks_seen_by_handlers(|app| app.layer(axum::middleware::from_fn(spawn_per_request)))
            .await;
    assert!(
        spawning.iter().all(|&n| n == before + 1),
        "{before} {spawning:?}"
    );
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500() {
    let app = Router::new().route(
        "/orphan",
        get(|RequestCancelable(_): RequestCancelable| async { "unreachable" }),
    );
    let addr = serve(app).await;
    let reply = request(addr, "GET", "/orphan").await;
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("CancelableLayer"), "{}", reply.body);
}

#[tokio::test]
async fn the_handler_runs_inside_the_operation() {
    let app = Router::new()
        .route(
            "/current",
            get(|RequestCancelable(cancel): RequestCancelable| async move {
                let current = Cancelable::current().expect("inside the request's operation");
                assert_eq!(current, cancel);
                // A scope started by the handler is the request's child.
                let child = Cancelable::new().named("query");
                child.run(async {}).await.unwrap();
                let parent_id = child.context().parent_id.unwrap();
                assert_eq!(parent_id, cancel.id());
                cancel.name().to_owned()
            }),
        )
        .layer(CancelableLayer::new());
    let addr = serve(app).await;
    let reply = request(addr, "GET", "/current").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "GET /current"));
}

#[test]
fn cancellation_errors_answer_504_499_or_503() {
    let status = |reason| {
        CancellationError::new(reason)
            .with_message("why")
            .into_response()
            .status()
            .as_u16()
    };
    assert_eq!(status(CancellationReason::Timeout), 504);
    assert_eq!(status(CancellationReason::Disconnect), 499);
    for reason in [
        CancellationReason::Manual,
        CancellationReason::Signal,
        CancellationReason::Condition,
        CancellationReason::Parent,
    ] {
        assert_eq!(status(reason), 503);
    }
}

#[tokio::test]
async fn a_shutdown_ends_a_long_lived_stream_with_its_cause_not_a_disconnect() {
    let registry = OperationRegistry::new();
    let shutdown = cancelable::shutdown::Shutdown::builder()
        .on_signals([])
        .grace(PATIENCE)
        .build();
    let app = Router::new().route("/events", get(ticks)).layer(
        CancelableLayer::new()
            .parent(shutdown.root())
            .register_in(&registry),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let draining = shutdown.draining();
    let shutdown = std::sync::Arc::new(shutdown);
    let service = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown
                .run(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(draining)
                        .await
                        .unwrap()
                })
                .await
        }
    });
    let mut stream = TcpStream::connect(addr).await.unwrap();
    send(&mut stream, "GET", "/events", true).await;
    let mut reader = BufReader::new(stream);
    let client = tokio::spawn(async move { read_reply(&mut reader, false).await });
    let ctx = listed(&registry, "GET /events").await;
    assert_eq!(ctx.parent_id.as_deref(), Some(shutdown.root().id()));
    shutdown.trigger("deploy");

    let reply = within("the stream to end", client).await.unwrap();
    let last = reply.body.trim_end().rsplit("\n\n").next().unwrap();
    assert_eq!(
        last,
        r#"event: cancelled
data: {"message":"parent operation cancelled","reason":"parent"}"#
    );
    let report = within("the shutdown", service).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(report.phases.forcing, None, "{report}");
    let ended = &registry.history(1)[0];
    assert_eq!(ended.status, OperationStatus::Cancelled);
    assert_eq!(ended.reason, Some(CancellationReason::Parent));
}

/// A handler that answers with the time its operation has left, in milliseconds (`none`).
async fn remaining_ms(RequestCancelable(cancel): RequestCancelable) -> String {
    match cancel.remaining() {
        Some(left) => left.as_millis().to_string(),
        None => "none".to_owned(),
    }
}

fn millis(reply: &Reply) -> u128 {
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
        .body
        .parse()
        .unwrap_or_else(|_| panic!("not milliseconds: {reply:?}"))
}

#[tokio::test]
async fn accepted_deadlines_shorten_the_request_and_never_lengthen_it() {
    let app = Router::new().route("/left", get(remaining_ms)).layer(
        CancelableLayer::new()
            .timeout(Duration::from_secs(30))
            .accept_deadlines(),
    );
    let addr = serve(app).await;

    let short = request_with(addr, "/left", &[("request-timeout-ms", "800")]).await;
    assert!((1..=800).contains(&millis(&short)), "{short:?}");
    // gRPC's header counts for plain HTTP too; the smallest wins.
    let both = request_with(
        addr,
        "/left",
        &[("request-timeout-ms", "5000"), ("grpc-timeout", "300m")],
    )
    .await;
    assert!((1..=300).contains(&millis(&both)), "{both:?}");
    // A caller cannot lengthen the layer's own timeout.
    let long = request_with(addr, "/left", &[("request-timeout-ms", "600000")]).await;
    assert!((20_000..=30_000).contains(&millis(&long)), "{long:?}");
    // Malformed values are ignored.
    for bad in ["soon", "-5", "1e3", "99999999999999999999999"] {
        let reply = request_with(addr, "/left", &[("request-timeout-ms", bad)]).await;
        assert!(
            (20_000..=30_000).contains(&millis(&reply)),
            "{bad}: {reply:?}"
        );
    }
    // Envoy's header only when opted in.
    let envoy = request_with(addr, "/left", &[("x-envoy-expected-rq-timeout-ms", "100")]).await;
    assert!(millis(&envoy) > 20_000, "{envoy:?}");
}

#[tokio::test]
async fn without_accept_deadlines_the_headers_are_not_read() {
    let app = Router::new()
        .route("/left", get(remaining_ms))
        .layer(CancelableLayer::new());
    let addr = serve(app).await;
    let reply = request_with(addr, "/left", &[("request-timeout-ms", "800")]).await;
    assert_eq!(reply.body, "none");

    let envoy = Router::new().route("/left", get(remaining_ms)).layer(
        CancelableLayer::new()
            .deadline_headers(cancelable::propagation::DeadlineHeaders::default().envoy(true)),
    );
    let addr = serve(envoy).await;
    let reply = request_with(addr, "/left", &[("x-envoy-expected-rq-timeout-ms", "700")]).await;
    assert!((1..=700).contains(&millis(&reply)), "{reply:?}");
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "finally"
}

#[tokio::test]
async fn a_callers_deadline_that_passes_answers_504() {
    let registry = OperationRegistry::new();
    let app = Router::new().route("/slow", get(slow)).layer(
        CancelableLayer::new()
            .accept_deadlines()
            .register_in(&registry),
    );
    let addr = serve(app).await;
    let reply = request_with(addr, "/slow", &[("request-timeout-ms", "50")]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (504, "request timed out")
    );
    assert_eq!(
        registry.history(1)[0].reason,
        Some(CancellationReason::Timeout)
    );
}

#[tokio::test]
async fn a_grpc_call_is_answered_as_grpc_deadline_exceeded_or_cancelled() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route("/pkg.Search/Query", axum::routing::post(slow))
        .route("/pkg.Search/Plain", get(slow))
        .route(
            "/pkg.Search/Refuse",
            axum::routing::post(|| async {
                Err::<(), _>(CancellationError::new(CancellationReason::Manual))
            }),
        )
        .layer(
            CancelableLayer::new()
                .accept_deadlines()
                .register_in(&registry),
        );
    let addr = serve(app).await;
    let grpc = |method: &'static str, timeout: Option<&'static str>| async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let timeout = timeout.map_or(String::new(), |t| format!("grpc-timeout: {t}\r\n"));
        let request = format!(
            "POST /pkg.Search/{method} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
             content-type: application/grpc+proto\r\n{timeout}content-length: 0\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        read_reply(&mut BufReader::new(stream), false).await
    };

    let expired = within("the gRPC timeout", grpc("Query", Some("50m"))).await;
    assert_eq!(expired.status, 200, "{expired:?}");
    assert_eq!(expired.header("grpc-status"), Some("4"));
    assert_eq!(expired.header("grpc-message"), Some("deadline exceeded"));
    assert_eq!(expired.header("content-type"), Some("application/grpc"));
    assert_eq!(expired.body, "", "trailers-only: no message");

    let client = tokio::spawn(grpc("Query", None));
    let ctx = listed(&registry, "POST /pkg.Search/Query").await;
    registry.cancel(&ctx.id, CancellationReason::Manual, "maintenance");
    let cancelled = within("the cancelled call", client).await.unwrap();
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.header("grpc-status"), Some("1"));

    // A cancellation the handler returns is answered as gRPC too.
    let refused = within("the refused call", grpc("Refuse", None)).await;
    assert_eq!(refused.status, 200, "{refused:?}");
    assert_eq!(refused.header("grpc-status"), Some("1"));

    // Plain HTTP keeps its status codes.
    let plain = request_with(addr, "/pkg.Search/Plain", &[("grpc-timeout", "20m")]).await;
    assert_eq!(plain.status, 504);
}

#[tokio::test]
async fn the_default_name_is_the_route_template() {
    let registry = OperationRegistry::new();
    let app = Router::new()
        .route("/users/{id}", get(std::future::pending::<&str>))
        .layer(CancelableLayer::new().register_in(&registry));
    let addr = serve(app).await;
    let client = tokio::spawn(request(addr, "GET", "/users/7"));
    let ctx = listed(&registry, "GET /users/{id}").await;
    assert!(registry.list().iter().all(|c| c.name != "GET /users/7"));
    registry.cancel(&ctx.id, CancellationReason::Manual, "test over");
    assert_eq!(client.await.unwrap().status, 503);
}

/// `Handler::layer`: axum wraps the handler in a fresh service per request, and boxes no route.
#[tokio::test]
async fn a_layer_on_the_handler_names_times_out_and_hands_out_the_request() {
    use axum::handler::Handler;
    let registry = OperationRegistry::new();
    let layer = CancelableLayer::new()
        .timeout(Duration::from_millis(50))
        .register_in(&registry);
    let app = Router::new()
        .route(
            "/users/{id}",
            get(std::future::pending::<&str>.layer(layer.clone())),
        )
        .route(
            "/teams/{id}",
            get((|RequestCancelable(cancel): RequestCancelable| async move {
                cancel.name().to_owned()
            })
            .layer(layer)),
        );
    let addr = serve(app).await;
    assert_eq!(request(addr, "GET", "/users/7").await.status, 504);
    let history = registry.history(1);
    assert_eq!(history[0].name, "GET /users/{id}");
    for _ in 0..2 {
        let reply = request(addr, "GET", "/teams/3").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "GET /teams/{id}")
        );
    }
}

#[tokio::test]
async fn name_with_takes_a_closure() {
    let registry = OperationRegistry::new();
    let service = String::from("billing");
    let app = Router::new()
        .route("/invoices/{id}", get(std::future::pending::<&str>))
        .layer(
            CancelableLayer::new()
                .name_with(move |parts| format!("{service} {}", parts.method))
                .register_in(&registry),
        );
    let addr = serve(app).await;
    let client = tokio::spawn(request(addr, "GET", "/invoices/3"));
    let ctx = listed(&registry, "billing GET").await;
    registry.cancel(&ctx.id, CancellationReason::Manual, "test over");
    assert_eq!(client.await.unwrap().status, 503);
}

#[tokio::test]
async fn a_route_layer_timeout_replaces_the_outer_one() {
    let app = Router::new()
        .route(
            "/export",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "exported"
            })
            .layer(CancelableLayer::new().timeout(Duration::from_secs(5))),
        )
        .route("/slow", get(slow))
        .layer(CancelableLayer::new().timeout(Duration::from_millis(50)));
    let addr = serve(app).await;
    let reply = request(addr, "GET", "/export").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "exported"));
    // Elsewhere the outer timeout still applies.
    assert_eq!(request(addr, "GET", "/slow").await.status, 504);
}

#[tokio::test]
async fn a_shorter_route_timeout_still_fires_and_a_callers_deadline_survives_it() {
    let app = Router::new()
        .route(
            "/left",
            get(remaining_ms).layer(CancelableLayer::new().timeout(Duration::from_secs(20))),
        )
        .route(
            "/slow",
            get(slow).layer(CancelableLayer::new().timeout(Duration::from_millis(50))),
        )
        .layer(
            CancelableLayer::new()
                .timeout(Duration::from_secs(60))
                .accept_deadlines(),
        );
    let addr = serve(app).await;
    assert_eq!(request(addr, "GET", "/slow").await.status, 504);
    let left = request_with(addr, "/left", &[("request-timeout-ms", "900")]).await;
    assert!((1..=900).contains(&millis(&left)), "{left:?}");
    let left = request(addr, "GET", "/left").await;
    assert!((10_000..=20_000).contains(&millis(&left)), "{left:?}");
}

#[tokio::test]
async fn cancellation_bodies_hide_operation_names_unless_exposed() {
    let app = |layer: CancelableLayer| {
        Router::new()
            .route("/slow", get(slow))
            .route(
                "/refuse",
                get(|| async {
                    Err::<(), _>(
                        CancellationError::new(CancellationReason::Manual)
                            .with_message("db pool \"primary\" drained"),
                    )
                }),
            )
            .layer(layer.timeout(Duration::from_millis(30)))
    };
    let hidden = serve(app(CancelableLayer::new())).await;
    let reply = request(hidden, "GET", "/slow").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (504, "request timed out")
    );
    let reply = request(hidden, "GET", "/refuse").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (503, "request cancelled")
    );

    let exposed = serve(app(CancelableLayer::new().expose_reasons(true))).await;
    let reply = request(exposed, "GET", "/slow").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            504,
            r#"operation "GET /slow" cancelled: timeout after 30ms"#
        )
    );
    let reply = request(exposed, "GET", "/refuse").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.body,
        r#"operation cancelled: db pool "primary" drained"#
    );
}

/// The layer under plain hyper: hyper-util's `TowerToHyperService` around a tower service
/// that is no axum router (its request body is hyper's `Incoming`, its response body a
/// `String`). hyper's server and hyper-util's `service` come with axum's `tokio` feature.
#[tokio::test]
async fn the_layer_works_under_plain_hyper() {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    let registry = OperationRegistry::new();
    let service = tower::ServiceBuilder::new()
        .layer(
            CancelableLayer::new()
                .timeout(Duration::from_millis(100))
                .accept_deadlines()
                .register_in(&registry),
        )
        .service_fn(|request: http::Request<hyper::body::Incoming>| async move {
            let op = Cancelable::current().expect("the handler runs inside the operation");
            if request.uri().path() == "/slow" {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let left = op.remaining().map_or(0, |left| left.as_millis());
            Ok::<_, std::convert::Infallible>(http::Response::new(format!("{} {left}", op.name())))
        });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });

    let reply = request_with(addr, "/fast", &[("request-timeout-ms", "60")]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let (name, left) = reply.body.rsplit_once(' ').unwrap();
    assert_eq!(name, "GET /fast", "no route template: the path");
    assert!(
        (1..=60).contains(&left.parse::<u128>().unwrap()),
        "{reply:?}"
    );

    let slow = request(addr, "GET", "/slow").await;
    assert_eq!(
        (slow.status, slow.body.as_str()),
        (504, "request timed out")
    );
    let ended = registry.history(2);
    assert_eq!(ended.len(), 2);
    assert!(ended.iter().any(|c| c.status == OperationStatus::Completed));
    assert!(
        ended
            .iter()
            .any(|c| c.reason == Some(CancellationReason::Timeout))
    );
}

/// A gRPC response streams its messages, then ends with trailers: cut off by the layer, it
/// still ends with trailers (`grpc-status: 4`), which HTTP/2 carries. (hyper's HTTP/1 drops
/// trailers a response does not announce, so this drives the service directly.)
#[tokio::test(start_paused = true)]
async fn a_grpc_stream_cancelled_mid_way_ends_with_grpc_trailers() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let app = Router::new()
        .route(
            "/pkg.Feed/Watch",
            axum::routing::post(|| async {
                let frames = futures::stream::iter(0..).then(|n| async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Ok::<_, std::convert::Infallible>(format!("frame {n}\n"))
                });
                (
                    [("content-type", "application/grpc")],
                    axum::body::Body::from_stream(frames),
                )
            }),
        )
        .layer(CancelableLayer::new().timeout(Duration::from_millis(60)));
    let request = http::Request::post("/pkg.Feed/Watch")
        .header("content-type", "application/grpc")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut messages = 0;
    let trailers = loop {
        let frame = body.frame().await.expect("ends with trailers").unwrap();
        match frame.into_trailers() {
            Ok(trailers) => break trailers,
            Err(_data) => messages += 1,
        }
    };
    assert!(messages >= 5, "{messages} messages before the timeout");
    assert_eq!(trailers["grpc-status"], "4");
    assert_eq!(trailers["grpc-message"], "deadline exceeded");
    assert!(body.frame().await.is_none());
}

/// Compiled, not run: the layer fits a tonic server (`Server::builder().layer(..)`, tonic's
/// body types); the interop tests with a real tonic client are in `propagation`.
#[allow(dead_code)]
fn the_layer_fits_a_tonic_server(
    listener: TcpListener,
) -> impl Future<Output = Result<(), tonic::transport::Error>> {
    let service = tower::service_fn(|_: http::Request<tonic::body::Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
    });
    tonic::transport::Server::builder()
        .layer(CancelableLayer::new().accept_deadlines())
        .serve_with_incoming(
            service,
            tonic::transport::server::TcpIncoming::from(listener),
        )
}
