//! `CancellationToken::from_tokio_util` (and `From`) need no runtime: none of these tests runs
//! one. The `tokio_util` token's cancel is forwarded inside its `cancel` call, to every
//! observer of ours, and the forward leaves nothing behind once either token is cancelled or
//! ours is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use cancelable::test_util::token_probe;
use cancelable::{CancellationReason, CancellationToken};
use tokio_util::sync::CancellationToken as TokioToken;

#[test]
fn a_tokio_util_cancel_reaches_every_observer_without_a_runtime() {
    let theirs = TokioToken::new();
    let ours = CancellationToken::from_tokio_util(theirs.clone());
    let child = ours.child_token();
    let grandchild = child.child_token();
    let mut waiting = Box::pin(ours.cancelled());
    assert!(crate::poll_once(&mut waiting).is_pending());
    let cancelled_on = Arc::new(Mutex::new(None));
    let seen = cancelled_on.clone();
    ours.on_cancel(move |err| {
        *seen.lock().unwrap() = Some((thread::current().id(), err.reason()));
    });
    assert!(!ours.is_cancelled() && ours.check().is_ok());
    assert!(!ours.wait_blocking(Some(Duration::from_millis(1))));

    theirs.cancel();

    // All of it before `cancel` returned, on this thread.
    assert!(ours.is_cancelled());
    assert_eq!(ours.reason(), Some(CancellationReason::Manual));
    assert_eq!(ours.message(), None);
    assert!(ours.check().unwrap_err().is_manual());
    assert!(ours.wait_blocking(None));
    assert!(crate::poll_once(&mut waiting).is_ready());
    assert!(child.is_cancelled() && grandchild.is_cancelled());
    assert_eq!(child.reason(), Some(CancellationReason::Parent));
    assert_eq!(
        *cancelled_on.lock().unwrap(),
        Some((thread::current().id(), CancellationReason::Manual))
    );
}

#[test]
fn the_into_conversion_is_the_same() {
    let theirs = TokioToken::new();
    let ours: CancellationToken = theirs.clone().into();
    theirs.cancel();
    assert!(ours.is_cancelled());
}

#[test]
fn a_tokio_util_parent_cancel_is_forwarded_too() {
    let root = TokioToken::new();
    // The child's only handle is the one given away.
    let ours = CancellationToken::from_tokio_util(root.child_token().child_token());
    assert!(!ours.is_cancelled());
    root.cancel();
    assert!(ours.is_cancelled());
}

#[test]
fn an_already_cancelled_tokio_util_token_gives_a_cancelled_token() {
    let theirs = TokioToken::new();
    theirs.cancel();
    let ours = CancellationToken::from_tokio_util(theirs);
    assert!(ours.is_cancelled());
    assert_eq!(ours.reason(), Some(CancellationReason::Manual));
}

#[test]
fn a_thread_blocked_on_ours_wakes_when_theirs_is_cancelled_on_another() {
    let theirs = TokioToken::new();
    let ours = CancellationToken::from_tokio_util(theirs.clone());
    let blocked = thread::spawn(move || ours.wait_blocking(Some(Duration::from_secs(30))));
    thread::sleep(Duration::from_millis(10));
    thread::spawn(move || theirs.cancel()).join().unwrap();
    assert!(blocked.join().unwrap());
}

#[test]
fn a_cancel_racing_the_conversion_is_never_lost() {
    for _ in 0..500 {
        let theirs = TokioToken::new();
        let barrier = Arc::new(Barrier::new(2));
        let canceller = thread::spawn({
            let (theirs, barrier) = (theirs.clone(), barrier.clone());
            move || {
                barrier.wait();
                theirs.cancel();
            }
        });
        barrier.wait();
        let ours = CancellationToken::from_tokio_util(theirs.clone());
        let child = ours.child_token();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        ours.on_cancel(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        canceller.join().unwrap();
        assert!(ours.is_cancelled() && child.is_cancelled());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn dropping_ours_while_theirs_lives_frees_everything() {
    let theirs = TokioToken::new();
    let info = allocation_counter::measure(|| {
        let ours = CancellationToken::from_tokio_util(theirs.clone());
        let probe = token_probe(&ours);
        drop(ours);
        assert!(!probe.is_alive());
    });
    // The registration (its box, its waker, its handle to `theirs`) went with our node.
    assert_eq!(info.count_current, 0, "{info:?}");
    assert!(!theirs.is_cancelled());
    theirs.cancel(); // wakes nothing, and must not panic
}

#[test]
fn nothing_is_left_once_either_token_is_cancelled() {
    for ours_first in [true, false] {
        let theirs = TokioToken::new();
        let info = allocation_counter::measure(|| {
            let ours = CancellationToken::from_tokio_util(theirs.clone());
            if ours_first {
                ours.cancel();
            } else {
                theirs.cancel();
            }
            assert!(ours.is_cancelled());
            drop(ours);
        });
        assert_eq!(info.count_current, 0, "ours first: {ours_first}: {info:?}");
        theirs.cancel();
    }
}

#[test]
fn the_registration_goes_when_ours_is_cancelled_not_when_it_is_dropped() {
    for ours_first in [true, false] {
        let theirs = TokioToken::new();
        let ours = CancellationToken::from_tokio_util(theirs.clone());
        let info = allocation_counter::measure(|| {
            if ours_first {
                ours.cancel();
            } else {
                theirs.cancel();
            }
        });
        // Freed while `ours` lives: the registration's box, its waker, the callback holding it
        // (and the node's callback list); at most the stored error is new.
        assert!(
            info.count_current <= -3,
            "ours first: {ours_first}: {info:?}"
        );
        assert!(ours.is_cancelled());
    }
}

#[test]
fn tokio_util_interop_round_trip() {
    let theirs = TokioToken::new();
    let ours = CancellationToken::from_tokio_util(theirs.clone());
    let back: TokioToken = ours.clone().into();
    theirs.cancel();
    assert!(back.is_cancelled());
}

#[test]
fn the_auto_traits_match_tokio_utils() {
    fn assert_traits<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_traits::<TokioToken>();
    assert_traits::<CancellationToken>();
    assert_traits::<cancelable::Cancelable>();
    assert_traits::<cancelable::OperationRegistry>();
    assert_send_sync::<cancelable::WaitForCancellationFutureOwned>();
    assert_send_sync::<cancelable::DropGuard>();
    assert_send_sync::<cancelable::DropGuardRef<'static>>();
    assert_send_sync::<cancelable::WithCancellationTokenFuture<std::future::Ready<()>>>();
    assert_send_sync::<cancelable::WithCancellationTokenFutureOwned<std::future::Ready<()>>>();
    let token = CancellationToken::new();
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&token.run_until_cancelled(std::future::ready(())));
    assert_send(
        &token
            .clone()
            .run_until_cancelled_owned(std::future::ready(())),
    );
}
