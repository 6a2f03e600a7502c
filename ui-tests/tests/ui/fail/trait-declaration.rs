use cancelable::{CancelationError, cancelable};

trait Fetch {
    #[cancelable(timeout = "1s")]
    async fn fetch(&self) -> Result<u32, CancelationError>;
}

fn main() {}
