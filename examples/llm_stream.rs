//! A streaming, LLM-style response under cancellation: the partial answer is never lost.
//!
//! The model's reply arrives as chunks of uneven size and pace, with bursts and stalls (like
//! a real model's output). Four runs:
//!
//! 1. the whole reply, with progress every 10 chunks;
//! 2. the user presses "stop" mid-answer (a token cancelled by another task): the text so far
//!    is kept and the stream ends with one error;
//! 3. a stall watchdog (a condition: no chunk for 150 ms) gives up on a stuck stream;
//! 4. a budget of 200 characters, then a deadline: `any_of` of a condition and a timeout.
//!
//! Run it with `cargo run --example llm_stream` (about two seconds).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::{Cancelable, CancellationReason, CancellationToken};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::time::{Instant, sleep};

const ANSWER: &str = "Cancellation in async Rust is usually a drop: the future simply stops being \
    polled. That is fast and simple, but it says nothing about why the work stopped, and cleanup \
    that must finish has no place to run. A cancellation scope fixes both: it knows its sources \
    (a deadline, a user, a signal, a parent, a condition), reports which one fired, and lets \
    shielded cleanup complete before the scope ends.";

/// A tiny deterministic generator, so that every run looks the same.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// How the simulated model behaves.
#[derive(Clone, Copy)]
struct Pace {
    base_ms: u64,
    stall_at_chunk: Option<usize>,
}

/// The reply as chunks of 2–8 characters: a base delay with jitter, bursts, an optional stall.
fn model_reply(pace: Pace, seed: u64) -> BoxStream<'static, String> {
    let mut rng = Lcg(seed);
    let mut chunks = Vec::new();
    let mut rest = ANSWER;
    while !rest.is_empty() {
        let mut size = (2 + rng.next(7) as usize).min(rest.len());
        while !rest.is_char_boundary(size) {
            size += 1;
        }
        let (chunk, tail) = rest.split_at(size);
        let delay = match rng.next(10) {
            0 => 1, // a burst
            _ => pace.base_ms + rng.next(pace.base_ms / 2 + 1),
        };
        chunks.push((chunk.to_owned(), delay));
        rest = tail;
    }
    stream::iter(chunks.into_iter().enumerate())
        .then(move |(i, (chunk, delay))| async move {
            let stall = if pace.stall_at_chunk == Some(i) {
                2_000
            } else {
                0
            };
            sleep(Duration::from_millis(delay + stall)).await;
            chunk
        })
        .boxed()
}

/// Streams the reply into `text` under `op`; prints how it ended.
async fn answer(
    label: &str,
    op: Cancelable,
    reply: BoxStream<'static, String>,
    text: Arc<Mutex<String>>,
) {
    println!("{label}");
    let start = Instant::now();
    let outcome = op
        .run(async {
            let mut chunks = op.stream(reply).report_every(10);
            while let Some(chunk) = chunks.next().await {
                text.lock().unwrap().push_str(&chunk?);
            }
            Ok::<_, cancelable::CancellationError>(())
        })
        .await
        .and_then(|inner| inner);
    let text = text.lock().unwrap();
    let ctx = op.context();
    let ms = start.elapsed().as_millis();
    match outcome {
        Ok(()) => println!(
            "   complete after {ms} ms: {} chunks, {} characters",
            ctx.items.unwrap_or(0),
            text.len()
        ),
        Err(err) => println!(
            "   {err} (after {ms} ms)\n   kept {} chunks, {} characters: …{:?}",
            ctx.items.unwrap_or(0),
            text.len(),
            text.chars()
                .rev()
                .take(40)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        ),
    }
}

#[tokio::main]
async fn main() {
    let normal = Pace {
        base_ms: 4,
        stall_at_chunk: None,
    };

    // 1.
    let op = Cancelable::new().named("reply");
    op.on_progress(|event| println!("   progress: {}", event.message));
    answer(
        "1. a whole reply",
        op,
        model_reply(normal, 1),
        Default::default(),
    )
    .await;

    // 2.
    let stop = CancellationToken::new();
    let op = Cancelable::with_token(stop.clone()).named("reply");
    tokio::spawn(async move {
        sleep(Duration::from_millis(150)).await;
        stop.cancel_with(CancellationReason::Manual, "the user pressed stop");
    });
    let slow = Pace {
        base_ms: 8,
        stall_at_chunk: None,
    };
    answer(
        "2. stopped by the user",
        op,
        model_reply(slow, 2),
        Default::default(),
    )
    .await;

    // 3. A watchdog: no chunk for 150 ms means the stream is stuck.
    let last_chunk = Arc::new(AtomicU64::new(0));
    let clock = Instant::now();
    let seen = last_chunk.clone();
    let op = Cancelable::with_named_condition(
        "stream_stalled",
        move || clock.elapsed().as_millis() as u64 - seen.load(Ordering::Relaxed) > 150,
        Duration::from_millis(25),
    )
    .named("reply");
    let stamp = last_chunk.clone();
    let stalling = model_reply(
        Pace {
            base_ms: 4,
            stall_at_chunk: Some(30),
        },
        3,
    )
    .inspect(move |_| stamp.store(clock.elapsed().as_millis() as u64, Ordering::Relaxed))
    .boxed();
    answer("3. a stalled stream", op, stalling, Default::default()).await;

    // 4. A character budget, or a deadline, whichever comes first.
    let text = Arc::new(Mutex::new(String::new()));
    let length = Arc::new(AtomicUsize::new(0));
    let (watched, measured) = (text.clone(), length.clone());
    let op = Cancelable::any_of([
        Cancelable::with_named_condition(
            "budget_of_200_characters",
            move || {
                measured.store(watched.lock().unwrap().len(), Ordering::Relaxed);
                measured.load(Ordering::Relaxed) >= 200
            },
            Duration::from_millis(10),
        ),
        Cancelable::with_timeout(Duration::from_secs(1)),
    ])
    .named("reply");
    answer("4. a budget", op, model_reply(normal, 4), text).await;
}
