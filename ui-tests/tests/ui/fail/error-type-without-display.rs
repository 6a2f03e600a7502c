use cancelable::{CancellationError, cancelable};

#[derive(Debug)]
struct MyError;

impl From<CancellationError> for MyError {
    fn from(_: CancellationError) -> Self {
        MyError
    }
}

#[cancelable(timeout = "1s")]
async fn no_display() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
