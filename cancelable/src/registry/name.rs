//! [`EntryName`]: a registry's copy of an operation's name, kept inline when short so that
//! matching a glob over the whole set reads the slab alone, in order (`registry.rs`,
//! invariant 3).

use std::borrow::Cow;

/// Names up to this many bytes live in the entry itself (one cache line per entry).
const INLINE: usize = 40;

pub(super) enum EntryName {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Cow<'static, str>),
}

impl EntryName {
    /// Takes the `Cow` itself: a `'static` name stays borrowed in the copy.
    #[allow(clippy::ptr_arg)]
    pub(super) fn new(name: &Cow<'static, str>) -> EntryName {
        match name {
            Cow::Owned(owned) if owned.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..owned.len()].copy_from_slice(owned.as_bytes());
                EntryName::Inline {
                    len: owned.len() as u8,
                    bytes,
                }
            }
            // A `'static` name is shared as it is; a long one is copied once.
            name => EntryName::Shared(name.clone()),
        }
    }

    #[inline]
    pub(super) fn as_str(&self) -> &str {
        match self {
            // Copied from a `str` whole: always valid UTF-8.
            EntryName::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            EntryName::Shared(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EntryName;
    use std::borrow::Cow;

    #[test]
    fn names_read_back_whatever_their_length_or_origin() {
        let long = "x".repeat(100);
        for name in [
            Cow::Borrowed("static_name"),
            Cow::Owned(String::new()),
            Cow::Owned("job_é_42".to_owned()),
            Cow::Owned("y".repeat(40)),
            Cow::Owned(long.clone()),
        ] {
            assert_eq!(EntryName::new(&name).as_str(), name);
        }
    }
}
