//! Timeouts and deadlines on the paused clock.

use std::time::Duration;

use cancelable::{Cancelable, CancelationReason, OperationStatus};
use tokio::time::{Instant, advance, sleep};

#[tokio::test(start_paused = true)]
async fn clock_starts_at_run_not_construction() {
    let op = Cancelable::with_timeout(Duration::from_secs(1));
    advance(Duration::from_secs(5)).await;
    let start = Instant::now();
    let result = op.run(sleep(Duration::from_millis(900))).await;
    assert!(
        result.is_ok(),
        "5s passed before run, yet the 1s timeout did not fire"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(900));
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_with_reason_timeout_recorded_by_the_operation_token() {
    let op = Cancelable::with_timeout(Duration::from_secs(2)).named("slow");
    let token = op.token();
    let start = Instant::now();
    let err = op.run(sleep(Duration::from_secs(60))).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(err.reason(), CancelationReason::Timeout);
    assert_eq!(err.message(), Some("timeout after 2s"));
    assert_eq!(
        token.reason(),
        Some(CancelationReason::Timeout),
        "the op's own token records it"
    );
    assert_eq!(op.status(), OperationStatus::Cancelled);
    assert_eq!(op.reason(), Some(CancelationReason::Timeout));
}

#[tokio::test(start_paused = true)]
async fn zero_timeout_is_already_expired() {
    let op = Cancelable::with_timeout(Duration::ZERO);
    let err = op.run(sleep(Duration::from_millis(1))).await.unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test(start_paused = true)]
async fn ready_body_wins_even_with_zero_timeout() {
    // Like `tokio::time::timeout`: a body ready on its first poll is never timed out.
    let op = Cancelable::with_timeout(Duration::ZERO);
    assert_eq!(op.run(async { 5 }).await, Ok(5));
}

#[tokio::test(start_paused = true)]
async fn deadline_fires_at_the_instant() {
    let deadline = Instant::now() + Duration::from_millis(300);
    let op = Cancelable::with_deadline(deadline);
    let err = op.run(sleep(Duration::from_secs(1))).await.unwrap_err();
    assert_eq!(Instant::now(), deadline);
    assert_eq!(err.message(), Some("deadline exceeded"));
}

#[tokio::test(start_paused = true)]
async fn earliest_timeout_wins_whatever_the_order() {
    for (first, second) in [(100, 1000), (1000, 100)] {
        let op = Cancelable::with_timeout(Duration::from_millis(first))
            .combine(Cancelable::with_timeout(Duration::from_millis(second)));
        let start = Instant::now();
        let err = op.run(sleep(Duration::from_secs(10))).await.unwrap_err();
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(100),
            "order {first}/{second}"
        );
        assert_eq!(err.message(), Some("timeout after 100ms"));
    }
    // Deadline against timeout, nested composites.
    let op = Cancelable::any_of([
        Cancelable::any_of([Cancelable::with_timeout(Duration::from_secs(3))]),
        Cancelable::with_deadline(Instant::now() + Duration::from_secs(2)),
        Cancelable::with_timeout(Duration::from_secs(5)),
    ]);
    let start = Instant::now();
    op.run(sleep(Duration::from_secs(10))).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn far_and_huge_timeouts_do_not_overflow() {
    let op = Cancelable::with_timeout(Duration::MAX);
    assert_eq!(op.run(sleep(Duration::from_secs(3600))).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn free_with_timeout() {
    let err = cancelable::with_timeout(Duration::from_secs(1), sleep(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        cancelable::with_timeout(Duration::from_secs(1), async { "ok" }).await,
        Ok("ok")
    );
}
