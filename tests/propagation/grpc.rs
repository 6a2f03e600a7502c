//! A tonic client → a tonic server on 127.0.0.1, no codegen: a text codec and a hand-written
//! service under `Server::builder().layer(CancelableLayer::new().accept_deadlines())`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut};
use cancelable::axum::CancelableLayer;
use cancelable::propagation::{Propagate, PropagateLayer};
use cancelable::{Cancelable, CancellationError, CancellationReason, OperationStatus};
use http::uri::PathAndQuery;
use tokio::sync::mpsc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint, Server, server::TcpIncoming};
use tonic::{Code, Status};
use tower::{Layer, Service};

/// Messages are UTF-8 text.
#[derive(Clone, Copy, Default)]
struct Text;

impl Codec for Text {
    type Encode = String;
    type Decode = String;
    type Encoder = Text;
    type Decoder = Text;

    fn encoder(&mut self) -> Text {
        Text
    }

    fn decoder(&mut self) -> Text {
        Text
    }
}

impl Encoder for Text {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for Text {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::invalid_argument("not UTF-8"))
    }
}

/// The server: `/test.Deadlines/Remaining` answers the handler's remaining milliseconds,
/// `/test.Deadlines/Hang` hands its operation to the test and never answers.
#[derive(Clone)]
struct Deadlines {
    calls: Arc<AtomicUsize>,
    hanging: mpsc::UnboundedSender<Cancelable>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<http::Request<tonic::body::Body>> for Deadlines {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let hanging = self.hanging.clone();
        let path = request.uri().path().to_owned();
        Box::pin(async move {
            let handler = tower::service_fn(move |_: tonic::Request<String>| {
                let hanging = hanging.clone();
                let path = path.clone();
                async move {
                    let op =
                        Cancelable::current().expect("the handler runs in its request's operation");
                    match path.as_str() {
                        "/test.Deadlines/Remaining" => {
                            let ms = op.remaining().map(|left| left.as_millis().to_string());
                            Ok(tonic::Response::new(ms.unwrap_or_else(|| "none".into())))
                        }
                        _ => {
                            hanging.send(op).unwrap();
                            std::future::pending().await
                        }
                    }
                }
            });
            Ok(tonic::server::Grpc::new(Text).unary(handler, request).await)
        })
    }
}

struct Fixture {
    client: Client,
    calls: Arc<AtomicUsize>,
    hanging: mpsc::UnboundedReceiver<Cancelable>,
}

async fn start(layer: CancelableLayer) -> Fixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, hanging) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = Deadlines {
        calls: calls.clone(),
        hanging: tx,
    };
    tokio::spawn(
        Server::builder()
            .layer(layer)
            .serve_with_incoming(service, TcpIncoming::from(listener)),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Fixture {
        client: tonic::client::Grpc::new(PropagateLayer::new().layer(channel)),
        calls,
        hanging,
    }
}

type Client = tonic::client::Grpc<Propagate<Channel>>;

async fn call(mut client: Client, method: &'static str) -> Result<String, Status> {
    client.ready().await.map_err(Status::from_error)?;
    let path = PathAndQuery::from_static(method);
    let response = client
        .unary(tonic::Request::new(String::new()), path, Text)
        .await?;
    Ok(response.into_inner())
}

/// Waits (on the real clock, generous bound) for the server's handler to stop running.
async fn stopped(handler: &Cancelable) {
    let stopped = async {
        while handler.status() == OperationStatus::Running {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stopped the handler");
}

#[tokio::test]
async fn the_handler_has_the_clients_deadline() {
    let server = start(CancelableLayer::new().accept_deadlines()).await;
    let op = Cancelable::with_timeout(Duration::from_secs(3));
    let answer = op
        .run(call(server.client.clone(), "/test.Deadlines/Remaining"))
        .await
        .unwrap()
        .unwrap();
    let ms: u128 = answer.parse().unwrap();
    assert!(ms <= 3000 && ms > 2000, "{answer}");

    // No operation on the client: no deadline on the server.
    let answer = call(server.client.clone(), "/test.Deadlines/Remaining")
        .await
        .unwrap();
    assert_eq!(answer, "none");
}

#[tokio::test]
async fn a_cancelled_client_call_stops_the_handler_with_disconnect() {
    let mut server = start(CancelableLayer::new().accept_deadlines()).await;
    let op = Cancelable::new().named("client call");
    let call = {
        let (op, client) = (op.clone(), server.client.clone());
        tokio::spawn(async move { op.run(call(client, "/test.Deadlines/Hang")).await })
    };
    let handler = tokio::time::timeout(Duration::from_secs(10), server.hanging.recv())
        .await
        .expect("the call reached the handler")
        .unwrap();
    assert_eq!(handler.status(), OperationStatus::Running);
    op.cancel_with(CancellationReason::Manual, "the user went away");
    let error = call.await.unwrap().unwrap_err();
    assert_eq!(error.reason(), CancellationReason::Manual);

    stopped(&handler).await;
    assert_eq!(handler.reason(), Some(CancellationReason::Disconnect));
}

#[tokio::test]
async fn a_call_past_its_deadline_is_deadline_exceeded() {
    // The server's own limit is shorter than the client's: the server times the call out
    // first and answers DEADLINE_EXCEEDED.
    let server = start(
        CancelableLayer::new()
            .timeout(Duration::from_millis(200))
            .accept_deadlines(),
    )
    .await;
    let op = Cancelable::with_timeout(Duration::from_secs(30));
    let status = op
        .run(call(server.client.clone(), "/test.Deadlines/Hang"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}

#[tokio::test]
async fn an_expired_client_sends_nothing() {
    let server = start(CancelableLayer::new().accept_deadlines()).await;
    let mut request = tonic::Request::new(String::new());
    request
        .extensions_mut()
        .insert(Cancelable::with_deadline(tokio::time::Instant::now()));
    let mut client = server.client.clone();
    client.ready().await.unwrap();
    let status = client
        .unary(
            request,
            PathAndQuery::from_static("/test.Deadlines/Remaining"),
            Text,
        )
        .await
        .unwrap_err();
    // With the `tonic` feature the layer's error is the status a gRPC client expects.
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let cause = std::error::Error::source(&status)
        .and_then(|e| e.downcast_ref::<CancellationError>())
        .expect("the cancellation is the status's source");
    assert!(cause.is_timeout());
    assert_eq!(server.calls.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test]
async fn a_deadline_that_passes_during_the_call_is_a_timeout_on_the_client() {
    let mut server = start(CancelableLayer::new().accept_deadlines()).await;
    // Not run: only the layer and tonic's channel see this deadline, no `run` enforces it.
    let op = Cancelable::with_deadline(tokio::time::Instant::now() + Duration::from_millis(300));
    let mut request = tonic::Request::new(String::new());
    request.extensions_mut().insert(op);
    let mut client = server.client.clone();
    client.ready().await.unwrap();
    let call = client.unary(
        request,
        PathAndQuery::from_static("/test.Deadlines/Hang"),
        Text,
    );
    let (status, handler) = tokio::join!(call, server.hanging.recv());
    let status = status.unwrap_err();
    let cause = std::error::Error::source(&status)
        .and_then(|e| e.downcast_ref::<CancellationError>())
        .unwrap_or_else(|| panic!("a cancellation, not the transport's error: {status:?}"));
    assert!(cause.is_timeout(), "{cause}");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    let handler = handler.unwrap();
    stopped(&handler).await;
}

#[tokio::test]
async fn a_call_cancelled_through_its_extension_is_cancelled_on_the_client() {
    let mut server = start(CancelableLayer::new().accept_deadlines()).await;
    let op = Cancelable::new().named("client call");
    let mut request = tonic::Request::new(String::new());
    request.extensions_mut().insert(op.clone());
    let mut client = server.client.clone();
    client.ready().await.unwrap();
    let call = tokio::spawn(async move {
        client
            .unary(
                request,
                PathAndQuery::from_static("/test.Deadlines/Hang"),
                Text,
            )
            .await
    });
    let handler = tokio::time::timeout(Duration::from_secs(10), server.hanging.recv())
        .await
        .expect("the call reached the handler")
        .unwrap();
    op.cancel_with(CancellationReason::Manual, "the user went away");
    let status = call.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    let cause = std::error::Error::source(&status)
        .and_then(|e| e.downcast_ref::<CancellationError>())
        .expect("the cancellation is the status's source");
    assert_eq!(cause.reason(), CancellationReason::Manual);
    stopped(&handler).await;
    assert_eq!(handler.reason(), Some(CancellationReason::Disconnect));
}
