use cancelable::{Cancelable, shielded};

async fn work(cancel: &Cancelable) -> u32 {
    let a = shielded!(crate = "not a path", cancel, { 1 });
    let b = shielded!(crate = 5, { 2 });
    let c = shielded!(crate, cancel, { 3 });
    let d = shielded!(crate = "cancelable", crate = "cancelable", { 4 });
    a + b + c + d
}

fn main() {
    let _ = work;
}
