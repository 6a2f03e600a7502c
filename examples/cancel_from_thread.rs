//! Cancelling from plain OS threads, and blocking work that watches a token.
//!
//! 1. A GUI-like thread (no async runtime there) cancels an operation through its token: the
//!    call is synchronous and wakes the operation at once, no bridge task needed.
//! 2. CPU-bound work runs on tokio's blocking pool with `spawn_blocking`; it polls the token it
//!    is handed (a child of the operation's) and stops when the operation is cancelled.
//! 3. A plain thread waits for a cancellation with `wait_blocking`, with and without a timeout.
//! 4. The registry can be used from a thread too: it cancels operations by name pattern.
//!
//! Run it with `cargo run --example cancel_from_thread` (under a second).

use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, CancellationToken, OperationRegistry};
use tokio::time::{Instant, sleep};

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let ms = move || started.elapsed().as_millis();

    // 1. A thread with no runtime cancels the operation.
    let op = Cancelable::new().named("render_preview");
    let token = op.token();
    let ui = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        token.cancel_with(CancellationReason::Manual, "the window was closed")
    });
    let err = op.run(sleep(Duration::from_secs(10))).await.unwrap_err();
    println!("1. at {:>3} ms: {err}", ms());
    println!(
        "   the thread's cancel was the first: {}",
        ui.join().unwrap()
    );

    // 2. CPU-bound work that polls its token.
    let op = Cancelable::with_timeout(Duration::from_millis(150)).named("hash_passwords");
    let outcome = op
        .run(async {
            let work = op.spawn_blocking(|token: CancellationToken| {
                let mut rounds = 0u64;
                let mut state = 0x9e37_79b9_7f4a_7c15u64;
                while !token.is_cancelled() {
                    for _ in 0..10_000 {
                        state = state.rotate_left(5) ^ rounds;
                        rounds += 1;
                    }
                }
                (rounds, state, token.reason())
            });
            work.await
        })
        .await;
    println!("2. at {:>3} ms: {}", ms(), outcome.unwrap_err());
    // The blocking work saw the cancel too (reason `Parent`: its token is a child).
    sleep(Duration::from_millis(20)).await;

    // 3. Blocking waits on a plain thread.
    let token = CancellationToken::new();
    let waiter = std::thread::spawn({
        let token = token.clone();
        move || {
            let early = token.wait_blocking(Some(Duration::from_millis(20)));
            let later = token.wait_blocking(None);
            (early, later, token.message())
        }
    });
    sleep(Duration::from_millis(60)).await;
    token.cancel_with(CancellationReason::Manual, "done waiting");
    let (early, later, message) = waiter.join().unwrap();
    println!(
        "3. at {:>3} ms: wait(20ms) -> {early}, wait() -> {later}, message {message:?}",
        ms()
    );

    // 4. The registry, from a thread.
    let registry = OperationRegistry::new();
    let jobs: Vec<_> = ["sync_users", "sync_orders", "report"]
        .into_iter()
        .map(|name| {
            let op = Cancelable::new().named(name).register_in(&registry);
            tokio::spawn(async move { op.run(sleep(Duration::from_millis(300))).await })
        })
        .collect();
    sleep(Duration::from_millis(10)).await;
    let admin = {
        let registry = registry.clone();
        std::thread::spawn(move || {
            registry
                .cancel_matching("sync_*", CancellationReason::Manual, "maintenance")
                .len()
        })
    };
    println!(
        "4. the admin thread cancelled {} sync jobs",
        admin.join().unwrap()
    );
    for job in jobs {
        match job.await.unwrap() {
            Ok(()) => println!("   a job completed"),
            Err(err) => println!("   {err}"),
        }
    }
}
