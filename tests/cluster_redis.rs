//! Cluster-wide cancel against a real `redis-server` (feature `redis` of this crate):
//! `cargo test -p cancelable-tests --features redis cluster`.
//!
//! Each test starts its own server on 127.0.0.1 at a free port (`--save "" --appendonly no`)
//! and kills it on drop. Real sockets are the point here, so the waits are real, each bounded
//! by a deadline; nothing sleeps a fixed time before an assertion.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cancelable::cluster::{CancelCommand, ClusterCancel, RedisBus, Target};
use cancelable::test_util::registry_join_hooks;
use cancelable::{Cancelable, CancellationReason, OperationRegistry};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cluster::{cancelled, command_json, eventually, job, now_ms, running};

const KEY: &[u8] = b"a shared key, 32 bytes of secret";
const CHILD_ENV: &str = "CANCELABLE_CLUSTER_CHILD";

const INSTALL: &str = "the Redis tests need `redis-server` (and `redis-cli`) on PATH: install them \
     with `apt-get install -y redis-server` (Debian, Ubuntu; `brew install redis` on macOS), then run \
     `cargo test -p cancelable-tests --features redis cluster` again";

/// A `redis-server` of this test's own, on 127.0.0.1; killed on drop.
struct RedisServer {
    child: Option<Child>,
    cli: Cli,
    extra: Vec<String>,
}

/// `redis-cli` against one server (usable from any thread).
#[derive(Clone)]
struct Cli {
    port: u16,
    password: Option<String>,
}

impl std::ops::Deref for RedisServer {
    type Target = Cli;
    fn deref(&self) -> &Cli {
        &self.cli
    }
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    fn start() -> Self {
        RedisServer::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        assert!(
            on_path("redis-server").is_some() && on_path("redis-cli").is_some(),
            "{INSTALL}"
        );
        let password = extra
            .iter()
            .position(|arg| *arg == "--requirepass")
            .map(|i| extra[i + 1].to_owned());
        let mut server = RedisServer {
            child: None,
            cli: Cli {
                port: free_port(),
                password,
            },
            extra: extra.iter().map(|arg| arg.to_string()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--dir", std::env::temp_dir().to_str().unwrap()])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}); {INSTALL}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.answers_ping() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0; 16];
        // `-NOAUTH` from a server with a password is an answer too.
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut reply)
                .is_ok_and(|n| n > 0 && (reply[0] == b'+' || reply[0] == b'-'))
    }

    fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server (everything is lost: no persistence) and starts a new one on the
    /// same port.
    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Cli {
    /// `redis-cli` against this server; its standard output.
    fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(password) = &self.password {
            command.args(["-a", password, "--no-auth-warning"]);
        }
        let output = command.args(args).output().expect(INSTALL);
        assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// `CLIENT LIST`, one map of fields per connection.
    fn clients(&self) -> Vec<HashMap<String, String>> {
        self.cli(&["CLIENT", "LIST"])
            .lines()
            .map(|line| {
                line.split(' ')
                    .filter_map(|field| field.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .collect()
    }

    /// The connections whose name starts with `prefix`.
    fn named(&self, prefix: &str) -> Vec<HashMap<String, String>> {
        self.clients()
            .into_iter()
            .filter(|c| c.get("name").is_some_and(|name| name.starts_with(prefix)))
            .collect()
    }

    /// `CLIENT KILL` of every connection named `name`; how many.
    fn kill_clients(&self, name: &str) -> usize {
        let ids: Vec<String> = self
            .named(name)
            .into_iter()
            .filter(|c| c["name"] == name)
            .map(|c| c["id"].clone())
            .collect();
        for id in &ids {
            self.cli(&["CLIENT", "KILL", "ID", id]);
        }
        ids.len()
    }

    /// The entries of `key` as `(id, [field, value, ...])`.
    fn entries(&self, key: &str) -> Vec<(String, Vec<String>)> {
        let out = self.cli(&["XRANGE", key, "-", "+"]);
        let lines: Vec<&str> = out.lines().collect();
        let mut entries = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let id = lines[i].to_owned();
            let mut fields = Vec::new();
            i += 1;
            // Our entries have one or two fields; a field name is never an id.
            while i + 1 < lines.len() && (lines[i] == "cmd" || lines[i] == "sig") {
                fields.push(lines[i].to_owned());
                fields.push(lines[i + 1].to_owned());
                i += 2;
            }
            entries.push((id, fields));
        }
        entries
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn key(namespace: &str) -> String {
    format!("cancelable:{{{namespace}}}:cancels")
}

async fn node(
    server: &RedisServer,
    namespace: &str,
    registry: &OperationRegistry,
    name: &str,
) -> ClusterCancel {
    let bus = RedisBus::connect(&server.url(), namespace).await.unwrap();
    ClusterCancel::start(registry, bus, name).await.unwrap()
}

async fn signed_node(
    server: &RedisServer,
    namespace: &str,
    registry: &OperationRegistry,
    name: &str,
) -> ClusterCancel {
    let bus = RedisBus::connect(&server.url(), namespace).await.unwrap();
    ClusterCancel::builder(registry, name)
        .signing_key(KEY)
        .start(bus)
        .await
        .unwrap()
}

/// Waits until the reader of `node` is blocked in `XREAD` on the server.
async fn reader_blocked(server: &RedisServer, namespace: &str, node: &str) {
    let name = format!("cancelable:{namespace}:reader:{node}");
    eventually(&format!("{name} blocked in XREAD"), || {
        server
            .named(&name)
            .iter()
            .any(|c| c["cmd"] == "xread" && c["flags"].contains('b'))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_a_glob_from_one_reaches_the_matching_operations_of_the_others_only() {
    let server = RedisServer::start();
    let registries: Vec<_> = (0..3).map(|_| OperationRegistry::new()).collect();
    let mut nodes = Vec::new();
    for (i, registry) in registries.iter().enumerate() {
        nodes.push(node(&server, "shop", registry, &format!("node-{i}")).await);
    }
    assert_eq!(
        server.named("cancelable:shop:").len(),
        6,
        "a publisher and a reader per node"
    );
    let mut matching = Vec::new();
    let mut others = Vec::new();
    for registry in &registries {
        matching.push(job(registry, "tenant_42_export"));
        others.push(job(registry, "tenant_420_export"));
        running(registry, 2).await;
    }
    let here = nodes[0]
        .cancel_matching("tenant_42_*", CancellationReason::Manual, "tenant removed")
        .await
        .unwrap();
    assert_eq!(here, 1);
    for job in matching {
        let err = cancelled(job).await;
        assert_eq!(err.reason(), CancellationReason::Manual);
        assert_eq!(err.message(), Some("tenant removed (from node-0)"));
    }
    for (registry, node) in registries.iter().zip(&nodes) {
        let names: Vec<_> = registry.list().into_iter().map(|ctx| ctx.name).collect();
        assert_eq!(names, ["tenant_420_export"], "{}", node.node());
    }
    for node in &nodes[1..] {
        assert_eq!((node.stats().applied, node.stats().cancelled), (1, 1));
    }
    assert!(others.iter().all(|job| !job.is_finished()));
    assert_eq!(server.entries(&key("shop")).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_killed_while_a_command_is_published_resumes_from_its_last_id() {
    let server = RedisServer::start();
    let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
    let a = node(&server, "kill", &ra, "node-a").await;
    let b = node(&server, "kill", &rb, "node-b").await;
    reader_blocked(&server, "kill", "node-b").await;

    // The kill and the publish race each other.
    let first = job(&rb, "upload_1");
    running(&rb, 1).await;
    let cli = server.cli.clone();
    let kill =
        tokio::task::spawn_blocking(move || cli.kill_clients("cancelable:kill:reader:node-b"));
    let (published, killed) = tokio::join!(
        a.cancel_matching("upload_*", CancellationReason::Manual, "abort"),
        kill
    );
    published.unwrap();
    assert_eq!(killed.unwrap(), 1);
    assert_eq!(
        cancelled(first).await.message(),
        Some("abort (from node-a)")
    );
    eventually("node-b reconnected", || b.stats().reconnects >= 1).await;

    // Killed first, published while the reader is away: read after the reconnect.
    reader_blocked(&server, "kill", "node-b").await;
    let second = job(&rb, "upload_2");
    running(&rb, 1).await;
    assert_eq!(server.kill_clients("cancelable:kill:reader:node-b"), 1);
    a.cancel_matching("upload_*", CancellationReason::Manual, "abort again")
        .await
        .unwrap();
    assert_eq!(
        cancelled(second).await.message(),
        Some("abort again (from node-a)")
    );
    eventually("node-b reconnected twice", || b.stats().reconnects >= 2).await;
    let stats = b.stats();
    assert_eq!((stats.applied, stats.duplicates, stats.restarts), (2, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_empty_is_detected_and_read_from_the_start() {
    let mut server = RedisServer::start();
    let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
    let a = node(&server, "boot", &ra, "node-a").await;
    let b = node(&server, "boot", &rb, "node-b").await;
    let before = job(&rb, "before_1");
    running(&rb, 1).await;
    a.cancel_matching("before_*", CancellationReason::Manual, "first")
        .await
        .unwrap();
    cancelled(before).await;

    let after = job(&rb, "after_1");
    running(&rb, 1).await;
    server.restart();
    // On the empty server, an entry whose id is far below what node-b read: ids went backwards.
    let entry = command_json("restart-1", r#"{"glob":"after_*"}"#, now_ms());
    server.cli(&["XADD", &key("boot"), "1-1", "cmd", &entry]);
    assert_eq!(
        cancelled(after).await.message(),
        Some("by hand (from outsider)")
    );
    eventually("the restart detected", || b.stats().restarts == 1).await;

    // node-a's publisher lost its connection with the server: it reconnects by itself.
    let third = job(&rb, "third_1");
    running(&rb, 1).await;
    a.cancel_matching("third_*", CancellationReason::Manual, "after restart")
        .await
        .unwrap();
    assert_eq!(
        cancelled(third).await.message(),
        Some("after restart (from node-a)")
    );
    assert_eq!(b.stats().applied, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_applies_the_window_and_sticky_commands_catch_later_operations() {
    let server = RedisServer::start();
    let ra = OperationRegistry::new();
    let a = node(&server, "late", &ra, "node-a").await;
    a.cancel_matching("early_*", CancellationReason::Manual, "deploy")
        .await
        .unwrap();
    let sticky = CancelCommand::new(
        Target::Glob("tenant_5_*".into()),
        CancellationReason::Manual,
        "tenant removed",
    )
    .sticky_for(Duration::from_secs(60));
    a.send(sticky).await.unwrap();

    let rb = OperationRegistry::new();
    let early = job(&rb, "early_report");
    running(&rb, 1).await;
    let b = node(&server, "late", &rb, "node-b").await;
    assert_eq!(
        cancelled(early).await.message(),
        Some("deploy (from node-a)")
    );
    eventually("both retained commands applied", || b.stats().applied == 2).await;
    let late = job(&rb, "tenant_5_import");
    assert_eq!(
        cancelled(late).await.message(),
        Some("tenant removed (from node-a)")
    );
    let unrelated = job(&rb, "tenant_6_import");
    running(&rb, 1).await;
    assert!(!unrelated.is_finished());
    unrelated.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_publish_is_applied_once() {
    let server = RedisServer::start();
    let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
    let a = node(&server, "dup", &ra, "node-a").await;
    let b = node(&server, "dup", &rb, "node-b").await;
    a.cancel_matching("nothing_*", CancellationReason::Manual, "once")
        .await
        .unwrap();
    eventually("applied", || b.stats().applied == 1).await;
    let (_, fields) = server.entries(&key("dup")).pop().unwrap();
    for _ in 0..2 {
        let mut args = vec!["XADD", "cancelable:{dup}:cancels", "*"];
        args.extend(fields.iter().map(String::as_str));
        server.cli(&args);
    }
    eventually("both copies skipped", || b.stats().duplicates == 2).await;
    assert_eq!(b.stats().applied, 1);
    assert_eq!(a.stats().duplicates, 0, "its own command, echoed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_namespaces_never_see_each_others_commands() {
    let server = RedisServer::start();
    let (blue_a, blue_b, green) = (
        OperationRegistry::new(),
        OperationRegistry::new(),
        OperationRegistry::new(),
    );
    let blue_sender = node(&server, "blue", &blue_a, "node-a").await;
    let blue = node(&server, "blue", &blue_b, "node-b").await;
    let green_node = node(&server, "green", &green, "node-b").await;
    let blue_job = job(&blue_b, "shared_job");
    let green_job = job(&green, "shared_job");
    running(&blue_b, 1).await;
    running(&green, 1).await;

    blue_sender
        .cancel_matching("shared_*", CancellationReason::Manual, "blue only")
        .await
        .unwrap();
    assert_eq!(
        cancelled(blue_job).await.message(),
        Some("blue only (from node-a)")
    );
    assert_eq!(blue.stats().applied, 1);
    assert_eq!(server.cli(&["XLEN", &key("green")]).trim(), "0");
    // A command on green reaches green's node: it was listening all along.
    let green_sender = node(&server, "green", &OperationRegistry::new(), "node-a").await;
    green_sender
        .cancel_matching("fence_*", CancellationReason::Manual, "fence")
        .await
        .unwrap();
    eventually("green applied its own", || green_node.stats().applied == 1).await;
    assert!(!green_job.is_finished());
    green_job.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_key_forged_unsigned_and_oversized_entries_written_by_hand_are_refused() {
    let server = RedisServer::start();
    let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
    let a = signed_node(&server, "secure", &ra, "node-a").await;
    let b = signed_node(&server, "secure", &rb, "node-b").await;
    let target = job(&rb, "payroll_run");
    running(&rb, 1).await;

    let key = key("secure");
    let entry = command_json("forged-1", r#""all""#, now_ms());
    server.cli(&["XADD", &key, "*", "cmd", &entry, "sig", &"0f".repeat(32)]);
    server.cli(&["XADD", &key, "*", "cmd", &entry]);
    server.cli(&["XADD", &key, "*", "cmd", "garbage", "sig", "zz"]);
    server.cli(&["XADD", &key, "*", "cmd", &"x".repeat(20_000)]);
    server.cli(&["XADD", &key, "*", "unrelated", "field"]);
    eventually("every hand-written entry refused", || {
        let s = b.stats();
        (s.rejected, s.oversized) == (4, 1)
    })
    .await;
    assert!(!target.is_finished());
    assert_eq!(b.stats().applied, 0);

    a.cancel_matching("payroll_*", CancellationReason::Manual, "signed")
        .await
        .unwrap();
    assert_eq!(
        cancelled(target).await.message(),
        Some("signed (from node-a)")
    );
    // A signed entry copied by hand is a replay: a duplicate, never applied twice.
    let (_, fields) = server.entries(&key).pop().unwrap();
    assert_eq!(fields.len(), 4, "cmd and sig");
    let mut args = vec!["XADD", key.as_str(), "*"];
    args.extend(fields.iter().map(String::as_str));
    server.cli(&args);
    eventually("the replay skipped", || b.stats().duplicates == 1).await;
    assert_eq!(b.stats().applied, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_os_process_is_a_node_both_ways() {
    let server = RedisServer::start();
    let registry = OperationRegistry::new();
    let parent = node(&server, "procs", &registry, "node-parent").await;
    let own = Cancelable::new()
        .named("parent_job")
        .operation_id("parent-op")
        .register_in(&registry);
    let own = tokio::spawn(async move { own.run(std::future::pending::<()>()).await });

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cluster_redis::child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, server.url())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next_line = async || -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("the child said nothing for 60 s")
                .unwrap()
                .expect("the child ended early");
            // The harness prints `test … ... ` before the first line, on the same line.
            if let Some((_, said)) = line.split_once("child: ") {
                return said.to_owned();
            }
        }
    };
    assert_eq!(next_line().await, "ready");
    parent
        .cancel_matching("tenant_9_*", CancellationReason::Manual, "tenant removed")
        .await
        .unwrap();
    assert_eq!(
        next_line().await,
        "cancelled: manual: tenant removed (from node-parent)"
    );
    let err = cancelled(own).await;
    assert_eq!(err.message(), Some("child done (from node-child)"));
    assert_eq!(next_line().await, "stopped");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// The other node of `a_second_os_process_is_a_node_both_ways`: does nothing unless re-run by
/// it with `CANCELABLE_CLUSTER_CHILD` set to the server's URL.
#[test]
fn child_process() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let registry = OperationRegistry::new();
        let bus = RedisBus::connect(&url, "procs").await.unwrap();
        let node = ClusterCancel::start(&registry, bus, "node-child")
            .await
            .unwrap();
        let op = job(&registry, "tenant_9_job");
        running(&registry, 1).await;
        println!("child: ready");
        let err = cancelled(op).await;
        println!(
            "child: cancelled: {}: {}",
            err.reason(),
            err.message().unwrap_or_default()
        );
        node.cancel("parent-op", CancellationReason::Manual, "child done")
            .await
            .unwrap();
        node.stop().await;
        println!("child: stopped");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_an_error_within_seconds() {
    // Nothing listens.
    let started = Instant::now();
    let err = RedisBus::connect(&format!("redis://127.0.0.1:{}", free_port()), "ns")
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Something listens and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let started = Instant::now();
    let err = RedisBus::connect(&url, "ns").await.unwrap_err();
    assert!(err.is_timeout() || err.is_unreachable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    // Bad input fails at once.
    assert!(
        RedisBus::connect("http://x", "ns")
            .await
            .unwrap_err()
            .is_config()
    );
    assert!(
        RedisBus::connect("redis://127.0.0.1", "a b")
            .await
            .unwrap_err()
            .is_config()
    );

    // A server gone between connect and start.
    let mut server = RedisServer::start();
    let bus = RedisBus::connect(&server.url(), "ns").await.unwrap();
    server.kill();
    let started = Instant::now();
    let err = ClusterCancel::start(&OperationRegistry::new(), bus, "node")
        .await
        .unwrap_err();
    assert!(err.is_unreachable() || err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_goes_through_the_url_and_a_wrong_password_is_an_error_that_hides_it() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret-pw"]);
    let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
    let a = node(&server, "auth", &ra, "node-a").await;
    let _b = node(&server, "auth", &rb, "node-b").await;
    let target = job(&rb, "guarded");
    running(&rb, 1).await;
    a.cancel_all(CancellationReason::Manual, "authorized")
        .await
        .unwrap();
    assert_eq!(
        cancelled(target).await.message(),
        Some("authorized (from node-a)")
    );

    // The ACL of the module docs (on a namespace of its own, so that the command above is not
    // in its window): a user limited to the namespace's key and the commands it uses.
    server.cli(&[
        "ACL",
        "SETUSER",
        "cancel",
        "on",
        ">cancel-pw",
        "~cancelable:{acl}:*",
        "+xadd",
        "+xread",
        "+xrevrange",
        "+pexpire",
        "+time",
        "+ping",
        "+client|setname",
    ]);
    server.cli(&[
        "ACL",
        "SETUSER",
        "listener",
        "on",
        ">listen-pw",
        "~cancelable:{acl}:*",
        "+xread",
        "+xrevrange",
        "+time",
        "+ping",
        "+client|setname",
    ]);
    let as_user =
        |user: &str, password: &str| format!("redis://{user}:{password}@127.0.0.1:{}", server.port);
    let rc = OperationRegistry::new();
    let limited = RedisBus::connect(&as_user("cancel", "cancel-pw"), "acl")
        .await
        .unwrap();
    let limited = ClusterCancel::start(&rc, limited, "node-c").await.unwrap();
    let listener = RedisBus::connect(&as_user("listener", "listen-pw"), "acl")
        .await
        .unwrap();
    let rd = OperationRegistry::new();
    let listener = ClusterCancel::start(&rd, listener, "node-d").await.unwrap();
    let target = job(&rd, "guarded");
    running(&rd, 1).await;
    limited
        .cancel_all(CancellationReason::Manual, "limited user")
        .await
        .unwrap();
    assert_eq!(
        cancelled(target).await.message(),
        Some("limited user (from node-c)")
    );
    let err = listener
        .cancel_all(CancellationReason::Manual, "read-only")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no permissions"), "{err}");
    // Outside its key, the limited user can do nothing.
    let other = RedisBus::connect(&as_user("cancel", "cancel-pw"), "other")
        .await
        .unwrap();
    assert!(ClusterCancel::start(&rc, other, "node-e").await.is_err());

    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}", server.port);
    let err = RedisBus::connect(&wrong, "auth").await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
    let text = err.to_string();
    assert!(!text.contains("wrong-pw") && text.contains("***"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_node_is_one_blocked_connection_and_stopping_it_leaves_nothing() {
    let server = RedisServer::start();
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let registry = OperationRegistry::new();
    let idle = node(&server, "idle", &registry, "node-a").await;
    reader_blocked(&server, "idle", "node-a").await;
    let ours = server.named("cancelable:idle:");
    assert_eq!(ours.len(), 2, "{ours:?}");
    let publisher = ours
        .iter()
        .find(|c| c["name"] == "cancelable:idle:publisher")
        .unwrap();
    assert_eq!(publisher["flags"], "N", "the publisher is idle");
    assert_eq!(registry_join_hooks(&registry), 1);

    idle.stop().await;
    assert_eq!(registry_join_hooks(&registry), 0);
    eventually("no connection left", || {
        server.named("cancelable:idle:").is_empty()
    })
    .await;
    eventually("no task left", || metrics.num_alive_tasks() == baseline).await;

    // Dropping the handle instead of stopping it does the same.
    let idle = node(&server, "idle", &registry, "node-b").await;
    reader_blocked(&server, "idle", "node-b").await;
    drop(idle);
    assert_eq!(registry_join_hooks(&registry), 0);
    eventually("no connection left after drop", || {
        server.named("cancelable:idle:").is_empty()
    })
    .await;
    eventually("no task left after drop", || {
        metrics.num_alive_tasks() == baseline
    })
    .await;
}

const TLS_CHILD_ENV: &str = "CANCELABLE_CLUSTER_TLS_CHILD";

/// `rediss://` end to end: a server with a certificate from a CA made here, trusted by a child
/// process through `SSL_CERT_FILE` (the system's roots are what `RedisBus` checks against).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_goes_through_the_url() {
    assert!(
        on_path("openssl").is_some(),
        "the TLS test makes its certificates with `openssl`: apt-get install -y openssl"
    );
    let dir = std::env::temp_dir().join(format!("cancelable-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    std::fs::write(path("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let (ca_key, ca, server_key, csr, cert) = (
        path("ca.key"),
        path("ca.crt"),
        path("server.key"),
        path("server.csr"),
        path("server.crt"),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "1",
        "-subj",
        "/CN=cancelable test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &server_key,
        "-out",
        &csr,
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "1",
        "-extfile",
        &path("ext.cnf"),
    ]);
    let tls_port = free_port().to_string();
    let server = RedisServer::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &server_key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "no",
    ]);
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cluster_redis::tls_child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TLS_CHILD_ENV, format!("rediss://127.0.0.1:{tls_port}"))
        .env("SSL_CERT_FILE", &ca)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("child: tls ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The command went through the TLS port to the same server.
    assert_eq!(server.cli(&["XLEN", &key("tls")]).trim(), "1");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The client side of `rediss_goes_through_the_url`, in its own process (for `SSL_CERT_FILE`).
#[test]
fn tls_child_process() {
    let Ok(url) = std::env::var(TLS_CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (ra, rb) = (OperationRegistry::new(), OperationRegistry::new());
        let a = RedisBus::connect(&url, "tls").await.unwrap();
        let a = ClusterCancel::start(&ra, a, "node-a").await.unwrap();
        let b = RedisBus::connect(&url, "tls").await.unwrap();
        let _b = ClusterCancel::start(&rb, b, "node-b").await.unwrap();
        let target = job(&rb, "over_tls");
        running(&rb, 1).await;
        a.cancel_all(CancellationReason::Manual, "encrypted")
            .await
            .unwrap();
        assert_eq!(
            cancelled(target).await.message(),
            Some("encrypted (from node-a)")
        );
        println!("child: tls ok");
    });
}
