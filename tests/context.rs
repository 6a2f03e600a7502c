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
        "root_cause",
        "started_at",
        "ended_at",
        "elapsed_ms",
        "progress",
        "metadata",
        "items",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["status"], "completed");
    assert_eq!(json["parent_id"], "batch-1");
    assert_eq!(json["metadata"]["rows"], 1200);
    assert_eq!(json["items"], 3);
    let back: OperationContext = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        json,
        "reads back to the millisecond"
    );
    assert_eq!(
        (back.id, back.metadata),
        (ctx.id.clone(), ctx.metadata.clone())
    );
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

/// Milliseconds since the Unix epoch of `time`, as the JSON should carry it.
fn epoch_ms(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(start_paused = true)]
async fn a_registry_listing_serialises_as_json_ready_to_serve() {
    let registry = cancelable::OperationRegistry::new();
    let batch = Cancelable::new().named("batch").operation_id("batch-1");
    let job = Cancelable::new()
        .named("job")
        .operation_id("job-1")
        .parent(&batch)
        .metadata("tenant", "acme")
        .register_in(&registry);
    let queued = Cancelable::new()
        .named("queued")
        .operation_id("queued-1")
        .register_in(&registry);

    job.run(async {
        job.report_progress("row 1200 of 5000");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        job.report_progress("row 2400 of 5000");
        tokio::time::sleep(Duration::from_millis(250)).await;

        let list = registry.list();
        let json = serde_json::to_value(&list).unwrap();
        let ops = json.as_array().unwrap();
        assert_eq!(ops.len(), 2);
        let (running, pending) = (&ops[0], &ops[1]);
        assert_eq!(running["id"], "job-1");
        assert_eq!(running["status"], "running");
        assert_eq!(running["started_at"], epoch_ms(list[0].started_at.unwrap()));
        assert!(running["started_at"].as_u64().unwrap() > 1_700_000_000_000);
        assert!(running["ended_at"].is_null());
        assert_eq!(running["elapsed_ms"], 1750);
        assert_eq!(running["progress"], "row 2400 of 5000");
        assert_eq!(running["metadata"]["tenant"], "acme");
        assert_eq!(running["parent_id"], "batch-1");
        assert!(running["root_cause"].is_null());
        assert_eq!(pending["id"], "queued-1");
        assert_eq!(pending["status"], "pending");
        assert!(pending["started_at"].is_null() && pending["elapsed_ms"].is_null());

        batch.cancel_with(cancelable::CancellationReason::Manual, "operator stop");
        std::future::pending::<()>().await
    })
    .await
    .unwrap_err();

    let ctx = job.context();
    let json = serde_json::to_value(&ctx).unwrap();
    assert_eq!(json["status"], "cancelled");
    assert_eq!(json["reason"], "parent");
    assert_eq!(json["message"], "parent operation cancelled");
    assert_eq!(
        json["root_cause"],
        serde_json::json!({
            "reason": "manual",
            "message": "operator stop",
            "operation_id": "batch-1",
            "operation_name": "batch",
        })
    );
    assert_eq!(json["ended_at"], epoch_ms(ctx.ended_at.unwrap()));
    assert_eq!(json["elapsed_ms"], 1750);
    assert_eq!(json["progress"], "row 2400 of 5000");
    drop(queued);
}
