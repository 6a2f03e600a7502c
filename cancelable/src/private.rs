//! Support for the code that `#[cancelable]`, `cancel_combine!` and `shielded!` expand to.
//!
//! /!\ WARNING: This is *not* a stable API! /!\
//!
//! Everything here is an implementation detail shared by `cancelable` and
//! `cancelable-macros`, which are released in lockstep. Do not name these items.

use core::fmt::Display;
use core::future::Future;
use core::time::Duration;

pub use crate::{Cancelable, CancelationError, CancelationToken, Signal};

/// Collects the sources named by a macro's options into one operation.
#[derive(Debug)]
pub struct OperationBuilder {
    name: Option<&'static str>,
    members: Vec<Cancelable>,
    /// A member came from a user expression (`cancel_combine!(op, …)`): it may be shared, so it
    /// is wrapped rather than configured in place.
    has_user_member: bool,
    parent: Option<Cancelable>,
    register: bool,
}

impl OperationBuilder {
    /// An operation named `name` with no source yet.
    pub fn new(name: &'static str) -> Self {
        OperationBuilder {
            name: Some(name),
            ..OperationBuilder::unnamed()
        }
    }

    /// `cancel_combine!` without `name = "…"`: the members' names are kept.
    pub fn unnamed() -> Self {
        OperationBuilder {
            name: None,
            members: Vec::new(),
            has_user_member: false,
            parent: None,
            register: false,
        }
    }

    /// `timeout = "…"`: the duration was parsed at compile time.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.members.push(Cancelable::with_timeout(timeout));
        self
    }

    /// `signal = …`: the names were checked at compile time.
    #[cfg(all(unix, feature = "signal"))]
    pub fn signals(mut self, signals: &[Signal]) -> Self {
        self.members
            .push(Cancelable::with_signal(signals.iter().copied()));
        self
    }

    /// `token = expr`.
    pub fn token(mut self, token: impl Into<CancelationToken>) -> Self {
        self.members.push(Cancelable::with_token(token.into()));
        self
    }

    /// `condition = expr` with `check_interval = "…"`.
    pub fn condition<P>(mut self, predicate: P, check_interval: Duration) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        self.members
            .push(Cancelable::with_condition(predicate, check_interval));
        self
    }

    /// A `Cancelable` expression given to `cancel_combine!`.
    pub fn member(mut self, member: Cancelable) -> Self {
        self.members.push(member);
        self.has_user_member = true;
        self
    }

    /// `parent = expr`.
    pub fn parent(mut self, parent: &Cancelable) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// `register`.
    pub fn register(mut self) -> Self {
        self.register = true;
        self
    }

    /// The operation: any-of of every source collected.
    pub fn build(mut self) -> Cancelable {
        let configures = self.name.is_some() || self.parent.is_some() || self.register;
        let op = match self.members.len() {
            0 => Cancelable::new(),
            1 if !(self.has_user_member && configures) => self.members.pop().unwrap_or_default(),
            _ => Cancelable::any_of(std::mem::take(&mut self.members)),
        };
        self.finish(op)
    }

    /// `cancel_combine!(all: …)`: all-of of every source collected.
    pub fn build_all(mut self) -> Cancelable {
        let op = Cancelable::all_of(std::mem::take(&mut self.members));
        self.finish(op)
    }

    fn finish(self, mut op: Cancelable) -> Cancelable {
        if let Some(name) = self.name {
            op = op.named(name);
        }
        if let Some(parent) = &self.parent {
            op = op.parent(parent);
        }
        if self.register {
            op = op.register();
        }
        op
    }
}

/// The body of an annotated fn that does not return `Result<T, E>`.
pub fn run<F: Future>(op: &Cancelable, body: F) -> crate::Run<'_, F> {
    op.run(body)
}

/// The body of an annotated fn that returns `Result<T, E>`.
pub async fn try_run<T, E, F>(op: &Cancelable, body: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<CancelationError> + Display,
{
    op.try_run(body).await
}

/// `shielded!(cancel, { … })`.
pub fn shield<F: Future>(op: &Cancelable, body: F) -> crate::Shield<'_, F> {
    op.shield(body)
}

/// `shielded!({ … })`: shields the current operation, or just runs the block outside of one.
pub async fn shield_current<F: Future>(body: F) -> F::Output {
    match Cancelable::current() {
        Some(op) => op.shield(body).await,
        None => body.await,
    }
}

/// Expanded, with the span of the `signal` option, when the `signal` feature is off.
#[doc(hidden)]
#[macro_export]
macro_rules! __cancelable_signal_feature_required {
    () => {
        ::core::compile_error!(
            "the `signal` option requires the `signal` feature of `cancelable` (on by default, Unix only)"
        )
    };
}
pub use crate::__cancelable_signal_feature_required as signal_feature_required;

/// `signal = …`: the names were checked at compile time; `[Int, Term]` are variants of `Signal`.
#[cfg(all(unix, feature = "signal"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __cancelable_signals {
    ($builder:expr, [$($signal:ident),+ $(,)?]) => {
        $builder.signals(&[$($crate::__private::Signal::$signal),+])
    };
}

/// `signal = …` without the `signal` feature (or off Unix): a compile error at the option.
#[cfg(not(all(unix, feature = "signal")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __cancelable_signals {
    ($builder:expr, [$($signal:ident),+ $(,)?]) => {{
        $crate::__cancelable_signal_feature_required!();
        $builder
    }};
}
pub use crate::__cancelable_signals as signals;

/// For leak tests: (linked children, parked waiters) of `op`'s scope token.
pub fn registrations(op: &Cancelable) -> (usize, usize) {
    crate::operation::registrations(op)
}

/// For leak tests: (linked children, parked waiters) of `token`.
pub fn token_registrations(token: &CancelationToken) -> (usize, usize) {
    (token.node().child_count(), token.node().waiter_count())
}

/// For leak tests: process-wide signal listeners installed now.
pub fn signal_listeners() -> usize {
    #[cfg(all(unix, feature = "signal"))]
    return crate::signal::listener::installed();
    #[cfg(not(all(unix, feature = "signal")))]
    0
}
