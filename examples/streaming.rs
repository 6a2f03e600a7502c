//! Processing a stream of tokens, like a language model's response, under cancellation:
//!
//! 1. a timeout stops a slow response; the partial count survives the body being dropped;
//! 2. a condition (a budget of characters) stops it once enough text has arrived;
//! 3. outside any `run`: a user's "stop" ends the stream with one error, then the end;
//! 4. a short response, in batches of eight tokens, runs to its end.
//!
//! Progress is reported every ten tokens. Run it with `cargo run --example streaming`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, CancellationToken};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::time::sleep;

const RESPONSE: &str = "Structured cancellation means every piece of work runs inside a scope \
    that knows why it may have to stop: a deadline, a user who pressed stop, a signal, a parent \
    that gave up. When one of them fires, the work is dropped at once and the caller learns \
    which source fired, while cleanup that must finish is shielded until it does.";

/// The response, one word at a time, a token every `pace`.
fn tokens(pace: Duration) -> BoxStream<'static, String> {
    stream::iter(RESPONSE.split_inclusive(' ').map(str::to_owned))
        .then(move |token| async move {
            sleep(pace).await;
            token
        })
        .boxed()
}

fn print_progress(op: &Cancelable) {
    op.on_progress(|event| println!("    [{}] {}", event.operation_name, event.message));
}

#[tokio::main]
async fn main() {
    // 1. A timeout: the body (and its stream) is dropped, the count stays in the context.
    println!("1. a 400 ms timeout on a response arriving at a token every 15 ms");
    let op = Cancelable::with_timeout(Duration::from_millis(400)).named("slow_response");
    print_progress(&op);
    let text = Arc::new(Mutex::new(String::new()));
    let outcome = op
        .run(async {
            let mut tokens = op
                .stream(tokens(Duration::from_millis(15)))
                .report_every(10);
            while let Some(token) = tokens.next().await {
                text.lock().unwrap().push_str(&token?);
            }
            Ok::<_, cancelable::CancellationError>(())
        })
        .await;
    let err = outcome.expect_err("the timeout fires first");
    let ctx = op.context();
    println!("    stopped: {err}");
    println!(
        "    {} tokens received: {:?}\n",
        ctx.items.unwrap_or(0),
        text.lock().unwrap()
    );

    // 2. A condition: stop once the budget of characters is spent.
    println!("2. a budget of 120 characters, checked every 10 ms");
    let received = Arc::new(AtomicUsize::new(0));
    let spent = received.clone();
    let op = Cancelable::with_named_condition(
        "budget_spent",
        move || spent.load(Ordering::Relaxed) >= 120,
        Duration::from_millis(10),
    )
    .named("budgeted_response");
    print_progress(&op);
    let outcome = op
        .run(async {
            let mut tokens = op.stream(tokens(Duration::from_millis(5))).report_every(10);
            while let Some(Ok(token)) = tokens.next().await {
                received.fetch_add(token.len(), Ordering::Relaxed);
            }
        })
        .await;
    let err = outcome.expect_err("the budget runs out first");
    println!("    stopped: {err}");
    println!(
        "    {} tokens, {} characters received\n",
        op.context().items.unwrap_or(0),
        received.load(Ordering::Relaxed)
    );

    // 3. On its own: the consumer sees one `Err`, then the end of the stream.
    println!("3. no `run`: the user presses stop after 100 ms");
    let stop = CancellationToken::new();
    let op = Cancelable::with_token(stop.clone()).named("chat_response");
    let user = tokio::spawn(async move {
        sleep(Duration::from_millis(100)).await;
        stop.cancel_with(CancellationReason::Manual, "user pressed stop");
    });
    let mut reply = op.stream(tokens(Duration::from_millis(15)));
    while let Some(token) = reply.next().await {
        if let Err(err) = token {
            println!("    the stream says: {err}");
        }
    }
    user.await.expect("the user task panicked");
    println!("    the stream ended after {} tokens\n", reply.delivered());

    // 4. Batches: a short response runs to its end, with progress per batch.
    println!("4. a short response, in batches of 8 tokens");
    let op = Cancelable::new().named("short_response");
    print_progress(&op);
    let short = tokens(Duration::from_millis(2)).take(20);
    let mut batches = op.stream_chunks(short, 8);
    while let Some(batch) = batches.next().await {
        let batch = batch.expect("nothing cancels this one");
        println!("    batch of {}: {:?}", batch.len(), batch.concat());
    }
    let ctx = op.context();
    println!(
        "    {} tokens, exhausted: {}",
        ctx.items.unwrap_or(0),
        ctx.exhausted == Some(true)
    );
}
