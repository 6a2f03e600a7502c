//! The node's shared state and its task: reading the bus, checking every untrusted entry, and
//! applying each command once to the registry.
//!
//! # Invariants
//!
//! 1. An entry is checked in this order: size, signature (when the node has a key), decoding,
//!    issue time, seen set. Only a command that passes every check enters the seen set (so a
//!    forged entry cannot reserve an id) and is applied.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::bus::{BusError, BusEvent, BusReader, CancelBus, Envelope};
use super::command::{CancelCommand, MAX_ENTRY_BYTES, Refusal, SigningKey, Target, unix_ms};
use super::seen::{Insert, Seen};
use super::stats::{Counters, bump};
use super::sticky::{Due, Sticky, StickyList};
use crate::registry::OperationRegistry;
use crate::token::CancellationToken;

/// The state shared by the handle, its task and (through the sticky list) the join hook.
pub(super) struct Node {
    pub(super) name: String,
    pub(super) registry: OperationRegistry,
    pub(super) bus: Box<dyn Publish>,
    pub(super) namespace: String,
    pub(super) retention: Duration,
    pub(super) key: Option<SigningKey>,
    pub(super) max_clock_skew: Duration,
    pub(super) seen: Mutex<Seen>,
    pub(super) sticky: Arc<StickyList>,
    pub(super) publishing: tokio::sync::Mutex<()>,
    pub(super) counters: Counters,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The publishing half of a bus, object safe, so that the handle is not generic.
pub(super) trait Publish: Send + Sync {
    fn publish(
        &self,
        envelope: Envelope,
    ) -> Pin<Box<dyn Future<Output = Result<(), BusError>> + Send + '_>>;
}

impl<B: CancelBus> Publish for B {
    fn publish(
        &self,
        envelope: Envelope,
    ) -> Pin<Box<dyn Future<Output = Result<(), BusError>> + Send + '_>> {
        Box::pin(CancelBus::publish(self, envelope))
    }
}

/// The node's task (invariant 2 of `node.rs`). A read in flight is kept while sticky cancels
/// are served, so a reader's blocked request is never abandoned and re-sent.
pub(super) async fn listen<R: BusReader>(
    node: Arc<Node>,
    mut reader: R,
    stop: CancellationToken,
    mut due: mpsc::UnboundedReceiver<Due>,
) {
    loop {
        let event = {
            let next = reader.next();
            tokio::pin!(next);
            loop {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return,
                    Some((op, reason, message)) = due.recv() => {
                        if op.cancel_with(reason, message) {
                            bump(&node.counters.cancelled);
                        }
                    }
                    event = &mut next => break event,
                }
            }
        };
        match event {
            Some(event) => node.handle(event),
            None => return,
        }
    }
}

impl Node {
    /// When the seen set may forget `command`: the end of its replay window.
    pub(super) fn expires_ms(&self, command: &CancelCommand) -> u64 {
        let window = self.retention + self.max_clock_skew;
        command
            .issued_at_ms()
            .saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
    }

    fn handle(&self, event: BusEvent) {
        match event {
            BusEvent::Entry { id, envelope } => self.receive(&id, envelope),
            BusEvent::Reconnected { restarted } => {
                bump(&self.counters.reconnects);
                if restarted {
                    bump(&self.counters.restarts);
                }
                tracing::info!(
                    target: "cancelable::cluster",
                    node = %self.name,
                    restarted,
                    "cluster bus reconnected",
                );
            }
        }
    }

    /// Checks an untrusted entry (invariant 1) and applies it.
    fn receive(&self, entry: &str, envelope: Envelope) {
        let refuse = |counter: &AtomicU64, why: &dyn fmt::Display| {
            bump(counter);
            tracing::warn!(
                target: "cancelable::cluster",
                node = %self.name,
                namespace = %self.namespace,
                entry,
                "cluster entry skipped: {why}",
            );
        };
        let c = &self.counters;
        if envelope.command.len() > MAX_ENTRY_BYTES {
            let size = envelope.command.len();
            return refuse(&c.oversized, &format_args!("{size} bytes, over the limit"));
        }
        if let Some(key) = &self.key {
            match &envelope.signature {
                None => return refuse(&c.rejected, &"unsigned, and this node has a key"),
                Some(sig) if !key.verify(&self.namespace, &envelope.command, sig) => {
                    return refuse(&c.rejected, &"wrong signature");
                }
                Some(_) => {}
            }
        }
        let command = match CancelCommand::decode(&envelope.command) {
            Ok(command) => command,
            Err(Refusal::Oversized(size)) => {
                return refuse(&c.oversized, &format_args!("{size} bytes, over the limit"));
            }
            Err(Refusal::Malformed(why)) => return refuse(&c.malformed, &why),
        };
        let now = unix_ms(SystemTime::now());
        let skew = u64::try_from(self.max_clock_skew.as_millis()).unwrap_or(u64::MAX);
        let expires = self.expires_ms(&command);
        if expires < now || command.issued_at_ms() > now.saturating_add(skew) {
            return refuse(&c.expired, &"issued outside the replay window");
        }
        match lock(&self.seen).insert(&command.id, expires, now, false) {
            Insert::New => {}
            Insert::Own => return,
            Insert::Duplicate => {
                bump(&c.duplicates);
                return;
            }
        }
        let cancelled = self.apply(&command);
        bump(&c.applied);
        c.cancelled.fetch_add(cancelled as u64, Ordering::Relaxed);
        tracing::debug!(
            target: "cancelable::cluster",
            node = %self.name,
            origin = %command.origin,
            command = %command.id,
            cancelled,
            "cluster command applied: cancel {}",
            command.target,
        );
    }

    /// Applies `command` to the registry; returns how many operations it cancelled.
    pub(super) fn apply(&self, command: &CancelCommand) -> usize {
        let message = command.applied_message();
        let window = command.sticky_for.min(self.retention);
        if !window.is_zero() {
            let until_ms = command
                .issued_at_ms()
                .saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
            // Invariant 1 of `sticky.rs`: before the scan.
            self.sticky.add(Sticky {
                target: command.target.clone(),
                reason: command.reason,
                message: message.clone(),
                until_ms,
            });
        }
        let registry = &self.registry;
        match &command.target {
            Target::Id(id) => registry.cancel(id, command.reason, message).len(),
            Target::Glob(glob) => registry
                .cancel_matching(glob, command.reason, message)
                .len(),
            Target::All => registry.cancel_all(command.reason, message).len(),
        }
    }
}
