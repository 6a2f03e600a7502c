//! Cluster-wide cancel: three nodes, each with its own registry, on one bus.
//!
//! 1. `web-1`, `worker-1` and `worker-2` start; each worker runs jobs for two tenants;
//! 2. `web-1` cancels every `tenant_42_*` job, everywhere, sticky for two seconds: the jobs of
//!    tenant 42 end on both workers with `tenant removed (from web-1)`, tenant 7's go on;
//! 3. a tenant 42 job that starts on `worker-2` a moment later is cancelled as it starts;
//! 4. `web-1` cancels everything left, then the nodes print what they counted and stop.
//!
//! By default the nodes share an in-memory bus in this process:
//! `cargo run -p cancelable-examples --example cluster_cancel`. On Redis (every node with its
//! own connections, as separate processes would have):
//! `cargo run -p cancelable-examples --features redis --example cluster_cancel -- --redis redis://127.0.0.1:6379`.

use std::time::Duration;

use cancelable::cluster::{CancelBus, CancelCommand, ClusterCancel, InMemoryBus, Target};
use cancelable::{Cancelable, CancellationError, CancellationReason, OperationRegistry};
use tokio::task::JoinHandle;

const NODES: [&str; 3] = ["web-1", "worker-1", "worker-2"];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().position(|arg| arg == "--redis") {
        None => {
            println!("bus: in memory (pass `--redis URL` for Redis)");
            let bus = InMemoryBus::new();
            run(|| std::future::ready(bus.clone())).await;
        }
        Some(i) => {
            let Some(url) = args.get(i + 1) else {
                eprintln!("usage: cluster_cancel [--redis redis://host:port]");
                std::process::exit(2);
            };
            redis(url).await;
        }
    }
}

#[cfg(feature = "redis")]
async fn redis(url: &str) {
    use cancelable::cluster::RedisBus;
    // One namespace per run, so that two runs on one server stay apart.
    let namespace = format!("example-{}", std::process::id());
    println!("bus: Redis at {url}, namespace {namespace}");
    let connect = || async {
        match RedisBus::connect(url, &namespace).await {
            Ok(bus) => bus,
            Err(err) => {
                eprintln!("{err}");
                std::process::exit(1);
            }
        }
    };
    run(connect).await;
}

#[cfg(not(feature = "redis"))]
async fn redis(_url: &str) {
    eprintln!(
        "the Redis bus needs the `redis` feature: \
         cargo run -p cancelable-examples --features redis --example cluster_cancel -- --redis URL"
    );
    std::process::exit(2);
}

type Job = JoinHandle<Result<(), CancellationError>>;

/// Starts a job named `name` in `registry`: it works until cancelled.
fn job(registry: &OperationRegistry, name: &str) -> Job {
    let op = Cancelable::new()
        .named(name.to_owned())
        .register_in(registry);
    tokio::spawn(async move {
        op.run(async {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
    })
}

async fn report(node: &str, name: &str, job: Job) {
    match job.await.unwrap() {
        Ok(()) => println!("  {node:>8}  {name:<18} completed"),
        Err(err) => println!(
            "  {node:>8}  {name:<18} cancelled ({}): {}",
            err.reason(),
            err.message().unwrap_or_default()
        ),
    }
}

/// The whole scenario, on buses made by `connect` (one per node).
async fn run<B: CancelBus, F: Future<Output = B>>(connect: impl Fn() -> F) {
    let registries: Vec<_> = NODES.iter().map(|_| OperationRegistry::new()).collect();
    let mut nodes = Vec::new();
    for (name, registry) in NODES.iter().zip(&registries) {
        let node = ClusterCancel::start(registry, connect().await, *name)
            .await
            .expect("the node starts");
        nodes.push(node);
    }

    let mut jobs = Vec::new();
    for (node, registry) in NODES.iter().zip(&registries).skip(1) {
        for name in ["tenant_42_export", "tenant_42_reindex", "tenant_7_export"] {
            jobs.push((*node, name, job(registry, name)));
        }
    }
    while registries.iter().map(|r| r.list().len()).sum::<usize>() < jobs.len() {
        tokio::task::yield_now().await;
    }
    println!("{} jobs running on the workers", jobs.len());

    println!("web-1: cancel tenant_42_* everywhere, sticky for 2 s");
    let command = CancelCommand::new(
        Target::Glob("tenant_42_*".into()),
        CancellationReason::Manual,
        "tenant removed",
    )
    .sticky_for(Duration::from_secs(2));
    nodes[0].send(command).await.expect("published");
    let (tenant_42, tenant_7): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .partition(|(_, name, _)| name.starts_with("tenant_42"));
    for (node, name, job) in tenant_42 {
        report(node, name, job).await;
    }

    println!("worker-2: a tenant_42 job starts inside the sticky window");
    let late = job(&registries[2], "tenant_42_retry");
    report("worker-2", "tenant_42_retry", late).await;

    println!("web-1: cancel everything left (maintenance)");
    nodes[0]
        .cancel_all(CancellationReason::Signal, "maintenance")
        .await
        .expect("published");
    for (node, name, job) in tenant_7 {
        report(node, name, job).await;
    }

    for node in nodes {
        let stats = node.stats();
        println!(
            "{:>8}: published {}, applied {}, cancelled {}, duplicates {}, refused {}",
            node.node(),
            stats.published,
            stats.applied,
            stats.cancelled,
            stats.duplicates,
            stats.malformed + stats.oversized + stats.rejected + stats.expired,
        );
        node.stop().await;
    }
}
