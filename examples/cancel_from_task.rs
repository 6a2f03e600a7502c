//! Cancelling from another task: a supervisor watches workers and stops them.
//!
//! 1. Workers run in their own tasks under one parent operation (`parent.spawn`); a supervisor
//!    task cancels the parent when the first worker fails, and the others stop with reason
//!    `Parent` (the cause says why).
//! 2. A handle to an operation can be given to any task: a watchdog cancels a stuck request,
//!    and the waiting task learns why.
//! 3. `Cancelable::current()` finds the operation the code runs in, without passing it around.
//!
//! Run it with `cargo run --example cancel_from_task` (under a second).

use std::time::Duration;

use cancelable::{Cancelable, CancellationError, CancellationReason};
use tokio::sync::mpsc;
use tokio::time::sleep;

async fn crawl(site: &'static str, pages: u32, failing: bool) -> Result<u32, String> {
    for page in 1..=pages {
        sleep(Duration::from_millis(40)).await;
        if failing && page == 3 {
            return Err(format!("{site}: HTTP 500 on page {page}"));
        }
        // Who am I? The operation this code runs in, found without a parameter.
        if page == 1 {
            let me = Cancelable::current().expect("inside an operation");
            println!(
                "   {site} runs in a child of {:?}",
                me.context().parent_id.map(|id| id[..8].to_owned())
            );
        }
    }
    Ok(pages)
}

#[tokio::main]
async fn main() {
    // 1. A supervisor stops the team when one fails.
    let parent = Cancelable::new().named("crawl_all");
    let (failures, mut failed) = mpsc::unbounded_channel();
    let workers: Vec<_> = [("docs", 10, false), ("blog", 6, true), ("shop", 10, false)]
        .into_iter()
        .map(|(site, pages, failing)| {
            let failures = failures.clone();
            parent.spawn(async move {
                let outcome = crawl(site, pages, failing).await;
                if let Err(error) = &outcome {
                    let _ = failures.send(error.clone());
                }
                outcome
            })
        })
        .collect();
    let supervisor = tokio::spawn({
        let parent = parent.clone();
        async move {
            if let Some(error) = failed.recv().await {
                parent.cancel_with(
                    CancellationReason::Manual,
                    format!("a worker failed: {error}"),
                );
            }
        }
    });
    for worker in workers {
        match worker.await.unwrap() {
            Ok(Ok(pages)) => println!("1. finished: {pages} pages"),
            Ok(Err(error)) => println!("1. failed: {error}"),
            Err(cancelled) => println!(
                "1. stopped: reason {}, because {}",
                cancelled.reason(),
                cancelled
                    .cause()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        }
    }
    supervisor.await.unwrap();

    // 2. A watchdog task cancels a stuck request.
    let request = Cancelable::new().named("GET /slow");
    let watchdog = tokio::spawn({
        let request = request.clone();
        async move {
            sleep(Duration::from_millis(100)).await;
            if request.status() == cancelable::OperationStatus::Running {
                request.cancel_with(CancellationReason::Manual, "stuck for 100 ms");
            }
        }
    });
    let outcome: Result<(), CancellationError> = request.run(std::future::pending()).await;
    watchdog.await.unwrap();
    println!("2. {}", outcome.unwrap_err());
}
