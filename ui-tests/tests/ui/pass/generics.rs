//! Generic functions: type, lifetime and const parameters, `where` clauses, `impl Trait`
//! arguments and return types.
#![deny(warnings, clippy::all)]

use std::fmt::{Debug, Display};

use cancelable::{Cancelable, CancellationError, cancelable};

#[cancelable(timeout = "1s")]
async fn first<'a, T>(
    items: &'a [T],
    cancel: &Cancelable,
) -> Result<Option<&'a T>, CancellationError>
where
    T: Debug + Sync,
{
    cancel.check()?;
    Ok(items.first())
}

#[cancelable]
async fn describe(value: impl Display + Send, prefix: &str) -> String {
    format!("{prefix}{value}")
}

#[cancelable]
async fn shown(value: u32) -> impl Display {
    value
}

#[cancelable(timeout = "1s")]
async fn sum<const N: usize>(values: [u32; N]) -> u32 {
    values.iter().sum()
}

struct Wrapper<T>(T);

impl<T: Clone + Send + Sync> Wrapper<T> {
    #[cancelable]
    async fn get<'s>(&'s self, _cancel: &'s Cancelable) -> T {
        self.0.clone()
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    assert_eq!(first(&[1, 2]).await.unwrap(), Some(&1));
    assert_eq!(describe(5, "n=").await.unwrap(), "n=5");
    assert_eq!(shown(4).await.unwrap().to_string(), "4");
    assert_eq!(sum([1, 2, 3]).await.unwrap(), 6);
    assert_eq!(Wrapper("x").get().await.unwrap(), "x");
}
