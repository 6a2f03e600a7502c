//! One operation shared by several tasks, and what it knows about itself.
//!
//! 1. A pipeline of three stages (reader, transformer, writer) runs in separate tasks, each a
//!    child scope of one `pipeline` operation; the stages report progress into the shared
//!    operation's callbacks, and a stage that finds bad input cancels the whole pipeline.
//! 2. The operation's context is a serializable snapshot: id, name, status, reason, message,
//!    metadata, parent, times; `Cancelable::current()` finds the scope the code runs in.
//! 3. Lifecycle callbacks (`on_start`, `on_completed`, `on_cancelled`, `on_failed`).
//!
//! Run it with `cargo run --example shared_context` (under a second).

use std::time::Duration;

use cancelable::{Cancelable, CancellationReason};
use tokio::sync::mpsc;
use tokio::time::sleep;

/// Reports into the shared operation: every stage's progress lands in one place.
fn audit(pipeline: &Cancelable, record: u32) {
    pipeline.report_progress_with(
        format!("wrote record {record}"),
        serde_json::json!({ "record": record }),
    );
}

#[tokio::main]
async fn main() {
    let pipeline = Cancelable::new()
        .named("pipeline")
        .metadata("source", "orders.csv")
        .metadata("batch", 42);
    pipeline.on_start(|ctx| println!("3. on_start: {} is {}", ctx.name, ctx.status));
    pipeline.on_cancelled(|ctx| {
        println!(
            "3. on_cancelled: {} {} ({:?})",
            ctx.name,
            ctx.status,
            ctx.message.as_deref().unwrap_or_default()
        )
    });
    pipeline.on_completed(|ctx| println!("3. on_completed: {}", ctx.name));
    pipeline.on_progress(|event| println!("1. progress: {}", event.message));

    let outcome = pipeline
        .run(async {
            let (raw_tx, mut raw_rx) = mpsc::channel::<String>(4);
            let (rows_tx, mut rows_rx) = mpsc::channel::<u32>(4);
            let cancel = Cancelable::current().expect("inside the pipeline");
            let reader = cancel.spawn(async move {
                for line in ["1", "2", "3", "x", "5"] {
                    sleep(Duration::from_millis(20)).await;
                    if raw_tx.send(line.to_owned()).await.is_err() {
                        break;
                    }
                }
            });
            let transformer = cancel.spawn({
                let cancel = cancel.clone();
                async move {
                    while let Some(line) = raw_rx.recv().await {
                        match line.parse::<u32>() {
                            Ok(n) => rows_tx.send(n * 10).await.unwrap(),
                            Err(_) => {
                                // Bad input stops every stage.
                                cancel.cancel_with(
                                    CancellationReason::Manual,
                                    format!("bad record {line:?}"),
                                );
                            }
                        }
                    }
                }
            });
            let writer = cancel.spawn({
                let pipeline = cancel.clone();
                async move {
                    // Deep inside a stage, `current()` finds the stage's own scope: a child.
                    let me = Cancelable::current().expect("inside the writer's scope");
                    let parent = me.context().parent_id.unwrap_or_default();
                    println!("2. the writer runs in a child scope of {}", &parent[..8]);
                    while let Some(row) = rows_rx.recv().await {
                        audit(&pipeline, row);
                    }
                }
            });
            let _ = tokio::join!(reader, transformer, writer);
            sleep(Duration::from_millis(10)).await; // never reached: the cancel lands first
        })
        .await;
    println!("1. outcome: {}", outcome.unwrap_err());

    // 2. The snapshot, as JSON.
    let ctx = pipeline.context();
    println!(
        "2. context: {}",
        serde_json::to_string_pretty(&ctx).expect("a context serializes")
    );
    println!("2. ran for {:?}", ctx.duration().unwrap_or_default());

    // 3. A completed one, for the other callback.
    let quick = Cancelable::new().named("quick");
    quick.on_completed(|ctx| println!("3. on_completed: {} is {}", ctx.name, ctx.status));
    quick.run(async {}).await.unwrap();
}
