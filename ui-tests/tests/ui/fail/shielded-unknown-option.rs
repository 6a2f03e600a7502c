use cancelable::{Cancelable, shielded};

async fn work(cancel: &Cancelable) -> u32 {
    let a = shielded!(krate = "cancelable", cancel, { 1 });
    let b = shielded!(timeout = "1s", cancel, { 2 });
    a + b
}

fn main() {
    let _ = work;
}
