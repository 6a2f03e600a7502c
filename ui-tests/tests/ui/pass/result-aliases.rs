use std::io;

use cancelable::{CancellationError, cancelable};

#[derive(Debug)]
struct AppError(CancellationError);

impl From<CancellationError> for AppError {
    fn from(error: CancellationError) -> Self {
        AppError(error)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "app: {}", self.0)
    }
}

/// The `anyhow::Result<T>` shape: a one-argument alias whose error converts.
type Result<T> = std::result::Result<T, AppError>;

// The alias keeps its signature: the cancellation is its error type's.
#[cancelable(timeout = "1s")]
async fn read() -> io::Result<u32> {
    std::future::pending().await
}

#[cancelable(timeout = "1s")]
async fn load() -> Result<u32> {
    std::future::pending().await
}

// Written out, the wrapped form stays available.
#[cancelable(timeout = "1s")]
async fn nested() -> std::result::Result<io::Result<u32>, CancellationError> {
    Ok(Ok(1))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let error: io::Error = read().await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    let AppError(error) = load().await.unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(nested().await.unwrap().unwrap(), 1);
}
