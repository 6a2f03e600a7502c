//! Cancelable streams: pass-through, the end on cancellation, counting, progress, batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::test_util::registrations;
use cancelable::{
    Cancelable, CancellationReason, CancellationToken, OperationStatus, OwnedProgressEvent,
};
use futures::stream::{self, FusedStream, StreamExt};

use crate::poll_once;

/// A stream yielding 0, 1, 2, … every `period` of tokio time.
fn ticks(period: Duration) -> stream::BoxStream<'static, u64> {
    stream::unfold(0, move |n| async move {
        tokio::time::sleep(period).await;
        Some((n, n + 1))
    })
    .boxed()
}

fn progress_log(op: &Cancelable) -> Arc<Mutex<Vec<OwnedProgressEvent>>> {
    let log: Arc<Mutex<Vec<OwnedProgressEvent>>> = Arc::default();
    let sink = log.clone();
    op.on_progress(move |event| sink.lock().unwrap().push(event.to_owned()));
    log
}

#[tokio::test]
async fn items_pass_until_cancellation_then_one_err_then_the_end() {
    let token = CancellationToken::new();
    let op = Cancelable::with_token(token.clone()).named("reader");
    let mut items = op.stream(stream::iter(0..));
    assert_eq!(items.next().await, Some(Ok(0)));
    assert_eq!(items.next().await, Some(Ok(1)));
    assert!(!items.is_terminated());

    token.cancel_with(CancellationReason::Manual, "enough");
    let err = items.next().await.unwrap().unwrap_err();
    assert_eq!(err.message(), Some("enough"));
    assert_eq!(err.operation_name(), Some("reader"));
    assert_eq!(items.next().await, None);
    assert_eq!(items.next().await, None);
    assert!(items.is_terminated());
    assert_eq!(items.delivered(), 2);
    assert_eq!(op.context().items, Some(2));
    assert_eq!(op.context().exhausted, Some(false));
}

#[tokio::test]
async fn a_cancellation_wakes_a_pending_stream() {
    let op = Cancelable::new();
    let mut items = op.stream(stream::pending::<u8>());
    let waiter = tokio::spawn(async move { items.next().await });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    let remote = op.clone();
    std::thread::spawn(move || remote.cancel()).join().unwrap();
    assert!(waiter.await.unwrap().unwrap().unwrap_err().is_manual());
}

#[tokio::test]
async fn dropping_a_stream_releases_its_waker_registration() {
    let op = Cancelable::new();
    let mut items = op.stream(stream::pending::<u8>());
    assert!(poll_once(&mut items.next()).is_pending());
    assert_eq!(registrations(&op).1, 1);
    drop(items);
    assert_eq!(registrations(&op).1, 0);
}

#[tokio::test]
async fn report_every_reports_progress_with_the_count() {
    let op = Cancelable::new().named("tokens");
    let log = progress_log(&op);
    let count = op.stream(stream::iter(0..7)).report_every(3).count().await;
    assert_eq!(count, 7);
    let events = log.lock().unwrap().clone();
    let messages: Vec<_> = events.iter().map(|e| &*e.message).collect();
    assert_eq!(messages, ["processed 3 items", "processed 6 items"]);
    assert_eq!(
        events[1].metadata.as_ref(),
        Some(&serde_json::json!({ "items": 6 }))
    );
    assert_eq!(events[1].operation_name, "tokens");

    let quiet = Cancelable::new();
    let log = progress_log(&quiet);
    quiet.stream(stream::iter(0..7)).count().await;
    assert!(log.lock().unwrap().is_empty(), "no reports unless asked");
}

#[tokio::test]
async fn delivered_counts_this_streams_items_and_the_context_counts_all() {
    let op = Cancelable::new();
    let mut first = op.stream(stream::iter(['a', 'b', 'c']));
    let mut second = op.stream(stream::iter(['x']));
    assert_eq!(op.context().items, Some(0));
    first.next().await;
    first.next().await;
    second.next().await;
    assert_eq!((first.delivered(), second.delivered()), (2, 1));
    assert_eq!(op.context().items, Some(3));
    assert_eq!(Cancelable::new().context().items, None);
}

#[tokio::test(start_paused = true)]
async fn the_count_survives_the_body_being_dropped_by_a_timeout() {
    let op = Cancelable::with_timeout(Duration::from_millis(1050)).named("feed");
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let cancel = op.clone();
    let err = op
        .run(async move {
            let mut items = cancel.stream(ticks(Duration::from_millis(100)));
            while let Some(item) = items.next().await {
                item.unwrap();
                s.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let ctx = op.context();
    assert_eq!(seen.load(Ordering::SeqCst), 10);
    assert_eq!(ctx.items, Some(10));
    assert_eq!(ctx.exhausted, Some(false));
    assert_eq!(ctx.status, OperationStatus::Cancelled);
}

#[tokio::test]
async fn an_exhausted_stream_records_completion() {
    let op = Cancelable::new();
    let cancel = op.clone();
    let sum = op
        .run(async move {
            let items = cancel.stream(stream::iter(1..=4));
            items
                .map(Result::unwrap)
                .fold(0, |a, b| async move { a + b })
                .await
        })
        .await
        .unwrap();
    assert_eq!(sum, 10);
    let ctx = op.context();
    assert_eq!(ctx.items, Some(4));
    assert_eq!(ctx.exhausted, Some(true));
    assert_eq!(ctx.status, OperationStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn a_stream_inside_run_sees_cancellation_from_a_shielded_body() {
    let op = Cancelable::with_timeout(Duration::from_millis(250));
    let cancel = op.clone();
    let ended_with = Arc::new(Mutex::new((0, None)));
    let delivered = ended_with.clone();
    let err = op
        .run(async move {
            cancel
                .shield(async {
                    let mut items = cancel.stream(ticks(Duration::from_millis(100)));
                    while let Some(item) = items.next().await {
                        match item {
                            Ok(_) => delivered.lock().unwrap().0 += 1,
                            Err(err) => delivered.lock().unwrap().1 = Some(err.reason()),
                        }
                    }
                })
                .await;
            std::future::pending::<()>().await
        })
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        *ended_with.lock().unwrap(),
        (2, Some(CancellationReason::Timeout))
    );
}

#[tokio::test]
async fn stream_chunks_delivers_batches_with_progress_per_batch() {
    let op = Cancelable::new().named("ingest");
    let log = progress_log(&op);
    let mut batches = op.stream_chunks(stream::iter(1..=7), 3);
    let mut got = Vec::new();
    while let Some(batch) = batches.next().await {
        got.push(batch.unwrap());
    }
    assert_eq!(got, [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    assert_eq!(batches.delivered(), 7);
    assert!(batches.is_terminated());
    let log = log.lock().unwrap();
    let messages: Vec<_> = log.iter().map(|e| &*e.message).collect();
    assert_eq!(
        messages,
        [
            "batch 1 (3 items)",
            "batch 2 (6 items)",
            "batch 3 (7 items)"
        ]
    );
    assert_eq!(
        log[2].metadata.as_ref(),
        Some(&serde_json::json!({ "batch": 3, "items": 7 }))
    );
    assert_eq!(op.context().items, Some(7));
    assert_eq!(op.context().exhausted, Some(true));
}

#[tokio::test(start_paused = true)]
async fn stream_chunks_on_cancellation_yields_one_err_and_drops_the_partial_batch() {
    let op = Cancelable::new();
    let mut batches = op.stream_chunks(ticks(Duration::from_millis(10)), 4);
    assert_eq!(batches.next().await, Some(Ok(vec![0, 1, 2, 3])));
    let canceller = op.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(25)).await;
        canceller.cancel();
    });
    assert!(batches.next().await.unwrap().unwrap_err().is_manual());
    assert_eq!(batches.next().await, None);
    assert_eq!(batches.delivered(), 4);
    assert_eq!(op.context().items, Some(4));
}

#[test]
#[should_panic(expected = "batch size")]
fn stream_chunks_of_zero_panics() {
    let _ = Cancelable::new().stream_chunks(stream::iter([1]), 0);
}

#[tokio::test]
async fn a_stream_of_a_child_ends_when_the_parent_is_cancelled() {
    let parent = Cancelable::new();
    let child = parent.child();
    let mut items = child.stream(stream::iter(0..));
    assert_eq!(items.next().await, Some(Ok(0)));
    parent.cancel();
    assert!(items.next().await.unwrap().unwrap_err().is_parent());
    assert_eq!(items.next().await, None);
}
