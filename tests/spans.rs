//! Tracing: a span per operation, lifecycle events with the reason, nesting.

use std::time::Duration;

use cancelable::Cancelable;
use tracing::Level;

use crate::capture::Capture;

#[tokio::test(start_paused = true)]
async fn each_operation_runs_in_its_span_with_lifecycle_events() {
    let (capture, _guard) = Capture::install();

    let op = Cancelable::new().named("fetch_user").operation_id("op-1");
    op.run(async {
        Cancelable::current()
            .unwrap()
            .report_progress_with("fetching 7", serde_json::json!({"id": 7}));
    })
    .await
    .unwrap();

    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name, "operation");
    assert_eq!(spans[0].fields["operation.id"], "op-1");
    assert_eq!(spans[0].fields["operation.name"], "fetch_user");

    let events = capture.events();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.level, e.message.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (Level::DEBUG, "operation started"),
            (Level::DEBUG, "fetching 7"),
            (Level::DEBUG, "operation completed"),
        ]
    );
    assert!(
        events.iter().all(|e| e.span.as_deref() == Some("op-1")),
        "{events:#?}"
    );
    assert_eq!(events[1].fields["progress.metadata"], r#"{"id":7}"#);
}

#[tokio::test(start_paused = true)]
async fn cancellation_and_failure_are_events_with_reason_message_and_error() {
    let (capture, _guard) = Capture::install();

    let slow = Cancelable::with_timeout(Duration::from_secs(2))
        .named("slow")
        .operation_id("op-slow");
    slow.run(std::future::pending::<()>()).await.unwrap_err();
    let failing = Cancelable::new().named("failing").operation_id("op-fail");
    let _ = failing
        .try_run(async { Err::<(), _>(std::io::Error::other("no route")) })
        .await;

    let events = capture.events();
    let cancelled = events
        .iter()
        .find(|e| e.message == "operation cancelled")
        .unwrap();
    assert_eq!(cancelled.level, Level::INFO);
    assert_eq!(cancelled.span.as_deref(), Some("op-slow"));
    assert_eq!(cancelled.fields["cancellation.reason"], "timeout");
    assert_eq!(cancelled.fields["cancellation.message"], "timeout after 2s");
    let failed = events
        .iter()
        .find(|e| e.message == "operation failed")
        .unwrap();
    assert_eq!(failed.level, Level::WARN);
    assert_eq!(failed.span.as_deref(), Some("op-fail"));
    assert_eq!(failed.fields["error"], "no route");
}

#[tokio::test]
async fn nested_operation_spans_nest_and_progress_from_other_threads_lands_in_the_span() {
    let (capture, _guard) = Capture::install();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);

    let outer = Cancelable::new().named("outer").operation_id("op-outer");
    outer
        .run(async {
            let inner = Cancelable::new().named("inner").operation_id("op-inner");
            inner
                .run(async {
                    let handle = Cancelable::current().unwrap();
                    let dispatch = dispatch.clone();
                    std::thread::spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            handle.report_progress("from a thread");
                        })
                    })
                    .join()
                    .unwrap();
                })
                .await
                .unwrap();
        })
        .await
        .unwrap();

    let spans = capture.spans();
    let inner = spans
        .iter()
        .find(|s| s.fields["operation.id"] == "op-inner")
        .unwrap();
    assert_eq!(inner.parent.as_deref(), Some("op-outer"));
    let progress = capture
        .events()
        .into_iter()
        .find(|e| e.message == "from a thread")
        .unwrap();
    assert_eq!(progress.span.as_deref(), Some("op-inner"));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_operation_is_logged_as_dropped_not_manual() {
    let (capture, _guard) = Capture::install();

    let op = Cancelable::new().named("abandoned").operation_id("op-drop");
    let child = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = child.clone();
    let outer = tokio::time::timeout(
        Duration::from_millis(5),
        op.run(async {
            let inner = Cancelable::new();
            *seen.lock().unwrap() = Some(inner.clone());
            inner.run(std::future::pending::<()>()).await
        }),
    )
    .await;
    assert!(outer.is_err(), "the enclosing timeout dropped the run");

    let error = op
        .cancellation()
        .expect("the dropped operation is cancelled");
    assert!(error.is_dropped(), "{error:?}");
    assert!(!error.is_manual());
    let inner = child.lock().unwrap().take().unwrap();
    let cause = inner.cancellation().unwrap();
    assert_eq!(cause.reason(), cancelable::CancellationReason::Parent);
    assert_eq!(
        cause.cause().map(|c| c.reason()),
        Some(cancelable::CancellationReason::Dropped)
    );

    let events = capture.events();
    let cancelled = events
        .iter()
        .find(|e| e.message == "operation cancelled" && e.span.as_deref() == Some("op-drop"))
        .expect("a cancelled event");
    assert_eq!(cancelled.fields["cancellation.reason"], "dropped");
}
