//! `slow_stream` and `sample_operation`.

use cancelable::testing::{EventKind, OperationRecorder, sample_operation, slow_stream};
use cancelable::{Cancelable, CancellationToken, OperationStatus};
use futures::StreamExt;
use tokio::time::Instant;

use super::{ms, secs};

#[tokio::test(start_paused = true)]
async fn the_first_item_comes_at_once_then_one_per_delay_and_the_end_at_once() {
    let start = Instant::now();
    let mut items = slow_stream(["a", "b", "c"], ms(100));
    let mut seen = Vec::new();
    while let Some(item) = items.next().await {
        seen.push((item, start.elapsed()));
    }
    assert_eq!(seen, [("a", ms(0)), ("b", ms(100)), ("c", ms(200))]);
    assert_eq!(start.elapsed(), ms(200), "no delay after the last item");
    assert_eq!(items.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn an_empty_slow_stream_ends_at_once() {
    let mut items = slow_stream(Vec::<u8>::new(), secs(1));
    let start = Instant::now();
    assert_eq!(items.next().await, None);
    assert_eq!(start.elapsed(), ms(0));
}

#[tokio::test(start_paused = true)]
async fn a_cancel_during_a_delay_ends_the_cancelable_stream_at_once() {
    let token = CancellationToken::new();
    let op = Cancelable::with_token(token.clone());
    let mut items = op.stream(slow_stream(0.., secs(1)));
    assert_eq!(items.next().await, Some(Ok(0)));
    assert_eq!(items.next().await, Some(Ok(1)));
    let stop = tokio::spawn(async move {
        tokio::time::sleep(ms(300)).await;
        token.cancel();
    });
    let start = Instant::now();
    assert!(items.next().await.unwrap().unwrap_err().is_manual());
    assert_eq!(start.elapsed(), ms(300));
    assert_eq!(items.next().await, None);
    assert_eq!(items.delivered(), 2);
    stop.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sample_operation_reports_three_times_and_succeeds() {
    let recorder = OperationRecorder::new();
    let op = recorder.attach(&Cancelable::new().operation_id("sample"));
    let output = op.run(sample_operation(&op, secs(1))).await.unwrap();
    assert_eq!(output, "success");
    let reports: Vec<_> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Progress { message, .. } => Some((e.at, message)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reports,
        [
            (ms(0), "Operation started".to_owned()),
            (ms(500), "Operation 50% complete".to_owned()),
            (ms(1000), "Operation completed".to_owned()),
        ]
    );
    recorder.assert_final_status("sample", OperationStatus::Completed);
}
