//! `cancelable-bench registry [N ...]`: what one registry call costs per registered operation
//! as the registry grows (BENCHMARKS.md, "Registry at scale").
//!
//! For each `n` (default 1k, 10k, 100k, 1M), `n` operations named `job_<tenant>_<i>` (ten
//! tenants) are registered and parked on their first poll, then one call is timed:
//!
//! * `list`: `registry.list()`, a snapshot of every operation;
//! * `cancel_matching 10%`: `cancel_matching("job_3_*")`, one tenant of ten;
//! * `cancel_matching all`: `cancel_matching("job_*")`, every operation.
//!
//! Each figure is the median of 5 rounds (a fresh registry each; with `REGISTRY_BENCH_MIN` set,
//! the fastest, for a machine shared with other work), divided by `n`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use cancelable::{Cancelable, CancellationReason, OperationRegistry};

type Parked = Pin<Box<dyn Future<Output = ()>>>;

/// `n` registered operations, each parked inside `run`.
fn parked(registry: &OperationRegistry, n: usize) -> Vec<Parked> {
    let mut cx = Context::from_waker(Waker::noop());
    (0..n)
        .map(|i| {
            let op = Cancelable::new()
                .named(format!("job_{}_{i}", i % 10))
                .register_in(registry);
            let mut fut: Parked = Box::pin(async move {
                let _ = op.run(std::future::pending::<()>()).await;
            });
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            fut
        })
        .collect()
}

fn round(n: usize, case: &str) -> Duration {
    let registry = OperationRegistry::with_history_limit(0);
    let futures = parked(&registry, n);
    let t = Instant::now();
    let found = match case {
        "list" => std::hint::black_box(registry.list()).len(),
        "cancel_matching 10%" => registry
            .cancel_matching("job_3_*", CancellationReason::Manual, "bench")
            .len(),
        _ => registry
            .cancel_matching("job_*", CancellationReason::Manual, "bench")
            .len(),
    };
    let d = t.elapsed();
    let expected = if case == "cancel_matching 10%" {
        n / 10
    } else {
        n
    };
    assert_eq!(found, expected, "{case}");
    drop(futures);
    d
}

/// Prints ns per registered operation for each case and `n`.
pub(crate) fn registry(sizes: &[usize]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = rt.enter();
    print!("{:<22}", "ns per operation");
    for n in sizes {
        print!(" {:>10}", format!("n = {n}"));
    }
    println!();
    for case in ["list", "cancel_matching 10%", "cancel_matching all"] {
        print!("{case:<22}");
        for &n in sizes {
            let mut rounds: Vec<Duration> = (0..5).map(|_| round(n, case)).collect();
            rounds.sort();
            let ns = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
            match std::env::var_os("REGISTRY_BENCH_MIN") {
                Some(_) => print!(" {:>10.1}", ns(rounds[0])),
                None => print!(" {:>10.1}", ns(rounds[2])),
            }
        }
        println!();
    }
}
