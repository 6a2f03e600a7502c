//! `Scenario`: scripts played on the paused clock, an honest final status, and a panic for
//! every step that never ran or failed.

use cancelable::testing::{EventType, Scenario};
use cancelable::{Cancelable, CancellationReason, OperationStatus};
use tokio::time::sleep;

use super::{ms, secs};

#[tokio::test(start_paused = true)]
async fn a_cancelled_scenario_ends_cancelled_and_returns_the_cancellation() {
    let outcome = Scenario::new("import")
        .delay(secs(1))
        .cancel(CancellationReason::Manual, "stop")
        .expect_status(OperationStatus::Cancelled)
        .run(async |_: &Cancelable| sleep(secs(10)).await)
        .await;

    let err = outcome.result.unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Manual);
    assert_eq!(err.message(), Some("stop"));
    assert_eq!(err.operation_name(), Some("import"));
    assert_eq!(outcome.operation.status(), OperationStatus::Cancelled);
    outcome
        .recorder
        .assert_final_status("import", OperationStatus::Cancelled);
    assert_eq!(
        outcome
            .recorder
            .assert_event("import", EventType::Cancelled)
            .at,
        secs(1)
    );
    assert_eq!(outcome.token.cancel_count(), 1);
    assert_eq!(outcome.token.history()[0].at, secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_scenario_without_a_cancel_returns_the_output() {
    let outcome = Scenario::new("quick")
        .delay(ms(100))
        .expect_status(OperationStatus::Running)
        .delay(ms(200))
        .expect_status(OperationStatus::Completed)
        .run(async |_: &Cancelable| {
            sleep(ms(250)).await;
            42
        })
        .await;
    assert_eq!(outcome.result, Ok(42));
    outcome
        .recorder
        .assert_final_status("quick", OperationStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn the_body_receives_the_operation_and_progress_expectations_wait_for_it() {
    let outcome = Scenario::new("report")
        .expect_progress("halfway")
        .expect_status(OperationStatus::Running)
        .expect_progress("done")
        .run(async |op: &Cancelable| {
            assert_eq!(Cancelable::current().unwrap().id(), op.id());
            sleep(secs(1)).await;
            op.report_progress("halfway");
            sleep(secs(1)).await;
            op.report_progress("done");
        })
        .await;
    assert!(outcome.result.is_ok());
    let reports = outcome.recorder.matching("report", EventType::Progress);
    assert_eq!(
        reports.iter().map(|e| e.at).collect::<Vec<_>>(),
        [secs(1), secs(2)]
    );
}

#[tokio::test(start_paused = true)]
async fn expectations_after_the_end_check_what_was_recorded() {
    let outcome = Scenario::new("short")
        .delay(secs(2))
        .expect_progress("begun")
        .expect_status(OperationStatus::Completed)
        .run(async |op: &Cancelable| {
            op.report_progress("begun");
            sleep(secs(1)).await;
        })
        .await;
    assert!(outcome.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_given_operation_keeps_its_own_sources_and_name() {
    let op = Cancelable::with_timeout(secs(1))
        .named("fetch")
        .operation_id("fetch-1");
    let outcome = Scenario::new("timeout")
        .operation(op)
        .delay(ms(500))
        .expect_status(OperationStatus::Running)
        .run(async |_: &Cancelable| sleep(secs(5)).await)
        .await;
    assert!(outcome.result.unwrap_err().is_timeout());
    assert_eq!(outcome.operation.name(), "fetch");
    outcome
        .recorder
        .assert_final_status("fetch-1", OperationStatus::Cancelled);
    assert_eq!(outcome.token.cancel_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_shielded_body_is_still_running_right_after_the_cancel() {
    let outcome = Scenario::new("shielded")
        .delay(secs(1))
        .cancel(CancellationReason::Manual, "stop")
        .expect_status(OperationStatus::Running)
        .delay(secs(2))
        .expect_status(OperationStatus::Cancelled)
        .run(async |op: &Cancelable| {
            op.shield(sleep(secs(2))).await;
            sleep(secs(60)).await;
        })
        .await;
    assert!(outcome.result.unwrap_err().is_manual());
    assert_eq!(
        outcome
            .recorder
            .assert_event("shielded", EventType::Cancelled)
            .at,
        secs(2)
    );
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "step 2 (cancel) never ran: the operation ended (completed) at 1s\n\
                           the recorder saw 2 events:\n    \
                           0ns short \"short\": started\n    \
                           1s short \"short\": completed\n\
                           (scenario \"short\", run at tests/testing/scenario.rs:"
)]
async fn a_delay_longer_than_the_operation_leaves_the_cancel_unrun() {
    let _ = Scenario::new("short")
        .delay(secs(5))
        .cancel(CancellationReason::Manual, "too late")
        .run(async |_: &Cancelable| sleep(secs(1)).await)
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "step 4 (delay 1s) never ran: the operation ended (cancelled) at 1s")]
async fn a_delay_after_the_end_never_ran() {
    let _ = Scenario::new("over")
        .delay(secs(1))
        .cancel(CancellationReason::Manual, "stop")
        .expect_status(OperationStatus::Cancelled)
        .delay(secs(1))
        .run(async |_: &Cancelable| sleep(secs(10)).await)
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "step 1 (expect progress \"halfway\") failed: the operation ended \
                           (completed) at 1s without reporting it\n\
                           the recorder saw 3 events:"
)]
async fn a_progress_report_that_never_came_panics() {
    let _ = Scenario::new("silent")
        .expect_progress("halfway")
        .run(async |op: &Cancelable| {
            op.report_progress("started");
            sleep(secs(1)).await;
        })
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "step 2 (expect status completed) failed: the status is running\n")]
async fn a_wrong_status_panics() {
    let _ = Scenario::new("slow")
        .delay(secs(1))
        .expect_status(OperationStatus::Completed)
        .run(async |_: &Cancelable| sleep(secs(2)).await)
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "step 3 (expect status completed) failed: the status is cancelled")]
async fn a_cancelled_operation_does_not_pass_for_completed() {
    // Python's scenario caught the cancellation inside the operation and reported COMPLETED.
    let _ = Scenario::new("honest")
        .delay(secs(1))
        .cancel(CancellationReason::Manual, "stop")
        .expect_status(OperationStatus::Completed)
        .run(async |_: &Cancelable| sleep(secs(2)).await)
        .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "a panicking body")]
async fn a_panicking_body_propagates() {
    let _ = Scenario::new("boom")
        .run(async |_: &Cancelable| panic!("a panicking body"))
        .await;
}
