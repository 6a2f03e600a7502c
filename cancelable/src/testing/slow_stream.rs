//! [`slow_stream`]: items one after another with a delay between them, on tokio's clock.

use std::iter::Peekable;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use tokio::time::Sleep;

/// A stream of `items` with `delay` between them: the first at once, each next one `delay`
/// after it is asked for, and the end at once after the last.
///
/// Wrap it in [`Cancelable::stream`](crate::Cancelable::stream) to end it on cancellation:
/// that wrapper checks the operation at every poll, so a cancel during a delay is seen when
/// the delay ends (or at once, since it also wakes the stream).
///
/// ```
/// use std::time::Duration;
/// use futures::StreamExt;
/// use cancelable::Cancelable;
/// use cancelable::testing::slow_stream;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let op = Cancelable::with_timeout(Duration::from_millis(250));
/// let mut seen = Vec::new();
/// let outcome = op
///     .run(async {
///         let mut items = op.stream(slow_stream(1..=10, Duration::from_millis(100)));
///         while let Some(item) = items.next().await {
///             seen.push(item?);
///         }
///         Ok::<_, cancelable::CancellationError>(())
///     })
///     .await;
/// assert!(outcome.unwrap_err().is_timeout());
/// assert_eq!(seen, [1, 2, 3]); // at 0, 100ms and 200ms
/// assert_eq!(op.context().items, Some(3));
/// # }
/// ```
pub fn slow_stream<I: IntoIterator>(items: I, delay: Duration) -> SlowStream<I::IntoIter> {
    SlowStream {
        items: items.into_iter().peekable(),
        delay,
        started: false,
        sleep: None,
    }
}

/// The stream of [`slow_stream`]. `Unpin`: poll it without pinning.
#[must_use = "streams do nothing unless polled"]
pub struct SlowStream<I: Iterator> {
    items: Peekable<I>,
    delay: Duration,
    started: bool,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<I: Iterator> Stream for SlowStream<I> {
    type Item = I::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        let this = self.get_mut();
        if this.started && this.items.peek().is_some() {
            let delay = this.delay;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        this.started = true;
        Poll::Ready(this.items.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl<I: Iterator> Unpin for SlowStream<I> {}

impl<I: Iterator> std::fmt::Debug for SlowStream<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlowStream")
            .field("delay", &self.delay)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}
