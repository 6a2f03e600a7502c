//! Support for the code that `#[cancelable]`, `cancel_combine!` and `shielded!` expand to,
//! re-exported as `cancelable::__private`.
//!
//! /!\ WARNING: This is *not* a stable API! /!\
//!
//! Everything here is the contract between `cancelable` and `cancelable-macros`, which are
//! released in lockstep, and nothing else: the probes that tests and benchmarks use live in the
//! hidden `test_util` module (feature `test-util`). Do not name these items.

use core::fmt::Display;
use core::future::Future;
use core::time::Duration;

pub use crate::{Cancelable, CancellationError, CancellationToken, Signal};

/// Collects the sources named by a macro's options into one operation.
#[derive(Debug)]
pub struct OperationBuilder {
    name: Option<&'static str>,
    /// The usual single source stays inline: collecting it allocates nothing.
    first: Option<Cancelable>,
    rest: Vec<Cancelable>,
    /// A member came from a user expression (`cancel_combine!(op, …)`): it may be shared, so it
    /// is wrapped rather than configured in place.
    has_user_member: bool,
    parent: Option<Cancelable>,
    grace: Option<Duration>,
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
            first: None,
            rest: Vec::new(),
            has_user_member: false,
            parent: None,
            grace: None,
            register: false,
        }
    }

    fn push(mut self, member: Cancelable) -> Self {
        match self.first {
            None => self.first = Some(member),
            Some(_) => self.rest.push(member),
        }
        self
    }

    /// `timeout = …`: a literal parsed at compile time, or a `Duration` expression.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.push(Cancelable::with_timeout(timeout))
    }

    /// `signal = …`: the names were checked at compile time.
    #[cfg(all(unix, feature = "signal"))]
    pub fn signals(self, signals: &[Signal]) -> Self {
        self.push(Cancelable::with_signal(signals.iter().copied()))
    }

    /// `token = expr`.
    pub fn token(self, token: impl Into<CancellationToken>) -> Self {
        self.push(Cancelable::with_token(token.into()))
    }

    /// `condition = expr` with `check_interval = "…"`.
    pub fn condition<P>(self, predicate: P, check_interval: Duration) -> Self
    where
        P: FnMut() -> bool + Send + 'static,
    {
        self.push(Cancelable::with_condition(predicate, check_interval))
    }

    /// A `Cancelable` expression given to `cancel_combine!`.
    pub fn member(mut self, member: Cancelable) -> Self {
        self.has_user_member = true;
        self.push(member)
    }

    /// `parent = expr`.
    pub fn parent(mut self, parent: &Cancelable) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// `grace = …`: a literal parsed at compile time, or a `Duration` expression.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// `register`.
    pub fn register(mut self) -> Self {
        self.register = true;
        self
    }

    fn members(&mut self) -> impl Iterator<Item = Cancelable> + use<> {
        self.first
            .take()
            .into_iter()
            .chain(std::mem::take(&mut self.rest))
    }

    /// The operation: any-of of every source collected.
    pub fn build(mut self) -> Cancelable {
        let configures =
            self.name.is_some() || self.parent.is_some() || self.grace.is_some() || self.register;
        let op = match self.first.take() {
            None => Cancelable::new(),
            Some(only) if self.rest.is_empty() && !(self.has_user_member && configures) => only,
            Some(first) => {
                self.first = Some(first);
                Cancelable::any_of(self.members())
            }
        };
        self.finish(op)
    }

    /// `cancel_combine!(all: …)`: all-of of every source collected.
    pub fn build_all(mut self) -> Cancelable {
        let op = Cancelable::all_of(self.members());
        self.finish(op)
    }

    fn finish(self, mut op: Cancelable) -> Cancelable {
        if let Some(name) = self.name {
            op = op.named(name);
        }
        if let Some(parent) = &self.parent {
            op = op.parent(parent);
        }
        if let Some(grace) = self.grace {
            op = op.grace(grace);
        }
        if self.register {
            op = op.register();
        }
        op
    }
}

/// `#[cancelable(timeout = "…")]` with no other source or option: the usual case, built
/// directly.
pub fn timeout_operation(name: &'static str, timeout: Duration) -> Cancelable {
    Cancelable::with_timeout_named(timeout, name)
}

/// The body of an annotated fn that does not return `Result<T, E>`.
pub fn run<F: Future>(op: &Cancelable, body: F) -> crate::Run<'_, F> {
    op.run(body)
}

/// The body of an annotated fn that returns `Result<T, E>`.
pub async fn try_run<T, E, F>(op: &Cancelable, body: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<CancellationError> + Display,
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
