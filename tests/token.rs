//! `CancellationToken`: cancel-once, cross-thread, callbacks, children, blocking waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use cancelable::test_util::token_registrations;
use cancelable::{Cancelable, CancellationReason, CancellationToken};

#[test]
fn first_cancel_wins_and_check_stays_err() {
    let token = CancellationToken::new();
    assert!(token.check().is_ok());
    assert!(token.cancel_with(CancellationReason::Condition, "first"));
    assert!(!token.cancel());
    assert!(!token.cancel_with(CancellationReason::Timeout, "second"));
    assert_eq!(token.reason(), Some(CancellationReason::Condition));
    assert_eq!(token.message().as_deref(), Some("first"));
    for _ in 0..3 {
        let err = token.check().unwrap_err();
        assert_eq!(err.reason(), CancellationReason::Condition);
        assert_eq!(err.message(), Some("first"));
    }
}

#[test]
fn racing_cancels_have_exactly_one_winner() {
    for _ in 0..50 {
        let token = CancellationToken::new();
        let barrier = Arc::new(Barrier::new(8));
        let winners: Vec<_> = (0..8)
            .map(|i| {
                let (token, barrier) = (token.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    token.cancel_with(CancellationReason::Manual, format!("thread {i}"))
                })
            })
            .collect();
        let won: Vec<bool> = winners.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(won.iter().filter(|w| **w).count(), 1);
        let winner = won.iter().position(|w| *w).unwrap();
        assert_eq!(token.message(), Some(format!("thread {winner}")));
    }
}

#[test]
fn is_cancelled_does_not_wait_for_callbacks() {
    // While the cancelling thread is still inside a callback, another thread already sees the
    // token cancelled: the flag is published before anything else runs, and reading it takes
    // no lock.
    let token = CancellationToken::new();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    token.on_cancel(move |_| {
        entered_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    let canceller = std::thread::spawn({
        let token = token.clone();
        move || token.cancel()
    });
    entered_rx.recv().unwrap();
    assert!(token.is_cancelled());
    assert!(token.check().is_err());
    release_tx.send(()).unwrap();
    assert!(canceller.join().unwrap());
}

#[test]
fn cancel_from_a_plain_thread_wakes_a_multi_thread_runtime_task() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let op = Cancelable::with_token(token.clone());
    let (parked_tx, parked_rx) = std::sync::mpsc::channel();
    let task = rt.spawn(async move {
        op.run(async {
            parked_tx.send(()).unwrap();
            std::future::pending::<()>().await
        })
        .await
    });
    parked_rx.recv().unwrap();
    // No runtime on this thread, no bridge task: the cancel itself wakes the task.
    std::thread::spawn(move || assert!(token.cancel()))
        .join()
        .unwrap();
    let err = rt.block_on(task).unwrap().unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Manual);
}

#[test]
fn callbacks_run_once_in_order_and_survive_a_panicking_one() {
    let token = CancellationToken::new();
    let calls = Arc::new(Mutex::new(Vec::new()));
    for i in 0..5 {
        let calls = calls.clone();
        token.on_cancel(move |err| {
            if i == 2 {
                panic!("callback {i} fails");
            }
            calls.lock().unwrap().push((i, err.reason()));
        });
    }
    token.cancel_with(CancellationReason::Signal, "received signal SIGTERM");
    token.cancel();
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls,
        [0, 1, 3, 4]
            .map(|i| (i, CancellationReason::Signal))
            .to_vec(),
        "every callback but the panicking one, once, in order"
    );
}

#[test]
fn callback_on_a_cancelled_token_runs_at_once() {
    let token = CancellationToken::new();
    token.cancel();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    token.on_cancel(move |err| {
        assert!(err.is_manual());
        r.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[test]
fn wait_blocking_on_plain_threads() {
    let token = CancellationToken::new();
    assert!(!token.wait_blocking(Some(Duration::from_millis(5))));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let token = token.clone();
            std::thread::spawn(move || token.wait_blocking(None))
        })
        .collect();
    token.cancel();
    for waiter in waiters {
        assert!(waiter.join().unwrap());
    }
    assert!(token.wait_blocking(Some(Duration::ZERO)));
    assert_eq!(token_registrations(&token), (0, 0));
}

#[test]
fn child_tokens_get_parent_reason_with_cause() {
    let parent = CancellationToken::new();
    let child = parent.child_token();
    let grandchild = child.child_token();

    let lone = parent.child_token();
    lone.cancel();
    assert!(
        !parent.is_cancelled(),
        "cancelling a child leaves the parent alone"
    );

    parent.cancel_with(CancellationReason::Timeout, "timeout after 1s");
    let err = child.cancellation().unwrap();
    assert_eq!(err.reason(), CancellationReason::Parent);
    assert_eq!(err.cause().unwrap().reason(), CancellationReason::Timeout);
    assert_eq!(err.cause().unwrap().message(), Some("timeout after 1s"));
    let deep = grandchild.cancellation().unwrap();
    assert_eq!(deep.reason(), CancellationReason::Parent);
    assert_eq!(deep.root_cause().reason(), CancellationReason::Timeout);
    assert!(std::error::Error::source(&deep).is_some());

    let late = parent.child_token();
    assert_eq!(
        late.reason(),
        Some(CancellationReason::Parent),
        "born cancelled"
    );
}

#[test]
fn cancelling_a_deep_chain_does_not_recurse() {
    let root = CancellationToken::new();
    let mut tokens = vec![root.clone()];
    for _ in 0..100_000 {
        let next = tokens.last().unwrap().child_token();
        tokens.push(next);
    }
    root.cancel();
    assert!(tokens.last().unwrap().is_cancelled());
    assert!(tokens.iter().all(CancellationToken::is_cancelled));
}

#[test]
fn wide_fan_out_reaches_every_child_once() {
    let root = CancellationToken::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let children: Vec<_> = (0..10_000)
        .map(|_| {
            let child = root.child_token();
            let hits = hits.clone();
            child.on_cancel(move |_| {
                hits.fetch_add(1, Ordering::Relaxed);
            });
            child
        })
        .collect();
    assert_eq!(token_registrations(&root).0, 10_000);
    root.cancel();
    assert_eq!(hits.load(Ordering::Relaxed), 10_000);
    assert!(
        children
            .iter()
            .all(|c| c.reason() == Some(CancellationReason::Parent))
    );
}

#[test]
fn dropped_children_leave_their_parent() {
    let root = CancellationToken::new();
    let children: Vec<_> = (0..100).map(|_| root.child_token()).collect();
    assert_eq!(token_registrations(&root).0, 100);
    drop(children);
    assert_eq!(token_registrations(&root), (0, 0));
}

#[tokio::test]
async fn cancelled_future_is_ready_when_already_cancelled_and_unregisters_on_drop() {
    let token = CancellationToken::new();
    let mut waiting = Box::pin(token.cancelled());
    assert!(crate::poll_once(&mut waiting).is_pending());
    assert_eq!(token_registrations(&token).1, 1);
    drop(waiting);
    assert_eq!(token_registrations(&token).1, 0);
    token.cancel();
    token.cancelled().await;
}

#[tokio::test]
async fn tokio_util_interop_both_ways() {
    let ours = CancellationToken::new();
    let theirs: tokio_util::sync::CancellationToken = ours.clone().into();
    ours.cancel();
    assert!(theirs.is_cancelled());

    let theirs = tokio_util::sync::CancellationToken::new();
    let ours = CancellationToken::from(theirs.clone());
    theirs.cancel();
    ours.cancelled().await;
    assert_eq!(ours.reason(), Some(CancellationReason::Manual));
}
