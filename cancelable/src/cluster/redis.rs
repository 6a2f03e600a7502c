//! [`RedisBus`]: the cluster's bus on Redis Streams; its URL, TLS and namespace checks, and
//! the connections it opens. The publisher is in `redis_publisher.rs`, the reader in
//! `redis_reader.rs`.
//!
//! # Invariants
//!
//! 1. Every connection attempt and every answer is bounded by a timeout, so nothing hangs
//!    (a reader's is longer than its block: `redis_reader.rs`, invariant 1).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Value};

use super::bus::{BusError, CancelBus, Envelope};
use super::command::unix_ms;
use super::redis_reader::RedisReader;

const DEFAULT_RETENTION: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
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
    pub(super) shared: Arc<Shared>,
    retention: Duration,
}

/// What the clones of a [`RedisBus`] and its readers share.
pub(super) struct Shared {
    client: Client,
    /// The URL without its password, for messages.
    target: String,
    pub(super) namespace: String,
    pub(super) key: String,
    pub(super) publisher: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Server clock minus ours, in ms (`redis_publisher.rs`, invariant 1).
    pub(super) clock_offset_ms: AtomicI64,
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

    pub(super) fn retention_ms(&self) -> u64 {
        u64::try_from(self.retention.as_millis()).unwrap_or(u64::MAX)
    }
}

impl Shared {
    /// A new connection, named for `CLIENT LIST`, with every step under a timeout.
    pub(super) async fn open(
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

    pub(super) async fn server_time(
        &self,
        conn: &mut MultiplexedConnection,
    ) -> Result<i64, BusError> {
        let (secs, micros): (i64, i64) = redis::cmd("TIME")
            .query_async(conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(secs.saturating_mul(1000).saturating_add(micros / 1000))
    }

    pub(super) fn set_offset(&self, server_ms: i64) {
        self.clock_offset_ms
            .store(server_ms.saturating_sub(local_ms()), Ordering::Relaxed);
    }

    pub(super) fn error(&self, e: RedisError) -> BusError {
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
        self.publish_with_retry(envelope).await
    }

    async fn subscribe(&self, node: &str) -> Result<RedisReader, BusError> {
        RedisReader::subscribe(self, node).await
    }
}

/// `<ms>-<seq>` as numbers.
pub(super) fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// A connection that must be replaced (as opposed to a command the server refused).
pub(super) fn is_broken(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

pub(super) fn local_ms() -> i64 {
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
}
