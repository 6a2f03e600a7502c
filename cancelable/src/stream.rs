//! Cancelable streams: [`Cancelable::stream`] and [`Cancelable::stream_chunks`].
//!
//! # Invariants
//!
//! 1. Each poll checks the operation first: once it is cancelled, the stream yields one `Err`
//!    and then ends, even if the inner stream has items ready.
//! 2. While the inner stream is pending, the stream's waker is registered on the operation's
//!    scope token, so a cancellation wakes it; the registration is dropped when the stream ends
//!    or is dropped.
//! 3. Items are counted in the operation itself as they are delivered, so its context keeps the
//!    count when the stream, or the body that owned it, is dropped.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::error::CancellationError;
use crate::operation::Cancelable;

/// Checks the operation, and registers the waker on it when the inner stream is pending.
#[derive(Debug)]
struct Watch {
    op: Cancelable,
    wait_key: Option<usize>,
    done: bool,
}

impl Watch {
    fn new(op: &Cancelable) -> Self {
        op.items().attach();
        Watch {
            op: op.clone(),
            wait_key: None,
            done: false,
        }
    }

    /// `Some(err)` the first time the operation is found cancelled.
    fn cancelled(&mut self) -> Option<CancellationError> {
        let error = self.op.check().err()?;
        self.end();
        Some(error)
    }

    /// `Ready` if the operation was cancelled meanwhile; otherwise the waker is registered.
    fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.op
            .scope()
            .node()
            .poll_cancelled(&mut self.wait_key, cx)
    }

    fn end(&mut self) {
        self.done = true;
        if let Some(key) = self.wait_key.take()
            && let Some(scope) = self.op.made_scope()
        {
            scope.node().remove_waiter(key);
        }
    }

    fn exhausted(&mut self) {
        self.op.items().set_exhausted();
        self.end();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.end();
    }
}

impl Cancelable {
    /// Wraps `stream` so that it ends when the operation is cancelled: items pass through as
    /// `Ok` until then, then one `Err` with the cancellation, then the end.
    ///
    /// Every item delivered is counted in the operation's context (`items`), so the count
    /// survives the stream, or the body that owned it, being dropped by a cancellation; a stream
    /// that runs to its end sets `exhausted`. [`report_every`](CancelableStream::report_every)
    /// adds progress reports.
    ///
    /// The stream works inside [`run`](Self::run) and on its own. On its own, only cancellations
    /// that reach the operation directly apply ([`cancel`](Self::cancel), its token, a parent,
    /// a registry); timeouts, conditions and signals are armed by `run`.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use cancelable::{Cancelable, CancellationToken};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let stop = CancellationToken::new();
    /// let op = Cancelable::with_token(stop.clone());
    /// let mut numbers = op.stream(futures::stream::iter(1..));
    ///
    /// assert_eq!(numbers.next().await, Some(Ok(1)));
    /// assert_eq!(numbers.next().await, Some(Ok(2)));
    /// stop.cancel();
    /// assert!(numbers.next().await.unwrap().unwrap_err().is_manual());
    /// assert_eq!(numbers.next().await, None);
    /// assert_eq!(op.context().items, Some(2));
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Dropping the stream drops `stream`; the items already delivered stay counted.
    pub fn stream<S: Stream>(&self, stream: S) -> CancelableStream<S> {
        CancelableStream {
            inner: stream,
            watch: Watch::new(self),
            delivered: 0,
            report_every: 0,
        }
    }

    /// Like [`stream`](Self::stream), delivering the items in batches of `size` (the last one
    /// may be shorter) and reporting progress after each batch. On cancellation, a partly
    /// filled batch is dropped: it was not delivered.
    ///
    /// # Panics
    ///
    /// If `size` is 0.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use cancelable::Cancelable;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = Cancelable::new().named("ingest");
    /// op.on_progress(|event| println!("{}", event.message)); // batch 1 (3 items), …
    /// let batches: Vec<_> = op.stream_chunks(futures::stream::iter(1..=7), 3).collect().await;
    /// let batches: Vec<_> = batches.into_iter().map(Result::unwrap).collect();
    /// assert_eq!(batches, [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    /// assert_eq!(op.context().items, Some(7));
    /// assert_eq!(op.context().exhausted, Some(true));
    /// # }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Items of a batch that is still being filled are lost when the stream is dropped, or when
    /// the operation is cancelled mid-batch (the inner stream yielded them, the batch was never
    /// handed out), and the context does not count them as delivered. Use
    /// [`stream`](Self::stream) where no item may be lost.
    pub fn stream_chunks<S: Stream>(&self, stream: S, size: usize) -> CancelableChunks<S> {
        assert!(size > 0, "`stream_chunks` needs a batch size of at least 1");
        CancelableChunks {
            inner: stream,
            watch: Watch::new(self),
            batch: Vec::with_capacity(size),
            size,
            batches: 0,
            delivered: 0,
            source_done: false,
        }
    }
}

// ===== CancelableStream =====

pin_project! {
    /// The stream returned by [`Cancelable::stream`].
    #[must_use = "streams do nothing unless polled"]
    pub struct CancelableStream<S> {
        #[pin]
        inner: S,
        watch: Watch,
        delivered: u64,
        report_every: u64,
    }
}

impl<S> CancelableStream<S> {
    /// Reports progress (`processed 100 items`, metadata `{"items": 100}`) every `n` items;
    /// `0` turns it off.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use futures::StreamExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// op.on_progress(move |event| s.lock().unwrap().push(event.message.to_string()));
    /// let count = op.stream(futures::stream::iter(0..5)).report_every(2).count().await;
    /// assert_eq!(count, 5);
    /// assert_eq!(*seen.lock().unwrap(), ["processed 2 items", "processed 4 items"]);
    /// # }
    /// ```
    pub fn report_every(mut self, n: u64) -> Self {
        self.report_every = n;
        self
    }

    /// The number of items this stream has delivered.
    ///
    /// ```
    /// use futures::StreamExt;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let op = cancelable::Cancelable::new();
    /// let mut letters = op.stream(futures::stream::iter(['a', 'b', 'c']));
    /// letters.next().await;
    /// assert_eq!(letters.delivered(), 1);
    /// # }
    /// ```
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

impl<S: Stream> Stream for CancelableStream<S> {
    type Item = Result<S::Item, CancellationError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let watch = this.watch;
        if watch.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some(error) = watch.cancelled() {
                return Poll::Ready(Some(Err(error)));
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    *this.delivered += 1;
                    let op = &watch.op;
                    op.items().add(1);
                    let n = *this.delivered;
                    if *this.report_every != 0
                        && n.is_multiple_of(*this.report_every)
                        && op.progress_observed()
                    {
                        op.report_progress_with(
                            format!("processed {n} items"),
                            serde_json::json!({ "items": n }),
                        );
                    }
                    return Poll::Ready(Some(Ok(item)));
                }
                Poll::Ready(None) => {
                    watch.exhausted();
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if watch.poll_cancelled(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.watch.done {
            return (0, Some(0));
        }
        (0, self.inner.size_hint().1.and_then(|n| n.checked_add(1)))
    }
}

impl<S: Stream> FusedStream for CancelableStream<S> {
    fn is_terminated(&self) -> bool {
        self.watch.done
    }
}

impl<S> fmt::Debug for CancelableStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelableStream")
            .field("op", &self.watch.op)
            .field("delivered", &self.delivered)
            .field("done", &self.watch.done)
            .finish_non_exhaustive()
    }
}

// ===== CancelableChunks =====

pin_project! {
    /// The stream returned by [`Cancelable::stream_chunks`].
    #[must_use = "streams do nothing unless polled"]
    pub struct CancelableChunks<S: Stream> {
        #[pin]
        inner: S,
        watch: Watch,
        batch: Vec<S::Item>,
        size: usize,
        batches: u64,
        delivered: u64,
        source_done: bool,
    }
}

impl<S: Stream> CancelableChunks<S> {
    /// The number of items delivered so far, in whole batches.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

impl<S: Stream> Stream for CancelableChunks<S> {
    type Item = Result<Vec<S::Item>, CancellationError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let watch = this.watch;
        if watch.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some(error) = watch.cancelled() {
                this.batch.clear();
                return Poll::Ready(Some(Err(error)));
            }
            if !*this.source_done {
                match this.inner.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        this.batch.push(item);
                        if this.batch.len() < *this.size {
                            continue;
                        }
                    }
                    Poll::Ready(None) => {
                        *this.source_done = true;
                        watch.op.items().set_exhausted();
                    }
                    Poll::Pending => {
                        if watch.poll_cancelled(cx).is_pending() {
                            return Poll::Pending;
                        }
                        continue;
                    }
                }
            }
            if this.batch.is_empty() {
                watch.end();
                return Poll::Ready(None);
            }
            let batch = std::mem::replace(this.batch, Vec::with_capacity(*this.size));
            let len = batch.len() as u64;
            *this.batches += 1;
            *this.delivered += len;
            let op = &watch.op;
            op.items().add(len);
            if op.progress_observed() {
                let (batch_no, items) = (*this.batches, *this.delivered);
                op.report_progress_with(
                    format!("batch {batch_no} ({items} items)"),
                    serde_json::json!({ "batch": batch_no, "items": items }),
                );
            }
            return Poll::Ready(Some(Ok(batch)));
        }
    }
}

impl<S: Stream> FusedStream for CancelableChunks<S> {
    fn is_terminated(&self) -> bool {
        self.watch.done
    }
}

impl<S: Stream> fmt::Debug for CancelableChunks<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelableChunks")
            .field("op", &self.watch.op)
            .field("size", &self.size)
            .field("delivered", &self.delivered)
            .field("done", &self.watch.done)
            .finish_non_exhaustive()
    }
}
