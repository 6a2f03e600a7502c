//! Trait-impl methods: the trait declares the rewritten signature (no `&Cancelable` parameter,
//! a `Result` return type).
#![deny(warnings, clippy::all)]

use std::future::Future;

use cancelable::{Cancelable, CancellationError, cancelable};

trait Fetch {
    fn fetch(&self, id: u64) -> impl Future<Output = Result<u64, CancellationError>> + Send;
}

trait Count {
    #[allow(async_fn_in_trait)]
    async fn count(&self) -> Result<usize, CancellationError>;
}

struct Client;

impl Fetch for Client {
    #[cancelable(timeout = "10s")]
    async fn fetch(&self, id: u64, cancel: &Cancelable) -> Result<u64, CancellationError> {
        cancel.check()?;
        Ok(id)
    }
}

impl Count for Client {
    #[cancelable(name = "count")]
    async fn count(&self) -> usize {
        3
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let client = Client;
    assert_eq!(assert_send(client.fetch(1)).await.unwrap(), 1);
    assert_eq!(client.count().await.unwrap(), 3);
}
