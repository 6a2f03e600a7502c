//! `OperationRecorder`: the order and exact times of what happened, and assertions that show
//! the whole log when they fail.

use cancelable::testing::{Event, EventKind, EventType, OperationRecorder};
use cancelable::{Cancelable, CancellationReason, OperationStatus};
use serde_json::json;
use tokio::time::sleep;

use super::{ms, secs};

/// A recorder with one operation, `"op"` ("job"), that reported once and completed at 1s.
async fn completed_job() -> OperationRecorder {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(&Cancelable::new().named("job").operation_id("op"));
    op.run(async {
        op.report_progress("working");
        sleep(secs(1)).await;
    })
    .await
    .unwrap();
    recorder
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_operation_is_started_then_progress_then_cancelled_by_timeout() {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(
        &Cancelable::with_timeout(ms(2500))
            .named("fetch")
            .operation_id("fetch-1"),
    );
    let err = op
        .run(async {
            for step in 1.. {
                sleep(secs(1)).await;
                op.report_progress_with(format!("step {step}"), json!({ "step": step }));
            }
        })
        .await
        .unwrap_err();
    assert!(err.is_timeout());

    let events = recorder.events_for("fetch-1");
    let summary: Vec<_> = events.iter().map(|e| (e.at, e.kind.clone())).collect();
    let progress = |n: u64| EventKind::Progress {
        message: format!("step {n}"),
        metadata: Some(json!({ "step": n })),
    };
    assert_eq!(
        summary,
        [
            (secs(0), EventKind::Started),
            (secs(1), progress(1)),
            (secs(2), progress(2)),
            (
                ms(2500),
                EventKind::Cancelled {
                    reason: Some(CancellationReason::Timeout),
                    message: Some("timeout after 2.5s".into()),
                }
            ),
        ]
    );
    assert!(events.iter().all(|e| e.operation_name == "fetch"));
    recorder.assert_final_status("fetch-1", OperationStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn the_event_log_serialises_to_a_stable_form_with_ids_redacted() {
    let recorder = OperationRecorder::new();
    let parent = recorder.attach(&Cancelable::with_timeout(ms(250)).named("parent"));
    let child = recorder.attach(&Cancelable::new().named("child").parent(&parent));
    let _ = parent
        .run(async {
            child
                .run(async {
                    sleep(ms(100)).await;
                    child.report_progress("half");
                    sleep(secs(1)).await;
                })
                .await
        })
        .await;

    let mut log = serde_json::to_value(recorder.events()).unwrap();
    for event in log.as_array_mut().unwrap() {
        event["operation_id"] = json!("[id]");
    }
    assert_eq!(
        log,
        json!([
            { "at": { "secs": 0, "nanos": 0 }, "operation_id": "[id]", "operation_name": "parent", "kind": "started" },
            { "at": { "secs": 0, "nanos": 0 }, "operation_id": "[id]", "operation_name": "child", "kind": "started" },
            { "at": { "secs": 0, "nanos": 100_000_000 }, "operation_id": "[id]", "operation_name": "child", "kind": "progress", "message": "half" },
            { "at": { "secs": 0, "nanos": 250_000_000 }, "operation_id": "[id]", "operation_name": "child", "kind": "cancelled", "reason": "parent", "message": "parent operation cancelled" },
            { "at": { "secs": 0, "nanos": 250_000_000 }, "operation_id": "[id]", "operation_name": "parent", "kind": "cancelled", "reason": "timeout", "message": "timeout after 250ms" },
        ])
    );
    // And back.
    let events: Vec<Event> = serde_json::from_value(log).unwrap();
    assert_eq!(events.len(), 5);
    assert_eq!(events[2].kind.event_type(), EventType::Progress);
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_recorded_with_its_text() {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(&Cancelable::new().operation_id("load"));
    let result: Result<(), std::io::Error> = op
        .try_run(async { Err(std::io::Error::other("disk full")) })
        .await;
    assert!(result.is_err());
    let failed = recorder.assert_event("load", EventType::Failed);
    assert_eq!(
        failed.kind,
        EventKind::Failed {
            failure: Some("disk full".into())
        }
    );
    recorder.assert_final_status("load", OperationStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn assert_event_returns_the_latest_match() {
    let recorder = completed_job().await;
    let event = recorder.assert_event("op", |e: &Event| {
        e.kind.event_type() != EventType::Completed
    });
    assert!(matches!(event.kind, EventKind::Progress { .. }));
    assert_eq!(
        recorder.assert_event("op", EventType::Completed).at,
        secs(1)
    );
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected a `cancelled` event for operation \"op\", found none\n\
                           the recorder saw 3 events:\n    \
                           0ns op \"job\": started\n    \
                           0ns op \"job\": progress \"working\"\n    \
                           1s op \"job\": completed"
)]
async fn assert_event_on_a_missing_event_panics_with_the_log() {
    completed_job()
        .await
        .assert_event("op", EventType::Cancelled);
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected an event matching the predicate for operation \"op\", found none"
)]
async fn assert_event_with_a_predicate_panics_with_the_log() {
    completed_job()
        .await
        .assert_event("op", |e: &Event| e.at > secs(5));
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected a `started` event for operation \"other\", found none\n\
                           the recorder saw 3 events"
)]
async fn assert_event_for_another_operation_panics() {
    completed_job()
        .await
        .assert_event("other", EventType::Started);
}

#[tokio::test(start_paused = true)]
async fn assert_final_status_passes_on_the_final_status() {
    completed_job()
        .await
        .assert_final_status("op", OperationStatus::Completed);
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "operation \"op\": expected status cancelled, got completed\n\
                           the recorder saw 3 events:"
)]
async fn assert_final_status_with_another_status_panics() {
    completed_job()
        .await
        .assert_final_status("op", OperationStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "operation \"nope\" not found\nthe recorder saw 3 events:")]
async fn assert_final_status_of_an_unknown_operation_panics() {
    completed_job()
        .await
        .assert_final_status("nope", OperationStatus::Completed);
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "operation \"idle\": expected status completed, got pending (it has not ended)\n\
                           the recorder saw no events"
)]
async fn assert_final_status_of_an_operation_that_has_not_ended_panics() {
    let recorder = OperationRecorder::new();
    recorder.attach(&Cancelable::new().operation_id("idle"));
    recorder.assert_final_status("idle", OperationStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn wait_for_waits_on_the_paused_clock() {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(&Cancelable::new().operation_id("worker"));
    let worker = tokio::spawn({
        let op = op.clone();
        async move {
            op.run(async {
                sleep(ms(700)).await;
                op.report_progress("ready");
                sleep(secs(1)).await;
            })
            .await
        }
    });
    let ready = recorder
        .wait_for("worker", EventType::Progress, secs(1))
        .await;
    assert_eq!(ready.at, ms(700));
    // Already recorded: returns at once.
    let again = recorder
        .wait_for("worker", EventType::Started, secs(0))
        .await;
    assert_eq!(again.at, secs(0));
    let done = recorder
        .wait_for("worker", EventType::Completed, secs(5))
        .await;
    assert_eq!(done.at, ms(1700));
    worker.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected a `progress` event for operation \"quiet\" within 1s, found none \
                           (waited for at tests/testing/recorder.rs:"
)]
async fn wait_for_panics_after_its_timeout() {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(&Cancelable::new().operation_id("quiet"));
    let _worker = tokio::spawn({
        let op = op.clone();
        async move { op.run(sleep(secs(60))).await }
    });
    recorder
        .wait_for("quiet", EventType::Progress, secs(1))
        .await;
}

#[tokio::test(start_paused = true)]
async fn attaching_late_records_the_start_at_attach_time_and_nothing_is_lost() {
    let op = Cancelable::new().operation_id("late");
    let recorder = OperationRecorder::new();
    let run = tokio::spawn({
        let op = op.clone();
        async move { op.run(sleep(secs(2))).await }
    });
    sleep(secs(1)).await;
    recorder.attach(&op);
    run.await.unwrap().unwrap();
    let kinds: Vec<_> = recorder
        .events()
        .into_iter()
        .map(|e| (e.at, e.kind.event_type()))
        .collect();
    assert_eq!(
        kinds,
        [
            (secs(1), EventType::Started),
            (secs(2), EventType::Completed)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_recorder_keeps_no_operation_alive() {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(&Cancelable::new());
    op.run(async {}).await.unwrap();
    let probe = cancelable::test_util::operation_probe(&op);
    drop(op);
    assert!(!probe.is_alive(), "the recorder holds no operation");
    assert_eq!(recorder.events().len(), 2);
}
