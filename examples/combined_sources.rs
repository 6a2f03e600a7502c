//! Several sources on one operation, any-of: the first to fire wins, and the error says which.
//!
//! A job runs under a timeout, a user's token, `SIGINT`/`SIGTERM` and a condition. Three runs
//! let a different source win each time:
//!
//! 1. the condition (an error budget) fires first;
//! 2. the user's token is cancelled first;
//! 3. nothing else fires, so the timeout does; among several timeouts the earliest wins,
//!    whatever the order they were combined in.
//!
//! It also shows `a.combine(b)`, which keeps `a`'s name, and `cancel_combine!`, the macro form.
//!
//! Run it with `cargo run --example combined_sources` (about one second).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, CancellationToken, Signal, cancel_combine};
use tokio::time::{Instant, sleep};

/// The job's sources: timeout, token, signals and an error-budget condition.
fn sources(timeout: Duration, stop: &CancellationToken, errors: &Arc<AtomicU32>) -> Cancelable {
    let errors = errors.clone();
    Cancelable::any_of([
        Cancelable::with_timeout(timeout),
        Cancelable::with_token(stop.clone()),
        Cancelable::with_signal([Signal::Int, Signal::Term]),
        Cancelable::with_named_condition(
            "error_budget_spent",
            move || errors.load(Ordering::Relaxed) >= 3,
            Duration::from_millis(10),
        ),
    ])
}

/// Processes records; every `error_every`-th one fails.
async fn job(errors: Arc<AtomicU32>, error_every: u32) {
    for record in 1.. {
        sleep(Duration::from_millis(20)).await;
        if error_every != 0 && record % error_every == 0 {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn show(label: &str, op: Cancelable, work: impl Future<Output = ()>) {
    let started = Instant::now();
    let err = op.run(work).await.unwrap_err();
    println!(
        "{label}: after {:>3} ms, reason {:<9} — {err}",
        started.elapsed().as_millis(),
        err.reason().to_string()
    );
}

#[tokio::main]
async fn main() {
    // 1. Every second record fails: the budget of three errors is spent first.
    let (stop, errors) = (CancellationToken::new(), Arc::new(AtomicU32::new(0)));
    let op = sources(Duration::from_secs(2), &stop, &errors).named("import");
    show("1. condition", op, job(errors.clone(), 2)).await;

    // 2. The user stops the job after 150 ms.
    let (stop, errors) = (CancellationToken::new(), Arc::new(AtomicU32::new(0)));
    let op = sources(Duration::from_secs(2), &stop, &errors).named("import");
    let user = stop.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(150)).await;
        user.cancel_with(CancellationReason::Manual, "stopped from the UI");
    });
    show("2. token    ", op, job(errors, 0)).await;

    // 3. Nothing else fires: the earliest of three timeouts wins.
    let (stop, errors) = (CancellationToken::new(), Arc::new(AtomicU32::new(0)));
    let op = Cancelable::with_timeout(Duration::from_secs(5))
        .combine(sources(Duration::from_millis(300), &stop, &errors))
        .combine(Cancelable::with_timeout(Duration::from_secs(1)))
        .named("import");
    show("3. timeout  ", op, job(errors, 0)).await;

    // The macro takes the same options as `#[cancelable]`, checked at compile time.
    let stop = CancellationToken::new();
    let op = cancel_combine!(
        timeout = "150ms",
        signal = ["SIGINT", "SIGTERM"],
        token = stop.clone()
    )
    .named("macro_combined");
    show("4. macro    ", op, std::future::pending()).await;
}
