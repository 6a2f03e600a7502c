use cancelable::{Cancelable, cancelable};

#[cancelable]
async fn two(outer: &Cancelable, inner: &Cancelable) -> bool {
    outer.is_cancelled() || inner.is_cancelled()
}

fn main() {}
