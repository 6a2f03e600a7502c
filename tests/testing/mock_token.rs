//! `MockCancellationToken`: every call recorded, scheduled cancels that fire on the dot and
//! can be aborted.

use std::sync::{Arc, Mutex};

use cancelable::testing::{CancelCall, MockCancellationToken};
use cancelable::{Cancelable, CancellationReason, CancellationToken};
use tokio::time::sleep;

use super::{ms, secs};

#[tokio::test(start_paused = true)]
async fn a_token_cancelled_twice_has_two_entries_and_only_the_first_took_effect() {
    let mock = MockCancellationToken::new();
    sleep(ms(100)).await;
    assert!(mock.cancel_with(CancellationReason::Condition, "disk full"));
    sleep(ms(50)).await;
    assert!(!mock.cancel());

    assert_eq!(mock.cancel_count(), 2);
    let history = mock.history();
    assert_eq!(
        (history[0].at, history[0].reason, history[0].took_effect),
        (ms(100), CancellationReason::Condition, true)
    );
    assert_eq!(history[0].message.as_deref(), Some("disk full"));
    assert_eq!(
        (history[1].at, history[1].reason, history[1].took_effect),
        (ms(150), CancellationReason::Manual, false)
    );
    assert_eq!(history[1].message, None);
    // The first cancel won, as on any token.
    assert_eq!(mock.token().reason(), Some(CancellationReason::Condition));
    assert_eq!(mock.token().message().as_deref(), Some("disk full"));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_cancel_fires_at_exactly_its_delay() {
    let mock = MockCancellationToken::new();
    let scheduled = mock.schedule_cancel(secs(1), CancellationReason::Manual, "later");
    let op = Cancelable::with_token(&mock).named("waiting");
    let start = tokio::time::Instant::now();
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(start.elapsed(), secs(1));
    assert_eq!(err.message(), Some("later"));

    let call: CancelCall = scheduled.await.expect("it fired");
    assert_eq!(call.at, secs(1));
    assert!(call.took_effect);
    assert_eq!(mock.history(), [call]);
}

#[tokio::test(start_paused = true)]
async fn aborting_a_scheduled_cancel_prevents_it() {
    let mock = MockCancellationToken::new();
    let scheduled = mock.schedule_cancel(secs(1), CancellationReason::Manual, "never");
    sleep(ms(500)).await;
    scheduled.abort();
    sleep(secs(5)).await;
    assert!(!mock.is_cancelled());
    assert_eq!(mock.cancel_count(), 0);
    assert!(scheduled.is_finished());
    assert_eq!(scheduled.await, None);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_handle_leaves_the_cancel_scheduled_and_the_task_ends_after_it() {
    let mock = MockCancellationToken::new();
    drop(mock.schedule_cancel(ms(200), CancellationReason::Timeout, "deadline"));
    sleep(ms(200)).await;
    tokio::task::yield_now().await;
    assert!(mock.is_cancelled());
    assert_eq!(mock.history()[0].at, ms(200));
    // The task held a clone of the mock; it has ended, so only ours is left.
    let token = mock.token();
    drop(mock);
    assert!(token.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_late_scheduled_cancel_is_recorded_without_effect() {
    let mock = MockCancellationToken::new();
    let scheduled = mock.schedule_cancel(secs(2), CancellationReason::Manual, "too late");
    sleep(secs(1)).await;
    mock.cancel();
    let call = scheduled.await.unwrap();
    assert_eq!((call.at, call.took_effect), (secs(2), false));
    assert_eq!(mock.cancel_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn it_converts_into_a_token_and_cancels_through_any_conversion() {
    let mock = MockCancellationToken::new();
    let by_ref: CancellationToken = (&mock).into();
    let owned: CancellationToken = mock.clone().into();
    let child = by_ref.child_token();
    mock.cancel_with(CancellationReason::Signal, "SIGTERM");
    assert!(by_ref.is_cancelled() && owned.is_cancelled() && child.is_cancelled());
    assert_eq!(owned.reason(), Some(CancellationReason::Signal));
}

#[tokio::test(start_paused = true)]
async fn only_calls_through_the_mock_are_recorded() {
    let mock = MockCancellationToken::new();
    mock.token().cancel();
    assert!(mock.is_cancelled());
    assert_eq!(mock.cancel_count(), 0);
    assert!(!mock.cancel(), "already cancelled elsewhere");
    assert!(!mock.history()[0].took_effect);
}

#[tokio::test(start_paused = true)]
async fn a_token_callback_may_use_the_mock() {
    let mock = MockCancellationToken::new();
    let seen = Arc::new(Mutex::new(None));
    let (inner, sink) = (mock.clone(), seen.clone());
    mock.token().on_cancel(move |_| {
        // Runs inside the cancel call: the history lock is not held there.
        *sink.lock().unwrap() = Some(inner.cancel_count());
        inner.cancel();
    });
    assert!(mock.cancel());
    assert_eq!(*seen.lock().unwrap(), Some(1));
    assert_eq!(mock.cancel_count(), 2);
    assert!(mock.history()[0].took_effect);
    assert!(!mock.history()[1].took_effect);
}

#[tokio::test(start_paused = true)]
async fn calls_from_other_threads_are_recorded_in_order() {
    let mock = MockCancellationToken::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mock = mock.clone();
            std::thread::spawn(move || (0..25).filter(|_| mock.cancel()).count())
        })
        .collect();
    let winners: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(winners, 1);
    assert_eq!(mock.cancel_count(), 100);
    assert_eq!(mock.history().iter().filter(|c| c.took_effect).count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_history_serialises() {
    let mock = MockCancellationToken::new();
    sleep(ms(5)).await;
    mock.cancel_with(CancellationReason::Manual, "stop");
    assert_eq!(
        serde_json::to_value(mock.history()).unwrap(),
        serde_json::json!([{
            "at": { "secs": 0, "nanos": 5_000_000 },
            "reason": "manual",
            "message": "stop",
            "took_effect": true,
        }])
    );
}
