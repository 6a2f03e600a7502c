//! Database-style retries (feature `backon`): transient errors are retried with backoff,
//! permanent ones are not, the whole operation has a deadline, and the commit is shielded.
//!
//! A fake database fails the way real ones do: deadlocks and dropped connections (worth
//! retrying), syntax errors (not). Each query attempt has its own 150 ms timeout.
//!
//! 1. Two deadlocks, then success: three attempts.
//! 2. A syntax error: one attempt, no retry (`when`).
//! 3. The database is down: the operation's 600 ms deadline stops the retries, even in the
//!    middle of a backoff sleep.
//! 4. A transaction: the retried writes, then a commit under a shield, which completes even
//!    though a shutdown cancels the operation meanwhile.
//!
//! Run it with `cargo run --example database_retry` (about two seconds).

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::ExponentialBuilder;
use cancelable::retry::RetryError;
use cancelable::{Cancelable, CancellationReason};
use tokio::time::{Instant, sleep};

#[derive(Clone, Debug, PartialEq)]
enum DbError {
    Deadlock,
    ConnectionReset,
    Syntax(String),
    QueryTimeout,
}

impl DbError {
    fn is_transient(&self) -> bool {
        !matches!(self, DbError::Syntax(_))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Deadlock => f.write_str("deadlock detected"),
            DbError::ConnectionReset => f.write_str("connection reset by peer"),
            DbError::Syntax(near) => write!(f, "syntax error near {near:?}"),
            DbError::QueryTimeout => f.write_str("query timed out"),
        }
    }
}

/// A database whose next answers are scripted.
struct Database {
    calls: AtomicU32,
    script: Vec<Result<Duration, DbError>>,
}

impl Database {
    fn new(script: Vec<Result<Duration, DbError>>) -> Self {
        Database {
            calls: AtomicU32::new(0),
            script,
        }
    }

    /// One query: a per-attempt timeout of 150 ms, as a nested operation.
    async fn query(&self, sql: &str) -> Result<u64, DbError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) as usize;
        let answer = self
            .script
            .get(call)
            .or(self.script.last())
            .cloned()
            .unwrap();
        let attempt = Cancelable::with_timeout(Duration::from_millis(150)).named("db.query");
        let result = attempt
            .run(async {
                let latency = answer?;
                sleep(latency).await;
                Ok(sql.len() as u64)
            })
            .await;
        result.unwrap_or(Err(DbError::QueryTimeout))
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }
}

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(40))
        .with_max_delay(Duration::from_millis(300))
        .with_jitter()
        .with_max_times(8)
}

async fn run_query(label: &str, op: Cancelable, db: &Database) {
    let start = Instant::now();
    let outcome = op
        .run(
            op.retry(backoff(), || db.query("SELECT * FROM orders"))
                .when(DbError::is_transient)
                .notify(|err, wait| println!("   {err}; retrying in {} ms", wait.as_millis())),
        )
        .await;
    let took = start.elapsed().as_millis();
    match outcome {
        Ok(Ok(rows)) => println!(
            "{label}: {rows} rows after {} attempts, {took} ms",
            db.calls()
        ),
        Ok(Err(RetryError::NotRetryable { attempts, last })) => {
            println!("{label}: not retried (attempt {attempts}): {last}")
        }
        Ok(Err(RetryError::Exhausted { attempts, last })) => {
            println!("{label}: gave up after {attempts} attempt(s): {last}")
        }
        Ok(Err(RetryError::Cancelled(err))) | Err(err) => {
            println!("{label}: {err} (after {} attempts, {took} ms)", db.calls())
        }
    }
}

#[tokio::main]
async fn main() {
    let fast = Ok(Duration::from_millis(10));

    // 1.
    let db = Database::new(vec![
        Err(DbError::Deadlock),
        Err(DbError::ConnectionReset),
        fast.clone(),
    ]);
    run_query("1. flaky", Cancelable::new().named("load_orders"), &db).await;

    // 2.
    let db = Database::new(vec![Err(DbError::Syntax("FORM".into()))]);
    run_query(
        "2. broken query",
        Cancelable::new().named("load_orders"),
        &db,
    )
    .await;

    // 3. Every query hangs past its own timeout; the operation's deadline ends it all.
    let db = Database::new(vec![Ok(Duration::from_secs(5))]);
    let op = Cancelable::with_timeout(Duration::from_millis(600)).named("load_orders");
    run_query("3. database down", op, &db).await;

    // 4. A transaction: retried writes, then a shielded commit.
    let db = Database::new(vec![Err(DbError::Deadlock), fast.clone()]);
    let tx = Cancelable::new().named("checkout");
    let shutdown = tx.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(120)).await;
        shutdown.cancel_with(CancellationReason::Signal, "shutting down");
    });
    let outcome = tx
        .run(async {
            let written = tx
                .retry(backoff(), || db.query("INSERT INTO orders ..."))
                .when(DbError::is_transient)
                .await
                .map_err(|e| e.to_string())?;
            println!("4. {written} bytes written; committing");
            tx.shield(async {
                sleep(Duration::from_millis(150)).await; // the commit outlives the shutdown
                println!("4. committed (shielded)");
            })
            .await;
            println!("4. notifying the warehouse…");
            sleep(Duration::from_millis(50)).await; // not shielded: the shutdown lands here
            println!("4. never printed");
            Ok::<_, String>(())
        })
        .await;
    match outcome {
        Ok(result) => println!("4. transaction: {result:?}"),
        Err(err) => println!("4. {err} — after the commit, before the notification"),
    }
}
