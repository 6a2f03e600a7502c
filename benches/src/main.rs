//! `cancelable` beside hand-written tokio / tokio-util, case by case, in one binary.
//!
//! ```text
//! cancelable-bench                       time every case, ours beside its reference (ns/op)
//! cancelable-bench --list                case names, their references and what they measure
//! cancelable-bench --case NAME ITERS     run one case ITERS times (for callgrind)
//! cancelable-bench mem                   size_of the run futures, heap bytes per parked operation
//! cancelable-bench fanout [N] [ROUNDS]   N parked operations, one cancel -> all done (wall clock)
//! cancelable-bench latency [SAMPLES]     cancel from a plain OS thread -> task wakes (us)
//! cancelable-bench registry [N ...]      registry `list`/`cancel_matching` per operation at size N
//! ```
//!
//! `scripts/bench-instructions.sh` turns `--case` runs into instruction counts with callgrind;
//! `BENCHMARKS.md` has the results and what each number means.

mod registry_scale;

use std::future::ready;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cancelable::{Cancelable, CancellationToken, OperationRegistry};
use tokio::runtime::Runtime;
use tokio::task::yield_now;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken as TokioToken;

const D30: Duration = Duration::from_secs(30);

/// (case, reference case, what it measures). A reference of `-` is an absolute figure.
const CASES: &[(&str, &str, &str)] = &[
    ("ready", "-", "floor: `ready(i).await`"),
    (
        "scope_timeout_ready",
        "ref_timeout_token_select",
        "T1 scope with timeout around a ready future",
    ),
    (
        "annotated_fn_ready",
        "ref_timeout_token_select",
        "#[cancelable(timeout = \"30s\")] fn call",
    ),
    (
        "scope_parent_ready",
        "ref_timeout_child_select",
        "T2 scope with timeout and a parent, ready future",
    ),
    (
        "scope_timeout_yield",
        "ref_timeout_token_select_yield",
        "T3 scope with timeout around a future that parks once",
    ),
    (
        "scope_token_ready",
        "ref_token_select",
        "T4 token-only scope around a ready future",
    ),
    (
        "is_cancelled",
        "ref_is_cancelled",
        "T5 `is_cancelled()` (absolute target: <= 10 instr)",
    ),
    (
        "child_token_new_drop",
        "ref_child_new_drop",
        "T6 child token create + drop",
    ),
    (
        "child_scope_new_drop",
        "ref_child_new_drop",
        "T6 child operation (`op.child()`) create + drop",
    ),
    (
        "progress_no_listener",
        "-",
        "T14 `report_progress` with no listener (target <= 10 instr)",
    ),
    (
        "progress_one_listener",
        "ref_progress_dyn_fn",
        "T14 `report_progress` with one callback",
    ),
    (
        "scope_registered_ready",
        "scope_token_ready",
        "T13 registered scope (the difference is the registry)",
    ),
    (
        "scope_signal_ready",
        "scope_token_ready",
        "T15 scope with a signal source (the difference is the source)",
    ),
    (
        "ref_timeout_token_select",
        "-",
        "reference d: new token + timeout + biased select",
    ),
    (
        "ref_timeout_child_select",
        "-",
        "reference d'': d with `parent.child_token()`",
    ),
    (
        "ref_timeout_token_select_yield",
        "-",
        "reference d*: d around `yield_now()`",
    ),
    (
        "ref_token_select",
        "-",
        "reference c: new token + biased select",
    ),
    (
        "ref_is_cancelled",
        "-",
        "reference e2: tokio-util `is_cancelled()`",
    ),
    (
        "ref_child_new_drop",
        "-",
        "reference e1: tokio-util `child_token()` + drop",
    ),
    (
        "ref_progress_dyn_fn",
        "-",
        "reference p: call one `&dyn Fn`",
    ),
    (
        "ref_registry_mutex_hashmap",
        "-",
        "reference r: `Mutex<HashMap>` insert + remove",
    ),
    ("yield", "-", "floor: `yield_now().await`"),
];

fn rt() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[cancelable::cancelable(timeout = "30s")]
async fn annotated(i: u64) -> u64 {
    ready(i).await
}

/// Runs `n` iterations of `name`; returns the time of the loop alone.
fn run_case(rt: &Runtime, name: &str, n: u64) -> Duration {
    let parent_ref = TokioToken::new();
    let shared_ref = TokioToken::new();
    let parent = Cancelable::new();
    let shared = CancellationToken::new();
    let registry = OperationRegistry::new();
    rt.block_on(async {
        let t = Instant::now();
        match name {
            "ready" => {
                for i in 0..n {
                    black_box(ready(black_box(i)).await);
                }
            }
            "scope_timeout_ready" => {
                for i in 0..n {
                    let op = Cancelable::with_timeout(D30);
                    black_box(op.run(ready(black_box(i))).await.ok());
                }
            }
            "annotated_fn_ready" => {
                for i in 0..n {
                    black_box(annotated(black_box(i)).await.ok());
                }
            }
            "scope_parent_ready" => {
                for i in 0..n {
                    let op = Cancelable::with_timeout(D30).parent(&parent);
                    black_box(op.run(ready(black_box(i))).await.ok());
                }
            }
            "scope_timeout_yield" => {
                for i in 0..n {
                    let op = Cancelable::with_timeout(D30);
                    black_box((op.run(yield_now()).await.ok(), i));
                }
            }
            "scope_token_ready" => {
                for i in 0..n {
                    let op = Cancelable::new();
                    black_box(op.run(ready(black_box(i))).await.ok());
                }
            }
            "is_cancelled" => {
                for _ in 0..n {
                    black_box(black_box(&shared).is_cancelled());
                }
            }
            "child_token_new_drop" => {
                for _ in 0..n {
                    let child = shared.child_token();
                    black_box(&child);
                }
            }
            "child_scope_new_drop" => {
                for _ in 0..n {
                    let child = parent.child();
                    black_box(&child);
                }
            }
            "progress_no_listener" => {
                let op = black_box(&parent);
                for _ in 0..n {
                    op.report_progress(black_box("fetched a page"));
                }
            }
            "progress_one_listener" => {
                let op = Cancelable::new();
                let acc = std::sync::atomic::AtomicU64::new(0);
                let acc = std::sync::Arc::new(acc);
                let a = acc.clone();
                op.on_progress(move |event| {
                    a.fetch_add(
                        event.message.len() as u64,
                        std::sync::atomic::Ordering::Relaxed,
                    );
                });
                let op = black_box(&op);
                for _ in 0..n {
                    op.report_progress(black_box("fetched a page"));
                }
                black_box(acc.load(std::sync::atomic::Ordering::Relaxed));
            }
            "scope_registered_ready" => {
                for i in 0..n {
                    let op = Cancelable::new().register_in(&registry);
                    black_box(op.run(ready(black_box(i))).await.ok());
                }
            }
            "scope_signal_ready" => {
                let keep = Cancelable::with_signal([cancelable::Signal::Usr1]);
                let mut held = Box::pin(keep.run(std::future::pending::<()>()));
                let _ = futures_poll(&mut held);
                for i in 0..n {
                    let op = Cancelable::with_signal([cancelable::Signal::Usr1]);
                    black_box(op.run(ready(black_box(i))).await.ok());
                }
                drop(held);
            }
            "ref_timeout_token_select" => {
                for i in 0..n {
                    let tok = TokioToken::new();
                    let r = timeout(D30, async {
                        tokio::select! {
                            biased;
                            _ = tok.cancelled() => None,
                            v = ready(black_box(i)) => Some(v),
                        }
                    })
                    .await;
                    black_box(r.ok());
                }
            }
            "ref_timeout_child_select" => {
                for i in 0..n {
                    let tok = parent_ref.child_token();
                    let r = timeout(D30, async {
                        tokio::select! {
                            biased;
                            _ = tok.cancelled() => None,
                            v = ready(black_box(i)) => Some(v),
                        }
                    })
                    .await;
                    black_box(r.ok());
                }
            }
            "ref_timeout_token_select_yield" => {
                for i in 0..n {
                    let tok = TokioToken::new();
                    let r = timeout(D30, async {
                        tokio::select! {
                            biased;
                            _ = tok.cancelled() => None,
                            v = yield_now() => Some(v),
                        }
                    })
                    .await;
                    black_box((r.ok(), i));
                }
            }
            "ref_token_select" => {
                for i in 0..n {
                    let tok = TokioToken::new();
                    let r = tokio::select! {
                        biased;
                        _ = tok.cancelled() => None,
                        v = ready(black_box(i)) => Some(v),
                    };
                    black_box(r);
                }
            }
            "ref_is_cancelled" => {
                for _ in 0..n {
                    black_box(black_box(&shared_ref).is_cancelled());
                }
            }
            "ref_child_new_drop" => {
                for _ in 0..n {
                    let c = parent_ref.child_token();
                    black_box(&c);
                }
            }
            "ref_progress_dyn_fn" => {
                let acc = std::cell::Cell::new(0u64);
                let cb = |v: &str| acc.set(acc.get().wrapping_add(v.len() as u64));
                let cbs: Vec<&dyn Fn(&str)> = vec![&cb];
                let cbs = black_box(cbs);
                for _ in 0..n {
                    for f in &cbs {
                        f(black_box("fetched a page"));
                    }
                }
                black_box(acc.get());
            }
            "ref_registry_mutex_hashmap" => {
                let reg: std::sync::Mutex<std::collections::HashMap<u64, ()>> = Default::default();
                for k in 0..1024u64 {
                    reg.lock().expect("lock").insert(u64::MAX - k, ());
                }
                for i in 0..n {
                    reg.lock().expect("lock").insert(black_box(i), ());
                    black_box(reg.lock().expect("lock").remove(&black_box(i)));
                }
            }
            "yield" => {
                for i in 0..n {
                    yield_now().await;
                    black_box(i);
                }
            }
            other => panic!("unknown case {other}; see --list"),
        }
        t.elapsed()
    })
}

fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

// ===== cancel propagation =====

/// Cancels `parents` (ours); out of line so callgrind can count exactly this
/// (`--toggle-collect='*cancel_all_ours*'`).
#[inline(never)]
pub fn cancel_all_ours(parents: &[CancellationToken]) {
    for p in parents {
        p.cancel();
    }
}

/// The reference: tokio-util's `cancel()` on each parent.
#[inline(never)]
pub fn cancel_all_ref(parents: &[TokioToken]) {
    for p in parents {
        p.cancel();
    }
}

/// `parent.cancel()` with `k` children each, `total` children in all; `waiters`: each child
/// awaited by a parked task. Returns ns per child.
fn cancel_case(ours: bool, k: usize, total: usize, waiters: bool) -> f64 {
    let rt = rt();
    rt.block_on(async {
        let parents = (total / k).max(1);
        macro_rules! run {
            ($new:expr, $cancel:ident) => {{
                let roots: Vec<_> = (0..parents).map(|_| $new).collect();
                let mut kids = Vec::with_capacity(parents * k);
                let mut tasks = Vec::new();
                for root in &roots {
                    for _ in 0..k {
                        let child = root.child_token();
                        if waiters {
                            let c = child.clone();
                            tasks.push(tokio::spawn(async move { c.cancelled().await }));
                        }
                        kids.push(child);
                    }
                }
                tokio::spawn(async {}).await.expect("sentinel");
                let t = Instant::now();
                $cancel(&roots);
                let d = t.elapsed();
                assert!(kids.iter().all(|c| c.is_cancelled()));
                for task in tasks {
                    task.await.expect("waiter");
                }
                d
            }};
        }
        let d = if ours {
            run!(CancellationToken::new(), cancel_all_ours)
        } else {
            run!(TokioToken::new(), cancel_all_ref)
        };
        d.as_secs_f64() * 1e9 / (parents * k) as f64
    })
}

// ===== memory =====

#[cfg(feature = "count-alloc")]
fn mem() {
    use std::mem::size_of_val;
    let rt = rt();
    let _entered = rt.enter();
    let op = Cancelable::with_timeout(D30);
    let ours = op.run(ready(0u64));
    let tok = TokioToken::new();
    let reference = timeout(D30, async move {
        tokio::select! { biased; _ = tok.cancelled() => None, v = ready(0u64) => Some(v) }
    });
    println!(
        "size_of run future around Ready<u64>: ours {} B, reference (Timeout<select>) {} B",
        size_of_val(&ours),
        size_of_val(&reference)
    );
    let annotated_size = size_of_val(&annotated(0));
    println!("size_of #[cancelable(timeout)] fn future: {annotated_size} B");
    drop(ours);
    println!(
        "size_of Cancelable / CancellationToken: {} / {} B",
        std::mem::size_of::<Cancelable>(),
        std::mem::size_of::<CancellationToken>()
    );

    for (part, size) in cancelable::test_util::internal_sizes() {
        println!("size_of {part}: {size} B");
    }
    let n = 10_000usize;
    let parked = |label: &str, spawn: &dyn Fn(usize) -> tokio::task::JoinHandle<()>| {
        let info = allocation_counter::measure(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..n).map(spawn).collect();
                tokio::spawn(async {}).await.expect("sentinel");
                std::mem::forget(tasks);
            })
        });
        println!(
            "heap per parked {label}: {:.1} B",
            info.bytes_current as f64 / n as f64
        );
    };
    let parent = Cancelable::new();
    let parent_ref = TokioToken::new();
    parked("bare task on pending() (floor)", &|_| {
        tokio::spawn(std::future::pending::<()>())
    });
    parked(
        "hand-written scope (child token + timeout + select)",
        &|_| {
            let tok = parent_ref.child_token();
            tokio::spawn(async move {
                let _ = timeout(D30, async {
                tokio::select! { biased; _ = tok.cancelled() => {}, _ = std::future::pending::<()>() => {} }
            })
            .await;
            })
        },
    );
    parked("Cancelable scope (timeout + parent)", &|_| {
        let op = Cancelable::with_timeout(D30).parent(&parent);
        tokio::spawn(async move {
            let _ = op.run(std::future::pending::<()>()).await;
        })
    });
}

// ===== fan-out =====

fn fanout(n: usize, rounds: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut ours = Vec::new();
    let mut reference = Vec::new();
    for _ in 0..rounds {
        ours.push(rt.block_on(async {
            let parent = Cancelable::new();
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let op = Cancelable::with_timeout(D30).parent(&parent);
                    tokio::spawn(async move { op.run(std::future::pending::<()>()).await.is_err() })
                })
                .collect();
            settle(n).await;
            let t = Instant::now();
            parent.cancel();
            let call = t.elapsed();
            for task in tasks {
                assert!(task.await.expect("task"));
            }
            (t.elapsed(), call)
        }));
        reference.push(rt.block_on(async {
            let parent = TokioToken::new();
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let tok = parent.child_token();
                    tokio::spawn(async move {
                        timeout(D30, async {
                            tokio::select! { biased; _ = tok.cancelled() => true, _ = std::future::pending::<()>() => false }
                        })
                        .await
                        .unwrap_or(false)
                    })
                })
                .collect();
            settle(n).await;
            let t = Instant::now();
            parent.cancel();
            let call = t.elapsed();
            for task in tasks {
                assert!(task.await.expect("task"));
            }
            (t.elapsed(), call)
        }));
    }
    let calls = |runs: &[(Duration, Duration)]| median(runs.iter().map(|r| r.1).collect());
    let (oc, rc) = (calls(&ours), calls(&reference));
    let (o, r) = (
        median(ours.iter().map(|r| r.0).collect()),
        median(reference.iter().map(|r| r.0).collect()),
    );
    println!(
        "fan-out {n}: ours {:.1} ms, hand-written {:.1} ms, ratio {:.2} (median of {rounds} rounds)",
        o * 1e3,
        r * 1e3,
        o / r
    );
    println!(
        "  of which the cancel() call: ours {:.1} ms, hand-written {:.1} ms",
        oc * 1e3,
        rc * 1e3
    );
}

// ===== shutdown =====

/// `n` tracked parked operations shut down, beside TaskTracker plus a child token each: from
/// the trigger to the report (ours) or to `TaskTracker::wait` (the reference).
fn shutdown(n: usize, rounds: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut ours = Vec::new();
    let mut reference = Vec::new();
    for _ in 0..rounds {
        ours.push(rt.block_on(async {
            let shutdown = cancelable::shutdown::Shutdown::builder()
                .on_signals([])
                .build();
            let root = shutdown.root().clone();
            for _ in 0..n {
                root.spawn(std::future::pending::<()>());
            }
            settle(n).await;
            let t = Instant::now();
            shutdown.trigger("bench");
            let report = shutdown.run(async move { root.cancelled().await }).await;
            assert_eq!(report.exit_code(), 0);
            t.elapsed()
        }));
        reference.push(rt.block_on(async {
            let tracker = tokio_util::task::TaskTracker::new();
            let token = TokioToken::new();
            for _ in 0..n {
                let child = token.child_token();
                tracker.spawn(async move { child.cancelled().await });
            }
            settle(n).await;
            let t = Instant::now();
            token.cancel();
            tracker.close();
            tracker.wait().await;
            t.elapsed()
        }));
    }
    let (o, r) = (median(ours), median(reference));
    println!(
        "shutdown of {n} tracked parked tasks: ours {:.1} ms, TaskTracker + child tokens {:.1} ms, ratio {:.2} (median of {rounds} rounds)",
        o * 1e3,
        r * 1e3,
        o / r
    );
}

/// `n` parked operations (timeout + parent) on a current-thread runtime; `cancel_and_join_*` is
/// what callgrind counts (`--toggle-collect`): the cancel and every task running to its end.
fn fanout_instructions(ours: bool, n: usize) {
    let rt = rt();
    rt.block_on(async {
        if ours {
            let parent = Cancelable::new();
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let op = Cancelable::with_timeout(D30).parent(&parent);
                    tokio::spawn(async move { op.run(std::future::pending::<()>()).await.is_err() })
                })
                .collect();
            tokio::spawn(async {}).await.expect("sentinel");
            cancel_and_join_ours(&parent, tasks).await;
        } else {
            let parent = TokioToken::new();
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let tok = parent.child_token();
                    tokio::spawn(async move {
                        timeout(D30, async {
                            tokio::select! { biased; _ = tok.cancelled() => true, _ = std::future::pending::<()>() => false }
                        })
                        .await
                        .unwrap_or(false)
                    })
                })
                .collect();
            tokio::spawn(async {}).await.expect("sentinel");
            cancel_and_join_ref(&parent, tasks).await;
        }
    });
}

#[inline(never)]
async fn cancel_and_join_ours(parent: &Cancelable, tasks: Vec<tokio::task::JoinHandle<bool>>) {
    parent.cancel();
    for task in tasks {
        assert!(task.await.expect("task"));
    }
}

#[inline(never)]
async fn cancel_and_join_ref(parent: &TokioToken, tasks: Vec<tokio::task::JoinHandle<bool>>) {
    parent.cancel();
    for task in tasks {
        assert!(task.await.expect("task"));
    }
}

/// Lets every spawned task reach its first `Pending`.
async fn settle(n: usize) {
    for _ in 0..(n / 1000).max(4) {
        yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

// ===== cross-thread latency =====

/// A task parks on a scope; after 200 us a plain OS thread cancels; the task notes when its await
/// returns. Same shape for ours (`Cancelable::with_token`) and the reference (tokio-util token in
/// `timeout` + `select!`).
fn latency(samples: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut ours = Vec::with_capacity(samples);
    let mut reference = Vec::with_capacity(samples);
    for _ in 0..samples {
        let token = CancellationToken::new();
        let op = Cancelable::with_token(token.clone());
        let task = rt.spawn(async move {
            let _ = op.run(std::future::pending::<()>()).await;
            Instant::now()
        });
        ours.push(cancel_from_thread(&rt, task, move || {
            token.cancel();
        }));

        let token = TokioToken::new();
        let t = token.clone();
        let task = rt.spawn(async move {
            let _ = timeout(D30, async {
                tokio::select! { biased; _ = t.cancelled() => {}, _ = std::future::pending::<()>() => {} }
            })
            .await;
            Instant::now()
        });
        reference.push(cancel_from_thread(&rt, task, move || token.cancel()));
    }
    let (om, op) = pct(ours);
    let (rm, rp) = pct(reference);
    println!(
        "cross-thread cancel latency (us): ours median {om:.1} p99 {op:.1}; \
         tokio-util median {rm:.1} p99 {rp:.1}; ratio median {:.2} p99 {:.2}",
        om / rm,
        op / rp
    );
}

fn cancel_from_thread(
    rt: &Runtime,
    task: tokio::task::JoinHandle<Instant>,
    cancel: impl FnOnce() + Send + 'static,
) -> f64 {
    std::thread::sleep(Duration::from_micros(200));
    let t0 = std::thread::spawn(move || {
        let t0 = Instant::now();
        cancel();
        t0
    })
    .join()
    .expect("canceller");
    let t1 = rt.block_on(task).expect("task");
    t1.saturating_duration_since(t0).as_secs_f64() * 1e6
}

fn pct(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    (at(0.5), at(0.99))
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match arg(0) {
        Some("--list") => {
            for (case, reference, what) in CASES {
                println!("{case}\t{reference}\t{what}");
            }
            for k in [100, 10000] {
                println!(
                    "cancel_{k}\tref_cancel_{k}\tT7 propagation per descendant, N = {k}, no waiters"
                );
                println!(
                    "cancelw_{k}\tref_cancelw_{k}\tT7 propagation per descendant, N = {k}, parked waiters"
                );
            }
        }
        Some("--case") => {
            let name = arg(1).expect("--case NAME ITERS");
            let n: u64 = arg(2)
                .and_then(|s| s.parse().ok())
                .expect("--case NAME ITERS");
            if let Some((kind, k)) = name
                .rsplit_once('_')
                .filter(|(kind, _)| kind.contains("cancel"))
            {
                let k: usize = k.parse().expect("cancel_K");
                let ours = !kind.starts_with("ref_");
                let waiters = kind.ends_with("cancelw");
                black_box(cancel_case(ours, k, n as usize, waiters));
            } else {
                black_box(run_case(&rt(), name, n));
            }
        }
        Some("fanout-instructions") => fanout_instructions(
            arg(1) != Some("ref"),
            arg(2).and_then(|s| s.parse().ok()).unwrap_or(10_000),
        ),
        #[cfg(feature = "count-alloc")]
        Some("mem") => mem(),
        #[cfg(not(feature = "count-alloc"))]
        Some("mem") => panic!("the mem mode needs `--features count-alloc`"),
        Some("fanout") => fanout(
            arg(1).and_then(|s| s.parse().ok()).unwrap_or(100_000),
            arg(2).and_then(|s| s.parse().ok()).unwrap_or(5),
        ),
        Some("shutdown") => shutdown(
            arg(1).and_then(|s| s.parse().ok()).unwrap_or(100_000),
            arg(2).and_then(|s| s.parse().ok()).unwrap_or(5),
        ),
        Some("latency") => latency(arg(1).and_then(|s| s.parse().ok()).unwrap_or(1000)),
        Some("registry") => {
            let sizes: Vec<usize> = args[1..].iter().filter_map(|s| s.parse().ok()).collect();
            match sizes.is_empty() {
                true => registry_scale::registry(&[1_000, 10_000, 100_000, 1_000_000]),
                false => registry_scale::registry(&sizes),
            }
        }
        None => {
            let rt = rt();
            println!(
                "{:<26} {:>10} {:>10} {:>7}",
                "case", "ours ns", "ref ns", "ratio"
            );
            for (case, reference, _) in CASES.iter().filter(|c| !c.0.starts_with("ref_")) {
                let time = |name: &str| {
                    let n = 200_000;
                    let mut runs: Vec<Duration> = (0..5).map(|_| run_case(&rt, name, n)).collect();
                    runs.sort();
                    runs[2].as_secs_f64() * 1e9 / n as f64
                };
                let ours = time(case);
                if *reference == "-" {
                    println!("{case:<26} {ours:>10.1}");
                } else {
                    let r = time(reference);
                    println!("{case:<26} {ours:>10.1} {r:>10.1} {:>7.2}", ours / r);
                }
            }
            for k in [100, 10000] {
                for waiters in [false, true] {
                    let o = cancel_case(true, k, 100_000, waiters);
                    let r = cancel_case(false, k, 100_000, waiters);
                    let label = format!("cancel{}_{k} /child", if waiters { "w" } else { "" });
                    println!("{label:<26} {o:>10.1} {r:>10.1} {:>7.2}", o / r);
                }
            }
        }
        Some(other) => panic!("unknown mode {other}"),
    }
}
