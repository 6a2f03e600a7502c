use cancelable::{Cancelable, cancelable};

#[cancelable]
async fn mutable(cancel: &mut Cancelable) -> bool {
    cancel.is_cancelled()
}

fn main() {}
