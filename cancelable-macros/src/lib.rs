//! Implementation detail of the [`cancelable`] crate.
//!
//! Do not depend on this crate directly: `cancelable` re-exports its macros
//! (feature `macros`, on by default), and the code they expand to names items of
//! `cancelable` that are not a stable API.
//!
//! [`cancelable`]: https://docs.rs/cancelable

#![doc(test(attr(deny(warnings))))]

mod args;
mod builder;
mod combine;
mod duration;
mod expand;
mod fallback;
mod item;
mod path;
#[cfg(test)]
mod proptests;
mod shield;
mod signal;
mod suggest;
mod ungroup;

use proc_macro::TokenStream;

/// Runs an `async fn` as a cancelable operation.
///
/// The function's body becomes the body of an operation (a `Cancelable`) whose
/// sources are given by the options. When a source fires, the body is dropped
/// at its current `.await` and the call returns a `CancellationError` saying
/// which source fired and why.
///
/// ```
/// use std::time::Duration;
/// use cancelable::{cancelable, Cancelable, CancellationError, CancellationReason};
///
/// #[cancelable(timeout = "2s")]
/// async fn fetch_user(id: u64, cancel: &Cancelable) -> Result<String, CancellationError> {
///     cancel.report_progress(format!("fetching {id}"));
///     tokio::time::sleep(Duration::from_secs(10)).await; // far too slow
///     Ok(format!("user {id}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let error = fetch_user(7).await.unwrap_err();
/// assert_eq!(error.reason(), CancellationReason::Timeout);
/// assert_eq!(error.operation_name(), Some("fetch_user"));
/// # }
/// ```
///
/// # Options
///
/// Every option is checked at compile time: an unknown name, a duplicate, a
/// malformed duration or an unknown signal is an error on that token, all
/// errors are reported at once, and the function still expands so that its
/// body type-checks.
///
/// | option | value | meaning |
/// |---|---|---|
/// | `timeout` | a duration: `"500ms"`, `"30s"`, `"1m30s"`, `"2h"`, or a `Duration` expression | cancel with reason `Timeout` once this much time has passed since the call started |
/// | `signal` | `"SIGTERM"` or `["SIGINT", "SIGTERM"]` | cancel with reason `Signal` when the process receives one of these (feature `signal`, Unix) |
/// | `name` | `"fetch_user"` | the operation's name, in errors, tracing and the registry; default: the function's name |
/// | `token` | an expression | cancel when this `CancellationToken` is cancelled |
/// | `condition` | an expression | a predicate `FnMut() -> bool + Send + 'static`; cancel with reason `Condition` once it returns `true` |
/// | `check_interval` | a duration, default `"100ms"` | how often `condition` is checked |
/// | `grace` | a duration, such as `"5s"` | once cancelled, keep polling the body this long so that it can clean up (`Cancelable::grace`) |
/// | `parent` | an expression | an explicit parent `&Cancelable`: cancelling it cancels this operation with reason `Parent` |
/// | `register` | (a flag) | list the running operation in `OperationRegistry::global()` |
/// | `crate` | `"path::to::cancelable"` | where `cancelable` is, for crates that re-export it |
///
/// Sources combine any-of: the first to fire cancels the operation. A duration
/// literal is a whole number followed by `ms`, `s`, `m` or `h`, units from
/// largest to smallest (`"1h30m"`); it is parsed at compile time, so the
/// expansion holds a constant `Duration`, and a malformed or zero one is an
/// error on the literal. Any other expression given to `timeout`,
/// `check_interval` or `grace` must be a `std::time::Duration` (another type is
/// an error on the expression) and is not checked: `Duration::ZERO` as a
/// timeout cancels at once. Signal names may drop the `SIG` prefix and use any
/// case; `SIGKILL` and `SIGSTOP` are rejected because they cannot be caught.
///
/// Expressions (`token`, `condition`, `parent` and non-literal durations) are
/// evaluated when the function is called, before the body starts, and may use
/// its parameters:
///
/// ```
/// use cancelable::{cancelable, CancellationError, CancellationToken};
///
/// struct Service {
///     shutdown: CancellationToken,
///     timeout: std::time::Duration,
/// }
///
/// impl Service {
///     #[cancelable(token = self.shutdown.clone(), timeout = self.timeout, name = "service.poll")]
///     async fn poll(&self) -> u32 {
///         std::future::pending().await
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let service = Service {
///     shutdown: CancellationToken::new(),
///     timeout: std::time::Duration::from_secs(30),
/// };
/// service.shutdown.cancel();
/// let error: CancellationError = service.poll().await.unwrap_err();
/// assert!(error.is_manual());
/// # }
/// ```
///
/// # Parameters and return type
///
/// * A parameter of type `&Cancelable` (any name, at most one) is removed from
///   the signature; inside the body it is the running operation. Without one,
///   `Cancelable::current()` returns it.
/// * A return type whose path ends in `Result` is kept: `Result<T, E>`, and
///   aliases of it such as `io::Result<T>`, `anyhow::Result<T>`, a crate's own
///   `Result<T>` or `fmt::Result`. A cancellation becomes `Err(E::from(error))`,
///   where `E` is the error type the path stands for, so `E` needs
///   `From<CancellationError>` and `Display`; without them the compile error is
///   on the return type. `io::Error` has the conversion (reason `Timeout` is
///   `ErrorKind::TimedOut`, any other `Interrupted`), and so has any error type
///   with a blanket `From<impl std::error::Error>`, as `anyhow::Error`. An `Err`
///   from the body marks the operation `Failed`.
/// * Any other return type `R` becomes `Result<R, CancellationError>`. That
///   includes an alias under another name (`AppResult<T>`): name it `Result` in
///   its module (`app::Result<T>`), or write out the nested type you want,
///   `Result<io::Result<T>, CancellationError>`.
///
/// ```
/// use std::io;
/// use cancelable::cancelable;
///
/// #[cancelable(timeout = "1s")]
/// async fn read_config() -> io::Result<String> {
///     std::future::pending().await
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let error: io::Error = read_config().await.unwrap_err();
/// assert_eq!(error.kind(), io::ErrorKind::TimedOut);
/// # }
/// ```
///
/// An annotated function called from inside another operation (annotated or
/// run by hand) becomes its child: when the outer one is cancelled, the inner
/// call ends with reason `Parent`.
///
/// The attribute works on free functions, inherent and trait-impl methods
/// (`&self`, `&mut self`, `self`), generic functions and functions defined by
/// `macro_rules!`. For a trait method, the trait declares the rewritten
/// signature: no `&Cancelable` parameter, and the `Result` return type.
///
/// # What it expands to
///
/// ```
/// # use cancelable::{cancelable, Cancelable, CancellationError};
/// # #[derive(Debug)] struct AppError;
/// # impl From<CancellationError> for AppError { fn from(_: CancellationError) -> Self { AppError } }
/// # impl std::fmt::Display for AppError {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("app error") }
/// # }
/// # async fn load(_: u64) -> Result<String, AppError> { Ok(String::new()) }
/// #[cancelable(timeout = "30s")]
/// async fn fetch_user(id: u64, cancel: &Cancelable) -> Result<String, AppError> {
///     cancel.report_progress("loading");
///     load(id).await
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() { fetch_user(1).await.unwrap(); }
/// ```
///
/// becomes, in substance (the temporary's name is hygienic, an unreachable
/// `return` of the declared type makes type errors point into the body, and the
/// conversion of the cancellation is named at `AppError`, so that an error type
/// without `From<CancellationError>` is reported there):
///
/// ```
/// # use cancelable::{Cancelable, CancellationError};
/// # #[derive(Debug)] struct AppError;
/// # impl From<CancellationError> for AppError { fn from(_: CancellationError) -> Self { AppError } }
/// # impl std::fmt::Display for AppError {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("app error") }
/// # }
/// # async fn load(_: u64) -> Result<String, AppError> { Ok(String::new()) }
/// async fn fetch_user(id: u64) -> Result<String, AppError> {
///     let operation = Cancelable::with_timeout(std::time::Duration::from_secs(30)).named("fetch_user");
///     let cancel: &Cancelable = &operation;
///     operation
///         .try_run(async move {
///             cancel.report_progress("loading");
///             load(id).await
///         })
///         .await
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() { fetch_user(1).await.unwrap(); }
/// ```
///
/// # With other attributes
///
/// Put `#[cancelable]` above `#[tokio::test]` and `#[tokio::main]`: they turn
/// the `async fn` into a plain one, which `#[cancelable]` cannot take. The test
/// or `main` then returns `Result<(), CancellationError>`. With
/// `#[tracing::instrument]` either order works; with `#[cancelable]` first the
/// operation is created inside the span.
///
/// ```
/// use cancelable::cancelable;
///
/// #[cancelable(timeout = "5s")]
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     // ...
/// }
/// ```
#[proc_macro_attribute]
pub fn cancelable(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cancelable(args.into(), item.into()).into()
}

/// Combines sources of cancellation into one `Cancelable`.
///
/// The arguments are `#[cancelable]` options (`timeout`, `signal`, `token`,
/// `condition` with `check_interval`, and `name`, `grace`, `parent`, `crate`) and
/// expressions of type `Cancelable`, in any order. By default the result is
/// cancelled by the first source to fire (any-of); after `all:` it is cancelled
/// once every source has fired (all-of), with the reason of the last one.
///
/// ```
/// use cancelable::{cancel_combine, Cancelable, CancellationReason, CancellationToken};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let shutdown = CancellationToken::new();
/// let upstream = Cancelable::new();
///
/// let first = cancel_combine!(timeout = "10s", token = shutdown.clone(), upstream.child());
/// shutdown.cancel();
/// let error = first.run(std::future::pending::<()>()).await.unwrap_err();
/// assert_eq!(error.reason(), CancellationReason::Manual);
///
/// let warmed_up = CancellationToken::new();
/// warmed_up.cancel();
/// // Cancelled only once both have fired: the token already has, the timeout after 1s.
/// let both = cancel_combine!(all: timeout = "1s", token = warmed_up.clone());
/// let error = both.run(std::future::pending::<()>()).await.unwrap_err();
/// assert_eq!(error.reason(), CancellationReason::Timeout);
/// # }
/// ```
///
/// An argument written `name = value` is an option; anything else is a
/// `Cancelable` expression. An empty `cancel_combine!()` is a compile error.
///
/// It expands to calls on a builder: `cancel_combine!(timeout = "10s", upstream)` is
/// `Cancelable::any_of([Cancelable::with_timeout(Duration::from_secs(10)), upstream])`.
#[proc_macro]
pub fn cancel_combine(input: TokenStream) -> TokenStream {
    combine::cancel_combine(input.into()).into()
}

/// Runs a block to completion even if the operation is cancelled meanwhile.
///
/// `shielded!(cancel, { … })` shields the operation `cancel` (a `Cancelable` or
/// a `&Cancelable`); `shielded!({ … })` shields the current operation, if any.
/// The block may `.await`, and the macro evaluates to the block's value; use it
/// inside an `async` function or block. When a source fires while the block
/// runs, the operation is cancelled as soon as the block has finished.
///
/// ```
/// use std::time::Duration;
/// use cancelable::{cancelable, shielded, Cancelable};
///
/// #[cancelable(timeout = "1s")]
/// async fn save(cancel: &Cancelable) -> u32 {
///     let written = shielded!(cancel, {
///         // Runs to the end although the timeout fires halfway.
///         tokio::time::sleep(Duration::from_secs(2)).await;
///         42
///     });
///     assert_eq!(written, 42);
///     tokio::time::sleep(Duration::from_secs(10)).await; // cancelled here
///     written
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// assert!(save().await.unwrap_err().is_timeout());
/// # }
/// ```
///
/// The block is run as a (non-`move`) `async` block, so it can borrow and
/// modify local variables, but `return`, `?` and `break` inside it apply to the
/// block. A shield only holds off this library's cancellation: a future dropped
/// from outside (an outer `tokio::time::timeout`, a dropped request) still
/// stops.
///
/// A crate that re-exports `cancelable` passes its path first, as it does to
/// `#[cancelable(crate = "…")]`: `shielded!(crate = "my_crate::cancelable",
/// cancel, { … })`, or `shielded!(crate = "my_crate::cancelable", { … })`. The
/// path may also be written unquoted, and `crate` is the only option.
///
/// `shielded!(cancel, { body })` expands to `cancel.shield(async { body }).await`.
#[proc_macro]
pub fn shielded(input: TokenStream) -> TokenStream {
    shield::shielded(input.into()).into()
}
