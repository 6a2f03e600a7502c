//! Polled conditions: cancel when something in the world says so.
//!
//! 1. A sync predicate (a queue has drained) checked every 20 ms; the message names it and
//!    counts the checks.
//! 2. An async predicate (a remote "stop" flag fetched over the network) checked every 50 ms;
//!    a check in flight is awaited before the next one.
//! 3. A predicate that panics counts as "not met", is logged, and monitoring goes on.
//! 4. The attribute form: `#[cancelable(condition = ..., check_interval = "…")]`.
//!
//! Run it with `cargo run --example conditions` (under a second).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use cancelable::{Cancelable, CancellationError, cancelable};
use tokio::time::sleep;

/// A remote flag, fetched "over the network".
async fn remote_stop_requested(flag: Arc<AtomicBool>) -> bool {
    sleep(Duration::from_millis(5)).await;
    flag.load(Ordering::Relaxed)
}

#[cancelable(
    condition = {
        let budget = budget.clone();
        move || budget.load(Ordering::Relaxed) == 0
    },
    check_interval = "10ms"
)]
async fn spend(budget: Arc<AtomicU32>) -> u32 {
    let mut spent = 0;
    loop {
        sleep(Duration::from_millis(15)).await;
        if budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
            .is_ok()
        {
            spent += 1;
        }
        if spent > 1000 {
            return spent;
        }
    }
}

#[tokio::main]
async fn main() {
    // 1.
    let queue = Arc::new(AtomicU32::new(10));
    let pending = queue.clone();
    let op = Cancelable::with_named_condition(
        "queue_drained",
        move || pending.load(Ordering::Relaxed) == 0,
        Duration::from_millis(20),
    )
    .named("consumer");
    let err = op
        .run(async {
            loop {
                sleep(Duration::from_millis(10)).await;
                let _ =
                    queue.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            }
        })
        .await
        .unwrap_err();
    println!("1. {err}");

    // 2.
    let flag = Arc::new(AtomicBool::new(false));
    let remote = flag.clone();
    let op = Cancelable::with_async_condition(
        move || remote_stop_requested(remote.clone()),
        Duration::from_millis(50),
    )
    .named("sync_with_remote");
    tokio::spawn(async move {
        sleep(Duration::from_millis(120)).await;
        flag.store(true, Ordering::Relaxed);
    });
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    println!("2. {err}");

    // 3. The first two checks panic; the third says "met". (The panics are logged through
    // `tracing`; silence the default hook's report for this demo.)
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let checks = AtomicU32::new(0);
    let op = Cancelable::with_named_condition(
        "flaky_sensor",
        move || {
            let n = checks.fetch_add(1, Ordering::Relaxed) + 1;
            assert!(n > 2, "sensor offline (check {n})");
            true
        },
        Duration::from_millis(10),
    )
    .named("read_sensor");
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    std::panic::set_hook(default_hook);
    println!("3. {err} (two panicking checks were skipped)");

    // 4.
    let budget = Arc::new(AtomicU32::new(5));
    let outcome: Result<u32, CancellationError> = spend(budget).await;
    println!("4. {}", outcome.unwrap_err());
}
