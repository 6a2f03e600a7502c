use cancelable::cancelable;

/// Named `Result`, but not a `Result`.
struct Result<T>(T);

#[cancelable(timeout = "1s")]
async fn wrapped() -> Result<u32> {
    Result(1)
}

fn main() {}
