//! Parent/child scopes: automatic nesting, explicit parents, spawn, spawn_blocking.

use std::time::Duration;

use cancelable::test_util::registrations;
use cancelable::{Cancelable, CancellationReason, OperationStatus};
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
    assert_eq!(err.reason(), CancellationReason::Timeout);
    assert_eq!(inner_handle.status(), OperationStatus::Cancelled);
    assert_eq!(
        inner_handle.reason(),
        Some(CancellationReason::Parent),
        "never Manual"
    );
    let ctx = inner_handle.context();
    assert_eq!(ctx.parent_id.as_deref(), Some(outer.id()));
    let inner_err = inner_handle.cancellation().unwrap();
    assert_eq!(
        inner_err.cause().unwrap().reason(),
        CancellationReason::Timeout
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
    parent.cancel_with(CancellationReason::Manual, "batch aborted");
    for child in children {
        let (result, ctx) = child.await.unwrap();
        let err = result.unwrap_err();
        assert_eq!(err.reason(), CancellationReason::Parent);
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
    assert_eq!(err.reason(), CancellationReason::Parent);
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
        assert_eq!(outcome.unwrap_err().reason(), CancellationReason::Parent);
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
    assert_eq!(reason, Some(CancellationReason::Parent));
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

#[tokio::test]
async fn a_child_that_completes_at_once_never_links_to_its_parent() {
    let parent = Cancelable::new().named("parent");
    parent
        .run(async {
            for i in 0..100 {
                let child = Cancelable::with_timeout(Duration::from_secs(30));
                assert_eq!(child.run(async { i }).await, Ok(i));
                assert_eq!(registrations(&child), (0, 0));
            }
            let parent = Cancelable::current().unwrap();
            assert_eq!(
                registrations(&parent),
                (0, 0),
                "no child link was ever made"
            );
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_child_without_its_own_token_sees_its_parent_cancelled_at_once() {
    let grandparent = Cancelable::new().named("top");
    let parent = Cancelable::new().parent(&grandparent);
    let child = Cancelable::new().parent(&parent);
    assert!(!child.is_cancelled());
    assert!(child.check().is_ok());
    grandparent.cancel();
    assert!(parent.is_cancelled());
    assert!(
        child.is_cancelled(),
        "seen before the child made its own token"
    );
    let err = child.check().unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Parent);
    assert_eq!(err.cause().unwrap().reason(), CancellationReason::Parent);
    assert!(err.cause().unwrap().cause().unwrap().is_manual());
    assert!(child.token().is_cancelled());
    let result = child.run(async { 1 }).await;
    assert!(result.unwrap_err().is_parent(), "the body never runs");
}

#[tokio::test]
async fn making_a_deep_chain_of_tokens_links_every_level() {
    let top = Cancelable::new();
    let mut chain = vec![top.clone()];
    for _ in 0..1_000 {
        let next = Cancelable::new().parent(chain.last().unwrap());
        chain.push(next);
    }
    let bottom_token = chain.last().unwrap().token();
    for op in &chain[..chain.len() - 1] {
        assert_eq!(registrations(op).0, 1, "each level linked to the next");
    }
    top.cancel();
    assert!(bottom_token.is_cancelled());
    assert_eq!(bottom_token.reason(), Some(CancellationReason::Parent));
    drop(bottom_token);
    while let Some(op) = chain.pop() {
        drop(op);
    }
}

#[tokio::test]
async fn a_token_made_before_the_run_adopts_its_parent_is_linked_then() {
    let parent = Cancelable::new();
    let child = Cancelable::new();
    let token = child.token();
    let err = parent
        .run(async {
            let run = child.run(std::future::pending::<()>());
            tokio::pin!(run);
            assert!(futures::poll!(&mut run).is_pending());
            Cancelable::current().unwrap().cancel();
            assert!(
                token.is_cancelled(),
                "linked when the run adopted the parent"
            );
            run.await
        })
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_parent());
}

#[test]
fn a_token_made_from_another_thread_while_the_run_adopts_its_parent_is_linked() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for _ in 0..500 {
        let parent = Cancelable::new();
        let child = Cancelable::new();
        let other_thread = {
            let child = child.clone();
            std::thread::spawn(move || child.token())
        };
        let running = parent.clone();
        let _completed_in_the_same_poll = rt.block_on(async move {
            running
                .run(async {
                    let run = child.run(std::future::pending::<()>());
                    tokio::pin!(run);
                    assert!(futures::poll!(&mut run).is_pending());
                    let token = other_thread.join().unwrap();
                    Cancelable::current().unwrap().cancel();
                    assert!(token.is_cancelled(), "the child's token follows the parent");
                    assert!(run.await.unwrap_err().is_parent());
                })
                .await
        });
    }
}
