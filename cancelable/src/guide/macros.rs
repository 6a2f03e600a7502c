//! # Macros
//!
//! With the `macros` feature (on by default), three macros cover the common shapes.
//!
//! ## `#[cancelable]`
//!
//! Turns an `async fn` into an operation. Options are checked at compile time (durations,
//! signal names, unknown or duplicate options), a `&Cancelable` parameter is bound to the
//! running operation and removed from the signature, and a declared `Result<T, E>` gets the
//! cancellation as `Err(E::from(error))`. So does an alias whose name is `Result`
//! (`io::Result<T>`, `anyhow::Result<T>`, your crate's `Result<T>`): its error type needs
//! `From<CancellationError>`, and the compile error is on the return type when it has none. Any
//! other return type `R` becomes `Result<R, CancellationError>`.
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{cancelable, Cancelable, CancellationError};
//!
//! #[derive(Debug)]
//! enum AppError {
//!     Cancelled(CancellationError),
//! }
//!
//! impl From<CancellationError> for AppError {
//!     fn from(error: CancellationError) -> Self {
//!         AppError::Cancelled(error)
//!     }
//! }
//!
//! impl std::fmt::Display for AppError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         match self {
//!             AppError::Cancelled(error) => write!(f, "{error}"),
//!         }
//!     }
//! }
//!
//! #[cancelable(timeout = "2s", name = "fetch_user")]
//! async fn fetch_user(id: u64, cancel: &Cancelable) -> Result<String, AppError> {
//!     cancel.report_progress(format!("fetching {id}"));
//!     tokio::time::sleep(Duration::from_secs(10)).await;
//!     Ok(format!("user {id}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let AppError::Cancelled(error) = fetch_user(7).await.unwrap_err();
//! assert!(error.is_timeout());
//! assert_eq!(error.operation_name(), Some("fetch_user"));
//! # }
//! ```
//!
//! A duration option (`timeout`, `grace`, `check_interval`) is a literal checked at compile
//! time, or an expression of type `Duration` evaluated at each call, which may use the
//! parameters:
//!
//! ```
//! use std::time::Duration;
//! use cancelable::cancelable;
//!
//! struct Client {
//!     timeout: Duration,
//! }
//!
//! impl Client {
//!     #[cancelable(timeout = self.timeout)]
//!     async fn get(&self, path: &str) -> String {
//!         tokio::time::sleep(Duration::from_secs(60)).await;
//!         path.to_owned()
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let client = Client { timeout: Duration::from_secs(5) };
//! assert!(client.get("/users").await.unwrap_err().is_timeout());
//! # }
//! ```
//!
//! An annotated function called inside another operation becomes its child.
//!
//! ## `cancel_combine!`
//!
//! The same options, and `Cancelable` expressions, combined any-of (or all-of after `all:`):
//!
//! ```
//! use cancelable::{cancel_combine, CancellationToken};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let shutdown = CancellationToken::new();
//! let op = cancel_combine!(timeout = "30s", token = shutdown.clone(), name = "poll");
//! shutdown.cancel();
//! assert!(op.run(std::future::pending::<()>()).await.unwrap_err().is_manual());
//! # }
//! ```
//!
//! ## `shielded!`
//!
//! Runs a block (which may `.await`) as a [shield](super::shields):
//!
//! ```
//! use std::time::Duration;
//! use cancelable::{cancelable, shielded, Cancelable, CancellationError};
//!
//! #[cancelable(timeout = "100ms")]
//! async fn save(cancel: &Cancelable) -> Result<bool, CancellationError> {
//!     let written = shielded!(cancel, {
//!         tokio::time::sleep(Duration::from_millis(300)).await;
//!         true
//!     });
//!     assert!(written);
//!     tokio::time::sleep(Duration::from_millis(1)).await; // the timeout lands here
//!     Ok(written)
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! assert!(save().await.unwrap_err().is_timeout());
//! # }
//! ```
