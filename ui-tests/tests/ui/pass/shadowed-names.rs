//! The expansion names only `::cancelable::__private` and `::core`: local items called `core`,
//! `std`, `cancelable`, `Result`, `Option`, `Duration`, `Box`, `Future` or like the expansion's
//! temporaries change nothing.
#![deny(warnings, clippy::all)]
#![allow(dead_code, non_camel_case_types, clippy::disallowed_names)]

mod core {}
mod std {}
mod cancelable {}

type Result<T> = ::std::result::Result<T, CancellationError>;
struct Option;
struct Duration;
struct Box;
trait Future {}
struct OperationBuilder;
fn run() {}
fn try_run() {}
fn shield() {}
struct __private;

use ::cancelable::{Cancelable, CancellationError, cancel_combine, cancelable, shielded};

#[cancelable(timeout = "1s", condition = || false, check_interval = "10ms")]
async fn shadowed(
    __cancelable_op: u32,
    cancel: &Cancelable,
) -> ::core::result::Result<u32, CancellationError> {
    let __cancelable_fake_return = __cancelable_op + 1;
    let value = shielded!(cancel, { __cancelable_fake_return });
    Ok(value)
}

#[cancelable]
async fn aliased_result() -> Result<u8> {
    Ok(1)
}

#[cancelable]
async fn wrapped() -> u8 {
    1
}

#[::tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(shadowed(1).await.unwrap(), 2);
    assert_eq!(aliased_result().await.unwrap(), 1);
    assert_eq!(wrapped().await.unwrap(), 1);
    let _combined: Cancelable = cancel_combine!(timeout = "1s", signal = "SIGTERM");
}
