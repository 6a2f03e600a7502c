use cancelable::{Cancelable, shielded};

async fn flush() -> u32 {
    1
}

async fn work(cancel: &Cancelable) -> u32 {
    shielded!(cancel, flush().await)
}

fn main() {
    let _ = work;
}
