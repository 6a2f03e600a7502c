use cancelable::cancel_combine;

fn main() {
    let _ = cancel_combine!();
}
