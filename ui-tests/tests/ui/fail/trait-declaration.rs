use cancelable::{CancellationError, cancelable};

trait Fetch {
    #[cancelable(timeout = "1s")]
    async fn fetch(&self) -> Result<u32, CancellationError>;
}

fn main() {}
