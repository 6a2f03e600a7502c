//! Operation ids: a random UUID made when first needed and formatted when first read, or the
//! string a user gave.
//!
//! Attributing a cancellation to its operation copies the id into the error. With a generated id
//! that is 16 bytes: nobody pays for formatting a UUID unless someone reads it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use uuid::Uuid;

pub(crate) enum OperationId {
    Generated {
        uuid: Uuid,
        text: OnceLock<Box<str>>,
    },
    Given(Arc<str>),
}

impl OperationId {
    pub(crate) fn generate() -> Self {
        OperationId::Generated {
            uuid: Uuid::new_v4(),
            text: OnceLock::new(),
        }
    }

    pub(crate) fn given(id: String) -> Self {
        OperationId::Given(id.into())
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            OperationId::Generated { uuid, text } => text.get_or_init(|| {
                let mut buffer = Uuid::encode_buffer();
                Box::from(&*uuid.hyphenated().encode_lower(&mut buffer))
            }),
            OperationId::Given(id) => id,
        }
    }

    /// The text, if it is given or already formatted: loads only, no call.
    #[inline(always)]
    pub(crate) fn formatted(&self) -> Option<&str> {
        match self {
            OperationId::Generated { text, .. } => text.get().map(|text| &**text),
            OperationId::Given(id) => Some(id),
        }
    }

    /// The same id, without formatting either side.
    pub(crate) fn is(&self, other: &OperationId) -> bool {
        match (self, other) {
            (OperationId::Generated { uuid: a, .. }, OperationId::Generated { uuid: b, .. }) => {
                a == b
            }
            (OperationId::Given(a), OperationId::Given(b)) => a == b,
            _ => false,
        }
    }
}

impl Clone for OperationId {
    /// Copies the UUID (not its text) or shares the given string.
    fn clone(&self) -> Self {
        match self {
            OperationId::Generated { uuid, .. } => OperationId::Generated {
                uuid: *uuid,
                text: OnceLock::new(),
            },
            OperationId::Given(id) => OperationId::Given(id.clone()),
        }
    }
}

impl fmt::Debug for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
