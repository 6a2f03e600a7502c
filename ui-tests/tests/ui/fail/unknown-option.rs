use cancelable::cancelable;

#[cancelable(timout = "1s")]
async fn typo() {}

fn main() {}
