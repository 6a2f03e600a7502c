//! Support for the code that `#[cancelable]`, `cancel_combine!` and `shielded!` expand to,
//! re-exported as `cancelable::__private`.
//!
//! /!\ WARNING: This is *not* a stable API! /!\
//!
//! Everything here is the contract between `cancelable` and `cancelable-macros`, which are
//! released in lockstep, and nothing else: the probes that tests and benchmarks use live in the
//! hidden `test_util` module (feature `test-util`). Do not name these items.

use core::fmt::{self, Display};
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
#[inline]
pub fn timeout_operation(name: &'static str, timeout: Duration) -> Cancelable {
    Cancelable::with_timeout_named(timeout, name)
}

/// The body of an annotated fn that does not return `Result<T, E>`.
#[inline]
pub fn run<F: Future>(op: &Cancelable, body: F) -> crate::Run<'_, F> {
    op.run(body)
}

/// The body of an annotated fn that returns `Result<T, E>`, written out or through an alias.
///
/// `convert` and `describe` are `From::from` and `Display::fmt` of `E`, named by the expansion at
/// the user's return type: an `E` without `From<CancellationError>` or `Display` is an error
/// there, with nothing of this module in it. So `E` has no bound here, and reaches
/// [`Cancelable::try_run`] wrapped in a `Failure` that has both.
pub async fn try_run<R, F, C, D>(op: &Cancelable, body: F, convert: C, describe: D) -> R
where
    R: Outcome,
    F: Future<Output = R>,
    C: FnOnce(CancellationError) -> R::Error,
    D: Fn(&R::Error, &mut fmt::Formatter<'_>) -> fmt::Result + Copy,
{
    let body = async {
        body.await
            .into_result()
            .map_err(|error| Failure::Body(error, describe))
    };
    R::from_result(match op.try_run(body).await {
        Ok(value) => Ok(value),
        Err(Failure::Body(error, _)) => Err(error),
        Err(Failure::Cancelled(cancellation)) => Err(convert(cancellation)),
    })
}

/// `Result<T, E>`, the only type it is implemented for: a return type named `Result` that is
/// something else is refused with this message rather than a type mismatch.
#[diagnostic::on_unimplemented(
    message = "`#[cancelable]` keeps a return type named `Result` and needs it to be a `Result<T, E>`, which `{Self}` is not",
    label = "not a `core::result::Result`",
    note = "return a `Result<T, E>`, or import the type under another name (`use …::Result as Reply;`): any other type `R` becomes `Result<R, CancellationError>`"
)]
pub trait Outcome {
    /// `T`.
    type Ok;
    /// `E`: what a cancellation is converted into.
    type Error;
    /// The value itself.
    fn into_result(self) -> Result<Self::Ok, Self::Error>;
    /// The value itself.
    fn from_result(result: Result<Self::Ok, Self::Error>) -> Self;
}

impl<T, E> Outcome for Result<T, E> {
    type Ok = T;
    type Error = E;

    fn into_result(self) -> Self {
        self
    }

    fn from_result(result: Self) -> Self {
        result
    }
}

/// The error of [`try_run`]'s body as `Cancelable::try_run` sees it: the body's own, displayed
/// by `describe` (a function item: no size), or the cancellation, converted once `try_run` has
/// it back.
enum Failure<E, D> {
    Body(E, D),
    Cancelled(CancellationError),
}

impl<E, D> From<CancellationError> for Failure<E, D> {
    fn from(cancellation: CancellationError) -> Self {
        Failure::Cancelled(cancellation)
    }
}

impl<E, D> Display for Failure<E, D>
where
    D: Fn(&E, &mut fmt::Formatter<'_>) -> fmt::Result,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Body(error, describe) => describe(error, f),
            Failure::Cancelled(cancellation) => Display::fmt(cancellation, f),
        }
    }
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
