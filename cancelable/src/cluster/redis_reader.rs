//! The reader of a [`RedisBus`]: one connection blocked in `XREAD`, resuming from the last id
//! it read, and reading the stream again from the start when the server lost it.
//!
//! # Invariants
//!
//! 1. A reader has one connection of its own, and waits in `XREAD COUNT 100 BLOCK 30000
//!    STREAMS <key> <last id>`, with a response timeout longer than the block: an idle node is
//!    one blocked connection, re-issuing its read every 30 s, and nothing else runs.
//! 2. `last id` only moves forward, and only once the entries up to it are in the reader's
//!    buffer, so dropping `next` loses nothing (the next call reads the same entries again). It
//!    starts at `<server ms − retention>-0` (a late joiner gets the window).
//! 3. After any failure the reader drops its connection, reconnects with backoff (100 ms
//!    doubling to 2 s), and, before reading again, compares the stream's newest id with `last
//!    id`: a stream that is gone although the reader had seen it, or whose newest id is below
//!    `last id`, means the server lost what the reader had seen (it restarted empty, failed over
//!    to a replica behind it, or the stream expired): it reads again from `0-0` and reports
//!    `restarted`. Entries read twice are duplicates the node skips.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};

use super::bus::{BusError, BusEvent, BusReader, Envelope};
use super::redis::{RESPONSE_TIMEOUT, RedisBus, Shared, parse_id};

const BLOCK: Duration = Duration::from_secs(30);
const BATCH: usize = 100;
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The reader of a [`RedisBus`]: one connection blocked in `XREAD` (see
/// [`CancelBus::subscribe`](super::CancelBus::subscribe)).
pub struct RedisReader {
    shared: Arc<Shared>,
    role: String,
    /// `None` after a failure, until the next reconnect (invariant 3).
    conn: Option<MultiplexedConnection>,
    /// The last id read (invariant 2).
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
    /// A reader of `bus`'s stream for `node`, listening from the start of the retention
    /// window (invariant 2); see [`CancelBus::subscribe`](super::CancelBus::subscribe).
    pub(super) async fn subscribe(bus: &RedisBus, node: &str) -> Result<RedisReader, BusError> {
        let role = format!("reader:{node}");
        let mut conn = bus.shared.open(BLOCK + RESPONSE_TIMEOUT, &role).await?;
        let server_ms = bus.shared.server_time(&mut conn).await?;
        let start = u64::try_from(server_ms)
            .unwrap_or(0)
            .saturating_sub(bus.retention_ms());
        let newest = newest_id(&mut conn, &bus.shared.key)
            .await
            .map_err(|e| bus.shared.error(e))?;
        Ok(RedisReader {
            shared: bus.shared.clone(),
            role,
            conn: Some(conn),
            last: (start, 0),
            seen_stream: newest.is_some(),
            buffer: VecDeque::new(),
            backoff: BACKOFF_FIRST,
        })
    }

    /// Moves the entries of an `XREAD` reply into the buffer, then `last` (invariant 2).
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

    /// Reconnects with backoff, checks the stream against `last` (invariant 3), and queues
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

#[cfg(test)]
mod tests {
    use super::*;

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
