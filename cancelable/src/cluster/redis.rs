//! [`RedisBus`]: the cluster's bus on Redis Streams.
//!
//! # Invariants
//!
//! 1. One stream per namespace, `cancelable:{<namespace>}:cancels`. Each publish is one
//!    pipeline: `XADD <key> MINID ~ <server ms − retention> * cmd <json> [sig <hex>]`, then
//!    `PEXPIRE <key> <2 × retention>`. The threshold comes from the server's clock (the offset
//!    measured with `TIME`, corrected by every id `XADD` returns), never from ours alone.
//! 2. A reader has one connection of its own, and waits in `XREAD COUNT 100 BLOCK 30000
//!    STREAMS <key> <last id>`, with a response timeout longer than the block: an idle node is
//!    one blocked connection, re-issuing its read every 30 s, and nothing else runs.
//! 3. `last id` only moves forward, and only once the entries up to it are in the reader's
//!    buffer, so dropping `next` loses nothing (the next call reads the same entries again). It
//!    starts at `<server ms − retention>-0` (a late joiner gets the window).
//! 4. After any failure the reader drops its connection, reconnects with backoff (100 ms
//!    doubling to 2 s), and, before reading again, compares the stream's newest id with `last
//!    id`: a stream that is gone although the reader had seen it, or whose newest id is below
//!    `last id`, means the server lost what the reader had seen (it restarted empty, failed over
//!    to a replica behind it, or the stream expired): it reads again from `0-0` and reports
//!    `restarted`. Entries read twice are duplicates the node skips.
//! 5. A publish that fails on a broken connection reconnects and is sent once more; every
//!    connection attempt and every answer is bounded by a timeout, so nothing hangs.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Value};

use super::bus::{BusError, BusEvent, BusReader, CancelBus, Envelope};
use super::command::unix_ms;

const DEFAULT_RETENTION: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const BLOCK: Duration = Duration::from_secs(30);
const BATCH: usize = 100;
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const MAX_NAMESPACE: usize = 64;

/// The cluster's bus on a Redis server, through Redis Streams.
///
/// Every node connects to the same server (or the same Sentinel-managed master, through its
/// service address) with the same namespace. The URL carries what redis-rs reads from it:
/// `redis://[user:password@]host[:port][/db]`, `rediss://…` for TLS (rustls, checked against
/// the system's root certificates), `?protocol=resp3`. The module docs give the layout and the
/// ACL an operator grants.
///
/// A node holds two connections: the publisher's, idle between commands, and its reader's,
/// blocked in `XREAD`. Both reconnect by themselves; the reader resumes from the last id it
/// read, and reads the stream from the start when the server lost it.
///
/// # Examples
///
/// ```no_run
/// use cancelable::cluster::{ClusterCancel, RedisBus};
/// use cancelable::{CancellationReason, OperationRegistry};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), cancelable::cluster::BusError> {
/// let bus = RedisBus::connect("redis://cancel:secret@10.0.0.5:6379", "billing").await?;
/// let node = ClusterCancel::builder(OperationRegistry::global(), "web-1")
///     .signing_key(std::env::var("CANCEL_KEY").unwrap())
///     .start(bus)
///     .await?;
/// node.cancel_matching("tenant_42_*", CancellationReason::Manual, "tenant removed").await?;
/// # Ok(()) }
/// ```
///
/// Without a server, `connect` fails within seconds:
///
/// ```
/// use cancelable::cluster::RedisBus;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let err = RedisBus::connect(&format!("redis://127.0.0.1:{port}"), "ns").await.unwrap_err();
/// assert!(err.is_unreachable(), "{err}");
/// # }
/// ```
#[derive(Clone)]
pub struct RedisBus {
    shared: Arc<Shared>,
    retention: Duration,
}

struct Shared {
    client: Client,
    /// The URL without its password, for messages.
    target: String,
    namespace: String,
    key: String,
    publisher: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Server clock minus ours, in ms (invariant 1).
    clock_offset_ms: AtomicI64,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("target", &self.shared.target)
            .field("key", &self.shared.key)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Connects to the server at `url` for the cluster `namespace` (1 to 64 letters, digits,
    /// `-`, `_`, `.`, `:`), keeping entries five minutes; returns once the server answered.
    ///
    /// Fails within seconds when the server cannot be reached (refused, unknown host, TLS or
    /// authentication failure, no answer within 5 s), and at once on a bad URL or namespace.
    ///
    /// See the [type-level examples](Self).
    ///
    /// # Cancellation safety
    ///
    /// Dropping the future drops the half-open connection.
    pub async fn connect(url: &str, namespace: &str) -> Result<RedisBus, BusError> {
        check_namespace(namespace)?;
        let target = redact(url);
        if url.starts_with("rediss:") {
            // The process-wide default, unless the application chose one already.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = Client::open(url)
            .map_err(|e| BusError::config(format!("invalid Redis URL {target}: {e}")))?;
        let shared = Arc::new(Shared {
            client,
            target,
            namespace: namespace.to_owned(),
            key: format!("cancelable:{{{namespace}}}:cancels"),
            publisher: tokio::sync::Mutex::new(None),
            clock_offset_ms: AtomicI64::new(0),
        });
        let mut conn = shared.open(RESPONSE_TIMEOUT, "publisher").await?;
        let server_ms = shared.server_time(&mut conn).await?;
        shared.set_offset(server_ms);
        *shared.publisher.lock().await = Some(conn);
        Ok(RedisBus {
            shared,
            retention: DEFAULT_RETENTION,
        })
    }

    /// Keeps entries for `retention` instead of five minutes: every node of the namespace
    /// should use the same.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use cancelable::cluster::{CancelBus, RedisBus};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let bus = RedisBus::connect("redis://127.0.0.1", "ns").await.unwrap()
    ///     .with_retention(Duration::from_secs(3600));
    /// assert_eq!(bus.retention(), Duration::from_secs(3600));
    /// # }
    /// ```
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(Duration::from_millis(1));
        self
    }

    /// The stream's key: `cancelable:{<namespace>}:cancels`.
    ///
    /// ```no_run
    /// # use cancelable::cluster::RedisBus;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let bus = RedisBus::connect("redis://127.0.0.1", "billing").await.unwrap();
    /// assert_eq!(bus.key(), "cancelable:{billing}:cancels");
    /// # }
    /// ```
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    fn retention_ms(&self) -> u64 {
        u64::try_from(self.retention.as_millis()).unwrap_or(u64::MAX)
    }

    /// One `XADD` + `PEXPIRE` pipeline (invariant 1); returns the new entry's id.
    async fn append(
        &self,
        conn: &mut MultiplexedConnection,
        envelope: &Envelope,
    ) -> Result<String, RedisError> {
        let shared = &self.shared;
        let server_now = local_ms().saturating_add(shared.clock_offset_ms.load(Ordering::Relaxed));
        let threshold =
            server_now.saturating_sub(i64::try_from(self.retention_ms()).unwrap_or(i64::MAX));
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&shared.key);
        if threshold > 0 {
            xadd.arg("MINID").arg("~").arg(threshold);
        }
        xadd.arg("*").arg("cmd").arg(&envelope.command[..]);
        if let Some(signature) = &envelope.signature {
            xadd.arg("sig").arg(signature);
        }
        let expire = self.retention_ms().saturating_mul(2).max(1);
        let (id,): (String,) = redis::pipe()
            .add_command(xadd)
            .cmd("PEXPIRE")
            .arg(&shared.key)
            .arg(expire)
            .ignore()
            .query_async(conn)
            .await?;
        if let Some((ms, _)) = parse_id(&id) {
            shared.set_offset(i64::try_from(ms).unwrap_or(i64::MAX));
        }
        Ok(id)
    }
}

impl Shared {
    /// A new connection, named for `CLIENT LIST`, with every step under a timeout.
    async fn open(
        &self,
        response_timeout: Duration,
        role: &str,
    ) -> Result<MultiplexedConnection, BusError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout));
        let connecting = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT + RESPONSE_TIMEOUT, connecting)
            .await
        {
            Ok(Ok(conn)) => conn,
            // Refused, unknown host, TLS, authentication: all "cannot reach".
            Ok(Err(e)) if !e.is_timeout() => return Err(BusError::unreachable(&self.target, e)),
            Ok(Err(e)) => return Err(self.error(e)),
            Err(_) => {
                return Err(BusError::timeout(
                    format!("connecting to {}", self.target),
                    CONNECT_TIMEOUT + RESPONSE_TIMEOUT,
                ));
            }
        };
        let name = client_name(&self.namespace, role);
        // Optional: an ACL may refuse it; the name only helps operators.
        let named: Result<Value, _> = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(name)
            .query_async(&mut conn)
            .await;
        if let Err(e) = named {
            if is_broken(&e) {
                return Err(self.error(e));
            }
            tracing::debug!(target: "cancelable::cluster", error = %e, "CLIENT SETNAME refused");
        }
        Ok(conn)
    }

    async fn server_time(&self, conn: &mut MultiplexedConnection) -> Result<i64, BusError> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME")
            .query_async(conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(secs.saturating_mul(1000).saturating_add(micros / 1000))
    }

    fn set_offset(&self, server_ms: i64) {
        self.clock_offset_ms
            .store(server_ms.saturating_sub(local_ms()), Ordering::Relaxed);
    }

    fn error(&self, e: RedisError) -> BusError {
        if e.is_timeout() {
            BusError::timeout(format!("{}: {e}", self.target), RESPONSE_TIMEOUT)
        } else if e.is_io_error()
            || e.is_connection_refusal()
            || e.kind() == redis::ErrorKind::AuthenticationFailed
            || e.kind() == redis::ErrorKind::InvalidClientConfig
        {
            BusError::unreachable(&self.target, e)
        } else {
            BusError::backend(format!("{}: {e}", self.target))
        }
    }
}

impl CancelBus for RedisBus {
    type Reader = RedisReader;

    fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    fn retention(&self) -> Duration {
        self.retention
    }

    async fn publish(&self, envelope: Envelope) -> Result<(), BusError> {
        let mut publisher = self.shared.publisher.lock().await;
        let mut retried = false;
        loop {
            let conn = match &mut *publisher {
                Some(conn) => conn,
                slot => slot.insert(self.shared.open(RESPONSE_TIMEOUT, "publisher").await?),
            };
            match self.append(conn, &envelope).await {
                Ok(_) => return Ok(()),
                Err(e) if is_broken(&e) => {
                    *publisher = None;
                    if retried {
                        return Err(self.shared.error(e));
                    }
                    // Invariant 5: once more on a new connection; a duplicate entry is harmless.
                    tracing::info!(
                        target: "cancelable::cluster",
                        error = %e,
                        "cluster publish: connection lost, reconnecting",
                    );
                    retried = true;
                }
                Err(e) => return Err(self.shared.error(e)),
            }
        }
    }

    async fn subscribe(&self, node: &str) -> Result<RedisReader, BusError> {
        let role = format!("reader:{node}");
        let mut conn = self.shared.open(BLOCK + RESPONSE_TIMEOUT, &role).await?;
        let server_ms = self.shared.server_time(&mut conn).await?;
        let start = u64::try_from(server_ms)
            .unwrap_or(0)
            .saturating_sub(self.retention_ms());
        let newest = newest_id(&mut conn, &self.shared.key)
            .await
            .map_err(|e| self.shared.error(e))?;
        Ok(RedisReader {
            shared: self.shared.clone(),
            role,
            conn: Some(conn),
            last: (start, 0),
            seen_stream: newest.is_some(),
            buffer: VecDeque::new(),
            backoff: BACKOFF_FIRST,
        })
    }
}

/// The reader of a [`RedisBus`]: one connection blocked in `XREAD` (see
/// [`CancelBus::subscribe`]).
pub struct RedisReader {
    shared: Arc<Shared>,
    role: String,
    /// `None` after a failure, until the next reconnect (invariant 4).
    conn: Option<MultiplexedConnection>,
    /// The last id read (invariant 3).
    last: (u64, u64),
    /// Whether the reader has seen the stream exist on this server.
    seen_stream: bool,
    buffer: VecDeque<BusEvent>,
    backoff: Duration,
}

impl fmt::Debug for RedisReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReader")
            .field("key", &self.shared.key)
            .field("last", &format_args!("{}-{}", self.last.0, self.last.1))
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl BusReader for RedisReader {
    async fn next(&mut self) -> Option<BusEvent> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(event);
            }
            let Some(conn) = &mut self.conn else {
                self.reconnect().await;
                continue;
            };
            let last = format!("{}-{}", self.last.0, self.last.1);
            let read: Result<Value, _> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(BATCH)
                .arg("BLOCK")
                .arg(u64::try_from(BLOCK.as_millis()).unwrap_or(u64::MAX))
                .arg("STREAMS")
                .arg(&self.shared.key)
                .arg(last)
                .query_async(conn)
                .await;
            match read {
                Ok(reply) => self.take(reply),
                Err(e) => {
                    tracing::warn!(
                        target: "cancelable::cluster",
                        key = %self.shared.key,
                        error = %e,
                        "cluster reader: read failed, reconnecting",
                    );
                    self.conn = None;
                }
            }
        }
    }
}

impl RedisReader {
    /// Moves the entries of an `XREAD` reply into the buffer, then `last` (invariant 3).
    fn take(&mut self, reply: Value) {
        for (id, fields) in stream_entries(reply) {
            let Some(parsed) = parse_id(&id) else {
                continue;
            };
            self.seen_stream = true;
            if parsed <= self.last {
                continue;
            }
            let mut command = None;
            let mut signature = None;
            for (field, value) in fields {
                match &field[..] {
                    b"cmd" if command.is_none() => command = Some(value),
                    b"sig" if signature.is_none() => {
                        signature = Some(String::from_utf8_lossy(&value).into_owned())
                    }
                    _ => {}
                }
            }
            self.buffer.push_back(BusEvent::Entry {
                id,
                envelope: Envelope::new(command.unwrap_or_default(), signature),
            });
            self.last = parsed;
        }
    }

    /// Reconnects with backoff, checks the stream against `last` (invariant 4), and queues
    /// the `Reconnected` event.
    async fn reconnect(&mut self) {
        loop {
            tokio::time::sleep(self.backoff).await;
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            let mut conn = match self.shared.open(BLOCK + RESPONSE_TIMEOUT, &self.role).await {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!(target: "cancelable::cluster", error = %e, "cluster reader: reconnect failed");
                    continue;
                }
            };
            let newest = match newest_id(&mut conn, &self.shared.key).await {
                Ok(newest) => newest,
                Err(e) => {
                    tracing::debug!(target: "cancelable::cluster", error = %e, "cluster reader: reconnect failed");
                    continue;
                }
            };
            let restarted = match newest {
                None => self.seen_stream,
                Some(newest) => newest < self.last,
            };
            if restarted {
                tracing::warn!(
                    target: "cancelable::cluster",
                    key = %self.shared.key,
                    "cluster reader: the server lost the stream (restarted empty, failed over, \
                     or it expired); reading it from the start",
                );
                self.last = (0, 0);
            }
            self.seen_stream = newest.is_some();
            self.conn = Some(conn);
            self.backoff = BACKOFF_FIRST;
            self.buffer.push_back(BusEvent::Reconnected { restarted });
            return;
        }
    }
}

/// The id of the newest entry, `None` when the stream does not exist (or is empty).
async fn newest_id(
    conn: &mut MultiplexedConnection,
    key: &str,
) -> Result<Option<(u64, u64)>, RedisError> {
    let reply: Value = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    let newest = match reply {
        Value::Array(entries) => entries.into_iter().next().and_then(|entry| match entry {
            Value::Array(parts) => parts.into_iter().next().and_then(text),
            _ => None,
        }),
        _ => None,
    };
    Ok(newest.as_deref().and_then(parse_id))
}

/// An entry's fields and values, in order.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The entries of an `XREAD` reply, RESP2 or RESP3, skipping whatever does not have the
/// expected shape (the server wrote it, but the entries' contents are anyone's).
fn stream_entries(reply: Value) -> Vec<(String, Fields)> {
    let streams: Vec<Value> = match reply {
        Value::Array(streams) => streams
            .into_iter()
            .filter_map(|stream| match stream {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .collect(),
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        _ => Vec::new(),
    };
    let mut found = Vec::new();
    for entries in streams {
        let Value::Array(entries) = entries else {
            continue;
        };
        for entry in entries {
            let Value::Array(parts) = entry else {
                continue;
            };
            let mut parts = parts.into_iter();
            let (Some(id), Some(fields)) = (parts.next().and_then(text), parts.next()) else {
                continue;
            };
            let pairs = match fields {
                Value::Array(flat) => {
                    let mut flat = flat.into_iter().map(bytes);
                    let mut pairs = Vec::new();
                    while let (Some(field), Some(value)) = (flat.next(), flat.next()) {
                        pairs.push((field.unwrap_or_default(), value.unwrap_or_default()));
                    }
                    pairs
                }
                Value::Map(map) => map
                    .into_iter()
                    .map(|(f, v)| (bytes(f).unwrap_or_default(), bytes(v).unwrap_or_default()))
                    .collect(),
                _ => Vec::new(),
            };
            found.push((id, pairs));
        }
    }
    found
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        _ => None,
    }
}

fn text(value: Value) -> Option<String> {
    bytes(value).and_then(|bytes| String::from_utf8(bytes).ok())
}

/// `<ms>-<seq>` as numbers.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// A connection that must be replaced (as opposed to a command the server refused).
fn is_broken(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

fn local_ms() -> i64 {
    i64::try_from(unix_ms(SystemTime::now())).unwrap_or(i64::MAX)
}

fn check_namespace(namespace: &str) -> Result<(), BusError> {
    let valid = !namespace.is_empty()
        && namespace.len() <= MAX_NAMESPACE
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(BusError::config(format!(
            "invalid namespace {namespace:?}: 1 to {MAX_NAMESPACE} letters, digits, `-`, `_`, `.` or `:`"
        )))
    }
}

/// `cancelable:<namespace>:<role>`, with what `CLIENT SETNAME` refuses replaced by `_`.
fn client_name(namespace: &str, role: &str) -> String {
    format!("cancelable:{namespace}:{role}")
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect()
}

/// The URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            let hidden = if user_info.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("rediss://cancel:s3cr:et@host:6380/2"),
            "rediss://cancel:***@host:6380/2"
        );
        assert_eq!(redact("redis://:pw@host"), "redis://:***@host");
    }

    #[test]
    fn namespaces_are_checked() {
        assert!(check_namespace("billing-eu.1:a_b").is_ok());
        for bad in ["", "a b", "{x}", &"n".repeat(65)] {
            assert!(check_namespace(bad).unwrap_err().is_config(), "{bad:?}");
        }
    }

    #[test]
    fn odd_replies_yield_no_entries_and_never_panic() {
        let entry = |id: &str, fields: Vec<Value>| {
            Value::Array(vec![Value::BulkString(id.into()), Value::Array(fields)])
        };
        let reply = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"k".to_vec()),
            Value::Array(vec![
                entry(
                    "1-1",
                    vec![
                        Value::BulkString(b"cmd".to_vec()),
                        Value::BulkString(b"{}".to_vec()),
                    ],
                ),
                entry("1-2", vec![Value::BulkString(b"odd".to_vec())]),
                Value::Int(3),
                Value::Array(vec![]),
            ]),
        ])]);
        let found = stream_entries(reply);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, vec![(b"cmd".to_vec(), b"{}".to_vec())]);
        assert!(found[1].1.is_empty());
        assert!(stream_entries(Value::Nil).is_empty());
        assert!(stream_entries(Value::Int(1)).is_empty());
        assert_eq!(parse_id("17-3"), Some((17, 3)));
        assert_eq!(parse_id("x-3"), None);
    }
}
