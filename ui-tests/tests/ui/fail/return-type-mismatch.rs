use cancelable::{Cancelable, CancellationError, cancelable};

#[cancelable(timeout = "1s")]
async fn wrong(cancel: &Cancelable) -> u32 {
    let _ = cancel;
    "forty-two"
}

#[cancelable(timeout = "1s")]
async fn wrong_result() -> Result<u32, CancellationError> {
    Ok("forty-two")
}

fn main() {}
