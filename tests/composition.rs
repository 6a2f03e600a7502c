//! Any-of and all-of: every pairing of sources, nesting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cancelable::{Cancelable, CancellationError, CancellationReason, CancellationToken};
use tokio::time::{Instant, sleep};

fn new_flag() -> (Arc<AtomicBool>, impl FnMut() -> bool + Send + 'static) {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    (flag, move || f.load(Ordering::SeqCst))
}

fn custom_after(delay: Duration, message: &'static str) -> Cancelable {
    Cancelable::with_source(async move {
        sleep(delay).await;
        CancellationError::new(CancellationReason::Manual).with_message(message.to_owned())
    })
}

/// Runs `op` around a body that never ends; returns the error and the elapsed time.
async fn outcome(op: Cancelable) -> (CancellationError, Duration) {
    let start = Instant::now();
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    (err, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn any_of_first_source_wins_with_its_own_reason_and_message() {
    let ms = Duration::from_millis;
    // timeout vs token
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        sleep(ms(50)).await;
        t.cancel_with(CancellationReason::Manual, "stop button");
    });
    let (err, at) =
        outcome(Cancelable::with_timeout(ms(100)).combine(Cancelable::with_token(token.clone())))
            .await;
    assert_eq!(
        (err.reason(), err.message(), at),
        (CancellationReason::Manual, Some("stop button"), ms(50))
    );

    // timeout vs condition: the condition is met first
    let (flag, predicate) = new_flag();
    tokio::spawn(async move {
        sleep(ms(30)).await;
        flag.store(true, Ordering::SeqCst);
    });
    let (err, at) = outcome(Cancelable::any_of([
        Cancelable::with_timeout(ms(500)),
        Cancelable::with_named_condition("queue_full", predicate, ms(20)),
    ]))
    .await;
    assert_eq!(err.reason(), CancellationReason::Condition);
    assert_eq!(
        err.message(),
        Some("condition `queue_full` met after 3 checks")
    );
    assert_eq!(at, ms(40));

    // condition vs timeout: the timeout fires first
    let (_, predicate) = new_flag();
    let (err, at) = outcome(
        Cancelable::with_condition(predicate, ms(10)).combine(Cancelable::with_timeout(ms(25))),
    )
    .await;
    assert_eq!((err.reason(), at), (CancellationReason::Timeout, ms(25)));

    // user source vs timeout, both orders
    let (err, at) =
        outcome(custom_after(ms(10), "custom fired").combine(Cancelable::with_timeout(ms(20))))
            .await;
    assert_eq!((err.message(), at), (Some("custom fired"), ms(10)));
    let (err, at) =
        outcome(Cancelable::with_timeout(ms(5)).combine(custom_after(ms(10), "custom fired")))
            .await;
    assert_eq!((err.reason(), at), (CancellationReason::Timeout, ms(5)));

    // token vs condition vs user source, with the token already cancelled
    let token = CancellationToken::new();
    token.cancel_with(CancellationReason::Disconnect, "client left");
    let (_, predicate) = new_flag();
    let (err, at) = outcome(Cancelable::any_of([
        Cancelable::with_condition(predicate, ms(1)),
        custom_after(ms(1), "never"),
        Cancelable::with_token(token),
    ]))
    .await;
    assert_eq!((err.reason(), at), (CancellationReason::Disconnect, ms(0)));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_member_cancels_the_composite() {
    let a = Cancelable::new();
    let handle = a.clone();
    let op = Cancelable::any_of([a, Cancelable::with_timeout(Duration::from_secs(5))]);
    handle.cancel_with(CancellationReason::Manual, "member cancelled");
    let (err, _) = outcome(op).await;
    assert_eq!(err.message(), Some("member cancelled"));
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_conditions_nested_in_composites_work() {
    let ms = Duration::from_millis;
    let (flag, predicate) = new_flag();
    tokio::spawn(async move {
        sleep(ms(70)).await;
        flag.store(true, Ordering::SeqCst);
    });
    let op = Cancelable::any_of([
        Cancelable::any_of([Cancelable::with_timeout(ms(500))]),
        Cancelable::any_of([Cancelable::any_of([Cancelable::with_condition(
            predicate,
            ms(50),
        )])]),
    ]);
    let (err, at) = outcome(op).await;
    assert_eq!((err.reason(), at), (CancellationReason::Condition, ms(100)));
}

#[tokio::test(start_paused = true)]
async fn all_of_waits_for_every_member_and_reports_the_last() {
    let ms = Duration::from_millis;
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        sleep(ms(300)).await;
        t.cancel_with(CancellationReason::Manual, "work done");
    });
    let (err, at) = outcome(Cancelable::all_of([
        Cancelable::with_timeout(ms(100)),
        Cancelable::with_token(token),
    ]))
    .await;
    assert_eq!(at, ms(300), "not before the last member fired");
    assert_eq!(
        err.reason(),
        CancellationReason::Manual,
        "the last to fire gives the reason"
    );
    assert_eq!(
        err.message(),
        Some("all of: timeout after 100ms; work done")
    );

    // The other order: the timeout fires last.
    let token = CancellationToken::new();
    token.cancel();
    let (err, at) = outcome(Cancelable::all_of([
        Cancelable::with_token(token),
        Cancelable::with_timeout(ms(200)),
    ]))
    .await;
    assert_eq!((err.reason(), at), (CancellationReason::Timeout, ms(200)));
}

#[tokio::test(start_paused = true)]
async fn a_member_fires_once_and_stays_fired() {
    // The condition is met briefly, then not any more: all-of still counts it.
    let ms = Duration::from_millis;
    let (flag, predicate) = new_flag();
    let f = flag.clone();
    tokio::spawn(async move {
        sleep(ms(10)).await;
        f.store(true, Ordering::SeqCst);
        sleep(ms(20)).await;
        f.store(false, Ordering::SeqCst);
    });
    let (err, at) = outcome(Cancelable::all_of([
        Cancelable::with_condition(predicate, ms(10)),
        Cancelable::with_timeout(ms(100)),
    ]))
    .await;
    assert!(!flag.load(Ordering::SeqCst));
    assert_eq!((err.reason(), at), (CancellationReason::Timeout, ms(100)));
}

#[tokio::test(start_paused = true)]
async fn any_of_timeout_or_all_of_min_time_and_condition() {
    let ms = Duration::from_millis;
    // Stop at 1s at the latest, or once at least 200ms passed *and* the condition holds.
    let build = |predicate| {
        Cancelable::any_of([
            Cancelable::with_timeout(ms(1000)),
            Cancelable::all_of([
                Cancelable::with_timeout(ms(200)),
                Cancelable::with_named_condition("enough_results", predicate, ms(50)),
            ]),
        ])
    };
    // The condition holds early: the all-of fires at 200ms.
    let (flag, predicate) = new_flag();
    flag.store(true, Ordering::SeqCst);
    let (err, at) = outcome(build(predicate)).await;
    assert_eq!((err.reason(), at), (CancellationReason::Timeout, ms(200)));
    assert_eq!(
        err.message(),
        Some("all of: timeout after 200ms; condition `enough_results` met after 1 check")
    );

    // The condition holds at 420ms: the all-of fires at the next check, 450ms.
    let (flag, predicate) = new_flag();
    tokio::spawn(async move {
        sleep(ms(420)).await;
        flag.store(true, Ordering::SeqCst);
    });
    let (err, at) = outcome(build(predicate)).await;
    assert_eq!((err.reason(), at), (CancellationReason::Condition, ms(450)));

    // It never holds: the outer timeout wins.
    let (_, predicate) = new_flag();
    let (err, at) = outcome(build(predicate)).await;
    assert_eq!((err.reason(), at), (CancellationReason::Timeout, ms(1000)));
    assert_eq!(err.message(), Some("timeout after 1s"));
}

#[tokio::test(start_paused = true)]
async fn combine_keeps_the_first_name() {
    let op = Cancelable::new()
        .named("first")
        .combine(Cancelable::with_timeout(Duration::from_millis(1)).named("second"));
    assert_eq!(op.name(), "first");
    let (err, _) = outcome(op).await;
    assert_eq!(err.operation_name(), Some("first"));
}
