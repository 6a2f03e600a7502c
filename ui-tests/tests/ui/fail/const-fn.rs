use cancelable::cancelable;

#[cancelable(timeout = "1s")]
const fn constant() -> u32 {
    1
}

fn main() {}
