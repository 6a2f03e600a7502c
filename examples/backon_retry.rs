//! Retries that can be cancelled from outside the loop (feature `backon`).
//!
//! One scope wraps an exponential backoff with jitter: an overall timeout, a user's token, `SIGTERM`,
//! and a circuit breaker (a condition) that stops the retries once too many calls failed.
//! Five runs against a flaky service, each stopped (or not) by a different source:
//!
//! 1. the service recovers on the third attempt;
//! 2. the circuit breaker opens after five failures in a row;
//! 3. the user cancels from another OS thread, during a backoff sleep;
//! 4. the process receives `SIGTERM` (sent to itself), during a backoff sleep;
//! 5. the overall timeout fires.
//!
//! Every attempt reports progress (`attempt N`); cancelled and "gave up" are told apart.
//!
//! Run it with `cargo run --example backon_retry` (about two seconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::ExponentialBuilder;
use cancelable::retry::RetryError;
use cancelable::{Cancelable, CancellationReason, CancellationToken};
use tokio::time::{Instant, sleep};

/// A circuit breaker: opens after `threshold` failures in a row.
#[derive(Clone, Default)]
struct Breaker {
    failures_in_a_row: Arc<AtomicU32>,
}

impl Breaker {
    fn record(&self, ok: bool) {
        if ok {
            self.failures_in_a_row.store(0, Ordering::Relaxed);
        } else {
            self.failures_in_a_row.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn is_open(&self, threshold: u32) -> bool {
        self.failures_in_a_row.load(Ordering::Relaxed) >= threshold
    }
}

/// A service that fails its first `failures` calls.
struct Service {
    calls: AtomicU32,
    failures: u32,
}

impl Service {
    async fn call(&self, breaker: &Breaker) -> Result<String, String> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        sleep(Duration::from_millis(10)).await;
        let ok = n > self.failures;
        breaker.record(ok);
        if ok {
            Ok(format!("payload after {n} calls"))
        } else {
            Err(format!("503 Service Unavailable (call {n})"))
        }
    }
}

/// The scope of one retried call: timeout, user token, SIGTERM, circuit breaker.
fn scope(timeout: Duration, user: &CancellationToken, breaker: &Breaker) -> Cancelable {
    let breaker = breaker.clone();
    let mut sources = vec![
        Cancelable::with_timeout(timeout),
        Cancelable::with_token(user.clone()),
        Cancelable::with_named_condition(
            "circuit_breaker_open",
            move || breaker.is_open(5),
            Duration::from_millis(5),
        ),
    ];
    #[cfg(unix)]
    sources.push(Cancelable::with_signal([cancelable::Signal::Term]));
    Cancelable::any_of(sources).named("fetch_prices")
}

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(40))
        .with_max_delay(Duration::from_millis(400))
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(20)
}

async fn attempt_with(label: &str, op: Cancelable, service: Service, breaker: Breaker) {
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    op.on_progress(move |event| {
        if event.message.starts_with("attempt") {
            counter.store(
                event.metadata.as_ref().unwrap()["attempt"]
                    .as_u64()
                    .unwrap() as u32,
                Ordering::Relaxed,
            );
        }
    });
    let start = Instant::now();
    let outcome = op
        .run(
            op.retry(backoff(), || service.call(&breaker))
                .when(|err: &String| err.starts_with("503"))
                .notify(|err, wait| println!("   {err}; next attempt in {} ms", wait.as_millis())),
        )
        .await;
    let (took, n) = (
        start.elapsed().as_millis(),
        attempts.load(Ordering::Relaxed),
    );
    match outcome {
        Ok(Ok(payload)) => println!("{label}: ok after {n} attempts, {took} ms: {payload}"),
        Ok(Err(RetryError::NotRetryable { attempts, last })) => {
            println!("{label}: not retried (attempt {attempts}): {last}")
        }
        Ok(Err(RetryError::Exhausted { attempts, last })) => {
            println!("{label}: gave up after {attempts} attempts: {last}")
        }
        // Inside `run`, a cancellation drops the loop and comes back from `run` itself.
        Ok(Err(RetryError::Cancelled(err))) | Err(err) => println!(
            "{label}: cancelled after {n} attempts, {took} ms — reason {}: {}",
            err.reason(),
            err.message().unwrap_or_default()
        ),
    }
}

#[tokio::main]
async fn main() {
    let long = Duration::from_secs(10);

    // 1.
    let (user, breaker) = (CancellationToken::new(), Breaker::default());
    let service = Service {
        calls: AtomicU32::new(0),
        failures: 2,
    };
    attempt_with(
        "1. recovers",
        scope(long, &user, &breaker),
        service,
        breaker,
    )
    .await;

    // 2.
    let (user, breaker) = (CancellationToken::new(), Breaker::default());
    let service = Service {
        calls: AtomicU32::new(0),
        failures: 100,
    };
    attempt_with("2. breaker", scope(long, &user, &breaker), service, breaker).await;

    // 3. A plain OS thread cancels while the loop sleeps.
    let (user, breaker) = (CancellationToken::new(), Breaker::default());
    let remote = user.clone();
    let ui = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        remote.cancel_with(CancellationReason::Manual, "the user closed the dashboard");
    });
    let service = Service {
        calls: AtomicU32::new(0),
        failures: 3,
    };
    attempt_with("3. user", scope(long, &user, &breaker), service, breaker).await;
    ui.join().unwrap();

    // 4. SIGTERM, sent by this process to itself while the loop sleeps.
    #[cfg(unix)]
    {
        let (user, breaker) = (CancellationToken::new(), Breaker::default());
        let op = scope(long, &user, &breaker);
        tokio::spawn(async {
            sleep(Duration::from_millis(100)).await;
            println!("   (sending SIGTERM to ourselves)");
            signal_hook::low_level::raise(cancelable::Signal::Term.number()).unwrap();
        });
        let service = Service {
            calls: AtomicU32::new(0),
            failures: 3,
        };
        attempt_with("4. SIGTERM", op, service, breaker).await;
    }

    // 5.
    let (user, breaker) = (CancellationToken::new(), Breaker::default());
    let service = Service {
        calls: AtomicU32::new(0),
        failures: 4,
    };
    let op = scope(Duration::from_millis(150), &user, &breaker);
    attempt_with("5. timeout", op, service, breaker).await;
}
