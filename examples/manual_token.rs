//! A `CancellationToken` cancelled by hand:
//!
//! 1. a worker checks the token between items (`check()?`), and a supervisor task cancels it
//!    with a reason and a message;
//! 2. `on_cancel` callbacks run once, in order, on the cancelling thread (printed first);
//! 3. `cancelled().await` wakes every waiter; the first cancel wins, later ones change nothing;
//! 4. child tokens: cancelling a child leaves the parent alone, cancelling the parent reaches
//!    every child with reason `Parent`;
//! 5. an operation built on the token (`Cancelable::with_token`) drops its work at once.
//!
//! Run it with `cargo run --example manual_token` (under a second).

use std::time::Duration;

use cancelable::{Cancelable, CancellationError, CancellationReason, CancellationToken};
use tokio::time::sleep;

/// Processes items until the token is cancelled; returns how many, and why it stopped.
async fn worker(token: CancellationToken) -> (u32, CancellationError) {
    let mut done = 0;
    loop {
        // A checkpoint: `Err` once cancelled, and forever after.
        if let Err(err) = token.check() {
            return (done, err);
        }
        sleep(Duration::from_millis(20)).await;
        done += 1;
    }
}

#[tokio::main]
async fn main() {
    // 1 and 2.
    let token = CancellationToken::new();
    token.on_cancel(|err| println!("   on_cancel #1: {err}"));
    token.on_cancel(|err| println!("   on_cancel #2: reason {}", err.reason()));
    let work = tokio::spawn(worker(token.clone()));
    let supervisor = tokio::spawn({
        let token = token.clone();
        async move {
            sleep(Duration::from_millis(110)).await;
            token.cancel_with(CancellationReason::Manual, "the user pressed stop")
        }
    });
    println!("1. supervisor cancelled: {}", supervisor.await.unwrap());
    let (done, why) = work.await.unwrap();
    println!("1. worker stopped after {done} items: {why}");

    // 3. Every waiter wakes; the first cancel wins.
    let token = CancellationToken::new();
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let token = token.clone();
            tokio::spawn(async move {
                token.cancelled().await;
                format!("waiter {i} woke: {:?}", token.message())
            })
        })
        .collect();
    assert!(token.cancel_with(CancellationReason::Condition, "quota reached"));
    assert!(!token.cancel(), "a second cancel changes nothing");
    for waiter in waiters {
        println!("3. {}", waiter.await.unwrap());
    }

    // 4. Children.
    let parent = CancellationToken::new();
    let (a, b) = (parent.child_token(), parent.child_token());
    a.cancel();
    println!(
        "4. child a cancelled: parent cancelled? {}, child b? {}",
        parent.is_cancelled(),
        b.is_cancelled()
    );
    parent.cancel_with(CancellationReason::Manual, "shutdown");
    let err = b.cancellation().unwrap();
    println!(
        "4. child b: reason {}, cause: {}",
        err.reason(),
        err.cause().unwrap()
    );

    // 5. An operation that follows a token.
    let stop = CancellationToken::new();
    let op = Cancelable::with_token(stop.clone()).named("render");
    tokio::spawn(async move {
        sleep(Duration::from_millis(50)).await;
        stop.cancel_with(CancellationReason::Manual, "preview closed");
    });
    let outcome = op.run(sleep(Duration::from_secs(10))).await;
    println!("5. {}", outcome.unwrap_err());
}
