//! A three-second tour of `cancelable`:
//!
//! 1. a timeout fires and drops the work;
//! 2. a token is cancelled from a plain OS thread;
//! 3. an any-of combination reports which source won;
//! 4. a shield lets cleanup finish after a cancellation;
//! 5. cancelling a parent stops the children it spawned;
//! 6. a graceful shutdown stops a service's work and reports what had to be forced.
//!
//! Run it with `cargo run --example quickstart`.

use std::time::Duration;

use cancelable::shutdown::Shutdown;
use cancelable::{Cancelable, CancellationError, CancellationReason, CancellationToken};
use tokio::time::{Instant, sleep};

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let t = move || format!("{:>5}ms", started.elapsed().as_millis());

    // 1. A timeout.
    println!("{} 1. timeout: a 2s download under a 300ms timeout", t());
    let download = Cancelable::with_timeout(Duration::from_millis(300)).named("download");
    let outcome = download.run(sleep(Duration::from_secs(2))).await;
    report(&t(), outcome);

    // 2. A token cancelled from another OS thread: no runtime there, no bridge task.
    println!(
        "{} 2. token: an OS thread cancels the operation after 200ms",
        t()
    );
    let token = CancellationToken::new();
    let remote = token.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        remote.cancel_with(CancellationReason::Manual, "operator pressed stop");
    });
    let job = Cancelable::with_token(token).named("report_job");
    let outcome = job.run(std::future::pending::<()>()).await;
    report(&t(), outcome);
    canceller.join().expect("the canceller thread panicked");

    // 3. Any-of: whichever source fires first wins, with its own reason and message.
    println!(
        "{} 3. any-of: timeout(1s) | condition(queue drained) | timeout(5s)",
        t()
    );
    let drained_at = Instant::now() + Duration::from_millis(250);
    let op = Cancelable::any_of([
        Cancelable::with_timeout(Duration::from_secs(1)),
        Cancelable::with_named_condition(
            "queue_drained",
            move || Instant::now() >= drained_at,
            Duration::from_millis(50),
        ),
        Cancelable::with_timeout(Duration::from_secs(5)),
    ])
    .named("consumer");
    let outcome = op.run(std::future::pending::<()>()).await;
    report(&t(), outcome);

    // 4. A shield: cleanup that outlives the timeout still completes.
    println!(
        "{} 4. shield: cleanup (400ms) outlives a 100ms timeout",
        t()
    );
    let op = Cancelable::with_timeout(Duration::from_millis(100)).named("transfer");
    let outcome = op
        .run(async {
            op.shield(async {
                sleep(Duration::from_millis(400)).await;
                println!(
                    "{}    shielded cleanup finished (committed the partial transfer)",
                    t()
                );
            })
            .await;
            sleep(Duration::from_secs(10)).await;
        })
        .await;
    report(&t(), outcome);

    // 5. A parent cancels the children it spawned.
    println!(
        "{} 5. parent/child: three spawned workers, parent cancelled at 200ms",
        t()
    );
    let parent = Cancelable::new().named("batch");
    let workers: Vec<_> = (1..=3)
        .map(|i| {
            parent.spawn(async move {
                sleep(Duration::from_secs(10)).await;
                i
            })
        })
        .collect();
    sleep(Duration::from_millis(200)).await;
    parent.cancel_with(CancellationReason::Manual, "batch aborted");
    for (i, worker) in workers.into_iter().enumerate() {
        let err = worker
            .await
            .expect("worker panicked")
            .expect_err("the worker was cancelled");
        let cause = err.cause().map(ToString::to_string).unwrap_or_default();
        println!(
            "{}    worker {}: {} (cause: {cause})",
            t(),
            i + 1,
            err.reason()
        );
    }

    // 6. A graceful shutdown: a worker that stops when asked, a cleanup that will not.
    println!(
        "{} 6. shutdown: a worker and a stuck cleanup, 300ms of grace",
        t()
    );
    let shutdown = Shutdown::builder()
        .on_signals([]) // a service keeps the default: SIGINT and SIGTERM
        .grace(Duration::from_millis(300))
        .build();
    shutdown.root().spawn(async {
        loop {
            sleep(Duration::from_millis(50)).await;
        }
    });
    let stuck = Cancelable::new()
        .named("flush_cache")
        .parent(shutdown.root());
    tokio::spawn(async move {
        stuck
            .run(async {
                let op = Cancelable::current().expect("inside the operation");
                op.shield(sleep(Duration::from_secs(10))).await
            })
            .await
    });
    tokio::task::yield_now().await;
    shutdown.trigger("deploy");
    let root = shutdown.root().clone();
    let report = shutdown.run(async move { root.cancelled().await }).await;
    for line in report.to_string().lines() {
        println!("{}    {line}", t());
    }

    println!("{} done", t());
}

fn report<T: std::fmt::Debug>(at: &str, outcome: Result<T, CancellationError>) {
    match outcome {
        Ok(value) => println!("{at}    completed: {value:?}"),
        Err(err) => println!("{at}    {err} [reason: {}]", err.reason()),
    }
}
