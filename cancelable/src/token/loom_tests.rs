//! Loom models of the token tree: each race the tree promises to survive, checked in every
//! interleaving loom can reach (up to `LOOM_MAX_PREEMPTIONS` preemptions per execution; 2 when
//! unset).
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p cancelable --lib --release loom
//! ```
//!
//! A lost wake-up shows up as a deadlock (every thread parked in `block_on`), which loom
//! reports as a failure; a lost child, callback or link shows up in the assertions after the
//! threads are joined.

use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::{CancellationToken, Node};
use crate::error::CancellationReason;

/// Checks `f` in every interleaving; prints how many there were (see `--nocapture`).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let executions = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = executions.clone();
    builder.check(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    println!(
        "{}: {} executions (preemption bound {:?})",
        std::thread::current().name().unwrap_or("model"),
        executions.load(std::sync::atomic::Ordering::Relaxed),
        builder.preemption_bound,
    );
}

/// A counter for callbacks, checked after the threads are joined.
fn counter() -> (Arc<AtomicUsize>, impl Fn() -> usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let read = count.clone();
    (count, move || read.load(Ordering::SeqCst))
}

fn count_on_cancel(token: &CancellationToken, count: &Arc<AtomicUsize>) {
    let count = count.clone();
    token.on_cancel(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
}

/// Polls once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

fn probe(token: &CancellationToken) -> Weak<Node> {
    std::sync::Arc::downgrade(token.node())
}

// ===== cancel racing waiter registration =====

/// A task that starts waiting while another thread cancels is woken: never a lost wake-up.
#[test]
fn cancel_racing_waiter_registration() {
    model(|| {
        let token = CancellationToken::new();
        let canceller = {
            let token = token.clone();
            thread::spawn(move || assert!(token.cancel()))
        };
        loom::future::block_on(token.cancelled());
        canceller.join().unwrap();
        assert!(token.is_cancelled());
        assert_eq!(token.node().waiter_count(), 0);
    });
}

/// Two waiters on two threads, one of which first registered another waker: both woken.
#[test]
fn cancel_racing_two_waiters_and_a_waker_update() {
    model(|| {
        let token = CancellationToken::new();
        let other = {
            let token = token.clone();
            thread::spawn(move || loom::future::block_on(token.cancelled()))
        };
        let canceller = {
            let token = token.clone();
            thread::spawn(move || token.cancel())
        };
        // Registered under a no-op waker first; `block_on` then swaps in its own.
        let mut waiting = token.cancelled();
        let _ = poll_once(&mut waiting);
        loom::future::block_on(waiting);
        other.join().unwrap();
        assert!(canceller.join().unwrap());
        assert_eq!(token.node().waiter_count(), 0);
    });
}

// ===== cancel racing child creation =====

/// A child (and its own child) created while the parent is being cancelled ends cancelled,
/// with reason `Parent` and the parent's error as its cause, and leaves no link behind.
#[test]
fn cancel_racing_child_creation() {
    model(|| {
        let parent = CancellationToken::new();
        let canceller = {
            let parent = parent.clone();
            thread::spawn(move || parent.cancel_with(CancellationReason::Signal, "stop"))
        };
        let child = parent.child_token();
        let grandchild = child.child_token();
        assert!(canceller.join().unwrap());
        for token in [&child, &grandchild] {
            let error = token
                .cancellation()
                .expect("a child created during a cancel ends cancelled");
            assert_eq!(error.reason(), CancellationReason::Parent);
        }
        let cause = child
            .cancellation()
            .and_then(|e| e.cause().cloned())
            .unwrap();
        assert_eq!(cause.reason(), CancellationReason::Signal);
        assert_eq!(cause.message(), Some("stop"));
        assert_eq!(parent.node().child_count(), 0);
        assert_eq!(child.node().child_count(), 0);
    });
}

/// The same race for an any-of link (`with_token`, `any_of`), waited on from the creating
/// thread: the follower is cancelled with the leader's own error and its waiter is woken.
#[test]
fn cancel_racing_forwarding_link_and_wait() {
    model(|| {
        let leader = CancellationToken::new();
        let canceller = {
            let leader = leader.clone();
            thread::spawn(move || leader.cancel_with(CancellationReason::Condition, "full"))
        };
        let follower = leader.forwarding_token();
        loom::future::block_on(follower.cancelled());
        canceller.join().unwrap();
        assert_eq!(follower.reason(), Some(CancellationReason::Condition));
        assert_eq!(follower.message().as_deref(), Some("full"));
    });
}

// ===== racing cancels =====

/// Three threads cancel at once: exactly one wins, its reason and message are the token's,
/// every caller sees the token cancelled when its `cancel` returns, and the child and the
/// callbacks fire once.
#[test]
fn racing_cancels_have_one_winner_and_one_reason() {
    model(|| {
        let token = CancellationToken::new();
        let child = token.child_token();
        let (calls, read_calls) = counter();
        let (child_calls, read_child_calls) = counter();
        count_on_cancel(&token, &calls);
        count_on_cancel(&child, &child_calls);

        let cancel = |token: &CancellationToken, reason: CancellationReason| {
            let won = token.cancel_with(reason, reason.as_str());
            assert!(
                token.is_cancelled(),
                "a cancel returned before the token was cancelled"
            );
            won.then_some(reason)
        };
        let others: Vec<_> = [CancellationReason::Timeout, CancellationReason::Signal]
            .into_iter()
            .map(|reason| {
                let token = token.clone();
                thread::spawn(move || cancel(&token, reason))
            })
            .collect();
        let mut winners: Vec<_> = cancel(&token, CancellationReason::Manual)
            .into_iter()
            .collect();
        for other in others {
            winners.extend(other.join().unwrap());
        }

        assert_eq!(winners.len(), 1, "exactly one cancel wins: {winners:?}");
        let winner = winners[0];
        assert_eq!(token.reason(), Some(winner));
        assert_eq!(token.message().as_deref(), Some(winner.as_str()));
        let child_error = child.cancellation().unwrap();
        assert_eq!(child_error.reason(), CancellationReason::Parent);
        assert_eq!(child_error.cause().map(|c| c.reason()), Some(winner));
        assert_eq!(read_calls(), 1);
        assert_eq!(read_child_calls(), 1);
    });
}

/// A follower of two leaders cancelled at once (any-of) is cancelled once, with one of the
/// two errors, whole.
#[test]
fn racing_leaders_cancel_a_follower_once() {
    model(|| {
        let first = CancellationToken::new();
        let second = CancellationToken::new();
        let follower = CancellationToken::new();
        follower.node().link_to(first.node(), super::Link::Forward);
        follower.node().link_to(second.node(), super::Link::Forward);
        let (calls, read_calls) = counter();
        count_on_cancel(&follower, &calls);

        let other = thread::spawn(move || first.cancel_with(CancellationReason::Timeout, "first"));
        second.cancel_with(CancellationReason::Manual, "second");
        other.join().unwrap();

        let error = follower.cancellation().unwrap();
        match error.message() {
            Some("first") => assert_eq!(error.reason(), CancellationReason::Timeout),
            Some("second") => assert_eq!(error.reason(), CancellationReason::Manual),
            other => panic!("unexpected message {other:?}"),
        }
        assert_eq!(read_calls(), 1);
    });
}

// ===== drop racing cancel =====

/// The last handle of a child dropped while its parent is cancelled: no panic, no link left
/// in the parent, the child's callback runs at most once, and the child's node is freed.
#[test]
fn drop_racing_cancel() {
    model(|| {
        let parent = CancellationToken::new();
        let child = parent.child_token();
        let child_node = probe(&child);
        let (calls, read_calls) = counter();
        count_on_cancel(&child, &calls);

        let dropper = thread::spawn(move || drop(child));
        assert!(parent.cancel());
        dropper.join().unwrap();

        assert_eq!(parent.node().child_count(), 0);
        assert!(read_calls() <= 1);
        assert!(child_node.upgrade().is_none(), "the child's node is freed");
    });
}

/// A registered waiter dropped while the token is cancelled leaves no waker behind.
#[test]
fn waiter_drop_racing_cancel() {
    model(|| {
        let token = CancellationToken::new();
        let mut waiting = token.cancelled();
        assert!(poll_once(&mut waiting).is_pending());
        assert_eq!(token.node().waiter_count(), 1);

        let canceller = {
            let token = token.clone();
            thread::spawn(move || token.cancel())
        };
        drop(waiting);
        canceller.join().unwrap();
        assert_eq!(token.node().waiter_count(), 0);
    });
}

/// The last handles of a parent and of its child dropped on two threads while the child is
/// cancelled: both nodes are freed, whichever thread drops last.
#[test]
fn last_handles_dropped_on_two_threads() {
    model(|| {
        let parent = CancellationToken::new();
        let child = parent.child_token();
        let (parent_node, child_node) = (probe(&parent), probe(&child));

        let dropper = thread::spawn(move || drop(parent));
        let canceller = {
            let child = child.clone();
            thread::spawn(move || child.cancel())
        };
        drop(child);
        dropper.join().unwrap();
        canceller.join().unwrap();

        assert!(parent_node.upgrade().is_none());
        assert!(child_node.upgrade().is_none());
    });
}

// ===== callback registration racing cancel =====

/// A callback registered while the token is cancelled runs exactly once: by the cancelling
/// thread, or at once by the registering one.
#[test]
fn callback_registration_racing_cancel() {
    model(|| {
        let token = CancellationToken::new();
        let (calls, read_calls) = counter();
        let registrar = {
            let token = token.clone();
            thread::spawn(move || count_on_cancel(&token, &calls))
        };
        assert!(token.cancel());
        registrar.join().unwrap();
        assert_eq!(read_calls(), 1);
    });
}

/// The same on a child, while the cancel arrives through its parent.
#[test]
fn callback_registration_on_a_child_racing_the_parents_cancel() {
    model(|| {
        let parent = CancellationToken::new();
        let child = parent.child_token();
        let (calls, read_calls) = counter();
        let registrar = thread::spawn(move || {
            count_on_cancel(&child, &calls);
            child
        });
        assert!(parent.cancel());
        let child = registrar.join().unwrap();
        assert!(child.is_cancelled());
        assert_eq!(read_calls(), 1);
    });
}
