//! `#[cancelable]`, `cancel_combine!` and `shielded!` at run time: each option's behaviour, on
//! tokio's paused clock. (What they accept and reject at compile time is in `ui-tests/`.)

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::{
    Cancelable, CancellationError, CancellationReason, CancellationToken, OperationRegistry,
    OperationStatus, cancel_combine, cancelable, shielded,
};
use tokio::time::{Instant, sleep};

/// An application error that cancellation converts into.
#[derive(Debug)]
enum AppError {
    Cancelled(CancellationError),
    NotFound(u64),
}

impl From<CancellationError> for AppError {
    fn from(error: CancellationError) -> Self {
        AppError::Cancelled(error)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Cancelled(error) => write!(f, "{error}"),
            AppError::NotFound(id) => write!(f, "user {id} not found"),
        }
    }
}

/// Where an annotated fn leaves a handle on its own operation, to inspect it afterwards.
type Slot = Arc<Mutex<Option<Cancelable>>>;

fn slot() -> Slot {
    Arc::new(Mutex::new(None))
}

fn taken(slot: &Slot) -> Cancelable {
    slot.lock().unwrap().clone().expect("the body ran")
}

#[cancelable(timeout = "2s")]
async fn slow(seconds: u64) -> u64 {
    sleep(Duration::from_secs(seconds)).await;
    seconds
}

#[tokio::test(start_paused = true)]
async fn timeout_cancels_with_reason_timeout() {
    let start = Instant::now();
    let error = slow(10).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(error.reason(), CancellationReason::Timeout);
    assert_eq!(
        error.operation_name(),
        Some("slow"),
        "the fn name is the default name"
    );
    assert_eq!(
        error.to_string(),
        r#"operation "slow" cancelled: timeout after 2s"#
    );

    assert_eq!(slow(1).await.unwrap(), 1, "finishing in time is Ok");
}

#[cancelable(timeout = "1m30s", name = "users.fetch")]
async fn fetch_user(
    id: u64,
    delay: Duration,
    cancel: &Cancelable,
    slot: Slot,
) -> Result<String, AppError> {
    *slot.lock().unwrap() = Some(cancel.clone());
    sleep(delay).await;
    if id == 0 {
        return Err(AppError::NotFound(id));
    }
    Ok(format!("user {id}"))
}

#[tokio::test(start_paused = true)]
async fn result_fns_convert_the_cancellation_into_their_error() {
    let op = slot();
    let error = fetch_user(7, Duration::from_secs(100), op.clone())
        .await
        .unwrap_err();
    let AppError::Cancelled(error) = error else {
        panic!("expected a cancellation, got {error:?}")
    };
    assert!(error.is_timeout());
    assert_eq!(
        error.operation_name(),
        Some("users.fetch"),
        "the `name` option"
    );
    assert_eq!(
        error.to_string(),
        r#"operation "users.fetch" cancelled: timeout after 1m30s"#
    );
    assert_eq!(taken(&op).status(), OperationStatus::Cancelled);

    let op = slot();
    assert_eq!(
        fetch_user(7, Duration::from_secs(1), op.clone())
            .await
            .unwrap(),
        "user 7"
    );
    assert_eq!(taken(&op).status(), OperationStatus::Completed);
    assert_eq!(taken(&op).name(), "users.fetch");

    let op = slot();
    assert!(matches!(
        fetch_user(0, Duration::ZERO, op.clone()).await,
        Err(AppError::NotFound(0))
    ));
    assert_eq!(
        taken(&op).status(),
        OperationStatus::Failed,
        "an `Err` from the body is a failure"
    );
}

struct Service {
    shutdown: CancellationToken,
    polls: AtomicU32,
}

impl Service {
    #[cancelable(token = self.shutdown.clone(), timeout = "1h")]
    async fn poll(&self, cancel: &Cancelable) -> u32 {
        assert_eq!(cancel.status(), OperationStatus::Running);
        loop {
            self.polls.fetch_add(1, Ordering::Relaxed);
            sleep(Duration::from_secs(1)).await;
        }
    }

    // `self` moves into the body only after the option's expression has been evaluated.
    #[cancelable(token = self.shutdown.child_token())]
    async fn into_polls(self) -> u32 {
        self.polls.into_inner()
    }
}

#[tokio::test(start_paused = true)]
async fn token_option_is_evaluated_at_call_time_from_the_parameters() {
    let service = Arc::new(Service {
        shutdown: CancellationToken::new(),
        polls: AtomicU32::new(0),
    });
    let task = tokio::spawn({
        let service = service.clone();
        async move { service.poll().await }
    });
    sleep(Duration::from_millis(3500)).await;
    service.shutdown.cancel();
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(error.reason(), CancellationReason::Manual);
    assert_eq!(error.operation_name(), Some("poll"));
    assert_eq!(service.polls.load(Ordering::Relaxed), 4);

    let service = Service {
        shutdown: CancellationToken::new(),
        polls: AtomicU32::new(2),
    };
    assert_eq!(service.into_polls().await.unwrap(), 2);
    let service = Service {
        shutdown: CancellationToken::new(),
        polls: AtomicU32::new(2),
    };
    service.shutdown.cancel();
    let error = service.into_polls().await.unwrap_err();
    assert_eq!(
        error.reason(),
        CancellationReason::Parent,
        "a child token of a cancelled one"
    );
}

#[cancelable(condition = { let done = done.clone(); move || done.load(Ordering::Relaxed) }, check_interval = "250ms")]
async fn until_done(done: Arc<AtomicBool>) {
    std::future::pending::<()>().await;
}

#[cancelable(condition = move || flag.load(Ordering::Relaxed))]
async fn default_interval(flag: Arc<AtomicBool>) {
    std::future::pending::<()>().await;
}

#[tokio::test(start_paused = true)]
async fn condition_option_is_polled_every_check_interval() {
    let done = Arc::new(AtomicBool::new(false));
    let setter = tokio::spawn({
        let done = done.clone();
        async move {
            sleep(Duration::from_millis(600)).await;
            done.store(true, Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let error = until_done(done).await.unwrap_err();
    assert_eq!(error.reason(), CancellationReason::Condition);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(750),
        "checked at 0, 250, 500 and 750ms"
    );
    setter.await.unwrap();

    let flag = Arc::new(AtomicBool::new(false));
    let setter = tokio::spawn({
        let flag = flag.clone();
        async move {
            sleep(Duration::from_millis(150)).await;
            flag.store(true, Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    assert!(default_interval(flag).await.unwrap_err().is_condition());
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(200),
        "the default interval is 100ms"
    );
    setter.await.unwrap();
}

#[cancelable(parent = &parent)]
async fn child_of(parent: Cancelable, cancel: &Cancelable, slot: Slot) {
    *slot.lock().unwrap() = Some(cancel.clone());
    std::future::pending::<()>().await;
}

#[tokio::test(start_paused = true)]
async fn parent_option_cancels_with_reason_parent() {
    let parent = Cancelable::with_timeout(Duration::from_secs(5)).named("parent");
    let op = slot();
    let (parent_result, child_result) = tokio::join!(
        parent.run(sleep(Duration::from_secs(60))),
        child_of(parent.clone(), op.clone()),
    );
    assert!(parent_result.unwrap_err().is_timeout());
    let error = child_result.unwrap_err();
    assert_eq!(error.reason(), CancellationReason::Parent);
    assert_eq!(
        error.cause().map(CancellationError::reason),
        Some(CancellationReason::Timeout)
    );
    assert_eq!(taken(&op).context().parent_id.as_deref(), Some(parent.id()));
}

#[cancelable(timeout = "10s", name = "inner")]
async fn inner(slot: Slot, cancel: &Cancelable) -> Result<(), CancellationError> {
    *slot.lock().unwrap() = Some(cancel.clone());
    sleep(Duration::from_secs(60)).await;
    Ok(())
}

#[cancelable(timeout = "1s", name = "outer")]
async fn outer(slot: Slot) -> Result<(), CancellationError> {
    inner(slot).await
}

#[tokio::test(start_paused = true)]
async fn nested_annotated_calls_cancel_the_inner_one_with_reason_parent() {
    let op = slot();
    let start = Instant::now();
    let error = outer(op.clone()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(error.reason(), CancellationReason::Timeout);
    assert_eq!(error.operation_name(), Some("outer"));
    let inner_op = taken(&op);
    assert_eq!(inner_op.status(), OperationStatus::Cancelled);
    assert_eq!(inner_op.reason(), Some(CancellationReason::Parent));
    let cause = inner_op
        .cancellation()
        .and_then(|error| error.cause().cloned());
    assert_eq!(
        cause.map(|cause| cause.reason()),
        Some(CancellationReason::Timeout)
    );
}

#[cancelable(timeout = "1s")]
async fn save(cancel: &Cancelable, log: Arc<Mutex<Vec<&'static str>>>) -> &'static str {
    let mut steps = 0;
    let written = shielded!(cancel, {
        sleep(Duration::from_secs(3)).await;
        steps += 1;
        log.lock().unwrap().push("saved");
        "saved"
    });
    log.lock().unwrap().push(written);
    assert_eq!(steps, 1);
    sleep(Duration::from_secs(10)).await;
    log.lock().unwrap().push("never");
    written
}

#[tokio::test(start_paused = true)]
async fn shielded_finishes_its_block_then_the_cancellation_lands() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let error = save(log.clone()).await.unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(3),
        "cancelled as soon as the shield ended"
    );
    assert_eq!(*log.lock().unwrap(), ["saved", "saved"]);
}

#[cancelable(timeout = "1s")]
async fn shields_the_current_operation() -> u32 {
    let value = shielded!({
        sleep(Duration::from_secs(2)).await;
        41
    });
    assert!(Cancelable::current().unwrap().is_cancelled());
    sleep(Duration::from_secs(10)).await;
    value + 1
}

#[tokio::test(start_paused = true)]
async fn shielded_without_an_operation_argument_shields_the_current_one() {
    let start = Instant::now();
    let error = shields_the_current_operation().await.unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    // Outside of any operation, the block just runs.
    assert_eq!(shielded!({ 5 }), 5);
}

#[cancelable(name = "implicit")]
async fn implicit() -> String {
    Cancelable::current()
        .expect("inside the operation")
        .name()
        .to_owned()
}

#[tokio::test(start_paused = true)]
async fn without_a_cancelable_parameter_current_is_the_operation() {
    assert_eq!(implicit().await.unwrap(), "implicit");
}

fn is_registered(op: &Cancelable) -> bool {
    OperationRegistry::global()
        .list()
        .iter()
        .any(|context| context.id == op.id())
}

#[cancelable(register, name = "macros.registered")]
async fn registered(cancel: &Cancelable) -> bool {
    is_registered(cancel)
}

#[cancelable(name = "macros.unregistered")]
async fn unregistered(cancel: &Cancelable) -> bool {
    is_registered(cancel)
}

#[tokio::test(start_paused = true)]
async fn register_lists_the_running_operation_in_the_global_registry() {
    assert!(registered().await.unwrap());
    assert!(!unregistered().await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn cancel_combine_any_of_first_source_wins() {
    let shutdown = CancellationToken::new();
    let upstream = Cancelable::new();
    let combined = cancel_combine!(timeout = "10s", token = shutdown.clone(), upstream.clone());
    let start = Instant::now();
    let error = combined
        .run(sleep(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(start.elapsed(), Duration::from_secs(10));

    let combined = cancel_combine!(timeout = "10s", token = shutdown.clone(), name = "combined");
    assert_eq!(combined.name(), "combined");
    shutdown.cancel();
    assert!(
        combined
            .run(sleep(Duration::from_secs(60)))
            .await
            .unwrap_err()
            .is_manual()
    );

    let single = Cancelable::new().named("mine");
    assert_eq!(
        cancel_combine!(single).name(),
        "mine",
        "an unnamed combination keeps the names"
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_combine_all_of_waits_for_every_source() {
    let ready = CancellationToken::new();
    ready.cancel();
    let both = cancel_combine!(all: timeout = "1s", Cancelable::with_timeout(Duration::from_secs(3)), token = ready.clone());
    let start = Instant::now();
    let error = both.run(sleep(Duration::from_secs(60))).await.unwrap_err();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(3),
        "the last source to fire"
    );
    assert!(error.is_timeout());
}

// `#[cancelable]` goes above `#[tokio::test]`; the test then returns
// `Result<(), CancellationError>`, which the harness accepts.
#[cancelable(timeout = "1s")]
#[tokio::test(start_paused = true)]
async fn composes_with_tokio_test(cancel: &Cancelable) {
    assert_eq!(cancel.name(), "composes_with_tokio_test");
    assert_eq!(cancel.status(), OperationStatus::Running);
}

#[cancelable(timeout = "1s", grace = "5s", name = "macros.flush")]
async fn flush_on_cancel(cancel: &Cancelable, flushed: Arc<AtomicBool>) {
    cancel.cancelled().await; // the timeout fired: the body is still polled, for 5 s at most
    tokio::time::sleep(Duration::from_secs(2)).await;
    flushed.store(true, Ordering::SeqCst);
}

#[tokio::test(start_paused = true)]
async fn grace_keeps_a_cancelled_body_polled_for_its_cleanup() {
    let flushed = Arc::new(AtomicBool::new(false));
    let start = tokio::time::Instant::now();
    let err = flush_on_cancel(flushed.clone()).await.unwrap_err();
    assert!(err.is_timeout());
    assert!(flushed.load(Ordering::SeqCst), "the cleanup ran to its end");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

struct Client {
    config: ClientConfig,
}

struct ClientConfig {
    timeout: Duration,
}

impl Client {
    #[cancelable(timeout = self.config.timeout, name = "client.get")]
    async fn get(&self, seconds: u64) -> u64 {
        sleep(Duration::from_secs(seconds)).await;
        seconds
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_option_takes_a_duration_from_the_receiver() {
    let client = Client {
        config: ClientConfig {
            timeout: Duration::from_secs(3),
        },
    };
    let start = Instant::now();
    let error = client.get(10).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(error.is_timeout());
    assert_eq!(
        error.to_string(),
        r#"operation "client.get" cancelled: timeout after 3s"#
    );
    assert_eq!(client.get(2).await.unwrap(), 2);
}

#[cancelable(timeout = budget, grace = budget / 2, name = "macros.budgeted")]
async fn budgeted(budget: Duration, cleanup: Duration, cancel: &Cancelable) -> bool {
    cancel.cancelled().await;
    sleep(cleanup).await;
    true
}

#[tokio::test(start_paused = true)]
async fn timeout_and_grace_options_take_expressions_of_the_parameters() {
    let start = Instant::now();
    let error = budgeted(Duration::from_secs(4), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(5),
        "4s, then the cleanup"
    );

    let start = Instant::now();
    budgeted(Duration::from_secs(4), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(6),
        "4s, then a grace of 2s cut the cleanup"
    );
}

#[cancelable(condition = move || flag.load(Ordering::Relaxed), check_interval = every)]
async fn checked_every(flag: Arc<AtomicBool>, every: Duration) {
    std::future::pending::<()>().await;
}

#[tokio::test(start_paused = true)]
async fn check_interval_option_takes_an_expression() {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = tokio::spawn({
        let flag = flag.clone();
        async move {
            sleep(Duration::from_secs(1)).await;
            flag.store(true, Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let error = checked_every(flag, Duration::from_secs(7))
        .await
        .unwrap_err();
    assert_eq!(error.reason(), CancellationReason::Condition);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(7),
        "checked at 0 and 7s"
    );
    setter.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancel_combine_takes_duration_expressions() {
    let timeout = Duration::from_millis(1500);
    let combined = cancel_combine!(timeout = timeout, grace = Duration::from_secs(1));
    let start = Instant::now();
    let error = combined
        .run(std::future::pending::<()>())
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(
        start.elapsed(),
        timeout + Duration::from_secs(1),
        "the timeout, then the grace the pending body used up"
    );
}

#[cancelable(timeout = "1s", name = "macros.read_config")]
async fn read_config(delay: Duration, found: bool, slot: Slot) -> std::io::Result<String> {
    *slot.lock().unwrap() = Cancelable::current();
    sleep(delay).await;
    if !found {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no config",
        ));
    }
    Ok("config".to_owned())
}

#[tokio::test(start_paused = true)]
async fn a_one_argument_result_alias_keeps_its_signature() {
    let op = slot();
    let error: std::io::Error = read_config(Duration::from_secs(5), true, op.clone())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    let cancellation = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CancellationError>())
        .expect("the cancellation inside");
    assert_eq!(cancellation.operation_name(), Some("macros.read_config"));
    assert_eq!(taken(&op).status(), OperationStatus::Cancelled);

    let op = slot();
    let error = read_config(Duration::ZERO, false, op.clone())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(taken(&op).status(), OperationStatus::Failed);
    assert_eq!(taken(&op).context().failure.as_deref(), Some("no config"));

    let op = slot();
    assert_eq!(
        read_config(Duration::ZERO, true, op).await.unwrap(),
        "config"
    );
}

/// The `anyhow::Result<T>` shape, with the crate's own error.
mod app {
    pub(super) type Result<T> = std::result::Result<T, super::AppError>;
}

#[cancelable(timeout = "1s")]
async fn load(id: u64) -> app::Result<u64> {
    sleep(Duration::from_secs(id)).await;
    Ok(id)
}

#[tokio::test(start_paused = true)]
async fn a_crate_result_alias_converts_the_cancellation_into_its_error() {
    assert_eq!(load(0).await.unwrap(), 0);
    let AppError::Cancelled(error) = load(5).await.unwrap_err() else {
        panic!("expected a cancellation")
    };
    assert!(error.is_timeout());
}
