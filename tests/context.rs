//! Context snapshots: every field, serialized and read back.

use std::time::Duration;

use cancelable::{Cancelable, OperationContext, OperationStatus};

#[tokio::test]
async fn context_snapshots_serialize_every_field() {
    let parent = Cancelable::new().named("batch").operation_id("batch-1");
    let op = Cancelable::new()
        .named("import")
        .operation_id("import-1")
        .parent(&parent)
        .metadata("rows", 1200);
    assert_eq!(op.context().duration(), None);
    let stream = op.stream(futures::stream::iter([1, 2, 3]));
    let total = op.run(futures::StreamExt::count(stream)).await.unwrap();
    assert_eq!(total, 3);

    let ctx = op.context();
    let json = serde_json::to_value(&ctx).unwrap();
    for key in [
        "id",
        "name",
        "status",
        "reason",
        "message",
        "failure",
        "parent_id",
        "started_at",
        "ended_at",
        "metadata",
        "items",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["status"], "completed");
    assert_eq!(json["parent_id"], "batch-1");
    assert_eq!(json["metadata"]["rows"], 1200);
    assert_eq!(json["items"], 3);
    let back: OperationContext = serde_json::from_value(json).unwrap();
    assert_eq!(back, ctx);
    assert!(ctx.duration().is_some());
    assert_eq!(
        ctx.ended_at
            .unwrap()
            .duration_since(ctx.started_at.unwrap())
            .ok(),
        ctx.duration()
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_context_records_reason_and_message() {
    let op = Cancelable::with_timeout(Duration::from_millis(250)).named("slow");
    op.run(std::future::pending::<()>()).await.unwrap_err();
    let ctx = op.context();
    assert_eq!(ctx.status, OperationStatus::Cancelled);
    assert_eq!(ctx.reason, Some(cancelable::CancellationReason::Timeout));
    assert_eq!(ctx.message.as_deref(), Some("timeout after 250ms"));
    assert_eq!(ctx.items, None);
    let json = serde_json::to_value(&ctx).unwrap();
    assert_eq!(json["reason"], "timeout");
}
