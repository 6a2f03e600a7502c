//! Polled conditions: timing, async predicates, panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason};
use tokio::time::{Instant, sleep};

#[tokio::test(start_paused = true)]
async fn first_check_at_start_then_every_interval() {
    let checks = Arc::new(AtomicU32::new(0));
    let c = checks.clone();
    let op = Cancelable::with_condition(
        move || c.fetch_add(1, Ordering::SeqCst) + 1 == 4,
        Duration::from_secs(1),
    );
    let body = async {
        tokio::task::yield_now().await;
        let at_start = checks.load(Ordering::SeqCst);
        sleep(Duration::from_secs(10)).await;
        at_start
    };
    let start = Instant::now();
    let err = op.run(body).await.unwrap_err();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(3),
        "checks at 0s, 1s, 2s, 3s"
    );
    assert_eq!(checks.load(Ordering::SeqCst), 4);
    assert_eq!(err.reason(), CancellationReason::Condition);
    assert!(
        err.message().unwrap().ends_with("met after 4 checks"),
        "{err}"
    );
}

fn disk_almost_full() -> bool {
    true
}

#[tokio::test(start_paused = true)]
async fn fn_items_name_the_condition() {
    let op = Cancelable::with_condition(disk_almost_full, Duration::from_secs(1));
    let err = op.run(sleep(Duration::from_secs(1))).await.unwrap_err();
    assert_eq!(
        err.message(),
        Some("condition `disk_almost_full` met after 1 check")
    );
}

#[tokio::test(start_paused = true)]
async fn async_predicates() {
    let met = Arc::new(AtomicBool::new(false));
    let m = met.clone();
    let op = Cancelable::with_async_condition(
        move || {
            let m = m.clone();
            async move {
                sleep(Duration::from_millis(5)).await; // e.g. a health probe
                m.load(Ordering::SeqCst)
            }
        },
        Duration::from_millis(100),
    );
    let m = met.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(150)).await;
        m.store(true, Ordering::SeqCst);
    });
    let start = Instant::now();
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Condition);
    // Checks start at 0, 105 (interval after the first probe), 205: the third sees the flag.
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() <= Duration::from_millis(215),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn panicking_predicate_counts_as_not_met_and_monitoring_goes_on() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let op = Cancelable::with_condition(
        move || {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= 2 {
                panic!("sensor offline");
            }
            n == 3
        },
        Duration::from_millis(10),
    );
    let err = op.run(sleep(Duration::from_secs(1))).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(err.message().unwrap().ends_with("met after 3 checks"));
}

#[tokio::test(start_paused = true)]
async fn panicking_async_predicate_counts_as_not_met() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let op = Cancelable::with_async_condition(
        move || {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n == 1 {
                    panic!("probe crashed");
                }
                true
            }
        },
        Duration::from_millis(10),
    );
    let start = Instant::now();
    op.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn conditions_spawn_no_task() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let op = Cancelable::with_condition(|| false, Duration::from_millis(10));
    let observed = op
        .run(async {
            sleep(Duration::from_millis(55)).await;
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
        })
        .await
        .unwrap();
    assert_eq!(observed, before);
}

#[tokio::test(start_paused = true)]
async fn a_condition_due_with_the_body_stops_the_body_before_it_runs_again() {
    let start = tokio::time::Instant::now();
    let op = Cancelable::with_condition(
        move || start.elapsed() >= Duration::from_millis(10),
        Duration::from_millis(10),
    );
    let mut last_seen = Duration::ZERO;
    let err = op
        .run(async {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                last_seen = start.elapsed();
            }
        })
        .await
        .unwrap_err();
    assert!(err.is_condition());
    assert_eq!(
        last_seen,
        Duration::from_millis(9),
        "woken at 10 ms by both, the condition is checked first"
    );
}
