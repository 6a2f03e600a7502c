//! `Cancelable::deadline` and `remaining`: the earliest fixed deadline of an operation and its
//! ancestors, on the paused clock.

use std::time::Duration;

use cancelable::Cancelable;
use tokio::time::{Instant, advance, sleep};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_timeout_counts_from_run_and_stays_after_the_end() {
    let op = Cancelable::with_timeout(2 * SECOND);
    advance(5 * SECOND).await;
    assert_eq!(op.deadline(), None, "the timeout's clock has not started");
    assert_eq!(op.remaining(), None);
    let start = Instant::now();
    op.run(async {
        assert_eq!(op.deadline(), Some(start + 2 * SECOND));
        sleep(SECOND / 2).await;
        assert_eq!(op.remaining(), Some(SECOND * 3 / 2));
    })
    .await
    .unwrap();
    assert_eq!(op.deadline(), Some(start + 2 * SECOND));
}

#[tokio::test(start_paused = true)]
async fn an_absolute_deadline_counts_from_construction() {
    let at = Instant::now() + 3 * SECOND;
    let op = Cancelable::with_deadline(at);
    assert_eq!(op.deadline(), Some(at));
    advance(SECOND).await;
    assert_eq!(op.remaining(), Some(2 * SECOND));
}

#[tokio::test(start_paused = true)]
async fn the_earliest_of_a_combination_wins() {
    let start = Instant::now();
    let op = Cancelable::with_timeout(10 * SECOND)
        .combine(Cancelable::with_deadline(start + 4 * SECOND))
        .combine(Cancelable::with_timeout(6 * SECOND));
    assert_eq!(op.deadline(), Some(start + 4 * SECOND));
    op.run(async { assert_eq!(op.deadline(), Some(start + 4 * SECOND)) })
        .await
        .unwrap();

    let op =
        Cancelable::with_timeout(SECOND).combine(Cancelable::with_deadline(start + 4 * SECOND));
    op.run(async { assert_eq!(op.remaining(), Some(SECOND)) })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_unrun_child_sees_its_running_parents_deadline() {
    let parent = Cancelable::with_timeout(3 * SECOND);
    let start = Instant::now();
    parent
        .run(async {
            let child = Cancelable::with_timeout(10 * SECOND).parent(&parent);
            assert_eq!(child.deadline(), Some(start + 3 * SECOND));
            let grandchild = child.child();
            assert_eq!(grandchild.remaining(), Some(3 * SECOND));
            sleep(SECOND).await;
            // Its own, shorter timeout wins once it runs.
            let short = Cancelable::with_timeout(SECOND / 2).parent(&parent);
            short
                .run(async { assert_eq!(short.deadline(), Some(start + SECOND * 3 / 2)) })
                .await
                .unwrap();
            // A longer one is capped by the parent.
            child
                .run(async { assert_eq!(child.remaining(), Some(2 * SECOND)) })
                .await
                .unwrap();
        })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_adopted_child_sees_the_deadline_once_it_runs() {
    let outer = Cancelable::with_timeout(5 * SECOND);
    let start = Instant::now();
    outer
        .run(async {
            let inner = Cancelable::new();
            assert_eq!(inner.deadline(), None, "not a child until it runs");
            inner
                .run(async {
                    assert_eq!(inner.deadline(), Some(start + 5 * SECOND));
                    let innermost = Cancelable::current().unwrap();
                    assert_eq!(innermost.remaining(), Some(5 * SECOND));
                })
                .await
                .unwrap();
        })
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn remaining_is_zero_once_the_deadline_passed() {
    let op = Cancelable::with_timeout(SECOND).grace(5 * SECOND);
    let mut seen = None;
    let err = op
        .run(async {
            op.cancelled().await;
            sleep(SECOND).await;
            seen = op.remaining();
        })
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(seen, Some(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn no_deadline_anywhere_is_none() {
    let parent = Cancelable::new();
    parent
        .run(async {
            let child = Cancelable::new().parent(&parent);
            child
                .run(async { assert_eq!(child.deadline(), None) })
                .await
                .unwrap();
        })
        .await
        .unwrap();
    assert_eq!(parent.remaining(), None);
}
