//! Requests per second through axum on loopback, with and without `CancelableLayer`
//! (feature `axum`): the layer must not cost a task per request.
//!
//! The server runs on a one-worker tokio runtime; a load generator on another thread keeps
//! `--connections` keep-alive HTTP/1.1 connections to 127.0.0.1 busy until `--requests`
//! requests have been answered (or 20 s have passed). Rounds alternate between the variants
//! and the median of each is printed:
//!
//! * no layer;
//! * a layer that does nothing: what axum's `Router::layer` costs whatever the layer (it boxes
//!   each layered route's service and future);
//! * `CancelableLayer::new()`;
//! * the layer with a timeout and accepted deadlines (every request sends
//!   `request-timeout-ms`, so the header is parsed and the request's deadline set from it);
//! * the layer with a timeout and a registry;
//! * the layer on the handler (`get(handler.layer(CancelableLayer::new()))`): axum boxes no
//!   route for it;
//! * for comparison, the usual workaround for disconnects: a middleware that spawns a task
//!   per request.
//!
//! Every variant gets the same request bytes, `request-timeout-ms` included (and, with
//! `--browser-headers`, ten headers more, as a browser sends them). Besides requests
//! per second, it reports the CPU time the server's thread spent per request (kernel
//! included): on a machine busy with other work, that one is steady where req/s are not.
//!
//! Run it with `cargo run --release -p cancelable-bench --bin axum-throughput -- --requests
//! 100000 --connections 8 --rounds 5`; the defaults are small, so that CI runs it in seconds.
//! On a busy machine, more rounds (`--rounds 15`) steady the medians: the rounds alternate
//! between the variants, so a burst of load elsewhere hits them alike. `--only NAME`, repeated,
//! runs only those variants (keep `--only "no layer"` among them for the relative columns).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cancelable::OperationRegistry;
use cancelable::axum::CancelableLayer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What every client sends: the caller's deadline (10 s) in plain HTTP's header.
const REQUEST: &str = "GET /ok HTTP/1.1\r\nHost: bench\r\nrequest-timeout-ms: 10000\r\n";

/// What a browser or an HTTP client library adds, for `--browser-headers`: the deadline
/// header is then read among ten others.
const BROWSER_HEADERS: &str = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0\r\n\
    Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
    Accept-Language: en-US,en;q=0.5\r\n\
    Accept-Encoding: gzip, deflate, br\r\n\
    Connection: keep-alive\r\n\
    Cookie: session=4f1c2e9a7b3d\r\n\
    Cache-Control: no-cache\r\n\
    x-request-id: 6a1f0c3e-9b7d-4e2a-8c5f-1d3b7a9e0f42\r\n\
    traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\
    Referer: http://bench/\r\n";

/// Ends a round that takes longer, whatever is left.
const ROUND_LIMIT: Duration = Duration::from_secs(20);

struct Args {
    requests: usize,
    connections: usize,
    rounds: usize,
    /// Ten more headers in every request (`--browser-headers`).
    browser_headers: bool,
    /// Only the variants of these names (for profiling one, counting its instructions, or more
    /// rounds of two side by side); all when empty.
    only: Vec<String>,
}

fn args() -> Args {
    let mut args = Args {
        requests: 5_000,
        connections: 8,
        rounds: 2,
        browser_headers: false,
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--browser-headers" {
            args.browser_headers = true;
            continue;
        }
        let value = it.next();
        let number = value.as_deref().and_then(|v| v.parse().ok());
        match (flag.as_str(), number) {
            ("--requests", Some(v)) => args.requests = v,
            ("--connections", Some(v)) => args.connections = v,
            ("--rounds", Some(v)) => args.rounds = v,
            ("--only", _) if value.is_some() => args.only.extend(value),
            _ => panic!(
                "usage: axum-throughput [--requests N] [--connections K] [--rounds R] [--browser-headers] [--only NAME]..."
            ),
        }
    }
    args.connections = args.connections.clamp(1, args.requests.max(1));
    args
}

/// The usual way to see a disconnect without this crate: run the handler in its own task.
async fn spawn_per_request(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn variants() -> Vec<(&'static str, Router)> {
    let app = || Router::new().route("/ok", get(|| async { "ok" }));
    vec![
        ("no layer", app()),
        (
            "a no-op layer (axum's cost of any layer)",
            app().layer(tower::layer::layer_fn(|service| service)),
        ),
        ("CancelableLayer", app().layer(CancelableLayer::new())),
        (
            "CancelableLayer + timeout + deadlines",
            app().layer(
                CancelableLayer::new()
                    .timeout(Duration::from_secs(30))
                    .accept_deadlines(),
            ),
        ),
        (
            "CancelableLayer + timeout + registry",
            app().layer(
                CancelableLayer::new()
                    .timeout(Duration::from_secs(30))
                    .register_in(&OperationRegistry::new()),
            ),
        ),
        (
            "CancelableLayer on the handler (no route box)",
            Router::new().route(
                "/ok",
                get((|| async { "ok" }).layer(CancelableLayer::new())),
            ),
        ),
        (
            "spawn per request (for comparison)",
            app().layer(middleware::from_fn(spawn_per_request)),
        ),
    ]
}

/// `requests` requests over `connections` keep-alive connections: requests per second, and
/// how many were answered.
async fn load(
    addr: SocketAddr,
    requests: usize,
    connections: usize,
    request: &'static [u8],
) -> (f64, usize) {
    let start = Instant::now();
    let per_connection = requests / connections;
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut stream = BufReader::new(stream);
                let mut line = String::new();
                let mut done = 0;
                while done < per_connection && start.elapsed() < ROUND_LIMIT {
                    stream.get_mut().write_all(request).await.unwrap();
                    let mut length = 0;
                    loop {
                        line.clear();
                        stream.read_line(&mut line).await.unwrap();
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    assert_eq!(body, b"ok");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut answered = 0;
    for client in clients {
        answered += client.await.unwrap();
    }
    (answered as f64 / start.elapsed().as_secs_f64(), answered)
}

/// The CPU time the server's worker thread has used so far, in nanoseconds, read on that
/// thread (Linux's `/proc/thread-self/schedstat`; `None` elsewhere). Other processes' load
/// does not count in it, as it does in requests per second.
fn server_cpu(server: &tokio::runtime::Runtime) -> Option<u64> {
    let read = server.spawn(async {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        stat.split_whitespace().next()?.parse().ok()
    });
    server.block_on(read).ok().flatten()
}

fn main() {
    let Args {
        requests,
        connections,
        rounds,
        browser_headers,
        only,
    } = args();
    let request = if browser_headers {
        format!("{REQUEST}{BROWSER_HEADERS}\r\n")
    } else {
        format!("{REQUEST}\r\n")
    };
    let request: &'static [u8] = request.leak().as_bytes();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let servers: Vec<(&str, SocketAddr)> = variants()
        .into_iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|only| only == name))
        .map(|(name, app)| {
            let listener = server.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
            let addr = listener.local_addr().unwrap();
            server.spawn(async move { axum::serve(listener, app).await.unwrap() });
            (name, addr)
        })
        .collect();

    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{requests} requests over {connections} keep-alive connections, {rounds} rounds{}",
        if cfg!(debug_assertions) {
            " (debug build: use --release for real numbers)"
        } else {
            ""
        }
    );
    let mut results = vec![Vec::new(); servers.len()];
    let mut cpu = vec![Vec::new(); servers.len()];
    // A warm-up round for each server, not counted.
    for (_, addr) in &servers {
        client.block_on(load(*addr, requests.min(1000), connections, request));
    }
    for round in 0..rounds {
        // Each round in another order, so that no variant always follows the same one.
        for k in 0..servers.len() {
            let i = (k + round) % servers.len();
            let before = server_cpu(&server);
            let (rate, answered) =
                client.block_on(load(servers[i].1, requests, connections, request));
            results[i].push(rate);
            if let (Some(before), Some(after)) = (before, server_cpu(&server)) {
                cpu[i].push((after - before) as f64 / answered.max(1) as f64);
            }
        }
    }
    // Against the no-layer server of the same round (measured within seconds of it), then
    // the median over the rounds: steadier than a ratio of medians when the load elsewhere
    // drifts.
    let relative = |values: &[Vec<f64>], i: usize| {
        let mut ratios: Vec<f64> = values[i]
            .iter()
            .zip(&values[0])
            .map(|(v, b)| v / b)
            .collect();
        (median(&mut ratios) - 1.0) * 100.0
    };
    let baseline = servers[0].0 == "no layer";
    println!(
        "{:<42} {:>9} {:>9}   {:>9} {:>9}",
        "variant (medians)", "req/s", "vs none", "server ns", "vs none"
    );
    for (i, (name, _)) in servers.iter().enumerate() {
        let rate = median(&mut results[i].clone());
        let ns = if cpu[i].is_empty() {
            f64::NAN
        } else {
            median(&mut cpu[i].clone())
        };
        let (rate_vs, ns_vs) = if baseline {
            let ns_vs = if cpu[i].is_empty() {
                String::from("-")
            } else {
                format!("{:+.1}%", relative(&cpu, i))
            };
            (format!("{:+.1}%", relative(&results, i)), ns_vs)
        } else {
            (String::from("-"), String::from("-"))
        };
        println!("{name:<42} {rate:>9.0} {rate_vs:>9}   {ns:>9.0} {ns_vs:>9}");
    }
    println!("(server ns: CPU time of the server's worker thread per request, kernel included)");
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
