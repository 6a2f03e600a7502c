//! All-of: cancel only once *every* member has fired.
//!
//! A health probe must keep running for at least 300 ms *and* until three consecutive checks
//! have succeeded; a safety timeout of 2 s stops it regardless. That is
//! `any_of([timeout(2s), all_of([timeout(300ms), condition(3 successes)])])`.
//!
//! 1. Successes come quickly: the probe still runs until the 300 ms minimum.
//! 2. Successes come late: the minimum is long past; the condition decides.
//! 3. Successes never come: the safety timeout fires.
//!
//! The message of an all-of names every member, in order; its reason is the last to fire.
//!
//! Run it with `cargo run --example all_of` (about three seconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cancelable::Cancelable;
use tokio::time::{Instant, sleep};

fn probe_scope(successes: &Arc<AtomicU32>) -> Cancelable {
    let successes = successes.clone();
    Cancelable::any_of([
        Cancelable::with_timeout(Duration::from_secs(2)),
        Cancelable::all_of([
            Cancelable::with_timeout(Duration::from_millis(300)),
            Cancelable::with_named_condition(
                "three_successes",
                move || successes.load(Ordering::Relaxed) >= 3,
                Duration::from_millis(10),
            ),
        ]),
    ])
    .named("health_probe")
}

/// Probes every 20 ms; the service becomes healthy after `healthy_after`.
async fn probe(successes: Arc<AtomicU32>, healthy_after: Option<Duration>) {
    let start = Instant::now();
    loop {
        sleep(Duration::from_millis(20)).await;
        let healthy = healthy_after.is_some_and(|after| start.elapsed() >= after);
        if healthy {
            successes.fetch_add(1, Ordering::Relaxed);
        } else {
            successes.store(0, Ordering::Relaxed);
        }
    }
}

#[tokio::main]
async fn main() {
    for (label, healthy_after) in [
        ("1. healthy at once    ", Some(Duration::ZERO)),
        ("2. healthy after 600ms", Some(Duration::from_millis(600))),
        ("3. never healthy      ", None),
    ] {
        let successes = Arc::new(AtomicU32::new(0));
        let op = probe_scope(&successes);
        let start = Instant::now();
        let err = op.run(probe(successes, healthy_after)).await.unwrap_err();
        println!(
            "{label}: stopped after {:>4} ms, reason {:<9} — {}",
            start.elapsed().as_millis(),
            err.reason().to_string(),
            err.message().unwrap_or_default()
        );
    }
}
