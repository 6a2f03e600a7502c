//! A live dashboard of the operation registry:
//!
//! 1. a dozen named operations start, all registered: user jobs, system jobs and a stream
//!    consumer; each reports progress;
//! 2. the main task prints the registry as a table every 200 ms;
//! 3. after one second a plain OS thread cancels every `user_*` job through the registry;
//! 4. once nothing runs any more, the statistics and the history are printed.
//!
//! Run it with `cargo run --example registry_dashboard` (about two seconds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, OperationContext, OperationRegistry};
use futures::StreamExt;
use tokio::time::{Instant, sleep};

/// The last progress message of each operation, by id.
type LastProgress = Arc<Mutex<HashMap<String, String>>>;

#[tokio::main]
async fn main() {
    let registry = OperationRegistry::global();
    let progress = LastProgress::default();
    let started = Instant::now();

    let mut jobs = Vec::new();
    for i in 1..=4 {
        // Twenty chunks of 250 ms each: five seconds, unless someone cancels them.
        jobs.push(start(
            &progress,
            format!("user_export_{i}"),
            None,
            chunks(20, 250),
        ));
    }
    jobs.push(start(&progress, "user_sync".into(), None, chunks(3, 100)));
    jobs.push(start(&progress, "user_report".into(), None, async {
        sleep(Duration::from_millis(600)).await;
        Err("quota exceeded".to_owned())
    }));
    jobs.push(start(
        &progress,
        "system_index".into(),
        None,
        chunks(4, 200),
    ));
    jobs.push(start(
        &progress,
        "system_backup".into(),
        None,
        chunks(7, 200),
    ));
    jobs.push(start(
        &progress,
        "system_healthcheck".into(),
        None,
        chunks(8, 200),
    ));
    let cleanup_timeout = Some(Duration::from_millis(1200));
    jobs.push(start(
        &progress,
        "system_cleanup".into(),
        cleanup_timeout,
        chunks(10, 300),
    ));
    jobs.push(start(&progress, "system_migrate".into(), None, async {
        sleep(Duration::from_millis(1500)).await;
        Err("schema v42 is locked".to_owned())
    }));
    jobs.push(feed(&progress, Duration::from_millis(1800)));

    let operator = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(1));
        let reason = CancellationReason::Manual;
        let stopped =
            OperationRegistry::global().cancel_matching("user_*", reason, "stopped by operator");
        let names: Vec<_> = stopped.iter().map(|op| op.name()).collect();
        println!(">>> operator thread: cancel_matching(\"user_*\") cancelled {names:?}\n");
    });

    loop {
        sleep(Duration::from_millis(200)).await;
        let running = registry.list();
        print_table(started.elapsed(), &running, &progress);
        if running.is_empty() {
            break;
        }
    }
    operator.join().expect("the operator thread panicked");
    for job in jobs {
        job.await.expect("a job panicked");
    }

    let stats = registry.statistics();
    println!("statistics");
    println!("  registered  {}", stats.total);
    println!(
        "  finished    {} completed, {} cancelled, {} failed",
        stats.finished.completed, stats.finished.cancelled, stats.finished.failed
    );
    if let Some(average) = stats.average_duration {
        println!("  average duration of the completed ones: {average:.2?}");
    }
    println!("\nhistory (newest last)");
    for ctx in registry.history(20) {
        let why = match (&ctx.failure, &ctx.message) {
            (Some(error), _) => error.clone(),
            (None, Some(message)) => message.clone(),
            (None, None) => String::new(),
        };
        let items = ctx
            .items
            .map(|n| format!(" ({n} items)"))
            .unwrap_or_default();
        println!(
            "  {:<20} {:<10} {why}{items}",
            ctx.name,
            ctx.status.as_str()
        );
    }
}

/// Starts a registered operation named `name` running `work`, which returns `Err` to fail.
fn start<F>(
    progress: &LastProgress,
    name: String,
    timeout: Option<Duration>,
    work: F,
) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = match timeout {
        Some(timeout) => Cancelable::with_timeout(timeout),
        None => Cancelable::new(),
    };
    let op = op.named(name).register();
    let progress = progress.clone();
    op.on_progress(move |event| {
        let mut last = progress.lock().unwrap();
        last.insert(event.operation_id.to_string(), event.message.to_string());
    });
    tokio::spawn(async move {
        let _ = op
            .try_run(async { work.await.map_err(JobError::Failed) })
            .await;
    })
}

/// `n` chunks of work of `ms` milliseconds each, reported as progress.
async fn chunks(n: u32, ms: u64) -> Result<(), String> {
    let cancel = Cancelable::current().expect("runs inside an operation");
    for chunk in 1..=n {
        sleep(Duration::from_millis(ms)).await;
        cancel.report_progress(format!("chunk {chunk}/{n}"));
    }
    Ok(())
}

/// A registered stream consumer, stopped by its timeout.
fn feed(progress: &LastProgress, timeout: Duration) -> tokio::task::JoinHandle<()> {
    let op = Cancelable::with_timeout(timeout)
        .named("feed_stream")
        .register();
    let progress = progress.clone();
    op.on_progress(move |event| {
        let mut last = progress.lock().unwrap();
        last.insert(event.operation_id.to_string(), event.message.to_string());
    });
    let events = futures::stream::unfold(0u64, |n| async move {
        sleep(Duration::from_millis(40)).await;
        Some((n, n + 1))
    });
    tokio::spawn(async move {
        let stream = op.stream(Box::pin(events)).report_every(5);
        let _ = op.run(stream.for_each(|_| async {})).await;
    })
}

fn print_table(elapsed: Duration, running: &[OperationContext], progress: &LastProgress) {
    println!(
        "t = {:>4} ms, {} running",
        elapsed.as_millis(),
        running.len()
    );
    if running.is_empty() {
        println!();
        return;
    }
    println!(
        "  {:<20} {:<9} {:>8} {:>6}  last progress",
        "name", "status", "elapsed", "items"
    );
    let progress = progress.lock().unwrap();
    for ctx in running {
        let elapsed = ctx.duration().unwrap_or_default();
        let items = ctx
            .items
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let last = progress.get(&ctx.id).map(String::as_str).unwrap_or("");
        println!(
            "  {:<20} {:<9} {:>7.2}s {:>6}  {last}",
            ctx.name,
            ctx.status.as_str(),
            elapsed.as_secs_f64(),
            items
        );
    }
    println!();
}

/// A job's error: its own failure, or the cancellation.
#[derive(Debug)]
enum JobError {
    Failed(String),
    Cancelled(cancelable::CancellationError),
}

impl From<cancelable::CancellationError> for JobError {
    fn from(err: cancelable::CancellationError) -> Self {
        JobError::Cancelled(err)
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Failed(message) => f.write_str(message),
            JobError::Cancelled(err) => err.fmt(f),
        }
    }
}
