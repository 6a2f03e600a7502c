//! Cluster-wide cancel on the in-memory bus: the semantics every bus shares (delivery to every
//! node, idempotent apply, order per publisher, sticky windows, signing, untrusted entries,
//! nothing left behind). The same cases against a real Redis server are in `cluster_redis.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cancelable::cluster::{
    BusEvent, BusReader, CancelBus, CancelCommand, ClusterCancel, Envelope, InMemoryBus, Target,
};
use cancelable::test_util::registry_join_hooks;
use cancelable::{Cancelable, CancellationError, CancellationReason, OperationRegistry};
use tokio::task::JoinHandle;

const KEY: &[u8] = b"a shared key, 32 bytes of secret";

/// Polls `condition` until it holds; panics with `what` after 10 s.
pub(crate) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A registered operation named `name` that runs until cancelled.
pub(crate) fn job(
    registry: &OperationRegistry,
    name: &str,
) -> JoinHandle<Result<(), CancellationError>> {
    let op = Cancelable::new()
        .named(name.to_owned())
        .register_in(registry);
    tokio::spawn(async move { op.run(std::future::pending::<()>()).await })
}

/// Waits until `registry` lists `n` running operations.
pub(crate) async fn running(registry: &OperationRegistry, n: usize) {
    eventually(&format!("{n} running"), || registry.list().len() == n).await;
}

pub(crate) async fn cancelled(job: JoinHandle<Result<(), CancellationError>>) -> CancellationError {
    tokio::time::timeout(Duration::from_secs(10), job)
        .await
        .expect("the operation was not cancelled within 10 s")
        .unwrap()
        .unwrap_err()
}

/// A valid wire command, written by hand as a foreign publisher would.
pub(crate) fn command_json(id: &str, target: &str, issued_at_ms: u64) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","target":{target},"reason":"manual","message":"by hand","origin":"outsider","issued_at_ms":{issued_at_ms},"sticky_ms":0}}"#
    )
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn nodes(bus: &InMemoryBus, registries: &[OperationRegistry]) -> Vec<ClusterCancel> {
    let mut nodes = Vec::new();
    for (i, registry) in registries.iter().enumerate() {
        let node = ClusterCancel::start(registry, bus.clone(), format!("node-{i}"))
            .await
            .unwrap();
        nodes.push(node);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glob_from_one_node_cancels_the_matching_operations_of_every_node_and_nothing_else() {
    let bus = InMemoryBus::new();
    let registries: Vec<_> = (0..3).map(|_| OperationRegistry::new()).collect();
    let nodes = nodes(&bus, &registries).await;
    let mut matching = Vec::new();
    let mut others = Vec::new();
    for registry in &registries {
        matching.push(job(registry, "tenant_42_export"));
        matching.push(job(registry, "tenant_42_import"));
        others.push(job(registry, "tenant_7_export"));
        running(registry, 3).await;
    }

    let here = nodes[0]
        .cancel_matching("tenant_42_*", CancellationReason::Manual, "tenant removed")
        .await
        .unwrap();
    assert_eq!(here, 2, "applied locally at once");
    for job in matching {
        let err = cancelled(job).await;
        assert_eq!(err.reason(), CancellationReason::Manual);
        assert_eq!(err.message(), Some("tenant removed (from node-0)"));
    }
    for (registry, node) in registries.iter().zip(&nodes) {
        let names: Vec<_> = registry.list().into_iter().map(|ctx| ctx.name).collect();
        assert_eq!(names, ["tenant_7_export"], "{}", node.node());
    }
    assert_eq!(nodes[0].stats().published, 1);
    assert_eq!(nodes[0].stats().applied, 0, "its own echo is skipped");
    for node in &nodes[1..] {
        let stats = node.stats();
        assert_eq!((stats.applied, stats.cancelled), (1, 2));
    }
    assert!(others.iter().all(|job| !job.is_finished()));
}

#[tokio::test]
async fn cancel_by_id_and_cancel_all_keep_the_reason_and_name_the_origin() {
    let bus = InMemoryBus::new();
    let registries = [OperationRegistry::new(), OperationRegistry::new()];
    let nodes = nodes(&bus, &registries).await;
    let by_id = Cancelable::new()
        .named("export")
        .operation_id("export-7")
        .register_in(&registries[1]);
    let by_id = tokio::spawn(async move { by_id.run(std::future::pending::<()>()).await });
    let other = job(&registries[1], "export");
    running(&registries[1], 2).await;

    let here = nodes[0]
        .cancel("export-7", CancellationReason::Condition, "quota exceeded")
        .await
        .unwrap();
    assert!(!here, "node-0 has no such operation");
    let err = cancelled(by_id).await;
    assert_eq!(err.reason(), CancellationReason::Condition);
    assert_eq!(err.message(), Some("quota exceeded (from node-0)"));
    assert_eq!(err.operation_id(), Some("export-7"));
    running(&registries[1], 1).await;

    nodes[0]
        .cancel_all(CancellationReason::Signal, "")
        .await
        .unwrap();
    let err = cancelled(other).await;
    assert!(err.is_signal());
    assert_eq!(err.message(), Some("from node-0"));
}

#[tokio::test]
async fn a_duplicate_on_the_bus_is_applied_once() {
    let bus = InMemoryBus::new();
    let registries = [OperationRegistry::new(), OperationRegistry::new()];
    let nodes = nodes(&bus, &registries).await;
    let mut tap = bus.subscribe("tap").await.unwrap();
    nodes[0]
        .cancel_matching("nothing_*", CancellationReason::Manual, "once")
        .await
        .unwrap();
    let Some(BusEvent::Entry { envelope, .. }) = tap.next().await else {
        panic!("no entry");
    };
    bus.publish(envelope.clone()).await.unwrap();
    bus.publish(envelope).await.unwrap();
    eventually("both copies read", || nodes[1].stats().duplicates == 2).await;
    assert_eq!(nodes[1].stats().applied, 1);
}

#[tokio::test]
async fn one_publishers_commands_arrive_in_the_order_it_sent_them() {
    let bus = InMemoryBus::new();
    let registry = OperationRegistry::new();
    let node = ClusterCancel::start(&registry, bus.clone(), "node-a")
        .await
        .unwrap();
    let mut tap = bus.subscribe("tap").await.unwrap();
    let mut sent = Vec::new();
    for i in 0..200 {
        let cmd = CancelCommand::new(
            Target::Id(format!("job-{i}")),
            CancellationReason::Manual,
            "",
        );
        sent.push(cmd.id.clone());
        node.send(cmd).await.unwrap();
    }
    for id in sent {
        let Some(BusEvent::Entry { envelope, .. }) = tap.next().await else {
            panic!("no entry");
        };
        let json: serde_json::Value = serde_json::from_slice(&envelope.command).unwrap();
        assert_eq!(json["id"], id.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_applies_what_is_still_in_the_window() {
    let bus = InMemoryBus::new();
    let early = OperationRegistry::new();
    let sender = ClusterCancel::start(&early, bus.clone(), "node-a")
        .await
        .unwrap();
    sender
        .cancel_matching("report_*", CancellationReason::Manual, "deploy")
        .await
        .unwrap();

    // Running before its node starts: the node applies the retained command to it.
    let late = OperationRegistry::new();
    let before = job(&late, "report_daily");
    running(&late, 1).await;
    let node = ClusterCancel::start(&late, bus.clone(), "node-b")
        .await
        .unwrap();
    assert_eq!(
        cancelled(before).await.message(),
        Some("deploy (from node-a)")
    );
    assert_eq!(node.stats().applied, 1);

    // Not sticky: an operation that joins afterwards runs.
    let after = job(&late, "report_weekly");
    running(&late, 1).await;
    assert!(!after.is_finished());
    after.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sticky_command_cancels_operations_that_join_inside_its_window_only() {
    let bus = InMemoryBus::new();
    let registries = [OperationRegistry::new(), OperationRegistry::new()];
    let nodes = nodes(&bus, &registries).await;
    let window = Duration::from_millis(400);
    let cmd = CancelCommand::new(
        Target::Glob("tenant_42_*".into()),
        CancellationReason::Manual,
        "tenant removed",
    )
    .sticky_for(window);
    let issued = std::time::Instant::now();
    nodes[0].send(cmd).await.unwrap();
    eventually("applied on node-1", || nodes[1].stats().applied == 1).await;

    for registry in &registries {
        let late = job(registry, "tenant_42_retry");
        let err = cancelled(late).await;
        assert_eq!(err.message(), Some("tenant removed (from node-0)"));
        let other = job(registry, "tenant_7_retry");
        running(registry, 1).await;
        other.abort();
    }
    assert_eq!(nodes[1].stats().cancelled, 1, "the late one on node-1");

    // Past the window, a matching operation runs.
    let past = issued + window + Duration::from_millis(50);
    tokio::time::sleep(past.saturating_duration_since(std::time::Instant::now())).await;
    let outside = job(&registries[1], "tenant_42_retry");
    running(&registries[1], 1).await;
    assert!(!outside.is_finished());
    outside.abort();
}

/// Invariant 1 of `sticky.rs`: an operation joining while the command arrives is cancelled
/// either by the scan or by the join hook, never missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sticky_command_misses_no_operation_joining_while_it_arrives() {
    let bus = InMemoryBus::new();
    let registries = [OperationRegistry::new(), OperationRegistry::new()];
    let nodes = nodes(&bus, &registries).await;
    let spawner = {
        let registry = registries[1].clone();
        tokio::spawn(async move {
            let mut jobs = Vec::new();
            for _ in 0..300 {
                jobs.push(job(&registry, "batch_item"));
                tokio::task::yield_now().await;
            }
            jobs
        })
    };
    let cmd = CancelCommand::new(
        Target::Glob("batch_*".into()),
        CancellationReason::Manual,
        "abort batch",
    )
    .sticky_for(Duration::from_secs(60));
    nodes[0].send(cmd).await.unwrap();
    for job in spawner.await.unwrap() {
        assert_eq!(
            cancelled(job).await.message(),
            Some("abort batch (from node-0)")
        );
    }
}

#[tokio::test]
async fn with_a_key_unsigned_and_forged_entries_are_refused_and_signed_ones_applied() {
    let bus = InMemoryBus::new();
    let registries = [OperationRegistry::new(), OperationRegistry::new()];
    let signed = |registry: &OperationRegistry, name: &str| {
        ClusterCancel::builder(registry, name)
            .signing_key(KEY)
            .start(bus.clone())
    };
    let node_a = signed(&registries[0], "node-a").await.unwrap();
    let node_b = signed(&registries[1], "node-b").await.unwrap();
    let target = job(&registries[1], "payments_sync");
    running(&registries[1], 1).await;

    // An unsigned node, a forged signature, another key: none is applied.
    let outsider = OperationRegistry::new();
    let unsigned = ClusterCancel::start(&outsider, bus.clone(), "intruder")
        .await
        .unwrap();
    unsigned
        .cancel_all(CancellationReason::Manual, "unsigned")
        .await
        .unwrap();
    let forged = command_json("forged-1", r#""all""#, now_ms());
    bus.publish(Envelope::new(forged.into_bytes(), Some("ab".repeat(32))))
        .await
        .unwrap();
    let other_key = ClusterCancel::builder(&outsider, "other-key")
        .signing_key(b"not the cluster's key, 32 bytes.")
        .start(bus.clone())
        .await
        .unwrap();
    other_key
        .cancel_all(CancellationReason::Manual, "other key")
        .await
        .unwrap();
    eventually("three refusals", || node_b.stats().rejected == 3).await;
    assert!(!target.is_finished());
    assert_eq!(node_b.stats().applied, 0);

    // A replay of a signed entry is a duplicate; the command itself is applied once.
    let mut tap = bus.subscribe("tap").await.unwrap();
    node_a
        .cancel_matching("payments_*", CancellationReason::Manual, "signed")
        .await
        .unwrap();
    assert_eq!(
        cancelled(target).await.message(),
        Some("signed (from node-a)")
    );
    let envelope = loop {
        match tap.next().await {
            Some(BusEvent::Entry { envelope, .. }) if envelope.signature.is_some() => {
                let json: serde_json::Value = serde_json::from_slice(&envelope.command).unwrap();
                if json["origin"] == "node-a" {
                    break envelope;
                }
            }
            Some(_) => {}
            None => panic!("the bus ended"),
        }
    };
    bus.publish(envelope).await.unwrap();
    eventually("the replay skipped", || node_b.stats().duplicates == 1).await;
    assert_eq!(node_b.stats().applied, 1);
    assert!(node_a.is_signed() && !unsigned.is_signed());
}

#[tokio::test]
async fn malformed_oversized_and_expired_entries_are_skipped_and_the_node_goes_on() {
    let bus = InMemoryBus::new();
    let registry = OperationRegistry::new();
    let node = ClusterCancel::builder(&registry, "node-a")
        .max_clock_skew(Duration::ZERO)
        .start(bus.clone())
        .await
        .unwrap();
    let target = job(&registry, "crawl");
    running(&registry, 1).await;
    let raw = |bytes: Vec<u8>| bus.publish(Envelope::new(bytes, None));
    raw(b"not json".to_vec()).await.unwrap();
    raw(b"{\"v\":2}".to_vec()).await.unwrap();
    raw(Vec::new()).await.unwrap();
    raw(b"\xff\xfe\x00".to_vec()).await.unwrap();
    raw(vec![b'{'; 20_000]).await.unwrap();
    let old = now_ms() - 301_000;
    raw(command_json("old-1", r#""all""#, old).into_bytes())
        .await
        .unwrap();
    let future = now_ms() + 3_600_000;
    raw(command_json("future-1", r#""all""#, future).into_bytes())
        .await
        .unwrap();
    eventually("every bad entry counted", || {
        let s = node.stats();
        (s.malformed, s.oversized, s.expired) == (4, 1, 2)
    })
    .await;
    assert!(!target.is_finished());

    raw(command_json("fresh-1", r#"{"glob":"cr*"}"#, now_ms()).into_bytes())
        .await
        .unwrap();
    assert_eq!(
        cancelled(target).await.message(),
        Some("by hand (from outsider)")
    );
}

#[tokio::test]
async fn a_command_over_the_limits_is_refused_before_anything() {
    let registry = OperationRegistry::new();
    let node = ClusterCancel::start(&registry, InMemoryBus::new(), "node-a")
        .await
        .unwrap();
    let op = job(&registry, "big");
    running(&registry, 1).await;
    let err = node
        .cancel_all(CancellationReason::Manual, "x".repeat(20_000))
        .await
        .unwrap_err();
    assert!(err.is_too_large(), "{err}");
    let err = node
        .cancel_all(CancellationReason::Manual, "x".repeat(5_000))
        .await
        .unwrap_err();
    assert!(err.is_config(), "{err}");
    assert!(!op.is_finished());
    assert_eq!(node.stats().published, 0);
    op.abort();

    for (name, key) in [("", None), ("node", Some(&b"short"[..]))] {
        let mut builder = ClusterCancel::builder(&registry, name);
        if let Some(key) = key {
            builder = builder.signing_key(key);
        }
        let err = builder.start(InMemoryBus::new()).await.unwrap_err();
        assert!(err.is_config(), "{err}");
    }
}

#[tokio::test]
async fn entries_older_than_the_retention_are_gone_for_a_late_joiner() {
    let bus = InMemoryBus::with_retention(Duration::from_millis(50));
    let registry = OperationRegistry::new();
    let sender = ClusterCancel::start(&registry, bus.clone(), "node-a")
        .await
        .unwrap();
    sender
        .cancel_all(CancellationReason::Manual, "long ago")
        .await
        .unwrap();
    assert_eq!(bus.len(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(bus.is_empty());
    let late = OperationRegistry::new();
    let op = job(&late, "fresh");
    running(&late, 1).await;
    let node = ClusterCancel::start(&late, bus.clone(), "node-b")
        .await
        .unwrap();
    sender
        .cancel_matching("nothing", CancellationReason::Manual, "fence")
        .await
        .unwrap();
    eventually("the fence applied", || node.stats().applied == 1).await;
    assert!(!op.is_finished());
    op.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_or_dropping_a_node_leaves_no_task_and_no_hook() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks = || metrics.num_alive_tasks();
    let baseline = tasks();
    let registry = OperationRegistry::new();
    let bus = InMemoryBus::new();

    let node = ClusterCancel::start(&registry, bus.clone(), "node-a")
        .await
        .unwrap();
    assert_eq!((tasks(), registry_join_hooks(&registry)), (baseline + 1, 1));
    node.stop().await;
    assert_eq!(registry_join_hooks(&registry), 0);
    eventually("the stopped node's task released", || tasks() == baseline).await;

    let node = ClusterCancel::start(&registry, bus.clone(), "node-a")
        .await
        .unwrap();
    let other = ClusterCancel::start(&registry, bus.clone(), "node-b")
        .await
        .unwrap();
    assert_eq!(registry_join_hooks(&registry), 2);
    drop(node);
    assert_eq!(registry_join_hooks(&registry), 1);
    eventually("the dropped node's task ended", || tasks() == baseline + 1).await;
    drop(other);
    eventually("no task left", || tasks() == baseline).await;
    assert_eq!(registry_join_hooks(&registry), 0);

    // The registry still works and holds nothing of the nodes.
    let op = job(&registry, "after");
    running(&registry, 1).await;
    registry.cancel_all(CancellationReason::Manual, "done");
    cancelled(op).await;
}
