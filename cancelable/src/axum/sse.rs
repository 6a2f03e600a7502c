//! [`Cancelable::sse`]: server-sent events until the operation is cancelled.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::axum::response::sse::{Event, Sse};
use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::error::CancellationError;
use crate::operation::Cancelable;
use crate::stream::CancelableStream;

impl Cancelable {
    /// A server-sent-events response of `events` that ends when the operation is cancelled,
    /// with one last frame `event: cancelled` whose data is
    /// `{"reason": "timeout", "message": "…"}`.
    ///
    /// Behind a [`CancelableLayer`](super::CancelableLayer), the request's operation lasts as long as the stream, so
    /// the layer's timeout, the registry and a disconnect all end it. Add a keep-alive with
    /// `Sse::keep_alive` (axum's `tokio` feature).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::response::sse::Event;
    /// use cancelable::axum::RequestCancelable;
    /// use futures::StreamExt;
    ///
    /// async fn ticks(RequestCancelable(cancel): RequestCancelable) -> impl axum::response::IntoResponse {
    ///     let ticks = futures::stream::iter(0..).then(|n| async move {
    ///         tokio::time::sleep(Duration::from_secs(1)).await;
    ///         Event::default().event("tick").data(n.to_string())
    ///     });
    ///     cancel.sse(ticks)
    /// }
    /// # let _: axum::Router = axum::Router::new().route("/ticks", axum::routing::get(ticks));
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// The response owns `events`: when hyper drops it (the client went away), `events` is
    /// dropped and, behind a [`CancelableLayer`](super::CancelableLayer), the operation is cancelled with reason
    /// `Disconnect`.
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn sse<S>(&self, events: S) -> Sse<CancelableEvents<S>>
    where
        S: Stream<Item = Event> + Send + 'static,
    {
        Sse::new(CancelableEvents {
            inner: self.stream(events),
        })
    }
}

pin_project! {
    /// The events of [`Cancelable::sse`]: the stream's, then `event: cancelled` on cancellation.
    #[must_use = "streams do nothing unless polled"]
    pub struct CancelableEvents<S> {
        #[pin]
        inner: CancelableStream<S>,
    }
}

impl<S: Stream<Item = Event>> Stream for CancelableEvents<S> {
    type Item = Result<Event, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let event = match std::task::ready!(self.project().inner.poll_next(cx)) {
            None => return Poll::Ready(None),
            Some(Ok(event)) => event,
            Some(Err(cancellation)) => cancelled_event(&cancellation),
        };
        Poll::Ready(Some(Ok(event)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

fn cancelled_event(cancellation: &CancellationError) -> Event {
    let data = serde_json::json!({
        "reason": cancellation.reason(),
        "message": cancellation.message(),
    });
    Event::default().event("cancelled").data(data.to_string())
}

impl<S> fmt::Debug for CancelableEvents<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelableEvents")
            .field("inner", &self.inner)
            .finish()
    }
}
