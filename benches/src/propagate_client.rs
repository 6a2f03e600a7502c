//! The cost of `PropagateLayer` per call, beside the bare client: a `tower::service_fn`
//! transport that answers at once, so the difference is the layer alone (finding the
//! operation, reading its deadline, writing the header, binding the call to the operation).
//!
//! ```text
//! cargo run --release -p cancelable-bench --bin propagate-client [CALLS]
//! ```

use std::future::ready;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cancelable::Cancelable;
use cancelable::propagation::PropagateLayer;
use http::{Request, Response};
use tower::{Layer, Service};

/// `n` calls through `client`; the time per call in nanoseconds.
async fn per_call<S>(client: &mut S, n: u32) -> f64
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: std::fmt::Debug,
{
    let start = Instant::now();
    for _ in 0..n {
        let response = client.call(Request::new(())).await.unwrap();
        black_box(response);
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(n)
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let transport = tower::service_fn(|_: Request<()>| {
        ready(Ok::<_, std::convert::Infallible>(Response::new(())))
    });
    let mut bare = transport;
    let mut layered = PropagateLayer::new().layer(transport);

    let (bare_ns, deadline_ns, plain_ns, none_ns) = rt.block_on(async {
        let mut runs = [vec![], vec![], vec![], vec![]];
        for _ in 0..7 {
            runs[0].push(per_call(&mut bare, n).await);
            let op = Cancelable::with_timeout(Duration::from_secs(3600));
            runs[1].push(op.run(per_call(&mut layered, n)).await.unwrap());
            let op = Cancelable::new();
            runs[2].push(op.run(per_call(&mut layered, n)).await.unwrap());
            runs[3].push(per_call(&mut layered, n).await);
        }
        let [a, b, c, d] = runs;
        (median(a), median(b), median(c), median(d))
    });
    println!("{:<44} {:>9}", "case", "ns/call");
    println!("{:<44} {bare_ns:>9.1}", "bare service_fn");
    println!(
        "{:<44} {deadline_ns:>9.1}   (+{:.1})",
        "layer, operation with a deadline (header)",
        deadline_ns - bare_ns
    );
    println!(
        "{:<44} {plain_ns:>9.1}   (+{:.1})",
        "layer, operation without a deadline",
        plain_ns - bare_ns
    );
    println!(
        "{:<44} {none_ns:>9.1}   (+{:.1})",
        "layer, no operation (pass through)",
        none_ns - bare_ns
    );
}
