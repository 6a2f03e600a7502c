//! The operation registry: joining and leaving, queries, cancellation, history, statistics.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use cancelable::{
    Cancelable, CancellationReason, OperationFilter, OperationRegistry, OperationStatus,
};
use tokio::task::JoinHandle;
use tokio::time::sleep;

use crate::poll_once;

/// Starts `op` on a task with a body that never ends by itself.
async fn start(op: Cancelable) -> JoinHandle<Result<(), cancelable::CancellationError>> {
    let task = tokio::spawn(async move { op.run(std::future::pending::<()>()).await });
    tokio::task::yield_now().await;
    task
}

fn names(contexts: &[cancelable::OperationContext]) -> Vec<&str> {
    contexts.iter().map(|ctx| ctx.name.as_str()).collect()
}

#[tokio::test]
async fn a_registered_operation_is_listed_pending_from_when_it_is_built_then_running_then_in_history()
 {
    let registry = OperationRegistry::new();
    let op = Cancelable::new().named("import").register_in(&registry);
    let queued = registry.list();
    assert_eq!(names(&queued), ["import"], "joins when built, not when run");
    assert_eq!(queued[0].status, OperationStatus::Pending);
    assert_eq!(registry.statistics().running.pending, 1);

    let task = start(op.clone()).await;
    let running = registry.list();
    assert_eq!(names(&running), ["import"]);
    assert_eq!(running[0].status, OperationStatus::Running);
    let stats = registry.statistics();
    assert_eq!((stats.running.pending, stats.running.running), (0, 1));
    assert!(registry.history(10).is_empty());

    op.cancel();
    task.await.unwrap().unwrap_err();
    assert!(registry.list().is_empty());
    let history = registry.history(10);
    assert_eq!(names(&history), ["import"]);
    assert_eq!(history[0].status, OperationStatus::Cancelled);
    assert!(history[0].ended_at.is_some());
}

#[tokio::test]
async fn a_queued_operation_cancelled_by_id_pattern_or_all_returns_err_from_run_without_polling() {
    let registry = OperationRegistry::new();
    let queue: Vec<_> = ["job_acme_1", "job_acme_2", "job_globex_1", "job_initech_1"]
        .into_iter()
        .map(|name| {
            Cancelable::new()
                .named(name)
                .operation_id(name)
                .register_in(&registry)
        })
        .collect();
    assert_eq!(registry.list().len(), 4);

    let by_pattern = registry.cancel_matching("job_acme_*", CancellationReason::Manual, "tenant");
    let mut ids = by_pattern.ids();
    ids.sort();
    assert_eq!(ids, ["job_acme_1", "job_acme_2"]);
    let by_id = registry.cancel("job_globex_1", CancellationReason::Signal, "operator");
    assert_eq!(by_id.ids(), ["job_globex_1"]);
    let by_all = registry.cancel_all(CancellationReason::Manual, "shutdown");
    assert_eq!(
        by_all.ids(),
        ["job_initech_1"],
        "only what this call cancelled"
    );

    let expected = [
        ("tenant", CancellationReason::Manual),
        ("tenant", CancellationReason::Manual),
        ("operator", CancellationReason::Signal),
        ("shutdown", CancellationReason::Manual),
    ];
    for (op, (message, reason)) in queue.iter().zip(expected) {
        let polled = std::sync::atomic::AtomicBool::new(false);
        let err = op
            .run(async { polled.store(true, std::sync::atomic::Ordering::SeqCst) })
            .await
            .unwrap_err();
        assert!(!polled.into_inner(), "{} was polled", op.name());
        assert_eq!((err.message(), err.reason()), (Some(message), reason));
        assert_eq!(op.status(), OperationStatus::Cancelled);
    }
    assert!(registry.list().is_empty());
    let stats = registry.statistics();
    assert_eq!((stats.running.total(), stats.finished.cancelled), (0, 4));
}

#[tokio::test]
async fn a_registered_operation_dropped_without_running_leaves_the_registry_and_is_freed() {
    let registry = OperationRegistry::new();
    let witness = Arc::new(());
    let op = Cancelable::new().named("abandoned").register_in(&registry);
    let held = witness.clone();
    op.on_completed(move |_| assert!(Arc::strong_count(&held) > 1));
    let clone = op.clone();
    assert_eq!(names(&registry.list()), ["abandoned"]);

    drop(op);
    assert_eq!(
        names(&registry.list()),
        ["abandoned"],
        "a handle is still alive"
    );
    drop(clone);
    assert!(registry.list().is_empty());
    assert_eq!(
        Arc::strong_count(&witness),
        1,
        "the registry kept the operation alive"
    );
    let stats = registry.statistics();
    assert_eq!((stats.running.total(), stats.total), (0, 1));
    assert!(registry.history(10).is_empty());

    // A run future dropped before its first poll: the operation never ran either.
    let op = Cancelable::new()
        .named("never_polled")
        .register_in(&registry);
    drop(op.run(async {}));
    assert_eq!(registry.list()[0].status, OperationStatus::Pending);
    drop(op);
    assert!(registry.list().is_empty());
    assert_eq!(registry.statistics().running.total(), 0);
}

#[tokio::test]
async fn filters_match_metadata_and_statistics_can_be_taken_for_a_filter() {
    let registry = OperationRegistry::new();
    for (tenant, fails) in [("acme", false), ("acme", true), ("globex", false)] {
        let op = Cancelable::new()
            .named("export")
            .metadata("tenant", tenant)
            .register_in(&registry);
        let _ = op
            .try_run(async move {
                match fails {
                    true => Err(std::io::Error::other("disk full")),
                    false => Ok(()),
                }
            })
            .await;
    }
    let queued = Cancelable::new()
        .named("export")
        .metadata("tenant", "acme")
        .metadata("priority", 1)
        .register_in(&registry);
    let running = start(
        Cancelable::new()
            .named("import")
            .metadata("tenant", "acme")
            .register_in(&registry),
    )
    .await;

    let acme = OperationFilter::new().metadata("tenant", "acme");
    assert_eq!(registry.find(&acme).len(), 4);
    assert_eq!(
        registry.find(&acme.clone().metadata("priority", 1)).len(),
        1
    );
    assert!(
        registry
            .find(&OperationFilter::new().metadata("tenant", "initech"))
            .is_empty()
    );
    assert_eq!(
        registry
            .find(&acme.clone().name("exp*").status(OperationStatus::Pending))
            .len(),
        1
    );
    let ctx = &registry.find(&acme.clone().metadata("priority", 1))[0];
    assert!(acme.matches(ctx));
    assert!(
        !OperationFilter::new()
            .metadata("tenant", "globex")
            .matches(ctx)
    );

    let stats = registry.statistics_matching(&acme);
    assert_eq!((stats.running.pending, stats.running.running), (1, 1));
    assert_eq!((stats.finished.completed, stats.finished.failed), (1, 1));
    assert_eq!((stats.total, stats.history_len), (4, 2));
    assert!(stats.average_duration.is_some());
    let globex = registry.statistics_matching(&OperationFilter::new().metadata("tenant", "globex"));
    assert_eq!((globex.running.total(), globex.finished.completed), (0, 1));
    assert_eq!(registry.statistics().total, 5);

    registry.cancel_all(CancellationReason::Manual, "done");
    running.await.unwrap().unwrap_err();
    drop(queued);
}

#[test]
fn running_counts_have_no_always_zero_fields() {
    let stats = OperationRegistry::new().statistics();
    let json = serde_json::to_value(stats).unwrap();
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&json["running"]), ["pending", "running"]);
    assert_eq!(
        keys(&json["finished"]),
        ["cancelled", "completed", "failed"]
    );
}

#[tokio::test(start_paused = true)]
async fn an_operation_leaves_the_running_set_however_it_ends() {
    let registry = OperationRegistry::new();
    let op = |name: &'static str| Cancelable::new().named(name).register_in(&registry);

    op("completes").run(async {}).await.unwrap();
    let timeout = Cancelable::with_timeout(Duration::from_millis(10)).named("times_out");
    timeout
        .register_in(&registry)
        .run(std::future::pending::<()>())
        .await
        .unwrap_err();
    let _ = op("errs")
        .try_run(async { Err::<(), _>(std::io::Error::other("boom")) })
        .await;
    let panics = op("panics");
    let task = tokio::spawn(async move { panics.run(async { panic!("boom") }).await });
    assert!(task.await.unwrap_err().is_panic());
    let dropped = op("dropped");
    let mut run = Box::pin(dropped.run(std::future::pending::<()>()));
    assert_eq!(registry.list()[0].status, OperationStatus::Pending);
    assert!(poll_once(&mut run).is_pending());
    assert_eq!(names(&registry.list()), ["dropped"]);
    drop(run);

    assert!(registry.list().is_empty());
    let history: Vec<_> = registry
        .history(10)
        .into_iter()
        .map(|ctx| (ctx.name, ctx.status))
        .collect();
    let expected = [
        ("completes", OperationStatus::Completed),
        ("times_out", OperationStatus::Cancelled),
        ("errs", OperationStatus::Failed),
        ("panics", OperationStatus::Failed),
        ("dropped", OperationStatus::Cancelled),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(n, s)| (n.to_owned(), s))
        .collect();
    assert_eq!(history, expected);
    assert_eq!(registry.statistics().running.total(), 0);
}

#[tokio::test]
async fn find_filters_by_status_name_glob_and_parent() {
    let registry = OperationRegistry::new();
    let parent = Cancelable::new()
        .named("batch")
        .operation_id("batch-1")
        .register_in(&registry);
    let parent_task = start(parent.clone()).await;
    let mut tasks = Vec::new();
    for name in ["user_1", "user_22", "nightly_job"] {
        let child = Cancelable::new()
            .named(name)
            .parent(&parent)
            .register_in(&registry);
        tasks.push(start(child).await);
    }
    Cancelable::new()
        .named("user_9")
        .register_in(&registry)
        .run(async {})
        .await
        .unwrap();

    let find = |filter: OperationFilter| -> Vec<String> {
        let mut found: Vec<_> = registry.find(&filter).into_iter().map(|c| c.name).collect();
        found.sort();
        found
    };
    assert_eq!(
        find(OperationFilter::new().name("user_*")),
        ["user_1", "user_22", "user_9"]
    );
    assert_eq!(
        find(OperationFilter::new().name("user_?")),
        ["user_1", "user_9"]
    );
    assert_eq!(find(OperationFilter::new().name("*_job")), ["nightly_job"]);
    assert_eq!(
        find(OperationFilter::new().parent_id("batch-1")),
        ["nightly_job", "user_1", "user_22"]
    );
    assert_eq!(
        find(
            OperationFilter::new()
                .status(OperationStatus::Running)
                .name("user_*")
        ),
        ["user_1", "user_22"]
    );
    assert_eq!(
        find(OperationFilter::new().status(OperationStatus::Completed)),
        ["user_9"]
    );
    assert!(find(OperationFilter::new().name("User_*")).is_empty());

    parent.cancel();
    parent_task.await.unwrap().unwrap_err();
    for task in tasks {
        assert!(task.await.unwrap().unwrap_err().is_parent());
    }
    assert!(registry.list().is_empty());
}

#[tokio::test]
async fn get_returns_the_live_operation_by_id() {
    let registry = OperationRegistry::new();
    let op = Cancelable::new()
        .operation_id("job-42")
        .register_in(&registry);
    let task = start(op.clone()).await;
    assert_eq!(registry.get("job-42"), Some(op.clone()));
    assert_eq!(registry.get("job-43"), None);

    registry.get("job-42").unwrap().cancel();
    task.await.unwrap().unwrap_err();
    let finished = registry.get("job-42").unwrap();
    assert_eq!(finished.status(), OperationStatus::Cancelled);
}

#[tokio::test]
async fn cancel_by_id_passes_reason_and_message_once() {
    let registry = OperationRegistry::new();
    let op = Cancelable::new()
        .named("export")
        .operation_id("export-1")
        .register_in(&registry);
    let task = start(op).await;

    assert!(
        registry
            .cancel("nope", CancellationReason::Manual, "x")
            .is_empty()
    );
    let cancelled = registry.cancel("export-1", CancellationReason::Signal, "operator request");
    assert_eq!(cancelled.ids(), ["export-1"]);
    assert_eq!(cancelled[0].name(), "export");
    assert!(
        registry
            .cancel("export-1", CancellationReason::Manual, "again")
            .is_empty()
    );
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.reason(), CancellationReason::Signal);
    assert_eq!(err.message(), Some("operator request"));
    assert_eq!(err.operation_name(), Some("export"));
    assert!(
        registry
            .cancel("export-1", CancellationReason::Manual, "finished")
            .is_empty()
    );
}

#[tokio::test]
async fn cancel_matching_cancels_only_running_operations_whose_name_matches() {
    let registry = OperationRegistry::new();
    let mut tasks = Vec::new();
    for name in ["user_export", "user_import", "system_backup", "username"] {
        tasks.push((
            name,
            start(Cancelable::new().named(name).register_in(&registry)).await,
        ));
    }
    let cancelled = registry.cancel_matching("user_*", CancellationReason::Manual, "maintenance");
    let mut cancelled: Vec<_> = cancelled.iter().map(|op| op.name().to_owned()).collect();
    cancelled.sort();
    assert_eq!(cancelled, ["user_export", "user_import"]);
    assert!(
        registry
            .cancel_matching("user_*", CancellationReason::Manual, "again")
            .is_empty()
    );
    tokio::task::yield_now().await;
    assert_eq!(names(&registry.list()).len(), 2);

    assert_eq!(
        registry
            .cancel_all(CancellationReason::Manual, "shutdown")
            .len(),
        2
    );
    for (name, task) in tasks {
        let err = task.await.unwrap().unwrap_err();
        let expected = if name.starts_with("user_") {
            "maintenance"
        } else {
            "shutdown"
        };
        assert_eq!(err.message(), Some(expected), "{name}");
    }
    assert!(
        registry
            .cancel_all(CancellationReason::Manual, "nothing left")
            .is_empty()
    );
}

#[tokio::test]
async fn registry_methods_work_from_plain_threads() {
    let registry = OperationRegistry::new();
    let task = start(Cancelable::new().named("worker").register_in(&registry)).await;
    let remote = registry.clone();
    let cancelled = std::thread::spawn(move || {
        assert_eq!(names(&remote.list()), ["worker"]);
        remote
            .cancel_all(CancellationReason::Manual, "from a thread")
            .len()
    })
    .join()
    .unwrap();
    assert_eq!(cancelled, 1);
    assert!(task.await.unwrap().is_err());
}

#[tokio::test]
async fn history_is_bounded_and_newest_last() {
    let registry = OperationRegistry::with_history_limit(3);
    for i in 0..5 {
        let op = Cancelable::new()
            .named(format!("op_{i}"))
            .register_in(&registry);
        op.run(async {}).await.unwrap();
    }
    assert_eq!(names(&registry.history(10)), ["op_2", "op_3", "op_4"]);
    assert_eq!(names(&registry.history(2)), ["op_3", "op_4"]);
    assert!(registry.history(0).is_empty());
    assert_eq!(registry.statistics().history_len, 3);
    assert_eq!(registry.statistics().finished.completed, 5);

    let none = OperationRegistry::with_history_limit(0);
    Cancelable::new()
        .register_in(&none)
        .run(async {})
        .await
        .unwrap();
    assert!(none.history(10).is_empty());
}

#[tokio::test]
async fn statistics_count_running_finished_and_the_average_completed_duration() {
    let registry = OperationRegistry::new();
    let running = [
        start(Cancelable::new().named("a").register_in(&registry)).await,
        start(Cancelable::new().named("b").register_in(&registry)).await,
    ];
    for pause in [1, 3] {
        let op = Cancelable::new().register_in(&registry);
        op.run(sleep(Duration::from_millis(pause))).await.unwrap();
    }
    let _ = Cancelable::new()
        .register_in(&registry)
        .try_run(async { Err::<(), _>(std::io::Error::other("x")) })
        .await;

    let stats = registry.statistics();
    assert_eq!(stats.running.running, 2);
    assert_eq!(stats.running.get(OperationStatus::Running), 2);
    assert_eq!(stats.finished.completed, 2);
    assert_eq!(stats.finished.failed, 1);
    assert_eq!(stats.finished.cancelled, 0);
    assert_eq!(stats.total, 5);
    assert_eq!(stats.history_len, 3);

    let completed: Vec<_> = registry
        .history(10)
        .into_iter()
        .filter(|ctx| ctx.status == OperationStatus::Completed)
        .map(|ctx| ctx.duration().unwrap().as_nanos())
        .collect();
    let mean = completed.iter().sum::<u128>() / completed.len() as u128;
    assert_eq!(
        stats.average_duration,
        Some(Duration::from_nanos(mean as u64))
    );
    assert!(stats.average_duration.unwrap() >= Duration::from_millis(2));

    registry.cancel_all(CancellationReason::Manual, "done");
    for task in running {
        task.await.unwrap().unwrap_err();
    }
    let stats = registry.statistics();
    assert_eq!((stats.running.total(), stats.finished.cancelled), (0, 2));
    assert_eq!(OperationRegistry::new().statistics().average_duration, None);
}

#[tokio::test]
async fn cleanup_drops_old_history_entries_only() {
    let registry = OperationRegistry::new();
    let task = start(Cancelable::new().named("running").register_in(&registry)).await;
    for _ in 0..3 {
        Cancelable::new()
            .register_in(&registry)
            .run(async {})
            .await
            .unwrap();
    }
    assert_eq!(registry.cleanup(Duration::from_secs(3600)), 0);
    assert_eq!(registry.history(10).len(), 3);
    assert_eq!(registry.cleanup(Duration::ZERO), 3);
    assert!(registry.history(10).is_empty());
    assert_eq!(names(&registry.list()), ["running"]);
    assert_eq!(
        registry.statistics().finished.completed,
        3,
        "counters are kept"
    );
    task.abort();
}

#[tokio::test]
async fn register_joins_the_global_registry_and_unregistered_operations_stay_out() {
    let global = OperationRegistry::global();
    let registered = Cancelable::new()
        .operation_id("global-registered-7f3a")
        .register();
    let unregistered = Cancelable::new().operation_id("global-unregistered-7f3a");
    let isolated = OperationRegistry::new();
    let tasks = [
        start(registered.clone()).await,
        start(unregistered.clone()).await,
    ];

    assert_eq!(
        global.get("global-registered-7f3a"),
        Some(registered.clone())
    );
    assert_eq!(global.get("global-unregistered-7f3a"), None);
    assert!(
        global
            .list()
            .iter()
            .all(|ctx| ctx.id != "global-unregistered-7f3a")
    );
    assert_eq!(isolated.statistics().total, 0);

    registered.cancel();
    unregistered.cancel();
    for task in tasks {
        task.await.unwrap().unwrap_err();
    }
    assert!(
        global
            .list()
            .iter()
            .all(|ctx| ctx.id != "global-registered-7f3a")
    );
    assert!(
        global
            .history(usize::MAX)
            .iter()
            .any(|ctx| ctx.id == "global-registered-7f3a")
    );
}

#[tokio::test]
async fn the_macro_option_register_joins_the_global_registry() {
    #[cancelable::cancelable(register, name = "macro_registered_job_51c2")]
    async fn registered() -> usize {
        let found = OperationRegistry::global()
            .find(&OperationFilter::new().name("macro_registered_job_51c2"));
        assert_eq!(found[0].status, OperationStatus::Running);
        found.len()
    }

    #[cancelable::cancelable(name = "macro_unregistered_job_51c2")]
    async fn unregistered() {}

    assert_eq!(registered().await, Ok(1));
    unregistered().await.unwrap();
    let filter = OperationFilter::new().name("macro_unregistered_job_51c2");
    assert!(OperationRegistry::global().find(&filter).is_empty());
}

#[tokio::test]
async fn combine_keeps_the_registration() {
    let registry = OperationRegistry::new();
    let op = Cancelable::new()
        .named("combined")
        .register_in(&registry)
        .combine(Cancelable::with_timeout(Duration::from_secs(60)));
    op.run(async { assert_eq!(names(&registry.list()), ["combined"]) })
        .await
        .unwrap();
    assert_eq!(registry.history(1)[0].name, "combined");
}

#[test]
fn ten_threads_register_and_cancel_concurrently() {
    const THREADS: usize = 10;
    const PER_THREAD: usize = 50;
    let registry = OperationRegistry::with_history_limit(THREADS * PER_THREAD);
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (registry, barrier) = (registry.clone(), barrier.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                barrier.wait();
                runtime.block_on(async {
                    let mut tasks = Vec::new();
                    for i in 0..PER_THREAD {
                        let name = format!("t{t}_job_{i}");
                        let op = Cancelable::new().named(name).register_in(&registry);
                        let body = async move {
                            if i % 3 == 0 {
                                return;
                            }
                            std::future::pending::<()>().await
                        };
                        tasks.push(tokio::spawn(async move { op.run(body).await.is_ok() }));
                        tokio::task::yield_now().await;
                        // Cancel some of another thread's operations, and look around.
                        let neighbour = (t + 1) % THREADS;
                        registry.cancel_matching(
                            &format!("t{neighbour}_job_?"),
                            CancellationReason::Manual,
                            "neighbour",
                        );
                        let _ = registry.list();
                        let _ = registry.statistics();
                    }
                    registry.cancel_matching(&format!("t{t}_*"), CancellationReason::Manual, "own");
                    let mut completed = 0;
                    for task in tasks {
                        completed += usize::from(task.await.unwrap());
                    }
                    completed
                })
            })
        })
        .collect();
    let completed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();

    let stats = registry.statistics();
    assert_eq!(stats.running.total(), 0);
    assert!(registry.list().is_empty());
    assert_eq!(stats.total, (THREADS * PER_THREAD) as u64);
    assert_eq!(stats.finished.total(), (THREADS * PER_THREAD) as u64);
    assert_eq!(stats.finished.completed, completed as u64);
    assert_eq!(stats.history_len, THREADS * PER_THREAD);
    let cancelled = registry.find(&OperationFilter::new().status(OperationStatus::Cancelled));
    assert_eq!(cancelled.len() as u64, stats.finished.cancelled);
}

#[tokio::test(start_paused = true)]
async fn builders_after_register_update_the_registered_operation() {
    let registry = OperationRegistry::new();
    let op = Cancelable::new()
        .register_in(&registry)
        .named("job_acme_7")
        .metadata("tenant", "acme")
        .operation_id("job-7");
    let listed = registry.list();
    assert_eq!(listed.len(), 1, "listed once: {listed:?}");
    assert_eq!(listed[0].id, "job-7");
    assert_eq!(listed[0].name, "job_acme_7");
    assert_eq!(registry.statistics().total, 1, "counted once");
    let stopped = registry.cancel_matching("job_acme_*", CancellationReason::Manual, "tenant left");
    assert_eq!(stopped.ids(), ["job-7"]);
    assert!(op.run(async { unreachable!() }).await.is_err());
    assert!(registry.list().is_empty());
}
