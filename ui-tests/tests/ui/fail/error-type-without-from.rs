use cancelable::cancelable;

#[derive(Debug)]
struct MyError;

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("my error")
    }
}

#[cancelable(timeout = "1s")]
async fn no_from() -> Result<u32, MyError> {
    Ok(1)
}

fn main() {}
