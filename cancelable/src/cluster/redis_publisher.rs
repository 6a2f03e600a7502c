//! The publisher of a [`RedisBus`]: one `XADD` per command, on a connection of its own.
//!
//! # Invariants
//!
//! 1. One stream per namespace, `cancelable:{<namespace>}:cancels`. Each publish is one
//!    pipeline: `XADD <key> MINID ~ <server ms − retention> * cmd <json> [sig <hex>]`, then
//!    `PEXPIRE <key> <2 × retention>`. The threshold comes from the server's clock (the offset
//!    measured with `TIME`, corrected by every id `XADD` returns), never from ours alone.
//! 2. A publish that fails on a broken connection reconnects and is sent once more (every
//!    connection attempt and every answer is bounded by a timeout: `redis.rs`, invariant 1).

use std::sync::atomic::Ordering;

use redis::RedisError;
use redis::aio::MultiplexedConnection;

use super::bus::{BusError, Envelope};
use super::redis::{RESPONSE_TIMEOUT, RedisBus, is_broken, local_ms, parse_id};

impl RedisBus {
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

    /// Publishes `envelope` (see [`CancelBus::publish`](super::CancelBus::publish)), once more
    /// on a new connection when the first fails on a broken one (invariant 2).
    pub(super) async fn publish_with_retry(&self, envelope: Envelope) -> Result<(), BusError> {
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
                    // Invariant 2: once more on a new connection; a duplicate entry is harmless.
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
}
