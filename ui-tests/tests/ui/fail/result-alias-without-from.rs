use cancelable::cancelable;

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

type Result<T> = std::result::Result<T, MyError>;

// The alias's error type receives the cancellation: without the conversion, the error is here.
#[cancelable(timeout = "1s")]
async fn no_from() -> Result<u32> {
    Ok(1)
}

fn main() {}
