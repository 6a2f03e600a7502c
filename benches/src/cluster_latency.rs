//! Cluster-wide cancel on loopback Redis: how long from `cancel` on one node to the remote
//! operation's `on_cancelled`, and how many commands one node applies per second.
//!
//! ```text
//! cluster-latency [--commands N] [--backlog M] [--url redis://…]
//! ```
//!
//! Without `--url` it starts its own `redis-server` on 127.0.0.1 at a free port
//! (`--save "" --appendonly no`) and kills it at the end. `N` commands (default 1000) are sent
//! one at a time from node A, each cancelling one operation registered on node B; then node C
//! starts late and applies a backlog of `M` commands (default 20 000) already in the stream.
//! The same latency loop runs on the in-memory bus for comparison.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cancelable::cluster::{CancelBus, ClusterCancel, InMemoryBus, RedisBus};
use cancelable::{Cancelable, CancellationReason, OperationRegistry};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server on PATH (apt-get install -y redis-server), or pass --url");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    (Server(child), format!("redis://127.0.0.1:{port}"))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// `commands` cancels from `a`, each of one operation on `b_registry`: publish → `on_cancelled`.
async fn latencies(
    a: &ClusterCancel,
    b_registry: &OperationRegistry,
    commands: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(commands);
    for i in 0..commands {
        let id = format!("job-{i}");
        let op = Cancelable::new()
            .named("job")
            .operation_id(id.clone())
            .register_in(b_registry);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = Mutex::new(Some(tx));
        op.on_cancelled(move |_| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(Instant::now());
            }
        });
        let run = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
        while b_registry.get(&id).is_none() {
            tokio::task::yield_now().await;
        }
        let sent = Instant::now();
        a.cancel(&id, CancellationReason::Manual, "bench")
            .await
            .unwrap();
        let seen = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("cancelled within 10 s")
            .unwrap();
        samples.push(seen - sent);
        run.await.unwrap().unwrap_err();
    }
    samples.sort();
    samples
}

fn print_latencies(bus: &str, samples: &[Duration]) {
    println!(
        "{bus:<10} publish -> remote on_cancelled over {} commands: p50 {:?}  p99 {:?}  max {:?}",
        samples.len(),
        percentile(samples, 0.50),
        percentile(samples, 0.99),
        samples[samples.len() - 1],
    );
}

async fn pair<B: CancelBus>(
    connect: impl AsyncFn() -> B,
) -> (ClusterCancel, ClusterCancel, OperationRegistry) {
    let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
    let a = ClusterCancel::start(&ra, connect().await, "node-a")
        .await
        .unwrap();
    let b = ClusterCancel::start(&rb, connect().await, "node-b")
        .await
        .unwrap();
    (a, b, rb)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let commands: usize = arg(&args, "--commands").map_or(1000, |n| n.parse().unwrap());
    let backlog: usize = arg(&args, "--backlog").map_or(20_000, |n| n.parse().unwrap());
    let (_server, url) = match arg(&args, "--url") {
        Some(url) => (None, url),
        None => {
            let (server, url) = start_server();
            (Some(server), url)
        }
    };
    let namespace = format!("bench-{}", std::process::id());
    let redis = async || RedisBus::connect(&url, &namespace).await.unwrap();

    // Latency, Redis then in memory.
    let (a, b, rb) = pair(redis).await;
    latencies(&a, &rb, 50).await; // warm-up
    let samples = latencies(&a, &rb, commands).await;
    print_latencies("redis", &samples);
    let memory = InMemoryBus::new();
    let (ma, mb, mrb) = pair(async || memory.clone()).await;
    let samples = latencies(&ma, &mrb, commands).await;
    print_latencies("in-memory", &samples);
    drop((ma, mb));

    // Throughput: a backlog of commands in the stream, applied by a node that starts late.
    let started = Instant::now();
    for i in 0..backlog {
        a.cancel(&format!("absent-{i}"), CancellationReason::Manual, "bench")
            .await
            .unwrap();
    }
    let publish = started.elapsed();
    println!(
        "redis      node-a published {backlog} commands one at a time in {publish:.2?} ({:.0}/s)",
        backlog as f64 / publish.as_secs_f64()
    );
    let before = b.stats().applied;
    let rc = OperationRegistry::new();
    // Operations for the commands to scan past: a registry is rarely empty.
    let busy: Vec<_> = (0..100)
        .map(|i| {
            let op = Cancelable::new()
                .named(format!("other_{i}"))
                .register_in(&rc);
            tokio::spawn(async move { op.run(std::future::pending::<()>()).await })
        })
        .collect();
    let started = Instant::now();
    let c = ClusterCancel::start(&rc, redis().await, "node-c")
        .await
        .unwrap();
    let expected = u64::try_from(backlog + commands + 50).unwrap();
    while c.stats().applied < expected {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let apply = started.elapsed();
    println!(
        "redis      node-c (late, 100 operations running) applied {expected} commands in {apply:.2?} ({:.0}/s)",
        expected as f64 / apply.as_secs_f64()
    );
    assert!(b.stats().applied >= before);
    for op in busy {
        op.abort();
    }
    for node in [a, b, c] {
        node.stop().await;
    }
}
