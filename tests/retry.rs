//! `Cancelable::retry` with real `backon` backoffs, on tokio's paused clock.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ConstantBuilder, ExponentialBuilder, FibonacciBuilder};
use cancelable::retry::RetryError;
use cancelable::{Cancelable, CancellationReason, CancellationToken};
use tokio::time::{Instant, sleep};

/// A backoff of `times` waits of `secs` seconds each.
fn constant(secs: u64, times: usize) -> ConstantBuilder {
    ConstantBuilder::default()
        .with_delay(Duration::from_secs(secs))
        .with_max_times(times)
}

#[tokio::test(start_paused = true)]
async fn fails_twice_then_succeeds_after_three_attempts() {
    let op = Cancelable::new();
    let attempts = AtomicU32::new(0);
    let start = Instant::now();
    let result = op
        .retry(constant(1, 5), || {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                if n < 3 {
                    Err(format!("failure {n}"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
    assert_eq!(result, Ok(3));
    assert_eq!(attempts.load(Ordering::Relaxed), 3);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "two waits of one second"
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_during_a_backoff_returns_at_once_and_starts_no_attempt() {
    let op = Cancelable::new().named("sync");
    let attempts = AtomicU32::new(0);
    let canceller = tokio::spawn({
        let op = op.clone();
        async move {
            sleep(Duration::from_secs(1)).await;
            op.cancel_with(CancellationReason::Manual, "shutting down");
        }
    });
    let start = Instant::now();
    let result = op
        .retry(constant(10, 5), || {
            attempts.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>("unavailable") }
        })
        .await;
    canceller.await.unwrap();
    let Err(RetryError::Cancelled(err)) = result else {
        panic!("expected a cancellation, got {result:?}");
    };
    assert_eq!(err.message(), Some("shutting down"));
    assert_eq!(err.operation_name(), Some("sync"));
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "the 10 s sleep ended when the cancel came"
    );
    assert_eq!(
        attempts.load(Ordering::Relaxed),
        1,
        "no attempt after the cancel"
    );
    // And none later either.
    sleep(Duration::from_secs(60)).await;
    assert_eq!(attempts.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn a_token_cancelled_from_another_os_thread_stops_the_loop() {
    let token = CancellationToken::new();
    let op = Cancelable::with_token(token.clone());
    let attempts = Arc::new(AtomicU32::new(0));
    let (first_failed, wait_for_first) = std::sync::mpsc::channel::<()>();
    // A blocking-pool thread: while it runs, the paused clock does not jump ahead by itself.
    let canceller = tokio::task::spawn_blocking(move || {
        wait_for_first.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        token.cancel_with(CancellationReason::Signal, "received signal SIGTERM")
    });
    let start = Instant::now();
    let result = op
        .retry(constant(10, 5), || {
            attempts.fetch_add(1, Ordering::Relaxed);
            let _ = first_failed.send(());
            async { Err::<(), _>("busy") }
        })
        .await;
    assert!(canceller.await.unwrap());
    let err = result
        .unwrap_err()
        .cancellation()
        .cloned()
        .expect("cancelled");
    assert_eq!(err.reason(), CancellationReason::Signal);
    assert_eq!(attempts.load(Ordering::Relaxed), 1);
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn when_decides_which_errors_are_retried() {
    let op = Cancelable::new();
    let errors = Mutex::new(vec!["fatal", "transient", "transient"]);
    let result = op
        .retry(constant(1, 10), || {
            let error = errors.lock().unwrap().pop().unwrap();
            async move { Err::<(), _>(error) }
        })
        .when(|err| *err == "transient")
        .await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        RetryError::NotRetryable {
            attempts: 3,
            last: "fatal"
        }
    );
    assert_eq!(err.to_string(), "not retryable (attempt 3): fatal");
    assert_eq!(err.attempts(), Some(3));
}

#[tokio::test(start_paused = true)]
async fn each_attempt_reports_progress_with_its_number() {
    let op = Cancelable::new().named("fetch");
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    op.on_progress(move |event| {
        seen.lock()
            .unwrap()
            .push((event.message.to_string(), event.metadata.cloned().unwrap()));
    });
    let attempts = AtomicU32::new(0);
    let result = op
        .retry(FibonacciBuilder::default(), || {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            async move { if n < 3 { Err(()) } else { Ok(()) } }
        })
        .await;
    assert_eq!(result, Ok(()));
    let reports = reports.lock().unwrap();
    let expected: Vec<_> = (1..=3)
        .map(|n| {
            let metadata = serde_json::json!({ "kind": "retry", "attempt": n });
            (format!("attempt {n}"), metadata)
        })
        .collect();
    assert_eq!(*reports, expected);
}

#[tokio::test(start_paused = true)]
async fn exhaustion_reports_the_attempt_count_and_the_last_error() {
    let op = Cancelable::new();
    let attempts = AtomicU32::new(0);
    let waits = Mutex::new(Vec::new());
    let start = Instant::now();
    let result = op
        .retry(constant(2, 3), || {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            async move { Err::<(), _>(format!("failure {n}")) }
        })
        .notify(|err, wait| waits.lock().unwrap().push((err.clone(), wait)))
        .await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        RetryError::Exhausted {
            attempts: 4,
            last: "failure 4".to_owned()
        }
    );
    assert_eq!(err.to_string(), "gave up after 4 attempts: failure 4");
    assert_eq!(start.elapsed(), Duration::from_secs(6));
    let two = Duration::from_secs(2);
    assert_eq!(
        *waits.lock().unwrap(),
        [
            ("failure 1".to_owned(), two),
            ("failure 2".to_owned(), two),
            ("failure 3".to_owned(), two)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn inside_run_the_operations_timeout_ends_the_loop() {
    let op = Cancelable::with_timeout(Duration::from_secs(5)).named("import");
    let attempts = AtomicU32::new(0);
    let start = Instant::now();
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(10))
        .with_jitter();
    let result = op
        .run(op.retry(backoff, || {
            attempts.fetch_add(1, Ordering::Relaxed);
            async { Err::<(), _>("refused") }
        }))
        .await;
    let err = result.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(attempts.load(Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_in_flight_is_dropped_on_cancel() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let op = Cancelable::new();
    let canceller = tokio::spawn({
        let op = op.clone();
        async move {
            sleep(Duration::from_secs(1)).await;
            op.cancel();
        }
    });
    let result = op
        .retry(constant(1, 5), || {
            let guard = SetOnDrop(dropped.clone());
            async move {
                let _guard = guard;
                sleep(Duration::from_secs(60)).await;
                Ok::<_, ()>(())
            }
        })
        .await;
    canceller.await.unwrap();
    assert!(result.unwrap_err().is_cancelled());
    assert!(dropped.load(Ordering::Relaxed));
}

#[tokio::test(start_paused = true)]
async fn an_operation_cancelled_before_the_loop_runs_no_attempt() {
    let op = Cancelable::new();
    op.cancel();
    let attempts = AtomicU32::new(0);
    let result = op
        .retry(constant(1, 5), || {
            attempts.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, ()>(()) }
        })
        .await;
    assert!(result.unwrap_err().cancellation().unwrap().is_manual());
    assert_eq!(attempts.load(Ordering::Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn a_retry_loop_is_a_static_future_that_can_be_spawned() {
    let op = Cancelable::new();
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let task = tokio::spawn(op.retry(constant(1, 5), move || {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        async move { if n < 2 { Err("once") } else { Ok(n) } }
    }));
    assert_eq!(task.await.unwrap(), Ok(2));
    assert_eq!(attempts.load(Ordering::Relaxed), 2);
}
