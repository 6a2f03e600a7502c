//! Parent/child scopes: automatic nesting, explicit parents, spawn, spawn_blocking.

use std::time::Duration;

use cancelable::__private::registrations;
use cancelable::{Cancelable, CancelationReason, OperationStatus};
use tokio::time::{Instant, sleep};

#[tokio::test(start_paused = true)]
async fn scope_inside_a_run_is_a_child_and_gets_reason_parent() {
    let outer = Cancelable::with_timeout(Duration::from_secs(1)).named("outer");
    let inner = Cancelable::new().named("inner");
    let inner_handle = inner.clone();
    let err = outer
        .run(async {
            assert_eq!(Cancelable::current().unwrap().name(), "outer");
            let inner_result = inner
                .run(async {
                    assert_eq!(Cancelable::current().unwrap().name(), "inner");
                    sleep(Duration::from_secs(10)).await
                })
                .await;
            unreachable!("the outer body is dropped with the inner one: {inner_result:?}")
        })
        .await
        .unwrap_err();
    assert_eq!(err.reason(), CancelationReason::Timeout);
    assert_eq!(inner_handle.status(), OperationStatus::Cancelled);
    assert_eq!(
        inner_handle.reason(),
        Some(CancelationReason::Parent),
        "never Manual"
    );
    let ctx = inner_handle.context();
    assert_eq!(ctx.parent_id.as_deref(), Some(outer.id()));
    let inner_err = inner_handle.error().unwrap();
    assert_eq!(
        inner_err.cause().unwrap().reason(),
        CancelationReason::Timeout
    );
    assert!(Cancelable::current().is_none());
}

#[tokio::test(start_paused = true)]
async fn inner_timeout_is_an_err_the_outer_body_handles() {
    let outer = Cancelable::with_timeout(Duration::from_secs(10));
    let out = outer
        .run(async {
            let first =
                cancelable::with_timeout(Duration::from_secs(1), sleep(Duration::from_secs(5)))
                    .await;
            assert!(first.unwrap_err().is_timeout());
            let second =
                cancelable::with_timeout(Duration::from_secs(1), async { "fallback" }).await;
            second.unwrap()
        })
        .await;
    assert_eq!(out, Ok("fallback"));
    assert_eq!(outer.status(), OperationStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn explicit_parent_works_across_tasks() {
    let parent = Cancelable::new().named("batch");
    let children: Vec<_> = (0..3)
        .map(|i| {
            let child = Cancelable::new().named(format!("job {i}")).parent(&parent);
            tokio::spawn(async move {
                let result = child.run(std::future::pending::<()>()).await;
                (result, child.context())
            })
        })
        .collect();
    sleep(Duration::from_millis(1)).await;
    parent.cancel_with(CancelationReason::Manual, "batch aborted");
    for child in children {
        let (result, ctx) = child.await.unwrap();
        let err = result.unwrap_err();
        assert_eq!(err.reason(), CancelationReason::Parent);
        assert_eq!(err.cause().unwrap().message(), Some("batch aborted"));
        assert_eq!(
            err.cause().unwrap().operation_name(),
            Some("batch"),
            "the cause names its operation"
        );
        assert_eq!(ctx.parent_id.as_deref(), Some(parent.id()));
        assert_eq!(ctx.status, OperationStatus::Cancelled);
    }
}

#[tokio::test(start_paused = true)]
#[allow(clippy::async_yields_async)] // the body hands the worker's JoinHandle out
async fn spawned_work_is_a_child() {
    let op = Cancelable::with_timeout(Duration::from_secs(1));
    let worker = op
        .run(async {
            let cancel = Cancelable::current().unwrap();
            let worker = cancel.spawn(async { sleep(Duration::from_secs(60)).await });
            sleep(Duration::from_secs(5)).await;
            worker
        })
        .await;
    assert!(worker.is_err(), "the outer op timed out");
    // The outer body (holding the JoinHandle) was dropped; spawn from the op directly instead.
    let op = Cancelable::new();
    let worker = op.spawn(async { sleep(Duration::from_secs(60)).await });
    let start = Instant::now();
    sleep(Duration::from_secs(1)).await;
    op.cancel();
    let err = worker.await.unwrap().unwrap_err();
    assert_eq!(err.reason(), CancelationReason::Parent);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn spawned_children_stop_when_the_parent_times_out() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let op = Cancelable::with_timeout(Duration::from_secs(1));
    let result = op
        .run(async {
            let cancel = Cancelable::current().unwrap();
            for i in 0..3 {
                let tx = tx.clone();
                let handle = cancel.spawn(async move { sleep(Duration::from_secs(60)).await });
                tokio::spawn(async move { tx.send((i, handle.await.unwrap())).unwrap() });
            }
            sleep(Duration::from_secs(60)).await
        })
        .await;
    assert!(result.unwrap_err().is_timeout());
    drop(tx);
    let mut ended = 0;
    while let Some((_, outcome)) = rx.recv().await {
        assert_eq!(outcome.unwrap_err().reason(), CancelationReason::Parent);
        ended += 1;
    }
    assert_eq!(ended, 3);
}

#[tokio::test]
async fn spawn_blocking_hands_over_a_token() {
    let op = Cancelable::new();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let work = op.spawn_blocking(move |token| {
        started_tx.send(()).unwrap();
        let mut spins = 0u64;
        while !token.is_cancelled() {
            spins += 1;
            std::thread::yield_now();
        }
        (spins, token.reason())
    });
    started_rx.await.unwrap();
    op.cancel();
    let (_, reason) = work.await.unwrap();
    assert_eq!(reason, Some(CancelationReason::Parent));
}

#[tokio::test(start_paused = true)]
async fn finished_children_do_not_accumulate_in_a_long_lived_parent() {
    let parent = Cancelable::new();
    parent
        .run(async {
            for _ in 0..100 {
                cancelable::with_timeout(Duration::from_secs(1), async {})
                    .await
                    .unwrap();
                Cancelable::new()
                    .parent(&Cancelable::current().unwrap())
                    .run(sleep(Duration::from_millis(1)))
                    .await
                    .unwrap();
            }
            assert_eq!(
                registrations(&Cancelable::current().unwrap()).0,
                0,
                "no child links left"
            );
        })
        .await
        .unwrap();
}
