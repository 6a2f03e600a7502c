//! Every way an operation ends leaves nothing behind: no timer, no waiter, no child link, no
//! registry entry and, once the handles are dropped, no state at all. (Signal registrations are
//! checked the same way in `signals.rs`, in child processes.)
//!
//! Each case runs one operation with a source of every kind that registers something: a
//! timeout (a timer), a condition (an interval timer), a token (a link in the token's tree), a
//! parent (a link in the parent's), a registry, a child token of its own, and the waiter `run`
//! parks on its scope. `run` is polled by hand with a waker that counts its wake-ups, and kept
//! alive after it ends: a timer left registered would wake it when the paused clock passes.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use cancelable::test_util::{
    Probe, operation_probe, registrations, token_probe, token_registrations,
};
use cancelable::{
    Cancelable, CancellationError, CancellationReason, CancellationToken, OperationRegistry,
    OperationStatus,
};
use tokio::time::advance;

const TIMEOUT: Duration = Duration::from_secs(30);
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl CountingWaker {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future polled by hand with a [`CountingWaker`].
struct Driven<F: Future> {
    fut: Pin<Box<F>>,
    waker: Arc<CountingWaker>,
}

impl<F: Future> Driven<F> {
    fn new(fut: F) -> Self {
        Driven {
            fut: Box::pin(fut),
            waker: Arc::default(),
        }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        let waker = Waker::from(self.waker.clone());
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }

    /// Polls until ready, letting the paused clock run between polls.
    async fn finish(&mut self) -> F::Output {
        loop {
            if let Poll::Ready(output) = self.poll() {
                return output;
            }
            advance(CHECK_INTERVAL / 2).await;
        }
    }

    /// No timer or registration of the ended future is left to wake it: the clock jumps past
    /// every deadline it had, and nothing fires.
    async fn assert_no_timer_left(&self, case: &str) {
        let before = self.waker.count();
        advance(TIMEOUT * 10).await;
        tokio::task::yield_now().await;
        assert_eq!(
            self.waker.count(),
            before,
            "{case}: something still registered woke the ended `run`"
        );
    }
}

/// One operation with every kind of source, and what it is linked to.
struct Scenario {
    parent: Cancelable,
    token: CancellationToken,
    condition: Arc<AtomicBool>,
    registry: OperationRegistry,
    op: Cancelable,
    child: CancellationToken,
    probes: Vec<(&'static str, Probe)>,
}

impl Scenario {
    fn new() -> Self {
        let condition = Arc::new(AtomicBool::new(false));
        let flag = condition.clone();
        Scenario::with_predicate(condition, move || flag.load(Ordering::SeqCst))
    }

    fn with_predicate(
        condition: Arc<AtomicBool>,
        predicate: impl FnMut() -> bool + Send + 'static,
    ) -> Self {
        let parent = Cancelable::new().named("parent");
        let token = CancellationToken::new();
        let registry = OperationRegistry::with_history_limit(0);
        let op = Cancelable::with_timeout(TIMEOUT)
            .combine(Cancelable::with_token(token.clone()))
            .combine(Cancelable::with_condition(predicate, CHECK_INTERVAL))
            .named("op")
            .operation_id("op-1")
            .parent(&parent)
            .register_in(&registry);
        let child = op.token().child_token();
        let probes = vec![
            ("the operation", operation_probe(&op)),
            ("the operation's scope token", token_probe(&op.token())),
            ("the child token", token_probe(&child)),
            ("the parent", operation_probe(&parent)),
            ("the source token", token_probe(&token)),
        ];
        Scenario {
            parent,
            token,
            condition,
            registry,
            op,
            child,
            probes,
        }
    }

    /// While `run` is parked: every registration is in place.
    fn assert_running(&self) {
        assert_eq!(self.op.status(), OperationStatus::Running);
        assert_eq!(
            registrations(&self.op),
            (1, 1),
            "the child token's link and run's waiter"
        );
        assert_eq!(registrations(&self.parent).0, 1);
        assert_eq!(token_registrations(&self.token).0, 1);
        assert_eq!(self.registry.list().len(), 1);
    }

    /// Right after `run` ended, with its future still alive.
    fn assert_ended(&self, case: &str, status: OperationStatus) {
        assert_eq!(self.op.status(), status, "{case}");
        assert_eq!(registrations(&self.op).1, 0, "{case}: a waiter is left");
        assert!(
            self.registry.list().is_empty(),
            "{case}: still in the registry"
        );
        assert_eq!(
            self.registry.statistics().running.total(),
            0,
            "{case}: counted as running"
        );
        if status == OperationStatus::Cancelled {
            assert!(
                self.child.is_cancelled(),
                "{case}: the child outlived its cancel"
            );
            assert_eq!(registrations(&self.op).0, 0, "{case}: a child link is left");
        }
    }

    /// Drops every handle: the links into the parent and the source token go, then every
    /// piece of state is freed.
    fn assert_all_freed(self, case: &str) {
        let Scenario {
            parent,
            token,
            op,
            child,
            probes,
            ..
        } = self;
        drop((op, child));
        assert_eq!(
            registrations(&parent),
            (0, 0),
            "{case}: a link is left in the parent"
        );
        assert_eq!(
            token_registrations(&token),
            (0, 0),
            "{case}: a link is left in the source token"
        );
        drop((parent, token));
        for (what, probe) in probes {
            assert!(!probe.is_alive(), "{case}: {what} was not freed");
        }
    }
}

/// Runs `body` in the scenario's operation, ends it with `end`, and checks that nothing is
/// left: at once, with the ended `run` kept alive; then after every handle is dropped.
async fn check<T: std::fmt::Debug>(
    case: &str,
    scenario: Scenario,
    body: impl Future<Output = T>,
    end: impl AsyncFnOnce(&Scenario),
    expect: impl FnOnce(&Result<T, CancellationError>),
    status: OperationStatus,
) {
    {
        let mut run = Driven::new(scenario.op.run(body));
        assert!(run.poll().is_pending(), "{case}");
        scenario.assert_running();
        end(&scenario).await;
        let output = run.finish().await;
        expect(&output);
        scenario.assert_ended(case, status);
        run.assert_no_timer_left(case).await;
    }
    scenario.assert_all_freed(case);
}

fn pending() -> impl Future<Output = ()> {
    std::future::pending()
}

fn cancelled_with(reason: CancellationReason) -> impl FnOnce(&Result<(), CancellationError>) {
    move |output| {
        let error = output.as_ref().unwrap_err();
        assert_eq!(error.reason(), reason, "{error}");
    }
}

// ===== completion and each cancel reason =====

#[tokio::test(start_paused = true)]
async fn completion() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    check(
        "completion",
        Scenario::new(),
        async { rx.await.unwrap() },
        async move |_| tx.send(7).unwrap(),
        |output| assert_eq!(output, &Ok(7)),
        OperationStatus::Completed,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn manual_cancel() {
    check(
        "manual cancel",
        Scenario::new(),
        pending(),
        async |s| assert!(s.op.cancel()),
        cancelled_with(CancellationReason::Manual),
        OperationStatus::Cancelled,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn cancel_through_the_scope_token() {
    check(
        "scope token",
        Scenario::new(),
        pending(),
        async |s| {
            assert!(
                s.op.token()
                    .cancel_with(CancellationReason::Disconnect, "gone")
            )
        },
        cancelled_with(CancellationReason::Disconnect),
        OperationStatus::Cancelled,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn source_token_cancel() {
    check(
        "source token",
        Scenario::new(),
        pending(),
        async |s| assert!(s.token.cancel_with(CancellationReason::Manual, "stop")),
        cancelled_with(CancellationReason::Manual),
        OperationStatus::Cancelled,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn timeout() {
    check(
        "timeout",
        Scenario::new(),
        pending(),
        async |_| advance(TIMEOUT).await,
        cancelled_with(CancellationReason::Timeout),
        OperationStatus::Cancelled,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn condition() {
    check(
        "condition",
        Scenario::new(),
        pending(),
        async |s| {
            s.condition.store(true, Ordering::SeqCst);
            advance(CHECK_INTERVAL).await;
        },
        cancelled_with(CancellationReason::Condition),
        OperationStatus::Cancelled,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn parent_cancel() {
    check(
        "parent",
        Scenario::new(),
        pending(),
        async |s| assert!(s.parent.cancel()),
        cancelled_with(CancellationReason::Parent),
        OperationStatus::Cancelled,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn registry_cancel() {
    check(
        "registry",
        Scenario::new(),
        pending(),
        async |s| {
            let cancelled =
                s.registry
                    .cancel("op-1", CancellationReason::Disconnect, "client went away");
            assert_eq!(cancelled.ids(), ["op-1"]);
        },
        cancelled_with(CancellationReason::Disconnect),
        OperationStatus::Cancelled,
    )
    .await;
}

// ===== errors and panics =====

#[tokio::test(start_paused = true)]
async fn error_from_try_run() {
    let scenario = Scenario::new();
    let case = "error";
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    {
        let mut run = Driven::new(scenario.op.try_run(async {
            rx.await.unwrap();
            Err::<(), _>(
                CancellationError::new(CancellationReason::Manual)
                    .with_message("an error, not a cancel"),
            )
        }));
        assert!(run.poll().is_pending());
        scenario.assert_running();
        tx.send(()).unwrap();
        assert!(run.finish().await.is_err());
        scenario.assert_ended(case, OperationStatus::Failed);
        run.assert_no_timer_left(case).await;
    }
    scenario.assert_all_freed(case);
}

#[tokio::test(start_paused = true)]
async fn panic_in_the_body() {
    let scenario = Scenario::new();
    let case = "panic in the body";
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut run = Driven::new(scenario.op.run(async {
        rx.await.unwrap();
        panic!("the body panicked");
    }));
    assert!(run.poll().is_pending());
    scenario.assert_running();
    tx.send(()).unwrap();
    let panic = catch_unwind(AssertUnwindSafe(|| run.poll())).unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the body panicked"));
    assert_eq!(scenario.op.status(), OperationStatus::Failed);
    assert!(scenario.registry.list().is_empty());
    // The panic unwinds through whatever polls `run`, which drops it: the timer and the
    // waiter go with it.
    let waker = run.waker.clone();
    drop(run);
    scenario.assert_ended(case, OperationStatus::Failed);
    let before = waker.count();
    advance(TIMEOUT * 10).await;
    assert_eq!(waker.count(), before, "{case}: a timer is left");
    scenario.assert_all_freed(case);
}

/// Stricter: whoever catches the panic and keeps the `run` future (a hand-written executor,
/// `catch_unwind` around a poll) holds no timer, waiter or signal subscription either.
#[tokio::test(start_paused = true)]
async fn panic_in_the_body_releases_everything_before_unwinding() {
    let scenario = Scenario::new();
    let case = "panic in the body, run kept";
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    {
        let mut run = Driven::new(scenario.op.run(async {
            rx.await.unwrap();
            panic!("the body panicked");
        }));
        assert!(run.poll().is_pending());
        scenario.assert_running();
        tx.send(()).unwrap();
        assert!(catch_unwind(AssertUnwindSafe(|| run.poll())).is_err());
        scenario.assert_ended(case, OperationStatus::Failed);
        run.assert_no_timer_left(case).await;
    }
    scenario.assert_all_freed(case);
}

#[tokio::test(start_paused = true)]
async fn panic_in_the_body_of_a_spawned_task() {
    let scenario = Scenario::new();
    let op = scenario.op.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        op.run(async {
            rx.await.unwrap();
            panic!("the body panicked");
        })
        .await
    });
    tokio::task::yield_now().await;
    scenario.assert_running();
    tx.send(()).unwrap();
    assert!(task.await.unwrap_err().is_panic());
    scenario.assert_ended("panic in a task", OperationStatus::Failed);
    scenario.assert_all_freed("panic in a task");
}

#[tokio::test(start_paused = true)]
async fn panic_in_callbacks() {
    let scenario = Scenario::new();
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let calls = calls.clone();
        scenario
            .op
            .on_start(|_| panic!("on_start panicked"))
            .on_cancelled(move |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                panic!("on_cancel panicked")
            });
    }
    scenario
        .op
        .token()
        .on_cancel(|_| panic!("a token callback panicked"));
    check(
        "panic in callbacks",
        scenario,
        pending(),
        async |s| assert!(s.op.cancel()),
        cancelled_with(CancellationReason::Manual),
        OperationStatus::Cancelled,
    )
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "every callback still ran");
}

#[tokio::test(start_paused = true)]
async fn panic_in_the_condition() {
    let checks = Arc::new(AtomicUsize::new(0));
    let counted = checks.clone();
    let scenario = Scenario::with_predicate(Arc::default(), move || {
        counted.fetch_add(1, Ordering::SeqCst);
        panic!("the predicate panicked")
    });
    check(
        "panic in the condition",
        scenario,
        pending(),
        // `run` is polled as the clock moves on: a check every interval, until the timeout.
        async |_| {},
        cancelled_with(CancellationReason::Timeout),
        OperationStatus::Cancelled,
    )
    .await;
    assert!(
        checks.load(Ordering::SeqCst) > 1,
        "checked on, panic after panic"
    );
}

// ===== dropped mid-flight =====

#[tokio::test(start_paused = true)]
async fn run_dropped_mid_flight() {
    let scenario = Scenario::new();
    let case = "run dropped";
    let mut run = Driven::new(scenario.op.run(pending()));
    assert!(run.poll().is_pending());
    scenario.assert_running();
    let waker = run.waker.clone();
    drop(run);
    scenario.assert_ended(case, OperationStatus::Cancelled);
    let before = waker.count();
    advance(TIMEOUT * 10).await;
    assert_eq!(waker.count(), before, "{case}: a timer is left");
    scenario.assert_all_freed(case);
}

#[tokio::test(start_paused = true)]
async fn task_aborted_mid_flight() {
    let scenario = Scenario::new();
    let op = scenario.op.clone();
    let task = tokio::spawn(async move { op.run(pending()).await });
    tokio::task::yield_now().await;
    scenario.assert_running();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    scenario.assert_ended("task aborted", OperationStatus::Cancelled);
    scenario.assert_all_freed("task aborted");
}

/// The positive control of the timer check: a timer that *is* left registered is seen.
#[tokio::test(start_paused = true)]
async fn the_timer_check_sees_a_timer() {
    let mut sleep = Driven::new(tokio::time::sleep(TIMEOUT));
    assert!(sleep.poll().is_pending());
    let before = sleep.waker.count();
    advance(TIMEOUT * 10).await;
    tokio::task::yield_now().await;
    assert!(sleep.waker.count() > before);
}

// ===== the runtime shut down with operations in flight =====

#[test]
fn runtime_shut_down_with_operations_in_flight() {
    const OPS: usize = 200;
    let parent = Cancelable::new().named("service");
    let shutdown = CancellationToken::new();
    let registry = OperationRegistry::with_history_limit(0);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let mut probes = Vec::new();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for i in 0..OPS {
        let op = Cancelable::with_timeout(Duration::from_secs(3600))
            .combine(Cancelable::with_token(shutdown.clone()))
            .combine(Cancelable::with_condition(
                || false,
                Duration::from_millis(5),
            ))
            .named(format!("request {i}"))
            .parent(&parent)
            .register_in(&registry);
        probes.push(operation_probe(&op));
        probes.push(token_probe(&op.token()));
        let started = started_tx.clone();
        rt.spawn(async move {
            op.run(async {
                // A grandchild task and a nested scope, both in flight too.
                let current = Cancelable::current().unwrap();
                let _worker = current.spawn(std::future::pending::<()>());
                started.send(()).unwrap();
                cancelable::with_timeout(Duration::from_secs(60), std::future::pending::<()>())
                    .await
            })
            .await
        });
    }
    for _ in 0..OPS {
        started_rx.recv().unwrap();
    }
    assert_eq!(registry.list().len(), OPS);
    assert_eq!(registrations(&parent).0, OPS);

    drop(rt);

    assert!(
        registry.list().is_empty(),
        "an operation stayed in the registry"
    );
    assert_eq!(
        registry.statistics().finished.cancelled,
        OPS as u64,
        "every operation ended cancelled"
    );
    assert_eq!(
        registrations(&parent),
        (0, 0),
        "a link is left in the parent"
    );
    assert_eq!(token_registrations(&shutdown), (0, 0));
    for probe in &probes {
        assert!(
            !probe.is_alive(),
            "an operation's state outlived the runtime"
        );
    }
}
