//! [`simulate_stream`]: a text delivered the way a network delivers it — chunks after a
//! jittered delay, quick bursts, stalls — reproducibly, from a seed, on tokio's clock.
//!
//! # Invariants
//!
//! 1. All randomness comes from one [`SplitMix64`] seeded with [`StreamConfig::seed`], drawn
//!    in a fixed order per step (stall?, burst?, then per chunk its size and, outside bursts,
//!    jitter?, jitter): one seed, one event sequence.
//! 2. Chunks are cut on `char` boundaries and advance through the text without gaps or
//!    overlap: the `Data` chunks concatenate to the text. Sizes and positions count `char`s.
//! 3. Every step ends with at least one chunk (sizes are at least 1), so the stream ends; it
//!    ends with exactly one `Complete` (the only event for an empty text), then `None`.
//! 4. Waiting is `tokio::time::sleep` only, and every `at` is read after the wait that
//!    precedes its event, since the stream's creation.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use serde::{Deserialize, Serialize};
use tokio::time::Sleep;

use super::clock::Clock;
use super::rng::SplitMix64;
use super::stream_config::{StreamConfig, weight};

/// The pause after each chunk of a burst.
const BURST_PAUSE: Duration = Duration::from_millis(1);

/// One event of [`simulate_stream`]. Serialises with serde, tagged `"type"`.
///
/// ```
/// use std::time::Duration;
/// use cancelable::testing::StreamEvent;
///
/// let complete = StreamEvent::Complete { total_chunks: 3, at: Duration::from_millis(150) };
/// assert_eq!(
///     serde_json::to_value(&complete).unwrap(),
///     serde_json::json!({ "type": "complete", "total_chunks": 3, "at": { "secs": 0, "nanos": 150_000_000 } })
/// );
/// assert_eq!(complete.at(), Duration::from_millis(150));
/// assert_eq!(complete.chunk(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamEvent {
    /// A chunk of the text.
    Data {
        /// The text of the chunk.
        chunk: String,
        /// Its length in `char`s (shorter than requested at the end of the text).
        chunk_size: usize,
        /// The size drawn for it.
        requested_chunk_size: usize,
        /// The position after it, in `char`s.
        position: usize,
        /// The text's length in `char`s.
        total_len: usize,
        /// When, since the stream was created.
        at: Duration,
        /// Whether it came in a burst.
        burst: bool,
        /// Its number, from 1.
        chunk_number: usize,
    },
    /// The network stalled for `duration` (the stall has passed when this comes).
    Stall {
        /// How long.
        duration: Duration,
        /// When it ended, since the stream was created.
        at: Duration,
    },
    /// The whole text was sent: the last event.
    Complete {
        /// How many chunks.
        total_chunks: usize,
        /// When, since the stream was created.
        at: Duration,
    },
}

impl StreamEvent {
    /// The chunk's text, for `Data`.
    pub fn chunk(&self) -> Option<&str> {
        match self {
            StreamEvent::Data { chunk, .. } => Some(chunk),
            _ => None,
        }
    }

    /// When the event came, since the stream was created.
    pub fn at(&self) -> Duration {
        match self {
            StreamEvent::Data { at, .. }
            | StreamEvent::Stall { at, .. }
            | StreamEvent::Complete { at, .. } => *at,
        }
    }
}

/// Streams `text` in chunks paced like a network: per step, maybe a stall first, then either
/// a burst of up to `burst_size` chunks 1 ms apart, or one chunk after `base_delay` (jittered
/// with `jitter_probability`); finally [`StreamEvent::Complete`].
///
/// Reproducible: the same text, config and seed give the same events, `at` included on a
/// paused clock. The `Data` chunks concatenate to `text`; an empty text gives only `Complete`.
/// Wrap it in [`Cancelable::stream`](crate::Cancelable::stream) to end it on cancellation.
///
/// # Panics
///
/// If `config` is invalid ([`StreamConfig::validate`]), with the validation message.
///
/// ```
/// use futures::StreamExt;
/// use cancelable::testing::{StreamConfig, StreamEvent, simulate_stream};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let config = StreamConfig { seed: 7, chunk_size: 3, ..StreamConfig::default() };
/// let events: Vec<StreamEvent> = simulate_stream("héllo, wörld", config.clone()).collect().await;
/// let text: String = events.iter().filter_map(StreamEvent::chunk).collect();
/// assert_eq!(text, "héllo, wörld");
/// assert!(matches!(events.last(), Some(StreamEvent::Complete { .. })));
///
/// let again: Vec<StreamEvent> = simulate_stream("héllo, wörld", config).collect().await;
/// assert_eq!(events, again);
/// # }
/// ```
pub fn simulate_stream(text: impl Into<String>, config: StreamConfig) -> SimulatedStream {
    if let Err(err) = config.validate() {
        panic!("invalid StreamConfig: {err}");
    }
    let text = text.into();
    SimulatedStream {
        total_len: text.chars().count(),
        text,
        byte_pos: 0,
        char_pos: 0,
        rng: SplitMix64::new(config.seed),
        range: config.effective_chunk_size_range(),
        config,
        clock: Clock::start(),
        chunks: 0,
        phase: Phase::Step,
        sleep: None,
    }
}

/// The stream of [`simulate_stream`]. `Unpin`: poll it without pinning.
#[must_use = "streams do nothing unless polled"]
pub struct SimulatedStream {
    text: String,
    total_len: usize,
    byte_pos: usize,
    char_pos: usize,
    config: StreamConfig,
    range: Option<(usize, usize)>,
    rng: SplitMix64,
    clock: Clock,
    chunks: usize,
    phase: Phase,
    sleep: Option<Pin<Box<Sleep>>>,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    /// The start of a step: the end, or a stall, or the step's chunks.
    Step,
    /// Sleeping through a stall; then the `Stall` event and the step's chunks.
    Stalling,
    /// The step's chunks: a burst or one paced chunk.
    Chunks,
    /// In a burst, `left` chunks to go; after each one a 1 ms pause.
    Burst { left: usize },
    /// Sleeping through a burst's pause.
    BurstPause { left: usize },
    /// Sleeping the delay before one chunk of `size`.
    Paced { size: usize },
    /// `Complete` was sent.
    Done,
}

impl SimulatedStream {
    fn chunk_size(&mut self) -> usize {
        let Some((min, max)) = self.range else {
            return self.config.chunk_size;
        };
        let Some(weights) = self.config.chunk_size_weights.as_deref() else {
            return self.rng.between(min as u64, max as u64) as usize;
        };
        let total: f64 = (0..=max - min).map(|i| weight(weights, i)).sum();
        let mut pick = self.rng.next_f64() * total;
        for i in 0..=max - min {
            pick -= weight(weights, i);
            if pick < 0.0 {
                return min + i;
            }
        }
        // Rounding left `pick` at the very top: the last size with any weight.
        (0..=max - min)
            .rev()
            .find(|&i| weight(weights, i) > 0.0)
            .map_or(max, |i| min + i)
    }

    fn paced_delay(&mut self) -> Duration {
        let base = self.config.base_delay;
        if !self.rng.chance(self.config.jitter_probability) {
            return base;
        }
        let jitter = self.config.jitter.as_nanos().min(u128::from(u64::MAX)) as u64;
        let offset = self.rng.between(0, jitter.saturating_mul(2));
        // `offset - jitter` is uniform in `-jitter..=jitter`.
        match offset.checked_sub(jitter) {
            Some(up) => base.saturating_add(Duration::from_nanos(up)),
            None => base.saturating_sub(Duration::from_nanos(jitter - offset)),
        }
    }

    /// Cuts the next chunk of up to `size` chars (invariant 2).
    fn data(&mut self, size: usize, burst: bool) -> StreamEvent {
        let rest = &self.text[self.byte_pos..];
        let (taken, len) = rest
            .char_indices()
            .nth(size)
            .map_or((rest.chars().count(), rest.len()), |(end, _)| (size, end));
        let chunk = rest[..len].to_owned();
        self.byte_pos += len;
        self.char_pos += taken;
        self.chunks += 1;
        StreamEvent::Data {
            chunk,
            chunk_size: taken,
            requested_chunk_size: size,
            position: self.char_pos,
            total_len: self.total_len,
            at: self.clock.elapsed(),
            burst,
            chunk_number: self.chunks,
        }
    }

    fn poll_sleep(&mut self, cx: &mut Context<'_>, delay: Duration) -> Poll<()> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
        ready!(sleep.as_mut().poll(cx));
        self.sleep = None;
        Poll::Ready(())
    }
}

impl Stream for SimulatedStream {
    type Item = StreamEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamEvent>> {
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Step if this.char_pos >= this.total_len => {
                    this.phase = Phase::Done;
                    return Poll::Ready(Some(StreamEvent::Complete {
                        total_chunks: this.chunks,
                        at: this.clock.elapsed(),
                    }));
                }
                Phase::Step => {
                    this.phase = match this.rng.chance(this.config.stall_probability) {
                        true => Phase::Stalling,
                        false => Phase::Chunks,
                    };
                }
                Phase::Stalling => {
                    let duration = this.config.stall_duration;
                    ready!(this.poll_sleep(cx, duration));
                    this.phase = Phase::Chunks;
                    let at = this.clock.elapsed();
                    return Poll::Ready(Some(StreamEvent::Stall { duration, at }));
                }
                Phase::Chunks if this.rng.chance(this.config.burst_probability) => {
                    this.phase = Phase::Burst {
                        left: this.config.burst_size,
                    };
                }
                Phase::Chunks => {
                    let size = this.chunk_size();
                    this.phase = Phase::Paced { size };
                }
                Phase::Burst { left } if left == 0 || this.char_pos >= this.total_len => {
                    this.phase = Phase::Step;
                }
                Phase::Burst { left } => {
                    let size = this.chunk_size();
                    this.phase = Phase::BurstPause { left: left - 1 };
                    return Poll::Ready(Some(this.data(size, true)));
                }
                Phase::BurstPause { left } => {
                    ready!(this.poll_sleep(cx, BURST_PAUSE));
                    this.phase = Phase::Burst { left };
                }
                Phase::Paced { size } => {
                    if this.sleep.is_none() {
                        let delay = this.paced_delay();
                        this.sleep = Some(Box::pin(tokio::time::sleep(delay)));
                    }
                    ready!(this.poll_sleep(cx, Duration::ZERO));
                    this.phase = Phase::Step;
                    return Poll::Ready(Some(this.data(size, false)));
                }
                Phase::Done => return Poll::Ready(None),
            }
        }
    }
}

impl std::fmt::Debug for SimulatedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedStream")
            .field("position", &self.char_pos)
            .field("total_len", &self.total_len)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}
