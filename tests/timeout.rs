//! Timeouts and deadlines on the paused clock.

use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, OperationStatus};
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
    assert_eq!(err.reason(), CancellationReason::Timeout);
    assert_eq!(err.message(), Some("timeout after 2s"));
    assert_eq!(
        token.reason(),
        Some(CancellationReason::Timeout),
        "the op's own token records it"
    );
    assert_eq!(op.status(), OperationStatus::Cancelled);
    assert_eq!(op.reason(), Some(CancellationReason::Timeout));
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

// ===== the edges of time =====

/// About 31 years: past the 30 years tokio (and this crate) use for "never".
const CENTURY_ISH: Duration = Duration::from_secs(86_400 * 365 * 31);

/// Runs a pending body under `timeout` while the clock jumps `jump` four times; `true` if the
/// timeout fired.
async fn fires_after_jumps(timeout: Duration, jump: Duration) -> bool {
    let op = Cancelable::with_timeout(timeout);
    let handle = op.clone();
    let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    for _ in 0..4 {
        advance(jump).await;
        tokio::task::yield_now().await;
    }
    let fired = handle.is_cancelled();
    handle.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.is_timeout(), fired);
    fired
}

#[tokio::test(start_paused = true)]
async fn huge_timeouts_do_not_overflow_when_the_clock_jumps() {
    // Representable deadlines (`u64::MAX` ms is 584 million years away) are kept exactly.
    assert!(!fires_after_jumps(Duration::from_millis(u64::MAX), CENTURY_ISH).await);
    assert!(!fires_after_jumps(Duration::from_secs(86_400 * 365 * 200), CENTURY_ISH).await);
    // Unrepresentable ones: no overflow, no panic, no fire within decades.
    for timeout in [
        Duration::MAX,
        Duration::from_secs(u64::MAX),
        Duration::MAX - Duration::from_nanos(1),
    ] {
        assert!(
            !fires_after_jumps(timeout, Duration::from_secs(86_400 * 365 * 7)).await,
            "{timeout:?}"
        );
    }
}

/// A timeout too long to represent as an `Instant` means "never", not "in 30 years".
#[tokio::test(start_paused = true)]
async fn unrepresentable_timeouts_never_fire() {
    for timeout in [Duration::MAX, Duration::from_secs(u64::MAX)] {
        assert!(
            !fires_after_jumps(timeout, CENTURY_ISH).await,
            "{timeout:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn far_deadline_never_fires() {
    let far = Instant::now() + Duration::from_secs(86_400 * 365 * 1000);
    let op = Cancelable::with_deadline(far);
    let handle = op.clone();
    let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    advance(CENTURY_ISH).await;
    tokio::task::yield_now().await;
    assert!(!handle.is_cancelled());
    handle.cancel();
    assert!(task.await.unwrap().unwrap_err().is_manual());
}

#[tokio::test(start_paused = true)]
async fn deadline_in_the_past_is_already_expired() {
    advance(Duration::from_secs(10)).await;
    let past = Instant::now() - Duration::from_secs(5);
    let start = Instant::now();
    let err = Cancelable::with_deadline(past)
        .run(sleep(Duration::from_secs(1)))
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("deadline exceeded"));
    assert_eq!(start.elapsed(), Duration::ZERO, "fired at once");
    // Like a zero timeout: a body ready on its first poll still wins.
    assert_eq!(
        Cancelable::with_deadline(past).run(async { 3 }).await,
        Ok(3)
    );
    assert_eq!(
        Cancelable::with_deadline(Instant::now())
            .run(async { 4 })
            .await,
        Ok(4)
    );
}

#[tokio::test(start_paused = true)]
async fn zero_everywhere() {
    // A zero timeout combined with a long one, a past deadline and a zero check interval.
    let op = Cancelable::with_timeout(Duration::from_secs(60))
        .combine(Cancelable::with_timeout(Duration::ZERO))
        .combine(Cancelable::with_condition(|| false, Duration::ZERO));
    let start = Instant::now();
    let err = op.run(sleep(Duration::from_secs(1))).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(err.message(), Some("timeout after 0ms"));
    assert_eq!(start.elapsed(), Duration::ZERO);

    // A zero check interval polls without spinning the clock away.
    let checks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = checks.clone();
    let op = Cancelable::with_condition(
        move || counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 4,
        Duration::ZERO,
    );
    assert!(
        op.run(std::future::pending::<()>())
            .await
            .unwrap_err()
            .is_condition()
    );
    assert_eq!(checks.load(std::sync::atomic::Ordering::SeqCst), 5);

    // `all_of` with a zero member waits for the other.
    let op = Cancelable::all_of([
        Cancelable::with_timeout(Duration::ZERO),
        Cancelable::with_timeout(Duration::from_millis(250)),
    ]);
    let start = Instant::now();
    op.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(250));
}

#[tokio::test(start_paused = true)]
async fn clock_advanced_in_jumps() {
    let op = Cancelable::with_timeout(Duration::from_secs(10));
    let handle = op.clone();
    let start = Instant::now();
    let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    tokio::task::yield_now().await;
    for _ in 0..3 {
        advance(Duration::from_secs(3)).await;
        assert!(
            !handle.is_cancelled(),
            "fired early, at {:?}",
            start.elapsed()
        );
    }
    advance(Duration::from_millis(999)).await;
    assert!(!handle.is_cancelled());
    advance(Duration::from_millis(1)).await;
    let err = task.await.unwrap().unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(start.elapsed(), Duration::from_secs(10));

    // One jump far past the deadline: cancelled once, with the timeout's own message.
    let op = Cancelable::with_timeout(Duration::from_secs(1));
    let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    tokio::task::yield_now().await;
    advance(Duration::from_secs(86_400 * 365)).await;
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.message(), Some("timeout after 1s"));
}

#[tokio::test(start_paused = true)]
async fn a_jump_does_not_replay_missed_condition_checks() {
    let checks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = checks.clone();
    let op = Cancelable::with_condition(
        move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            false
        },
        Duration::from_millis(100),
    );
    let handle = op.clone();
    let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    tokio::task::yield_now().await;
    assert_eq!(checks.load(std::sync::atomic::Ordering::SeqCst), 1);
    // An hour in one jump (a suspended laptop, a paused VM): one more check, not 36 000.
    advance(Duration::from_secs(3600)).await;
    tokio::task::yield_now().await;
    let after_jump = checks.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=3).contains(&after_jump), "{after_jump} checks");
    handle.cancel();
    task.await.unwrap().unwrap_err();
}

#[tokio::test(start_paused = true)]
async fn the_longest_timeout_the_macro_accepts() {
    #[cancelable::cancelable(timeout = "18446744073709551615ms")]
    async fn patient() -> u32 {
        tokio::time::sleep(Duration::from_secs(86_400)).await;
        7
    }
    assert_eq!(patient().await, Ok(7));
}

#[tokio::test(start_paused = true)]
async fn free_with_timeout_at_the_edges() {
    assert_eq!(
        cancelable::with_timeout(Duration::MAX, sleep(Duration::from_secs(3600))).await,
        Ok(())
    );
    assert!(
        cancelable::with_timeout(Duration::ZERO, sleep(Duration::from_secs(1)))
            .await
            .unwrap_err()
            .is_timeout()
    );
}
