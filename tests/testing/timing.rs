//! `assert_times_out` and `assert_cancelled_within`: exact on the paused clock, and failing
//! with their documented messages.

use cancelable::testing::{assert_cancelled_within, assert_times_out};
use cancelable::{Cancelable, CancellationReason, CancellationToken};
use tokio::time::sleep;

use super::{ms, secs};

#[tokio::test(start_paused = true)]
async fn assert_times_out_passes_with_zero_tolerance() {
    let op = Cancelable::with_timeout(secs(1)).named("fetch");
    let err = assert_times_out(op.run(sleep(secs(60))), secs(1), secs(0)).await;
    assert!(err.is_timeout());
    assert_eq!(err.operation_name(), Some("fetch"));
}

#[tokio::test(start_paused = true)]
async fn assert_times_out_accepts_the_edges_of_its_tolerance() {
    let late = cancelable::with_timeout(ms(1100), sleep(secs(60)));
    assert_times_out(late, secs(1), ms(100)).await;
    let early = cancelable::with_timeout(ms(900), sleep(secs(60)));
    assert_times_out(early, secs(1), ms(100)).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected a timeout but the operation completed after 1s (asserted at \
                           tests/testing/timing.rs:"
)]
async fn assert_times_out_on_a_completing_future_panics() {
    let quick = cancelable::with_timeout(secs(5), sleep(secs(1)));
    assert_times_out(quick, secs(5), secs(0)).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timed out after 3s, expected 1s ± 100ms (asserted at")]
async fn assert_times_out_on_a_late_timeout_panics() {
    let slow = cancelable::with_timeout(secs(3), sleep(secs(60)));
    assert_times_out(slow, secs(1), ms(100)).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "timed out after 500ms, expected 1s ± 100ms")]
async fn assert_times_out_on_an_early_timeout_panics() {
    let fast = cancelable::with_timeout(ms(500), sleep(secs(60)));
    assert_times_out(fast, secs(1), ms(100)).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected a timeout but the operation was cancelled (manual) after 1s: \
                           operation cancelled: stop"
)]
async fn assert_times_out_on_another_cancellation_panics() {
    let token = CancellationToken::new();
    let op = Cancelable::with_timeout(secs(10)).combine(Cancelable::with_token(token.clone()));
    let stop = async {
        sleep(secs(1)).await;
        token.cancel_with(CancellationReason::Manual, "stop");
    };
    let (err, ()) = tokio::join!(
        assert_times_out(op.run(sleep(secs(60))), secs(1), secs(1)),
        stop
    );
    drop(err);
}

#[tokio::test(start_paused = true)]
async fn assert_cancelled_within_measures_at_the_cancel_not_at_the_end() {
    // The body goes on for 4 more seconds after the cancel; Python's helper measured here at
    // 5s and failed.
    let output = assert_cancelled_within(ms(900)..=ms(1100), async |token| {
        sleep(secs(1)).await;
        token.cancel();
        sleep(secs(4)).await;
        "done"
    })
    .await;
    assert_eq!(output, "done");
}

#[tokio::test(start_paused = true)]
async fn assert_cancelled_within_sees_a_cancel_made_through_an_operation_token() {
    assert_cancelled_within(secs(2)..=secs(2), async |token| {
        let op = Cancelable::with_token(&token);
        let _stop = token.schedule_cancel(secs(2), CancellationReason::Manual, "stop");
        let err = op.run(sleep(secs(60))).await.unwrap_err();
        assert_eq!(err.message(), Some("stop"));
    })
    .await;
    // A converted token counts too, as do open ranges.
    assert_cancelled_within(..secs(1), async |token| {
        let plain: CancellationToken = token.into();
        plain.cancel();
    })
    .await;
    assert_cancelled_within(secs(1).., async |token| {
        sleep(secs(3)).await;
        token.cancel();
    })
    .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(
    expected = "expected a cancellation within 900ms..=1.1s but none occurred (the body \
                           ended after 2s) (asserted at tests/testing/timing.rs:"
)]
async fn assert_cancelled_within_without_a_cancel_panics() {
    assert_cancelled_within(ms(900)..=ms(1100), async |_token| sleep(secs(2)).await).await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "cancelled too early: after 500ms, expected within 900ms..=1.1s")]
async fn assert_cancelled_within_on_an_early_cancel_panics() {
    assert_cancelled_within(ms(900)..=ms(1100), async |token| {
        sleep(ms(500)).await;
        token.cancel();
    })
    .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "cancelled too late: after 2s, expected within 900ms..=1.1s")]
async fn assert_cancelled_within_on_a_late_cancel_panics() {
    assert_cancelled_within(ms(900)..=ms(1100), async |token| {
        sleep(secs(2)).await;
        token.cancel();
    })
    .await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "cancelled too late: after 1s, expected within ..1s")]
async fn an_excluded_end_excludes_it() {
    assert_cancelled_within(..secs(1), async |token| {
        sleep(secs(1)).await;
        token.cancel();
    })
    .await;
}
