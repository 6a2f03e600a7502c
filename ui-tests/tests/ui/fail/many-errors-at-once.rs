use cancelable::{Cancelable, cancelable};

// Every mistake is reported, each at its own token, and the body still type-checks.
#[cancelable(timout = "1s", timeout = "5", signal = "SIGKILL", name = 42, register = yes, check_interval = "1s")]
async fn many(cancel: &Cancelable) -> u32 {
    let _checked: u32 = "not a number";
    cancel.is_cancelled() as u32
}

fn main() {}
