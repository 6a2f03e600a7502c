//! Shields: cleanup that must finish even though the operation is being cancelled.
//!
//! 1. A transfer under a 120 ms timeout writes a chunk every 50 ms; after the second chunk it
//!    checkpoints (fsync and rename, 200 ms) under `op.shield(..)`. The timeout fires during
//!    the checkpoint: the checkpoint completes, and `run` returns the timeout right after, so
//!    the third chunk is never written.
//! 2. A `#[cancelable]` batch import, cancelled by a token at 180 ms: each batch is imported,
//!    then committed under `shielded!`; the commit in progress completes and the next batch's
//!    `check()` returns the cancellation.
//! 3. Shields nest: under a 10 ms timeout, an outer shield around an inner one; the
//!    cancellation lands when the outermost ends, at the body's next await.
//!
//! For the other ways to clean up (a grace period, or after `run`), see the guide page
//! `cancelable::guide::cleanup`.
//!
//! What a shield cannot do: stop a drop from *outside* this library (an enclosing
//! `tokio::time::timeout`, an aborted task, a dropped request). Spawn work that must survive
//! those.
//!
//! Run it with `cargo run --example shield_cleanup` (about one second).

use std::time::Duration;

use cancelable::{Cancelable, CancellationError, CancellationToken, cancelable, shielded};
use tokio::time::{Instant, sleep};

#[cancelable(token = stop.clone(), name = "batch_import")]
async fn import(
    stop: &CancellationToken,
    log: &Log,
    cancel: &Cancelable,
) -> Result<(), CancellationError> {
    for batch in 1..=10 {
        cancel.check()?; // a checkpoint: the cancellation lands here after a commit
        log.line(format!("  batch {batch}: importing"));
        sleep(Duration::from_millis(100)).await;
        // The commit is all-or-nothing: never drop it halfway.
        shielded!(cancel, {
            log.line(format!("  batch {batch}: committing (shielded)"));
            sleep(Duration::from_millis(150)).await;
            log.line(format!("  batch {batch}: committed"));
        });
    }
    Ok(())
}

struct Log(Instant);

impl Log {
    fn line(&self, text: impl AsRef<str>) {
        println!("{:>5} ms {}", self.0.elapsed().as_millis(), text.as_ref());
    }
}

#[tokio::main]
async fn main() {
    let log = Log(Instant::now());

    // 1.
    log.line("1. a transfer under a 120 ms timeout");
    let op = Cancelable::with_timeout(Duration::from_millis(120)).named("transfer");
    let outcome = op
        .run(async {
            for chunk in 1..=10 {
                sleep(Duration::from_millis(50)).await;
                log.line(format!("  wrote chunk {chunk}"));
                if chunk == 2 {
                    op.shield(async {
                        log.line("  checkpoint: fsync + rename (shielded, 200 ms)");
                        sleep(Duration::from_millis(200)).await;
                        log.line("  checkpoint done, although the timeout fired meanwhile");
                    })
                    .await;
                }
            }
        })
        .await;
    log.line(format!("  → {}", outcome.unwrap_err()));

    // 2.
    log.line("2. batches committed under shielded!, a token cancelled at 180 ms");
    let stop = CancellationToken::new();
    let canceller = stop.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(180)).await;
        canceller.cancel();
    });
    let outcome = import(&stop, &log).await;
    log.line(format!("  → {}", outcome.unwrap_err()));

    // 3.
    log.line("3. nested shields under a 10 ms timeout");
    let op = Cancelable::with_timeout(Duration::from_millis(10)).named("nested");
    let outcome = op
        .run(async {
            op.shield(async {
                op.shield(sleep(Duration::from_millis(60))).await;
                log.line("  inner shield done");
                sleep(Duration::from_millis(60)).await;
                log.line("  outer shield done");
            })
            .await;
            // The next await is where the cancellation lands.
            sleep(Duration::from_millis(1)).await;
            log.line("  never printed");
        })
        .await;
    log.line(format!("  → {}", outcome.unwrap_err()));
}
