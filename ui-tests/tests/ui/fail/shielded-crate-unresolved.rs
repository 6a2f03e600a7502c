use cancelable::{Cancelable, shielded};

// The expansion goes through the path given: one that does not exist is an error there.
async fn work(cancel: &Cancelable) -> u32 {
    shielded!(crate = "crate::missing", cancel, { 1 })
}

fn main() {
    let _ = work;
}
