//! Timeouts, the most common source of cancellation:
//!
//! 1. `Cancelable::with_timeout` around work that takes too long: the work is dropped at once;
//! 2. the same around work that finishes in time: its output comes back untouched;
//! 3. `cancelable::with_timeout(d, fut)`, the one-line form;
//! 4. an absolute deadline shared by several steps (`with_deadline`);
//! 5. the error converts into `std::io::Error` (`TimedOut`) for code that speaks `io`.
//!
//! Run it with `cargo run --example basic_timeout` (about one second).

use std::time::Duration;

use cancelable::{Cancelable, CancellationError};
use tokio::time::{Instant, sleep};

/// A fake download: `size` chunks of 50 ms each.
async fn download(name: &str, chunks: u32) -> String {
    for _ in 0..chunks {
        sleep(Duration::from_millis(50)).await;
    }
    format!("{name} ({chunks} chunks)")
}

#[tokio::main]
async fn main() {
    // 1. Too slow: 20 chunks (1 s) under a 200 ms timeout.
    let op = Cancelable::with_timeout(Duration::from_millis(200)).named("download_big");
    let started = Instant::now();
    match op.run(download("big.iso", 20)).await {
        Ok(file) => println!("1. downloaded {file}"),
        Err(err) => println!(
            "1. {err} (after {} ms; reason {}, status {})",
            started.elapsed().as_millis(),
            err.reason(),
            op.status()
        ),
    }

    // 2. In time: 2 chunks under the same timeout.
    let op = Cancelable::with_timeout(Duration::from_millis(200)).named("download_small");
    let file = op
        .run(download("small.txt", 2))
        .await
        .expect("fits in the timeout");
    println!("2. downloaded {file}; status {}", op.status());

    // 3. The shorthand, for a single future.
    let outcome =
        cancelable::with_timeout(Duration::from_millis(80), download("notes.md", 5)).await;
    println!("3. with_timeout: {:?}", outcome.map_err(|e| e.to_string()));

    // 4. One deadline for a whole pipeline: each step gets whatever time is left.
    let deadline = Instant::now() + Duration::from_millis(300);
    for (step, chunks) in [("fetch", 2), ("parse", 2), ("upload", 4)] {
        let op = Cancelable::with_deadline(deadline).named(step);
        match op.run(download(step, chunks)).await {
            Ok(_) => println!("4. step {step:<6} done"),
            Err(err) => {
                println!("4. step {step:<6} {err}");
                break;
            }
        }
    }

    // 5. Interop with `std::io`.
    let err: CancellationError = cancelable::with_timeout(Duration::ZERO, download("x", 1))
        .await
        .unwrap_err();
    let io: std::io::Error = err.into();
    println!("5. as std::io::Error: kind {:?}, {io}", io.kind());
}
