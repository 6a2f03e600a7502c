//! Inherent methods: `&self`, `&mut self`, `self`, `self: Box<Self>`, `self: Arc<Self>`.
#![deny(warnings, clippy::all)]

use std::sync::Arc;

use cancelable::{Cancelable, CancellationError, CancellationToken, cancelable};

struct Service {
    shutdown: CancellationToken,
    calls: u32,
}

impl Service {
    #[cancelable(token = self.shutdown.clone(), timeout = "5s")]
    async fn by_ref(&self, cancel: &Cancelable) -> Result<u32, CancellationError> {
        cancel.check()?;
        Ok(self.calls)
    }

    #[cancelable(token = self.shutdown.clone())]
    async fn by_mut(&mut self) -> u32 {
        self.calls += 1;
        self.calls
    }

    // The option is evaluated before `self` moves into the body.
    #[cancelable(token = self.shutdown.clone())]
    async fn by_value(self) -> u32 {
        self.calls
    }

    #[cancelable(timeout = "1s")]
    async fn boxed(self: Box<Self>, _cancel: &Cancelable) -> u32 {
        self.calls
    }

    #[cancelable(token = self.shutdown.child_token())]
    async fn shared(self: Arc<Self>) -> u32 {
        self.calls
    }

    #[cancelable]
    async fn associated(value: u32) -> u32 {
        value
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let mut service = Service {
        shutdown: CancellationToken::new(),
        calls: 0,
    };
    assert_eq!(service.by_ref().await.unwrap(), 0);
    assert_eq!(service.by_mut().await.unwrap(), 1);
    assert_eq!(service.by_value().await.unwrap(), 1);
    let service = Service {
        shutdown: CancellationToken::new(),
        calls: 3,
    };
    assert_eq!(Box::new(service).boxed().await.unwrap(), 3);
    let service = Service {
        shutdown: CancellationToken::new(),
        calls: 4,
    };
    assert_eq!(Arc::new(service).shared().await.unwrap(), 4);
    assert_eq!(Service::associated(9).await.unwrap(), 9);
}
