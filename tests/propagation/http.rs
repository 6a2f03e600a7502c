//! hyper client → axum server → hyper client → axum server on 127.0.0.1: the deadline shrinks
//! hop by hop, and the innermost handler sees it.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use cancelable::Cancelable;
use cancelable::axum::{CancelableLayer, RequestCancelable};
use cancelable::propagation::{Propagate, PropagateLayer};
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, ServiceExt};

/// A hyper-util client that sends the caller's deadline.
pub(super) type HttpClient = Propagate<Client<HttpConnector, Empty<Bytes>>>;

pub(super) fn client() -> HttpClient {
    PropagateLayer::new().layer(Client::builder(TokioExecutor::new()).build_http())
}

/// GETs `url`; the body as text, or the error as text.
pub(super) async fn get_text(client: &HttpClient, url: &str, op: Option<Cancelable>) -> String {
    let mut request = Request::get(url).body(Empty::new()).unwrap();
    if let Some(op) = op {
        request.extensions_mut().insert(op);
    }
    match client.clone().oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            if status.is_success() {
                body
            } else {
                format!("{status}: {body}")
            }
        }
        Err(error) => format!("error: {error}"),
    }
}

/// Serves `app` on a free port of 127.0.0.1 until the test ends; its base URL.
pub(super) async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn millis(op: &Cancelable) -> u128 {
    op.remaining()
        .expect("the request has the caller's deadline")
        .as_millis()
}

/// A hop: reports its remaining time, waits `work`, then calls `next` (if any) and appends
/// its answer.
#[derive(Clone)]
struct Hop {
    next: Option<String>,
    client: HttpClient,
}

const WORK: Duration = Duration::from_millis(150);

async fn hop(State(hop): State<Hop>, RequestCancelable(op): RequestCancelable) -> String {
    let here = millis(&op);
    let Some(next) = hop.next else {
        return here.to_string();
    };
    tokio::time::sleep(WORK).await;
    // Inside the request's operation: the layer finds it with `Cancelable::current()`.
    let rest = get_text(&hop.client, &next, None).await;
    format!("{here} {rest}")
}

async fn chain() -> String {
    let client = client();
    let mut next = None;
    for _ in 0..2 {
        let app = Router::new()
            .route("/", get(hop))
            .with_state(Hop {
                next: next.take(),
                client: client.clone(),
            })
            .layer(CancelableLayer::new().accept_deadlines());
        next = Some(serve(app).await + "/");
    }
    next.unwrap()
}

#[tokio::test]
async fn the_deadline_shrinks_hop_by_hop() {
    let first = chain().await;
    let client = client();
    let op = Cancelable::with_timeout(Duration::from_secs(5));
    let answer = op
        .run(async {
            tokio::time::sleep(WORK).await;
            get_text(&client, &first, Some(op.clone())).await
        })
        .await
        .unwrap();
    let hops: Vec<u128> = answer
        .split(' ')
        .map(|ms| {
            ms.parse()
                .unwrap_or_else(|_| panic!("not a number: {answer}"))
        })
        .collect();
    let [outer, inner] = hops[..] else {
        panic!("two hops expected: {answer}")
    };
    let work = WORK.as_millis();
    // Generous bounds: real sockets, a loaded machine.
    assert!(outer <= 5000 - work, "{answer}");
    assert!(outer > 5000 - work - 1000, "{answer}");
    assert!(inner <= outer - work, "the inner hop got less: {answer}");
    assert!(inner > outer - work - 1000, "{answer}");
}

#[tokio::test]
async fn without_a_deadline_the_handler_has_none() {
    async fn remaining(RequestCancelable(op): RequestCancelable) -> String {
        format!("{:?}", op.remaining())
    }
    let app = Router::new()
        .route("/", get(remaining))
        .layer(CancelableLayer::new().accept_deadlines());
    let url = serve(app).await + "/";
    assert_eq!(get_text(&client(), &url, None).await, "None");
}

#[tokio::test]
async fn a_client_cannot_lengthen_the_servers_timeout() {
    async fn remaining(RequestCancelable(op): RequestCancelable) -> String {
        millis(&op).to_string()
    }
    let app = Router::new().route("/", get(remaining)).layer(
        CancelableLayer::new()
            .timeout(Duration::from_secs(1))
            .accept_deadlines(),
    );
    let url = serve(app).await + "/";
    let op = Cancelable::with_timeout(Duration::from_secs(60));
    let answer = op
        .run(get_text(&client(), &url, Some(op.clone())))
        .await
        .unwrap();
    let ms: u128 = answer.parse().unwrap();
    assert!(ms <= 1000, "{answer}");
}

#[tokio::test]
async fn a_cancelled_caller_stops_the_hops_behind_it_with_disconnect() {
    let (tx, mut hanging) = tokio::sync::mpsc::unbounded_channel();
    let inner = Router::new()
        .route(
            "/",
            get(move |RequestCancelable(op): RequestCancelable| {
                tx.send(op).unwrap();
                std::future::pending::<String>()
            }),
        )
        .layer(CancelableLayer::new().accept_deadlines());
    let inner = serve(inner).await + "/";
    let outer = Router::new()
        .route("/", get(hop))
        .with_state(Hop {
            next: Some(inner),
            client: client(),
        })
        .layer(CancelableLayer::new().accept_deadlines());
    let outer = serve(outer).await + "/";

    let op = Cancelable::with_timeout(Duration::from_secs(30));
    let call = tokio::spawn({
        let op = op.clone();
        async move { op.run(get_text(&client(), &outer, None)).await }
    });
    let handler = tokio::time::timeout(Duration::from_secs(10), hanging.recv())
        .await
        .expect("the call reached the inner hop")
        .unwrap();
    assert!(handler.remaining().unwrap() < Duration::from_secs(30) - WORK);
    op.cancel_with(cancelable::CancellationReason::Manual, "the user went away");
    assert!(call.await.unwrap().unwrap_err().is_manual());
    let stopped = async {
        while handler.status() == cancelable::OperationStatus::Running {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the inner hop stopped");
    assert_eq!(
        handler.reason(),
        Some(cancelable::CancellationReason::Disconnect)
    );
}
