//! Stress and soak: operations created, raced and cancelled across a multi-thread runtime from
//! several OS threads; afterwards no task beyond the baseline is alive, the registry is empty,
//! no link is left in a parent, and the process's heap is back where it started.
//!
//! * `CANCELABLE_STRESS_OPS` (default 1 000 000, about 10 s in a debug build on 2 cores):
//!   operations in the stress round.
//! * `CANCELABLE_SOAK_SECS` (default 0): then keeps going, round after round on one runtime, for
//!   that many seconds, and checks that the heap stays flat from round to round.
//!
//! ```text
//! cargo test --release -p cancelable-tests --test stress -- --nocapture
//! CANCELABLE_SOAK_SECS=600 cargo test --release -p cancelable-tests --test stress -- --nocapture
//! ```
//!
//! This is its own test binary, with a single test: the counting allocator is process-wide,
//! so nothing else may allocate beside it.

use std::alloc::System;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cancelable::test_util::token_registrations;
use cancelable::{
    Cancelable, CancellationError, CancellationReason, CancellationToken, OperationRegistry,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::runtime::{Handle, Runtime};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// OS threads that create, race and cancel operations, besides the runtime's workers.
const CLIENTS: usize = 4;
/// One more OS thread cancels operations the clients hand it, racing their ends.
const WORKERS: usize = 4;
/// Operations a client spawns before it waits for them and cancels what is left.
const BATCH: usize = 512;
/// What the heap may differ by after a round: allocator-independent slack for lazily grown
/// caches (tokio's, the registry's), far below what one leaked byte per operation would add.
const HEAP_SLACK: i64 = 256 * 1024;
const STRESS_PANIC: &str = "stress: the body panicked on purpose";

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, found {value:?}")),
        Err(_) => default,
    }
}

/// Net heap bytes and blocks in use by the whole process.
fn heap() -> (i64, i64) {
    let stats = GLOBAL.stats();
    let bytes = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
    let blocks = stats.allocations as i64 - stats.deallocations as i64;
    (bytes, blocks)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap()
}

/// xorshift64*: enough randomness to mix the kinds of operations, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How the operations of a round ended.
#[derive(Default)]
struct Tally {
    completed: AtomicU64,
    cancelled: [AtomicU64; 7],
    failed: AtomicU64,
    panicked: AtomicU64,
    aborted: AtomicU64,
}

impl Tally {
    fn record(&self, joined: Result<Result<Outcome, CancellationError>, tokio::task::JoinError>) {
        let counter = match joined {
            Ok(Ok(Outcome::Done)) => &self.completed,
            Ok(Ok(Outcome::Failed)) => &self.failed,
            Ok(Err(error)) => &self.cancelled[reason_index(error.reason())],
            Err(error) if error.is_panic() => &self.panicked,
            Err(_) => &self.aborted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        let cancelled: u64 = self
            .cancelled
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        cancelled
            + [&self.completed, &self.failed, &self.panicked, &self.aborted]
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    fn summary(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let reasons = [
            "timeout",
            "manual",
            "signal",
            "condition",
            "parent",
            "disconnect",
            "dropped",
        ];
        let cancelled: Vec<String> = reasons
            .iter()
            .zip(&self.cancelled)
            .filter(|(_, c)| get(c) > 0)
            .map(|(name, c)| format!("{name} {}", get(c)))
            .collect();
        format!(
            "completed {}, cancelled [{}], failed {}, panicked {}, aborted {}",
            get(&self.completed),
            cancelled.join(", "),
            get(&self.failed),
            get(&self.panicked),
            get(&self.aborted),
        )
    }
}

fn reason_index(reason: CancellationReason) -> usize {
    match reason {
        CancellationReason::Timeout => 0,
        CancellationReason::Manual => 1,
        CancellationReason::Signal => 2,
        CancellationReason::Condition => 3,
        CancellationReason::Parent => 4,
        CancellationReason::Disconnect => 5,
        _ => 6,
    }
}

/// What a body returns, when it returns.
#[derive(Debug)]
enum Outcome {
    Done,
    Failed,
}

/// What a round shares between its OS threads.
struct Shared {
    handle: Handle,
    registry: OperationRegistry,
    tally: Tally,
    /// Handed to the canceller thread, which cancels them while they run, start or end.
    to_cancel: Mutex<Vec<Cancelable>>,
    clients_done: AtomicBool,
    /// Every batch's parent: checked for links left once the round is over.
    parents: Mutex<Vec<CancellationToken>>,
}

type Task = tokio::task::JoinHandle<Result<Outcome, CancellationError>>;

/// Spawns one operation of a kind picked at random, and races it as its kind says.
fn spawn_one(
    shared: &Shared,
    rng: &mut Rng,
    parent: &Cancelable,
    batch_token: &CancellationToken,
) -> Task {
    let micros = |rng: &mut Rng, max| Duration::from_micros(rng.below(max));
    let yields = rng.below(4);
    let kind = rng.below(16);
    let (op, body): (
        Cancelable,
        std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>>,
    ) = match kind {
        // Ready at once: the timer is never created.
        0..=2 => (
            Cancelable::with_timeout(Duration::from_secs(1)),
            Box::pin(async { Outcome::Done }),
        ),
        // A few yields under an any-of of a token and a timeout.
        3 | 4 => (
            Cancelable::with_token(batch_token.clone())
                .combine(Cancelable::with_timeout(Duration::from_millis(10))),
            Box::pin(yield_then(yields, Outcome::Done)),
        ),
        // A tiny timeout racing a tiny sleep.
        5 => {
            let sleep = micros(rng, 300);
            (
                Cancelable::with_timeout(micros(rng, 300)),
                Box::pin(async move {
                    tokio::time::sleep(sleep).await;
                    Outcome::Done
                }),
            )
        }
        // Cancelled by this OS thread right after the spawn, racing its start.
        6 | 7 => (
            Cancelable::new(),
            Box::pin(yield_then(yields, Outcome::Done)),
        ),
        // Cancelled by the canceller thread, racing its start, its yields and its end.
        8 => (
            Cancelable::new().named("handed over"),
            Box::pin(yield_then(yields, Outcome::Done)),
        ),
        // Runs until its batch's parent is cancelled.
        9 => (
            Cancelable::new().parent(parent),
            Box::pin(async {
                std::future::pending::<()>().await;
                Outcome::Done
            }),
        ),
        // A child task of its own, which ends with it.
        10 => (
            Cancelable::with_timeout(Duration::from_millis(5)),
            Box::pin(async move {
                let current = Cancelable::current().unwrap();
                let child = current.spawn(yield_then(yields, ()));
                let _ = child.await;
                Outcome::Done
            }),
        ),
        // A condition polled every millisecond, met after a few checks.
        11 => {
            let checks = Arc::new(AtomicUsize::new(0));
            let met_after = rng.below(4) as usize;
            (
                Cancelable::with_condition(
                    move || checks.fetch_add(1, Ordering::Relaxed) >= met_after,
                    Duration::from_millis(1),
                ),
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Outcome::Done
                }),
            )
        }
        // Registered, until the batch's `cancel_all` (or, if it had not started then, the
        // batch's token).
        12 => (
            Cancelable::with_token(batch_token.clone())
                .named("registered")
                .register_in(&shared.registry),
            Box::pin(async {
                std::future::pending::<()>().await;
                Outcome::Done
            }),
        ),
        // Aborted (the `run` future dropped) by this OS thread, racing its start.
        13 => (
            Cancelable::with_timeout(Duration::from_secs(60)),
            Box::pin(yield_then(yields, Outcome::Done)),
        ),
        // A panic, once in four; an error otherwise.
        14 => {
            let panics = rng.below(4) == 0;
            (
                Cancelable::new(),
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    if panics {
                        std::panic::panic_any(STRESS_PANIC);
                    }
                    Outcome::Failed
                }),
            )
        }
        // A shield racing a cancel from this thread.
        _ => (Cancelable::new(), Box::pin(async { Outcome::Done })),
    };
    let shielded = kind == 15;
    let action = op.clone();
    let task = shared.handle.spawn(async move {
        if shielded {
            let current = op.clone();
            return op
                .run(async move {
                    current.shield(tokio::task::yield_now()).await;
                    Outcome::Done
                })
                .await;
        }
        op.run(body).await
    });
    match kind {
        8 => shared.to_cancel.lock().unwrap().push(action),
        6 | 7 | 15 => {
            action.cancel_with(CancellationReason::Manual, "raced");
        }
        13 => task.abort(),
        _ => {}
    }
    task
}

async fn yield_then<T>(yields: u64, value: T) -> T {
    for _ in 0..yields {
        tokio::task::yield_now().await;
    }
    value
}

/// One client OS thread: `ops` operations in batches.
fn client(shared: &Shared, seed: u64, ops: usize) {
    let mut rng = Rng(seed | 1);
    let mut remaining = ops;
    let mut tasks = Vec::with_capacity(BATCH);
    while remaining > 0 {
        let n = remaining.min(BATCH);
        remaining -= n;
        let parent = Cancelable::new().named("batch");
        let batch_token = CancellationToken::new();
        shared.parents.lock().unwrap().push(parent.token());
        for _ in 0..n {
            tasks.push(spawn_one(shared, &mut rng, &parent, &batch_token));
        }
        parent.cancel_with(CancellationReason::Manual, "batch over");
        batch_token.cancel();
        shared
            .registry
            .cancel_all(CancellationReason::Disconnect, "batch over");
        shared.handle.block_on(async {
            for task in tasks.drain(..) {
                shared.tally.record(task.await);
            }
        });
        // Operations registered after the `cancel_all` above, by a slower client's batch,
        // are that client's to cancel.
        drop(parent);
    }
}

/// The canceller OS thread: cancels what the clients hand it until they are done.
fn canceller(shared: &Shared) {
    loop {
        let done = shared.clients_done.load(Ordering::Acquire);
        let batch = std::mem::take(&mut *shared.to_cancel.lock().unwrap());
        for op in batch {
            op.cancel_with(CancellationReason::Manual, "canceller");
        }
        if done {
            return;
        }
        std::thread::yield_now();
    }
}

/// Runs `ops` operations on `rt`, then checks that they left nothing behind but the heap.
fn round(rt: &Runtime, ops: usize) -> Tally {
    let shared = Shared {
        handle: rt.handle().clone(),
        registry: OperationRegistry::with_history_limit(100),
        tally: Tally::default(),
        to_cancel: Mutex::default(),
        clients_done: AtomicBool::new(false),
        parents: Mutex::default(),
    };
    let baseline_tasks = rt.metrics().num_alive_tasks();
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let shared = &shared;
                let share = ops / CLIENTS + usize::from(i < ops % CLIENTS);
                scope.spawn(move || client(shared, 0x9E37_79B9 * (i as u64 + 1), share))
            })
            .collect();
        let cancelling = scope.spawn(|| canceller(&shared));
        for client in clients {
            client.join().unwrap();
        }
        shared.clients_done.store(true, Ordering::Release);
        cancelling.join().unwrap();
    });

    assert_eq!(shared.tally.total(), ops as u64, "every operation ended");
    // Child tasks end with their operation; give the workers a moment to drop them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().num_alive_tasks() > baseline_tasks && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        rt.metrics().num_alive_tasks(),
        baseline_tasks,
        "tasks outlived their operations"
    );
    assert!(
        shared.registry.list().is_empty(),
        "the registry is not empty"
    );
    assert_eq!(shared.registry.statistics().running.total(), 0);
    for parent in shared.parents.lock().unwrap().iter() {
        assert_eq!(
            token_registrations(parent),
            (0, 0),
            "a link is left in a batch's parent"
        );
    }
    shared.tally
}

/// Silences the panics the bodies raise on purpose; any other panic is reported as usual.
fn quiet_planned_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&STRESS_PANIC) {
            default(info);
        }
    }));
}

/// Ends the process if the test outlives `limit`: a lost wake-up would otherwise hang CI.
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("stress: still running after {limit:?}; an operation never ended");
        std::process::exit(1);
    });
}

#[test]
fn stress_then_soak() {
    quiet_planned_panics();
    let ops = env_number("CANCELABLE_STRESS_OPS", 1_000_000) as usize;
    let soak = Duration::from_secs(env_number("CANCELABLE_SOAK_SECS", 0));
    watchdog(Duration::from_secs(600 + ops as u64 / 10_000) + soak * 2);

    // Warm up: every lazily created global, thread-local and cache exists before the baseline.
    {
        let rt = runtime();
        round(&rt, 20_000.min(ops));
    }
    let (start_bytes, start_blocks) = heap();

    let rt = runtime();
    let started = Instant::now();
    let tally = round(&rt, ops);
    let elapsed = started.elapsed();
    let (round_bytes, round_blocks) = heap();
    drop(rt);
    let (end_bytes, end_blocks) = heap();
    println!(
        "stress: {ops} operations from {CLIENTS} OS threads on {WORKERS} workers in {elapsed:.2?} \
         ({:.0} ops/s); {}",
        ops as f64 / elapsed.as_secs_f64(),
        tally.summary(),
    );
    println!(
        "stress: heap after the round {:+} B in {:+} blocks (runtime still up), after dropping \
         the runtime {:+} B in {:+} blocks",
        round_bytes - start_bytes,
        round_blocks - start_blocks,
        end_bytes - start_bytes,
        end_blocks - start_blocks,
    );
    assert!(
        (end_bytes - start_bytes).abs() <= HEAP_SLACK,
        "the heap did not come back: {:+} bytes after {ops} operations",
        end_bytes - start_bytes
    );

    if soak.is_zero() {
        return;
    }
    let rt = runtime();
    let per_round = ops.clamp(10_000, 200_000);
    let soak_start = Instant::now();
    let mut total = 0;
    let mut plateau = None;
    let mut rounds = 0;
    while soak_start.elapsed() < soak {
        let started = Instant::now();
        round(&rt, per_round);
        total += per_round;
        rounds += 1;
        let (bytes, blocks) = heap();
        // The first round sizes the caches; every later one must stay within the slack of it.
        let plateau = *plateau.get_or_insert(bytes);
        println!(
            "soak: round {rounds}: {per_round} ops in {:.2?}, {total} in {:.0?}, heap {:+} B \
             ({:+} blocks) from the start, {:+} B from the first round, {} tasks alive",
            started.elapsed(),
            soak_start.elapsed(),
            bytes - start_bytes,
            blocks - start_blocks,
            bytes - plateau,
            rt.metrics().num_alive_tasks(),
        );
        assert!(
            bytes - plateau <= HEAP_SLACK,
            "the heap grows from round to round: {:+} bytes after {total} operations",
            bytes - plateau
        );
    }
    drop(rt);
    let (end_bytes, _) = heap();
    println!(
        "soak: {total} operations in {:.0?}; heap after dropping the runtime {:+} B",
        soak_start.elapsed(),
        end_bytes - start_bytes
    );
    assert!((end_bytes - start_bytes).abs() <= HEAP_SLACK);
}
