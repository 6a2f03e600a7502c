//! The scope of an operation: its scope token, made when first needed, its parent link, and
//! cancelling and checking it.
//!
//! # Invariants
//!
//! 1. Every operation has one [`CancellationToken`], its *scope token*. Every source ends by
//!    cancelling it: a timeout, signal or condition when `run` polls it, a token through a link
//!    in the token tree, a parent through a `Parent` link.
//! 2. The scope token is made when first needed: when `run` first parks, when something links
//!    to it or waits on it (`token()`, `cancelled()`, a child's own scope token), when it is
//!    cancelled, or at construction for sources that link (`with_token`, `any_of`). Until then
//!    the operation is cancelled exactly when its parent is: [`Cancelable::is_cancelled`] walks
//!    up to the first ancestor that has a scope token. Making the token links it to the parent
//!    (making the parent's first, iteratively); a body that completes on its first poll never
//!    allocates a token node or touches its parent's.
//! 3. The parent is set once, by the `parent` builder or adopted by `start`. Making the scope
//!    token and adopting a parent both hold the state lock, so the new token is linked to the
//!    parent exactly once whichever comes first.
//!
//! # Lock order
//!
//! An operation's state lock may be held while taking its parent's (never the other way), and
//! while taking a registry's locks (`run.rs`). No lock is held while calling user code.

use super::Cancelable;
use crate::error::{CancellationError, CancellationReason};
use crate::status::OperationStatus;
use crate::token::{CancellationToken, Cancelled, Link};

impl Cancelable {
    /// Cancels with reason `Manual`. `true` only for the call that cancelled; an operation that
    /// already finished is left alone (`false`).
    pub fn cancel(&self) -> bool {
        self.cancel_error(CancellationError::new(CancellationReason::Manual))
    }

    /// Cancels with `reason` and `message`; see [`cancel`](Self::cancel).
    pub fn cancel_with(&self, reason: CancellationReason, message: impl Into<String>) -> bool {
        self.cancel_error(CancellationError::new(reason).with_message(message.into()))
    }

    /// Cancels the scope even if the operation already finished: its children, which may
    /// outlive it, see it (a shutdown's root whose body ended).
    pub(crate) fn cancel_scope(&self, error: CancellationError) -> bool {
        self.scope().cancel_error(self.attribute(&error))
    }

    pub(crate) fn cancel_error(&self, error: CancellationError) -> bool {
        if self.status().is_finished() || self.is_cancelled() {
            return false;
        }
        self.scope().cancel_error(self.attribute(&error))
    }

    /// `true` once the operation's scope is cancelled: two atomic loads once the scope token is
    /// made, otherwise a walk up to the nearest ancestor that has one (invariant 2).
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        match self.inner.scope.get() {
            Some(scope) => scope.is_cancelled(),
            None => self.inherits_cancellation(),
        }
    }

    /// An operation with no scope token yet is cancelled when its nearest ancestor with one is.
    fn inherits_cancellation(&self) -> bool {
        let mut op = self;
        while let Some(parent) = op.inner.parent.get() {
            if let Some(scope) = parent.inner.scope.get() {
                return scope.is_cancelled();
            }
            op = parent;
        }
        false
    }

    /// The scope token, made now if it was not yet (invariant 2).
    #[inline]
    pub(crate) fn scope(&self) -> &CancellationToken {
        match self.inner.scope.get() {
            Some(scope) => scope,
            None => self.make_scope(),
        }
    }

    /// Makes the scope tokens of this operation and of its ancestors that have none yet,
    /// from the top down, so that linking each to its parent never recurses.
    #[cold]
    #[inline(never)]
    fn make_scope(&self) -> &CancellationToken {
        let mut missing = Vec::new();
        let mut ancestor = self.inner.parent.get();
        while let Some(op) = ancestor.filter(|op| op.inner.scope.get().is_none()) {
            missing.push(op);
            ancestor = op.inner.parent.get();
        }
        for op in missing.into_iter().rev() {
            op.init_scope();
        }
        self.init_scope()
    }

    fn init_scope(&self) -> &CancellationToken {
        // `start` sets the status once the parent is adopted: after that, nothing to wait for.
        let _adoption = (self.status() == OperationStatus::Pending).then(|| self.state());
        self.inner.scope.get_or_init(|| {
            let scope = CancellationToken::new();
            if let Some(parent) = self.inner.parent.get() {
                scope.node().link_to(parent.scope().node(), Link::Parent);
            }
            scope
        })
    }

    /// The scope token if it was made (nothing can be registered on one that was not).
    #[inline]
    pub(crate) fn made_scope(&self) -> Option<&CancellationToken> {
        self.inner.scope.get()
    }

    /// Completes when the operation's scope is cancelled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let watcher = tokio::spawn({
    ///     let op = op.clone();
    ///     async move { op.cancelled().await; op.reason() }
    /// });
    /// op.cancel();
    /// assert_eq!(watcher.await.unwrap(), Some(cancelable::CancellationReason::Manual));
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Cancel-safe: dropping the future unregisters its waker and loses nothing.
    pub fn cancelled(&self) -> Cancelled {
        self.scope().cancelled()
    }

    /// `Err` once the scope is cancelled: a checkpoint for loops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let result = op.run(async {
    ///     let cancel = cancelable::Cancelable::current().unwrap();
    ///     for chunk in 0.. {
    ///         cancel.check()?;
    ///         if chunk == 3 { cancel.cancel(); }
    ///     }
    ///     Ok::<_, cancelable::CancellationError>(())
    /// }).await;
    /// assert!(result.unwrap().unwrap_err().is_manual());
    /// # }
    /// ```
    pub fn check(&self) -> Result<(), CancellationError> {
        if !self.is_cancelled() {
            return Ok(());
        }
        match self.scope().node().with_error(|e| self.attribute(e)) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The scope token: cancelling it cancels the operation.
    pub fn token(&self) -> CancellationToken {
        self.scope().clone()
    }

    /// A new operation, child of this one (reason `Parent` when this one is cancelled), with
    /// the same name.
    pub fn child(&self) -> Cancelable {
        Cancelable::new()
            .named(self.inner.name.clone())
            .parent(self)
    }
}
