//! [`DropGuard`] and [`DropGuardRef`]: cancel a [`CancellationToken`] when a scope ends, the
//! way `tokio_util::sync::{DropGuard, DropGuardRef}` do.

use super::CancellationToken;

/// Cancels its [`CancellationToken`] (reason [`Manual`](crate::CancellationReason::Manual))
/// when dropped, unless [disarmed](Self::disarm). Made by
/// [`CancellationToken::drop_guard`].
///
/// ```
/// let token = cancelable::CancellationToken::new();
/// {
///     let _guard = token.clone().drop_guard();
/// }
/// assert!(token.is_cancelled());
/// ```
#[derive(Debug)]
pub struct DropGuard {
    /// `None` only once disarmed, inside `disarm`.
    pub(super) inner: Option<CancellationToken>,
}

impl DropGuard {
    /// The guarded token.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let guard = token.clone().drop_guard();
    /// assert_eq!(guard.token(), &token);
    /// ```
    pub fn token(&self) -> &CancellationToken {
        self.inner
            .as_ref()
            .expect("`inner` is only `None` once disarmed")
    }

    /// Returns the token without cancelling it. Other guards of the same token are unaffected.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let back = token.clone().drop_guard().disarm();
    /// assert_eq!(back, token);
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> CancellationToken {
        self.inner
            .take()
            .expect("`inner` is only `None` once disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = &self.inner {
            token.cancel();
        }
    }
}

/// Cancels the [`CancellationToken`] it borrows (reason
/// [`Manual`](crate::CancellationReason::Manual)) when dropped, unless
/// [disarmed](Self::disarm). The borrowing form of [`DropGuard`], made by
/// [`CancellationToken::drop_guard_ref`].
///
/// ```
/// let token = cancelable::CancellationToken::new();
/// {
///     let _guard = token.drop_guard_ref();
/// }
/// assert!(token.is_cancelled());
/// ```
#[derive(Debug)]
pub struct DropGuardRef<'a> {
    /// `None` only once disarmed, inside `disarm`.
    pub(super) inner: Option<&'a CancellationToken>,
}

impl<'a> DropGuardRef<'a> {
    /// The guarded token.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let guard = token.drop_guard_ref();
    /// assert_eq!(guard.token(), &token);
    /// ```
    pub fn token(&self) -> &CancellationToken {
        self.inner.expect("`inner` is only `None` once disarmed")
    }

    /// Returns the borrowed token without cancelling it. Other guards of the same token are
    /// unaffected.
    ///
    /// ```
    /// let token = cancelable::CancellationToken::new();
    /// let back: &cancelable::CancellationToken = token.drop_guard_ref().disarm();
    /// assert!(!back.is_cancelled());
    /// ```
    pub fn disarm(mut self) -> &'a CancellationToken {
        self.inner
            .take()
            .expect("`inner` is only `None` once disarmed")
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.inner {
            token.cancel();
        }
    }
}
