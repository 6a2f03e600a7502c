use std::time::Duration;

use cancelable::{cancel_combine, cancelable};

struct Config {
    timeout: Duration,
}

struct Service {
    config: Config,
}

impl Service {
    #[cancelable(timeout = self.config.timeout, grace = Duration::from_millis(10))]
    async fn call(&self) -> u32 {
        7
    }
}

const BUDGET: Duration = Duration::from_secs(1);

#[cancelable(timeout = BUDGET, condition = || false, check_interval = every * 2)]
async fn polled(every: Duration) {}

macro_rules! with_timeout {
    ($timeout:expr) => {
        #[cancelable(timeout = $timeout)]
        async fn from_macro() {}
    };
}

with_timeout!(Duration::from_secs(2));

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let service = Service {
        config: Config {
            timeout: Duration::from_secs(5),
        },
    };
    assert_eq!(service.call().await.unwrap(), 7);
    polled(Duration::from_millis(50)).await.unwrap();
    from_macro().await.unwrap();
    let combined = cancel_combine!(timeout = BUDGET, name = "combined");
    assert!(
        combined
            .run(std::future::pending::<()>())
            .await
            .unwrap_err()
            .is_timeout()
    );
}
