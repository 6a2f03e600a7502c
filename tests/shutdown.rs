//! Graceful shutdown: the phases on the paused clock (exact instants), admission, forcing,
//! escalation, the report; signals in child processes of this test binary.
//!
//! The in-process tests listen to no signal (`.on_signals([])`): the signal tests of this
//! binary count the process-wide listeners.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cancelable::shutdown::{
    Escalation, LeftoverKind, Shutdown, ShutdownBuilder, ShutdownPhase, Trigger,
};
use cancelable::{Cancelable, CancellationReason, OperationRegistry, OperationStatus};
use tokio::time::{Instant, sleep};

fn quiet() -> ShutdownBuilder {
    Shutdown::builder().on_signals([])
}

/// A service body that returns once the root is cancelled, as a server with graceful shutdown
/// does once its connections are closed.
async fn serve_until_cancelled() {
    Cancelable::current().unwrap().cancelled().await;
}

/// Sets its flag when dropped: shows that a body was dropped, and when.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn phases_begin_at_exact_instants_and_work_that_ends_in_time_is_no_leftover() {
    let shutdown = quiet()
        .drain(Duration::from_secs(5))
        .grace(Duration::from_secs(25))
        .build();
    let root = shutdown.root().clone();
    let t0 = Instant::now();
    let drained_at = tokio::spawn({
        let draining = shutdown.draining();
        async move {
            draining.await;
            Instant::now()
        }
    });
    // A worker that stops when cancelled, and one whose cleanup takes 3 s in a shield.
    let worker = root.spawn(std::future::pending::<()>());
    let cleanup = root.spawn({
        let root = root.clone();
        async move {
            let op = Cancelable::current().unwrap();
            op.shield(async {
                root.cancelled().await;
                sleep(Duration::from_secs(3)).await; // a cleanup that takes 3 s
            })
            .await;
        }
    });
    shutdown.trigger("deploy");
    assert_eq!(shutdown.phase(), ShutdownPhase::Running);
    let report = shutdown.run(serve_until_cancelled()).await;

    assert_eq!(
        drained_at.await.unwrap(),
        t0,
        "draining() completes at the trigger"
    );
    assert_eq!(report.trigger, Trigger::Manual("deploy".into()));
    assert_eq!(report.phases.cancelling, Some(Duration::from_secs(5)));
    assert_eq!(report.phases.forcing, None);
    assert_eq!(report.phases.done, Duration::from_secs(8));
    assert!(report.leftovers.is_empty(), "{report}");
    assert_eq!((report.exit_code(), report.escalated), (0, false));
    assert_eq!(shutdown.phase(), ShutdownPhase::Done);
    let err = worker.await.unwrap().unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Parent);
    assert_eq!(err.cause().unwrap().message(), Some("deploy"));
    assert!(cleanup.await.unwrap().unwrap_err().is_parent());
}

#[tokio::test(start_paused = true)]
async fn work_is_admitted_while_draining_and_born_cancelled_once_admission_closed() {
    let shutdown = quiet().drain(Duration::from_secs(2)).build();
    let root = shutdown.root().clone();
    shutdown.trigger("deploy");
    let admitted = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicBool::new(false));
    let (a, r) = (admitted.clone(), refused.clone());
    let report = shutdown
        .run(async move {
            // Draining: a request that arrives now is served.
            sleep(Duration::from_secs(1)).await;
            let served = root.spawn(async move { a.store(true, Ordering::SeqCst) });
            assert!(served.await.unwrap().is_ok());
            // Cancelling: the body still runs (it has the budget), but what it starts now is
            // cancelled before its first poll.
            root.cancelled().await;
            let late = root.spawn(async move { r.store(true, Ordering::SeqCst) });
            assert!(late.await.unwrap().unwrap_err().is_parent());
        })
        .await;
    assert!(admitted.load(Ordering::SeqCst));
    assert!(
        !refused.load(Ordering::SeqCst),
        "the late body was never polled"
    );
    assert_eq!(report.phases.done, Duration::from_secs(2));
    assert_eq!(report.exit_code(), 0, "{report}");
}

#[tokio::test(start_paused = true)]
async fn forcing_cuts_a_shield_at_exactly_the_grace_and_reports_it() {
    let shutdown = quiet().grace(Duration::from_secs(2)).named("api").build();
    let root = shutdown.root().clone();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = DropFlag(dropped.clone());
    let export = Cancelable::new()
        .named("export")
        .parent(&root)
        .spawn(async move {
            let op = Cancelable::current().unwrap();
            op.report_progress("part 3 of 5");
            op.shield(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
            .await
        });
    tokio::task::yield_now().await; // the export is in its shield
    shutdown.trigger("deploy");
    let report = shutdown.run(std::future::pending::<()>()).await;

    assert_eq!(report.phases.cancelling, Some(Duration::ZERO));
    assert_eq!(report.phases.forcing, Some(Duration::from_secs(2)));
    assert_eq!(
        report.phases.done,
        Duration::from_secs(2),
        "the cut is seen at once"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the shielded future was dropped"
    );
    let err = export.await.unwrap().unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Timeout);
    assert_eq!(err.message(), Some("grace period of 2s elapsed"));
    assert!(
        err.cause().unwrap().is_parent(),
        "caused by the cancellation it cut short"
    );

    assert_eq!(report.exit_code(), 1);
    assert_eq!(
        report.forced(),
        2,
        "the export and the service body: {report}"
    );
    let export = report
        .leftovers
        .iter()
        .find(|l| l.name == "export")
        .unwrap();
    assert_eq!(export.path, ["api", "export"]);
    assert_eq!(export.kind, LeftoverKind::Task);
    assert!(export.in_shield);
    assert_eq!(export.elapsed, Duration::from_secs(2));
    assert_eq!(export.last_progress.as_deref(), Some("part 3 of 5"));
    assert_eq!(export.status, OperationStatus::Cancelled);
    assert_eq!(
        export.error,
        [
            "timeout: grace period of 2s elapsed",
            "parent: parent operation cancelled", // the task's: the export was cancelled
            "parent: parent operation cancelled", // the export's: the root was cancelled
            "manual: deploy",
        ]
    );
    assert_eq!(
        report.leftovers[0].name, "export",
        "in a shield: listed first"
    );
    let body = &report.leftovers[1];
    assert_eq!(
        (body.name.as_str(), body.kind),
        ("api", LeftoverKind::Inline)
    );
    let text = report.to_string();
    assert!(
        text.starts_with("shutdown (shutdown requested: deploy): 2 forced, 0 leaked"),
        "{text}"
    );
    assert!(
        text.contains("forced task \"export\" under api/export: in a shield after 2s"),
        "{text}"
    );
    assert!(text.contains("last progress \"part 3 of 5\""), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_second_trigger_skips_to_forcing_with_the_first_as_cause() {
    let shutdown = Arc::new(quiet().drain(Duration::from_secs(5)).build());
    let again = shutdown.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        again.trigger("now");
    });
    shutdown.trigger("deploy");
    let report = shutdown.run(std::future::pending::<()>()).await;
    assert!(report.escalated);
    assert_eq!(
        report.phases.cancelling, None,
        "it went from draining to forcing"
    );
    assert_eq!(report.phases.forcing, Some(Duration::from_secs(1)));
    let body = &report.leftovers[0];
    assert_eq!(
        body.error,
        [
            "timeout: forced by a second trigger (shutdown requested: now)",
            "manual: deploy",
        ]
    );
    assert!(
        report.to_string().contains(", escalated; exit code 1"),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn escalation_ignore_keeps_the_budget() {
    let shutdown = Arc::new(
        quiet()
            .grace(Duration::from_secs(10))
            .escalation(Escalation::Ignore)
            .build(),
    );
    let again = shutdown.clone();
    tokio::spawn(async move {
        sleep(Duration::from_secs(1)).await;
        again.trigger("now");
    });
    shutdown.trigger("deploy");
    let report = shutdown.run(std::future::pending::<()>()).await;
    assert!(!report.escalated);
    assert_eq!(report.phases.forcing, Some(Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn a_body_that_ends_is_the_trigger_and_the_workers_are_stopped() {
    let shutdown = quiet().build();
    let worker = shutdown.root().spawn(std::future::pending::<()>());
    let report = shutdown.run(sleep(Duration::from_secs(3))).await;
    assert_eq!(report.trigger, Trigger::BodyEnded);
    assert_eq!(report.phases.done, Duration::ZERO);
    assert_eq!(report.exit_code(), 0, "{report}");
    let err = worker.await.unwrap().unwrap_err();
    assert_eq!(
        err.cause().unwrap().message(),
        Some("the service body ended")
    );
}

#[tokio::test(start_paused = true)]
async fn a_future_trigger_starts_it() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = quiet()
        .on(async move {
            let _ = stopped.await;
        })
        .build();
    tokio::spawn(async move {
        sleep(Duration::from_secs(4)).await;
        let _ = stop.send(());
    });
    let start = Instant::now();
    let report = shutdown.run(serve_until_cancelled()).await;
    assert_eq!(report.trigger, Trigger::Future);
    assert_eq!(start.elapsed(), Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn an_operation_grace_is_capped_by_the_budget() {
    let shutdown = quiet().grace(Duration::from_secs(3)).build();
    let flush = Cancelable::new()
        .named("flush")
        .parent(shutdown.root())
        .grace(Duration::from_secs(10));
    let slow = tokio::spawn(async move {
        flush
            .run(async {
                Cancelable::current().unwrap().cancelled().await;
                sleep(Duration::from_secs(60)).await; // a cleanup far longer than allowed
            })
            .await
    });
    shutdown.trigger("deploy");
    let report = shutdown.run(std::future::pending::<()>()).await;
    let err = slow.await.unwrap().unwrap_err();
    assert_eq!(err.message(), Some("grace period of 3s elapsed"));
    let flush = report.leftovers.iter().find(|l| l.name == "flush").unwrap();
    assert_eq!(flush.elapsed, Duration::from_secs(3));
    assert!(!flush.in_shield);
    assert_eq!(flush.kind, LeftoverKind::Inline);
}

/// Nothing is left once the shutdown is done: no registered operation, no running child, no
/// listener (the listeners are checked in the child processes).
#[tokio::test(start_paused = true)]
async fn nothing_is_left_when_it_is_done() {
    let registry = OperationRegistry::new();
    let shutdown = quiet().grace(Duration::from_secs(1)).build();
    let root = shutdown.root().clone();
    for i in 0..10 {
        let op = Cancelable::new()
            .named(format!("job {i}"))
            .parent(&root)
            .register_in(&registry);
        tokio::spawn(async move {
            op.run(async { op.shield(sleep(Duration::from_secs(i))).await })
                .await
        });
    }
    shutdown.trigger("deploy");
    let report = shutdown.run(std::future::pending::<()>()).await;
    assert!(registry.list().is_empty());
    assert_eq!(report.unfinished, 0);
    tokio::time::timeout(Duration::from_millis(1), root.wait_children())
        .await
        .expect("no child left");
}

#[tokio::test]
async fn blocking_work_that_ignores_its_token_is_leaked_and_run_returns_all_the_same() {
    let shutdown = quiet()
        .grace(Duration::from_millis(100))
        .sweep(Duration::from_millis(50))
        .build();
    let stop = Arc::new(AtomicBool::new(false));
    let stuck = stop.clone();
    let _handle = shutdown.root().spawn_blocking(move |_token| {
        while !stuck.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    shutdown.trigger("deploy");
    let started = std::time::Instant::now();
    let report = shutdown.run(std::future::pending::<()>()).await;
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    assert!(
        took < Duration::from_secs(5),
        "returned at the forcing sweep: {took:?}"
    );
    assert_eq!(report.leaked(), 1, "{report}");
    let leaked = &report.leftovers[0];
    assert_eq!(leaked.kind, LeftoverKind::Blocking);
    assert!(leaked.leaked);
    assert_eq!(leaked.status, OperationStatus::Running);
    assert_eq!(leaked.error[0], "parent: parent operation cancelled");
    assert!(
        report.to_string().contains("leaked blocking \"service\""),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_report_serializes_for_a_log_pipeline() {
    let shutdown = quiet().grace(Duration::from_secs(1)).build();
    shutdown.trigger("deploy");
    let report = shutdown.run(std::future::pending::<()>()).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["trigger"], serde_json::json!({"manual": "deploy"}));
    assert_eq!(
        json["phases"],
        serde_json::json!({"cancelling": 0.0, "forcing": 1.0, "done": 1.0})
    );
    assert_eq!(json["escalated"], false);
    assert_eq!(json["escalation"], "force");
    assert_eq!(json["unfinished"], 0);
    let body = &json["leftovers"][0];
    for key in [
        "id",
        "name",
        "path",
        "status",
        "error",
        "elapsed",
        "last_progress",
        "in_shield",
        "kind",
        "leaked",
    ] {
        assert!(body.get(key).is_some(), "{key} in {body}");
    }
    assert_eq!(body["kind"], "inline");
    assert_eq!(body["elapsed"], 1.0);
}

#[tokio::test(start_paused = true)]
async fn wait_children_waits_for_every_descendant_and_run_does_not() {
    let op = Cancelable::new().named("batch");
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = order.clone();
    op.run(async {
        let log = log.clone();
        op.spawn(async move {
            let inner = log.clone();
            Cancelable::current().unwrap().spawn(async move {
                sleep(Duration::from_secs(2)).await;
                inner.lock().unwrap().push("grandchild");
            });
            sleep(Duration::from_secs(1)).await;
            log.lock().unwrap().push("child");
        });
    })
    .await
    .unwrap();
    assert!(order.lock().unwrap().is_empty(), "run returned at once");
    let start = Instant::now();
    op.wait_children().await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(*order.lock().unwrap(), ["child", "grandchild"]);
}

#[tokio::test(start_paused = true)]
async fn a_child_dropped_without_running_gives_its_admission_back() {
    let op = Cancelable::new();
    let child = op.child();
    let count = Arc::new(AtomicUsize::new(0));
    drop(child);
    tokio::time::timeout(Duration::from_millis(1), op.wait_children())
        .await
        .expect("nothing to wait for");
    let c = count.clone();
    let handle = op.spawn_blocking(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    op.wait_children().await;
    handle.await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

// ===== signals, in child processes =====

const CHILD_ENV: &str = "CANCELABLE_SHUTDOWN_CHILD";

#[test]
fn signals_trigger_escalate_and_give_the_disposition_back() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    /// A scenario, the signal its process dies of or its exit code, and what it prints.
    type Case = (
        &'static str,
        Option<i32>,
        Option<i32>,
        &'static [&'static str],
    );
    let cases: [Case; 5] = [
        (
            "sigterm",
            None,
            Some(0),
            &["shutdown (received signal SIGTERM): everything ended in time"],
        ),
        (
            "sigint_twice",
            None,
            Some(1),
            &["escalated", "forced inline \"stubborn\""],
        ),
        ("exit", Some(SIGINT), None, &["second SIGINT raised"]),
        ("burst", None, Some(0), &["two deliveries, one trigger"]),
        (
            "restored",
            Some(SIGTERM),
            None,
            &["listeners after done: 0"],
        ),
    ];
    for (scenario, dies_of, code, prints) in cases {
        let ending = match (dies_of, code) {
            (Some(signal), _) => crate::child::Ending::Signal(signal),
            (None, code) => crate::child::Ending::Code(code.unwrap_or(-1)),
        };
        crate::child::run_scenario(
            "shutdown::child_process",
            CHILD_ENV,
            scenario,
            ending,
            prints,
        );
    }
}

/// Runs only as a child of `signals_trigger_escalate_and_give_the_disposition_back`.
#[test]
fn child_process() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let code = rt.block_on(child(&scenario));
    drop(rt);
    if scenario == "restored" {
        println!(
            "listeners after done: {}",
            cancelable::test_util::signal_listeners()
        );
        signal_hook::low_level::raise(signal_hook::consts::SIGTERM).unwrap();
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive");
    }
    std::process::exit(code);
}

async fn child(scenario: &str) -> i32 {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::low_level::raise;
    let builder = Shutdown::builder().grace(Duration::from_secs(30));
    let shutdown = match scenario {
        "exit" => builder.escalation(Escalation::Exit).build(),
        _ => builder.build(),
    };
    let root = shutdown.root().clone();
    let stubborn = Cancelable::new().named("stubborn").parent(&root);
    root.spawn(std::future::pending::<()>());
    let report = shutdown
        .run(async move {
            match scenario {
                "sigterm" | "restored" => raise(SIGTERM).unwrap(),
                "sigint_twice" | "exit" => {
                    tokio::spawn(async move {
                        stubborn
                            .run(async {
                                Cancelable::current()
                                    .unwrap()
                                    .shield(std::future::pending::<()>())
                                    .await
                            })
                            .await
                    });
                    tokio::task::yield_now().await;
                    raise(SIGINT).unwrap();
                    Cancelable::current().unwrap().cancelled().await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if scenario == "exit" {
                        println!("second SIGINT raised");
                    }
                    raise(SIGINT).unwrap();
                }
                "burst" => {
                    raise(SIGTERM).unwrap();
                    raise(SIGTERM).unwrap();
                    // Both deliveries land while the runtime is busy here.
                    std::thread::sleep(Duration::from_millis(500));
                }
                other => panic!("unknown scenario {other}"),
            }
            Cancelable::current().unwrap().cancelled().await;
        })
        .await;
    if scenario == "burst" && !report.escalated {
        println!("two deliveries, one trigger");
    }
    println!("{report}");
    report.exit_code()
}

/// A service that runs blocking work all day keeps one record per closure in flight, not one
/// per closure it ever ran.
#[tokio::test]
async fn finished_blocking_work_leaves_no_record() {
    let shutdown = quiet().build();
    let root = shutdown.root().clone();
    for _ in 0..100 {
        root.spawn_blocking(|_| ()).await.unwrap();
    }
    root.wait_children().await;
    assert_eq!(cancelable::test_util::blocking_records(&root), 0);
}
