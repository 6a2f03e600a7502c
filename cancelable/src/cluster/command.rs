//! The command: [`CancelCommand`] and its [`Target`]; its wire form, limits and signature.
//!
//! # Wire form
//!
//! An entry's command is one JSON object, version 1:
//!
//! ```text
//! {"v":1,"id":"<unique id>","target":{"glob":"tenant_42_*"} | {"id":"job-7"} | "all",
//!  "reason":"manual","message":"tenant removed","origin":"node-a",
//!  "issued_at_ms":<Unix ms>,"sticky_ms":<ms, 0: none>}
//! ```
//!
//! Its signature is `hex(HMAC-SHA256(key, "cancelable-cluster/v1\n" + namespace + "\n" +
//! command bytes))`, over the exact bytes on the bus, so nothing is re-encoded before checking.
//!
//! # Invariants
//!
//! 1. Decoding never panics and never allocates more than the entry's size: an entry over
//!    [`MAX_ENTRY_BYTES`] is refused before it is parsed.
//! 2. A decoded command has a version this code knows, a non-empty id and origin, and texts
//!    within their limits; anything else is [`Refusal::Malformed`].
//! 3. A signature is compared in constant time (`Mac::verify_slice`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::CancellationReason;
use crate::operation::Cancelable;
use crate::registry::glob_match;

/// The largest entry a node reads or sends: 16 KiB of JSON.
pub(crate) const MAX_ENTRY_BYTES: usize = 16 * 1024;
/// The longest message, in bytes.
const MAX_MESSAGE: usize = 4096;
/// The longest id, glob, operation id or origin, in bytes.
const MAX_NAME: usize = 1024;
const VERSION: u32 = 1;
const SIGNING_CONTEXT: &[u8] = b"cancelable-cluster/v1\n";

/// Which operations a [`CancelCommand`] cancels on each node.
///
/// ```
/// use cancelable::cluster::Target;
/// let target = Target::Glob("tenant_42_*".into());
/// assert_eq!(target.to_string(), "operations matching \"tenant_42_*\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Target {
    /// The operation with this id (see [`Cancelable::operation_id`]).
    Id(String),
    /// The operations whose name matches this glob (`*`, `?`), as
    /// [`OperationRegistry::cancel_matching`](crate::OperationRegistry::cancel_matching).
    Glob(String),
    /// Every operation of the node's registry.
    All,
}

impl Target {
    /// Whether `op` is one of the operations this target names.
    pub(crate) fn matches(&self, op: &Cancelable) -> bool {
        match self {
            Target::Id(id) => op.known_id() == Some(id.as_str()),
            Target::Glob(glob) => glob_match(glob, op.name()),
            Target::All => true,
        }
    }

    fn text_len(&self) -> usize {
        match self {
            Target::Id(text) | Target::Glob(text) => text.len(),
            Target::All => 0,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Id(id) => write!(f, "operation {id:?}"),
            Target::Glob(glob) => write!(f, "operations matching {glob:?}"),
            Target::All => f.write_str("every operation"),
        }
    }
}

/// One cluster-wide cancel: what to cancel, why, who sent it and when.
///
/// Made by [`ClusterCancel::cancel`](super::ClusterCancel::cancel) and its siblings, or by
/// hand for [`ClusterCancel::send`](super::ClusterCancel::send), which sets the origin and the
/// issue time.
///
/// ```
/// use std::time::Duration;
/// use cancelable::CancellationReason;
/// use cancelable::cluster::{CancelCommand, Target};
///
/// let cmd = CancelCommand::new(Target::Glob("tenant_42_*".into()), CancellationReason::Manual, "tenant removed")
///     .sticky_for(Duration::from_secs(60));
/// assert_eq!(cmd.sticky_for, Duration::from_secs(60));
/// assert_eq!(cmd.id.len(), 36);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CancelCommand {
    /// Unique per command (a UUID v4 from [`new`](Self::new)): each node applies a command
    /// id once.
    pub id: String,
    /// What to cancel.
    pub target: Target,
    /// The reason every cancelled operation records.
    pub reason: CancellationReason,
    /// The sender's text; each cancelled operation's message is this text followed by
    /// ` (from <origin>)`.
    pub message: String,
    /// The sending node's name.
    pub origin: String,
    /// When it was sent, on the sender's clock.
    pub issued_at: SystemTime,
    /// How long after `issued_at` each node also cancels matching operations that join its
    /// registry (`Duration::ZERO`: only those running when the command arrives). Capped by the
    /// bus's retention.
    pub sticky_for: Duration,
}

impl CancelCommand {
    /// A command with a fresh id, issued now, not sticky, origin not set yet.
    pub fn new(target: Target, reason: CancellationReason, message: impl Into<String>) -> Self {
        CancelCommand {
            id: uuid::Uuid::new_v4().to_string(),
            target,
            reason,
            message: message.into(),
            origin: String::new(),
            issued_at: SystemTime::now(),
            sticky_for: Duration::ZERO,
        }
    }

    /// Also cancels matching operations that join a node's registry within `window` of the
    /// issue time.
    ///
    /// See the [type-level example](Self).
    pub fn sticky_for(mut self, window: Duration) -> Self {
        self.sticky_for = window;
        self
    }

    /// The message each cancelled operation records: the sender's text and its node.
    ///
    /// ```
    /// use cancelable::CancellationReason;
    /// use cancelable::cluster::{CancelCommand, Target};
    /// let mut cmd = CancelCommand::new(Target::All, CancellationReason::Manual, "tenant removed");
    /// cmd.origin = "node-a".into();
    /// assert_eq!(cmd.applied_message(), "tenant removed (from node-a)");
    /// ```
    pub fn applied_message(&self) -> String {
        if self.message.is_empty() {
            format!("from {}", self.origin)
        } else {
            format!("{} (from {})", self.message, self.origin)
        }
    }

    /// Milliseconds since the Unix epoch (0 before it).
    pub(crate) fn issued_at_ms(&self) -> u64 {
        unix_ms(self.issued_at)
    }

    /// The JSON of the wire form (module docs).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let wire = WireOut {
            v: VERSION,
            id: &self.id,
            target: &self.target,
            reason: self.reason,
            message: &self.message,
            origin: &self.origin,
            issued_at_ms: self.issued_at_ms(),
            sticky_ms: u64::try_from(self.sticky_for.as_millis()).unwrap_or(u64::MAX),
        };
        serde_json::to_vec(&wire).expect("a command always serializes")
    }

    /// Parses and checks an untrusted entry (invariants 1 and 2).
    pub(crate) fn decode(bytes: &[u8]) -> Result<CancelCommand, Refusal> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(Refusal::Oversized(bytes.len()));
        }
        let wire: WireIn = serde_json::from_slice(bytes)
            .map_err(|e| Refusal::Malformed(format!("not a command: {e}")))?;
        if wire.v != VERSION {
            return Err(Refusal::Malformed(format!(
                "unsupported version {}",
                wire.v
            )));
        }
        let too_long = wire.id.len() > MAX_NAME
            || wire.origin.len() > MAX_NAME
            || wire.target.text_len() > MAX_NAME
            || wire.message.len() > MAX_MESSAGE;
        if too_long {
            return Err(Refusal::Malformed(
                "a field is over its length limit".into(),
            ));
        }
        if wire.id.is_empty() || wire.origin.is_empty() {
            return Err(Refusal::Malformed("empty id or origin".into()));
        }
        Ok(CancelCommand {
            id: wire.id,
            target: wire.target,
            reason: wire.reason,
            message: wire.message,
            origin: wire.origin,
            issued_at: UNIX_EPOCH + Duration::from_millis(wire.issued_at_ms),
            sticky_for: Duration::from_millis(wire.sticky_ms),
        })
    }

    /// Checks what a sender controls before publishing, with the same limits as `decode`.
    pub(crate) fn check_limits(&self, encoded: &[u8]) -> Result<(), super::BusError> {
        if encoded.len() > MAX_ENTRY_BYTES {
            return Err(super::BusError::too_large(encoded.len(), MAX_ENTRY_BYTES));
        }
        let (name, message) = (
            self.target.text_len().max(self.origin.len()),
            self.message.len(),
        );
        if name > MAX_NAME || message > MAX_MESSAGE {
            return Err(super::BusError::config(format!(
                "names are limited to {MAX_NAME} bytes and messages to {MAX_MESSAGE}"
            )));
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why an entry was not applied.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Oversized(usize),
    Malformed(String),
}

#[derive(Serialize)]
struct WireOut<'a> {
    v: u32,
    id: &'a str,
    target: &'a Target,
    reason: CancellationReason,
    message: &'a str,
    origin: &'a str,
    issued_at_ms: u64,
    sticky_ms: u64,
}

#[derive(Deserialize)]
struct WireIn {
    v: u32,
    id: String,
    target: Target,
    reason: CancellationReason,
    #[serde(default)]
    message: String,
    origin: String,
    issued_at_ms: u64,
    #[serde(default)]
    sticky_ms: u64,
}

/// The shared key of a cluster: HMAC-SHA256, keyed once.
#[derive(Clone)]
pub(crate) struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    pub(crate) const MIN_LEN: usize = 16;

    pub(crate) fn new(key: &[u8]) -> Self {
        SigningKey(Hmac::new_from_slice(key).expect("HMAC takes a key of any length"))
    }

    fn keyed(&self, namespace: &str, command: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(SIGNING_CONTEXT);
        mac.update(namespace.as_bytes());
        mac.update(b"\n");
        mac.update(command);
        mac
    }

    /// Lower-case hex.
    pub(crate) fn sign(&self, namespace: &str, command: &[u8]) -> String {
        let tag = self.keyed(namespace, command).finalize().into_bytes();
        let mut hex = String::with_capacity(tag.len() * 2);
        for byte in tag {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
        }
        hex
    }

    /// Constant time in the tag (invariant 3); `false` for anything that is not 64 hex digits.
    pub(crate) fn verify(&self, namespace: &str, command: &[u8], signature: &str) -> bool {
        let Some(tag) = decode_hex(signature) else {
            return false;
        };
        self.keyed(namespace, command).verify_slice(&tag).is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut tag = [0; 32];
    for (byte, pair) in tag.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> CancelCommand {
        let mut cmd = CancelCommand::new(
            Target::Glob("job_*".into()),
            CancellationReason::Manual,
            "stop",
        );
        cmd.origin = "node-a".into();
        cmd
    }

    #[test]
    fn round_trips_through_the_wire_form() {
        let cmd = command().sticky_for(Duration::from_secs(3));
        let decoded = CancelCommand::decode(&cmd.encode()).unwrap();
        assert_eq!(decoded.issued_at_ms(), cmd.issued_at_ms());
        assert_eq!(
            (decoded.id, decoded.target, decoded.sticky_for),
            (cmd.id, cmd.target, cmd.sticky_for)
        );
    }

    #[test]
    fn refuses_what_is_not_a_command() {
        for bytes in [
            &b""[..],
            b"null",
            b"{\"v\":2}",
            b"\xff\xfe",
            b"{\"v\":1,\"id\":\"\",\"target\":\"all\",\"reason\":\"manual\",\"origin\":\"a\",\"issued_at_ms\":0}",
            b"{\"v\":1,\"id\":\"x\",\"target\":\"all\",\"reason\":\"bogus\",\"origin\":\"a\",\"issued_at_ms\":0}",
        ] {
            assert!(
                matches!(CancelCommand::decode(bytes), Err(Refusal::Malformed(_))),
                "{bytes:?}"
            );
        }
        let big = vec![b' '; MAX_ENTRY_BYTES + 1];
        assert_eq!(
            CancelCommand::decode(&big),
            Err(Refusal::Oversized(MAX_ENTRY_BYTES + 1))
        );
    }

    #[test]
    fn signatures_cover_the_namespace_and_every_byte() {
        let key = SigningKey::new(b"0123456789abcdef");
        let bytes = command().encode();
        let sig = key.sign("ns", &bytes);
        assert_eq!(sig.len(), 64);
        assert!(key.verify("ns", &bytes, &sig));
        assert!(key.verify("ns", &bytes, &sig.to_uppercase()));
        assert!(!key.verify("other", &bytes, &sig));
        let mut tampered = bytes.clone();
        tampered[10] ^= 1;
        assert!(!key.verify("ns", &tampered, &sig));
        assert!(!SigningKey::new(b"another key 1234").verify("ns", &bytes, &sig));
        assert!(!key.verify("ns", &bytes, "zz"));
        assert!(!key.verify("ns", &bytes, &"é".repeat(32)));
    }
}
