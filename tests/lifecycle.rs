//! The lifecycle of `run`: before, after, panics, errors, drops, `run_until_cancelled`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use cancelable::test_util::registrations;
use cancelable::{
    Cancelable, CancellationError, CancellationReason, CancellationToken, OperationStatus,
};
use tokio::time::sleep;

#[tokio::test]
async fn cancel_before_run_returns_err_without_polling() {
    let op = Cancelable::new().named("early");
    assert!(op.cancel());
    let polled = AtomicBool::new(false);
    let err = op
        .run(async { polled.store(true, Ordering::SeqCst) })
        .await
        .unwrap_err();
    assert!(!polled.load(Ordering::SeqCst));
    assert!(err.is_manual());
    assert_eq!(err.operation_name(), Some("early"));
    assert_eq!(op.status(), OperationStatus::Cancelled);
}

#[tokio::test]
async fn cancel_after_completion_changes_nothing() {
    let op = Cancelable::new();
    assert_eq!(op.run(async { 1 }).await, Ok(1));
    assert!(!op.cancel());
    assert!(!op.cancel_with(CancellationReason::Timeout, "late"));
    assert_eq!(op.status(), OperationStatus::Completed);
    assert_eq!(op.reason(), None);
    assert!(op.context().reason.is_none());
}

#[tokio::test]
async fn panic_inside_marks_failed_and_propagates() {
    let op = Cancelable::new().named("boom");
    let handle = op.clone();
    let task = tokio::spawn(async move { op.run(async { panic!("exploded") }).await });
    let join_err = task.await.unwrap_err();
    assert!(join_err.is_panic());
    assert_eq!(handle.status(), OperationStatus::Failed);
    assert_eq!(
        handle.context().failure.as_deref(),
        Some("panicked: exploded")
    );
}

#[derive(Debug, PartialEq)]
enum AppError {
    Cancelled(CancellationReason),
    NotFound,
}

impl From<CancellationError> for AppError {
    fn from(err: CancellationError) -> Self {
        AppError::Cancelled(err.reason())
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "app error: {self:?}")
    }
}

#[tokio::test(start_paused = true)]
async fn try_run_flattens_and_records_failures() {
    let op = Cancelable::new();
    let result: Result<u8, AppError> = op.try_run(async { Err(AppError::NotFound) }).await;
    assert_eq!(result, Err(AppError::NotFound));
    assert_eq!(op.status(), OperationStatus::Failed);
    assert_eq!(op.context().failure.as_deref(), Some("app error: NotFound"));

    let op = Cancelable::with_timeout(Duration::from_millis(1));
    let result: Result<u8, AppError> = op
        .try_run(async {
            sleep(Duration::from_secs(1)).await;
            Ok(1)
        })
        .await;
    assert_eq!(
        result,
        Err(AppError::Cancelled(CancellationReason::Timeout))
    );
    assert_eq!(op.status(), OperationStatus::Cancelled);

    let op = Cancelable::new();
    assert_eq!(op.try_run(async { Ok::<_, AppError>(3) }).await, Ok(3));
    assert_eq!(op.status(), OperationStatus::Completed);
}

#[tokio::test]
#[should_panic(expected = "an operation runs once")]
async fn second_run_panics() {
    let op = Cancelable::new();
    op.run(async {}).await.unwrap();
    let _ = op.run(async {}).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_a_running_run_leaves_nothing_behind() {
    let parent = CancellationToken::new();
    let parent_op = Cancelable::with_token(parent.clone());
    let op = Cancelable::with_timeout(Duration::from_secs(30)).parent(&parent_op);
    let child = op.child();
    let child_token = child.token(); // makes the child's scope token, linked to `op`'s
    let mut run = Box::pin(op.run(std::future::pending::<()>()));
    assert!(crate::poll_once(&mut run).is_pending());
    assert_eq!(op.status(), OperationStatus::Running);
    assert_eq!(
        registrations(&op),
        (1, 1),
        "one child link, one parked waiter"
    );
    assert_eq!(registrations(&parent_op).0, 1);
    drop(run);
    assert_eq!(op.status(), OperationStatus::Cancelled);
    assert_eq!(registrations(&op).1, 0, "no waiter left");
    assert!(
        child.is_cancelled(),
        "children stop with the dropped operation"
    );
    drop((child, child_token));
    assert_eq!(registrations(&op), (0, 0));
    drop(op);
    assert_eq!(
        registrations(&parent_op),
        (0, 0),
        "no child link left in the parent"
    );
}

#[tokio::test(start_paused = true)]
async fn run_until_cancelled_never_polls_once_cancelled_and_races_each_attempt() {
    let op = Cancelable::new();
    let polls = Arc::new(AtomicU32::new(0));
    let attempt = || {
        let polls = polls.clone();
        op.run_until_cancelled(async move {
            let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= 2 {
                sleep(Duration::from_secs(60)).await;
            }
            n
        })
    };
    assert_eq!(attempt().await, Ok(1));
    let handle = op.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        handle.cancel_with(CancellationReason::Manual, "give up");
    });
    let start = tokio::time::Instant::now();
    let err = attempt().await.unwrap_err();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "raced against cancellation"
    );
    assert_eq!(err.message(), Some("give up"));
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    // A retry loop: no attempt is polled any more.
    for _ in 0..3 {
        assert!(attempt().await.is_err());
    }
    assert_eq!(polls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn builder_after_clone_panics_with_a_clear_message() {
    let op = Cancelable::new();
    let _clone = op.clone();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op.named("late")));
    let message = panic.unwrap_err();
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("before the operation is cloned"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn try_run_reports_the_cancellation_not_the_error_it_caused() {
    let op = Cancelable::with_timeout(Duration::from_millis(10)).named("crawl");
    let result: Result<(), AppError> = op
        .try_run(async {
            op.shield(sleep(Duration::from_millis(50))).await;
            // A nested operation is born cancelled (reason `Parent`); `?` passes its error up.
            cancelable::with_timeout(Duration::from_secs(1), async {}).await?;
            Err(AppError::NotFound)
        })
        .await;
    assert_eq!(
        result,
        Err(AppError::Cancelled(CancellationReason::Timeout))
    );
    assert_eq!(op.status(), OperationStatus::Cancelled);
    assert_eq!(op.reason(), Some(CancellationReason::Timeout));
    assert_eq!(op.context().failure, None);
}
