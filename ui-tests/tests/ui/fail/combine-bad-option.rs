use cancelable::{Cancelable, cancel_combine};

fn main() {
    let other = Cancelable::new();
    let _ = cancel_combine!(timout = "1s", other);
}
