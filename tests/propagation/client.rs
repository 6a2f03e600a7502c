//! `PropagateLayer` around a `tower::service_fn` transport, on the paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cancelable::propagation::{BoxError, PropagateLayer};
use cancelable::{Cancelable, CancellationError, CancellationReason};
use http::{HeaderMap, HeaderValue, Request, Response, header::CONTENT_TYPE};
use tokio::time::{Instant, sleep};
use tower::{Layer, Service, ServiceExt};

const SECOND: Duration = Duration::from_secs(1);

/// A transport that records each request's headers, waits `delay`, then answers `answer`.
#[derive(Clone, Default)]
struct Transport {
    calls: Arc<AtomicUsize>,
    sent: Arc<std::sync::Mutex<Vec<HeaderMap>>>,
    dropped: Arc<AtomicUsize>,
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Transport {
    fn service(
        &self,
        delay: Duration,
        answer: Result<&'static str, &'static str>,
    ) -> impl Service<
        Request<()>,
        Response = Response<&'static str>,
        Error = BoxError,
        Future: Send + 'static,
    > + Clone
    + use<> {
        let this = self.clone();
        tower::service_fn(move |request: Request<()>| {
            this.calls.fetch_add(1, Ordering::SeqCst);
            this.sent.lock().unwrap().push(request.headers().clone());
            let guard = CountDrop(this.dropped.clone());
            async move {
                let _guard = guard;
                sleep(delay).await;
                answer.map(Response::new).map_err(BoxError::from)
            }
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn last(&self) -> HeaderMap {
        self.sent
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request was sent")
    }
}

fn grpc_request() -> Request<()> {
    let mut request = Request::new(());
    request
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    request
}

fn cancellation(error: BoxError) -> CancellationError {
    match error.downcast::<CancellationError>() {
        Ok(cancellation) => *cancellation,
        Err(other) => panic!("expected a cancellation, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_remaining_time_goes_into_the_header() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(Duration::ZERO, Ok("ok")));
    let op = Cancelable::with_timeout(2 * SECOND);
    op.run(async {
        sleep(SECOND / 4).await;
        client.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(transport.last()["request-timeout-ms"], "1750");
        assert!(!transport.last().contains_key("grpc-timeout"));

        sleep(SECOND / 4).await;
        client.clone().oneshot(grpc_request()).await.unwrap();
        assert_eq!(transport.last()["grpc-timeout"], "1500000u");
        assert!(!transport.last().contains_key("request-timeout-ms"));
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn without_an_operation_the_request_passes_through() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(Duration::ZERO, Ok("ok")));
    let response = client.oneshot(Request::new(())).await.unwrap();
    assert_eq!(*response.body(), "ok");
    assert!(transport.last().is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_no_header_is_sent_but_a_cancel_still_stops_the_call() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(10 * SECOND, Ok("ok")));
    let op = Cancelable::new();
    let stop = op.clone();
    tokio::spawn(async move {
        sleep(SECOND).await;
        stop.cancel_with(CancellationReason::Manual, "user pressed stop");
    });
    let mut request = Request::new(());
    request.extensions_mut().insert(op);
    let started = Instant::now();
    let error = cancellation(client.oneshot(request).await.unwrap_err());
    assert_eq!(error.reason(), CancellationReason::Manual);
    assert_eq!(started.elapsed(), SECOND);
    assert!(transport.last().is_empty());
    assert_eq!(
        transport.dropped.load(Ordering::SeqCst),
        1,
        "the call was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_deadline_fails_at_once_and_sends_nothing() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(Duration::ZERO, Ok("ok")));
    let mut request = Request::new(());
    request
        .extensions_mut()
        .insert(Cancelable::with_deadline(Instant::now()).named("lookup"));
    let error = cancellation(client.oneshot(request).await.unwrap_err());
    assert!(error.is_timeout());
    assert_eq!(
        error.to_string(),
        r#"operation cancelled: deadline of operation "lookup" passed before the request was sent"#
    );
    assert_eq!(transport.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_operation_sends_nothing() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(Duration::ZERO, Ok("ok")));
    let op = Cancelable::with_timeout(SECOND);
    op.cancel_with(CancellationReason::Manual, "gone");
    let mut request = Request::new(());
    request.extensions_mut().insert(op);
    let error = cancellation(client.oneshot(request).await.unwrap_err());
    assert_eq!(error.reason(), CancellationReason::Manual);
    assert_eq!(transport.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_operation_in_the_extensions_wins_over_the_current_one() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(Duration::ZERO, Ok("ok")));
    let outer = Cancelable::with_timeout(10 * SECOND);
    outer
        .run(async {
            let mut request = Request::new(());
            request
                .extensions_mut()
                .insert(Cancelable::with_deadline(Instant::now() + 3 * SECOND));
            client.oneshot(request).await.unwrap();
        })
        .await
        .unwrap();
    assert_eq!(transport.last()["request-timeout-ms"], "3000");
}

#[tokio::test(start_paused = true)]
async fn the_operations_timeout_drops_the_call_in_flight() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(10 * SECOND, Ok("ok")));
    let op = Cancelable::with_timeout(2 * SECOND);
    let started = Instant::now();
    let error = op
        .run(client.oneshot(Request::new(())))
        .await
        .expect_err("the timeout fires first");
    assert!(error.is_timeout());
    assert_eq!(started.elapsed(), 2 * SECOND);
    assert_eq!(transport.dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_in_another_task_stops_with_the_operation() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(10 * SECOND, Ok("ok")));
    let op = Cancelable::with_timeout(2 * SECOND);
    let mut request = Request::new(());
    request.extensions_mut().insert(op.clone());
    let started = Instant::now();
    let (call, run) = tokio::join!(
        // A task of its own, outside the operation's body: only the layer ties it to it.
        tokio::spawn(client.oneshot(request)),
        op.run(std::future::pending::<()>()),
    );
    assert!(run.unwrap_err().is_timeout());
    let error = cancellation(call.unwrap().unwrap_err());
    assert!(error.is_timeout(), "{error}");
    assert_eq!(started.elapsed(), 2 * SECOND);
    assert_eq!(transport.dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_transport_error_after_the_deadline_is_a_timeout() {
    let transport = Transport::default();
    // The server gave up at the deadline and reset the stream: the transport fails just after.
    let client = PropagateLayer::new().layer(transport.service(3 * SECOND, Err("stream reset")));
    let mut request = Request::new(());
    let op = Cancelable::with_deadline(Instant::now() + 2 * SECOND).named("lookup");
    request.extensions_mut().insert(op);
    let error = cancellation(client.oneshot(request).await.unwrap_err());
    assert!(error.is_timeout());
    assert_eq!(
        error.message(),
        Some(r#"deadline of operation "lookup" passed during the call"#)
    );
}

#[tokio::test(start_paused = true)]
async fn a_transport_error_before_the_deadline_is_passed_on() {
    let transport = Transport::default();
    let client = PropagateLayer::new().layer(transport.service(SECOND, Err("connection refused")));
    let mut request = Request::new(());
    request
        .extensions_mut()
        .insert(Cancelable::with_timeout(5 * SECOND));
    let op = Cancelable::with_timeout(5 * SECOND);
    let error = op.run(client.oneshot(request)).await.unwrap().unwrap_err();
    assert!(error.downcast_ref::<CancellationError>().is_none());
    assert_eq!(error.to_string(), "connection refused");
}
