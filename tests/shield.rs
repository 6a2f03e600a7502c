//! Shields: the shielded future completes, the cancellation lands right after.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, OperationStatus};
use tokio::time::{Instant, sleep};

#[tokio::test(start_paused = true)]
async fn shielded_future_completes_then_cancellation_lands() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let op = Cancelable::with_timeout(Duration::from_millis(100));
    let start = Instant::now();
    let l = log.clone();
    let err = op
        .run(async {
            l.lock().unwrap().push("work");
            op.shield(async {
                sleep(Duration::from_millis(300)).await;
                l.lock().unwrap().push("cleanup done");
            })
            .await;
            l.lock().unwrap().push("after shield");
            sleep(Duration::from_secs(10)).await;
            l.lock().unwrap().push("never");
        })
        .await
        .unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Timeout);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(300),
        "returned right after the shield"
    );
    // The code after the shield runs up to its next await point, then the body is dropped.
    assert_eq!(
        *log.lock().unwrap(),
        ["work", "cleanup done", "after shield"]
    );
    assert_eq!(op.status(), OperationStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn nested_shields_complete_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let op = Cancelable::new();
    let handle = op.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(10)).await;
        handle.cancel();
    });
    let l = log.clone();
    let err = op
        .run(async {
            op.shield(async {
                op.shield(async {
                    sleep(Duration::from_millis(50)).await;
                    l.lock().unwrap().push("inner");
                })
                .await;
                sleep(Duration::from_millis(50)).await;
                l.lock().unwrap().push("outer");
            })
            .await;
            std::future::pending::<()>().await
        })
        .await
        .unwrap_err();
    assert!(err.is_manual());
    assert_eq!(*log.lock().unwrap(), ["inner", "outer"]);
}

#[tokio::test(start_paused = true)]
async fn scopes_started_inside_a_shield_are_not_cancelled_by_it() {
    let op = Cancelable::with_timeout(Duration::from_millis(10));
    let mut audited = false;
    let err = op
        .run(async {
            op.shield(async {
                // An operation of its own (e.g. an annotated fn) inside the cleanup.
                let audit = cancelable::with_timeout(
                    Duration::from_secs(1),
                    sleep(Duration::from_millis(100)),
                )
                .await;
                audited = audit.is_ok();
            })
            .await;
        })
        .await;
    // The body finished in the poll where the shield ended (the shield was its last await):
    // the timeout that fired meanwhile lands all the same (DESIGN §3.4).
    assert!(err.unwrap_err().is_timeout());
    assert_eq!(op.status(), cancelable::OperationStatus::Cancelled);
    assert!(op.is_cancelled());
    assert!(audited, "the operation inside the shield ran to completion");
}

#[tokio::test(start_paused = true)]
async fn shield_in_another_task_holds_the_run_open() {
    let op = Cancelable::new();
    let handle = op.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn({
        let op = op.clone();
        async move {
            op.run(async {
                done_rx.await.ok();
                std::future::pending::<()>().await
            })
            .await
        }
    });
    sleep(Duration::from_millis(1)).await;
    let shield_task = tokio::spawn(async move {
        handle
            .shield(async {
                handle.cancel();
                sleep(Duration::from_millis(100)).await;
            })
            .await;
    });
    sleep(Duration::from_millis(50)).await;
    assert!(!run.is_finished(), "held open by the shield");
    shield_task.await.unwrap();
    let err = run.await.unwrap().unwrap_err();
    assert!(err.is_manual());
    drop(done_tx);
}

#[tokio::test(start_paused = true)]
async fn a_worker_cancelled_during_a_shield_takes_no_further_job() {
    let op = Cancelable::new();
    let mut taken = 0;
    let result = op
        .run(async {
            for job in 1..=100 {
                taken = job;
                op.shield(async {
                    if job == 3 {
                        op.cancel();
                    }
                })
                .await;
            }
        })
        .await;
    assert!(result.unwrap_err().is_manual());
    assert_eq!(
        taken, 4,
        "the fourth shield is the checkpoint: its job never runs"
    );
    assert_eq!(op.status(), OperationStatus::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn a_shield_entered_in_the_grace_period_runs_but_does_not_extend_it() {
    let op = Cancelable::new().grace(Duration::from_millis(100));
    let cleaned = Arc::new(Mutex::new(Vec::new()));
    let c = cleaned.clone();
    let start = Instant::now();
    tokio::spawn({
        let op = op.clone();
        async move {
            sleep(Duration::from_millis(1)).await;
            op.cancel();
        }
    });
    let result = op
        .run(async {
            op.cancelled().await;
            op.shield(async {
                c.lock().unwrap().push("quick cleanup");
            })
            .await;
            op.shield(async {
                sleep(Duration::from_secs(10)).await;
                c.lock().unwrap().push("slow cleanup");
            })
            .await;
        })
        .await;
    assert!(result.unwrap_err().is_manual());
    assert_eq!(*cleaned.lock().unwrap(), ["quick cleanup"]);
    assert_eq!(start.elapsed(), Duration::from_millis(101));
}

#[tokio::test(start_paused = true)]
async fn a_shield_outside_any_run_still_runs_its_future_once_cancelled() {
    let op = Cancelable::new();
    op.cancel();
    assert_eq!(op.shield(async { 7 }).await, 7);
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_whose_shields_are_always_ready_yields_within_the_coop_budget() {
    let op = Cancelable::new();
    let canceller = tokio::spawn({
        let op = op.clone();
        async move { op.cancel() }
    });
    let mut iterations = 0u32;
    let result = op
        .run(async {
            while iterations < 100_000 {
                iterations += 1;
                op.shield(async {}).await;
            }
        })
        .await;
    assert!(canceller.await.unwrap());
    assert!(result.unwrap_err().is_manual());
    assert!(
        iterations <= 256,
        "ran {iterations} iterations before yielding"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_on_a_ready_channel_is_dropped_within_the_coop_budget() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for job in 0..100_000u32 {
        tx.send(job).unwrap();
    }
    let op = Cancelable::new();
    let canceller = tokio::spawn({
        let op = op.clone();
        async move { op.cancel() }
    });
    let mut taken = 0u32;
    let result = op
        .run(async {
            while rx.recv().await.is_some() {
                taken += 1;
            }
        })
        .await;
    assert!(canceller.await.unwrap());
    assert!(result.unwrap_err().is_manual());
    assert!(taken <= 256, "took {taken} jobs before yielding");
}
