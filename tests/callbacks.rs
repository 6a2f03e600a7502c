//! Lifecycle callbacks: `on_start`, then exactly one of `on_completed`, `on_cancelled`,
//! `on_failed`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cancelable::{Cancelable, OperationContext, OperationStatus};
use tokio::time::sleep;
use tracing::Level;

use crate::capture::Capture;
use crate::poll_once;

/// A log of callback calls, as `label:status`.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn hook(&self, label: &'static str) -> impl Fn(&OperationContext) + Send + Sync + 'static {
        let calls = self.0.clone();
        move |ctx| {
            calls
                .lock()
                .unwrap()
                .push(format!("{label}:{}", ctx.status))
        }
    }

    fn register_all(&self, op: &Cancelable) {
        op.on_start(self.hook("start"))
            .on_completed(self.hook("complete"))
            .on_cancelled(self.hook("cancel"))
            .on_failed(self.hook("error"));
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::test]
async fn completion_fires_start_then_complete_in_registration_order() {
    let calls = Calls::default();
    let op = Cancelable::new().named("sync");
    calls.register_all(&op);
    op.on_completed(calls.hook("complete-2"));
    let ended = Arc::new(Mutex::new(None));
    let e = ended.clone();
    op.on_completed(move |ctx| *e.lock().unwrap() = Some(ctx.ended_at.is_some()));

    assert_eq!(op.run(async { 1 }).await, Ok(1));
    assert_eq!(
        calls.take(),
        [
            "start:running",
            "complete:completed",
            "complete-2:completed"
        ]
    );
    assert_eq!(*ended.lock().unwrap(), Some(true));
}

#[tokio::test(start_paused = true)]
async fn cancellation_fires_only_on_cancel_after_reason_and_message_are_recorded() {
    let calls = Calls::default();
    let op = Cancelable::with_timeout(Duration::from_secs(1)).named("slow");
    calls.register_all(&op);
    let seen = Arc::new(Mutex::new(None));
    let (s, handle) = (seen.clone(), op.clone());
    op.on_cancelled(move |ctx| {
        *s.lock().unwrap() = Some((ctx.reason, ctx.message.clone(), handle.status()));
    });

    let err = op.run(sleep(Duration::from_secs(5))).await.unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(calls.take(), ["start:running", "cancel:cancelled"]);
    let (reason, message, status) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(reason, Some(cancelable::CancellationReason::Timeout));
    assert_eq!(message.as_deref(), Some("timeout after 1s"));
    assert_eq!(status, OperationStatus::Cancelled);
}

#[tokio::test]
async fn an_err_from_try_run_fires_only_on_error_with_its_text() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    let error = Arc::new(Mutex::new(None));
    let e = error.clone();
    op.on_failed(move |ctx| *e.lock().unwrap() = ctx.failure.clone());

    let result: Result<(), std::io::Error> = op
        .try_run(async { Err(std::io::Error::other("disk full")) })
        .await;
    assert!(result.is_err());
    assert_eq!(calls.take(), ["start:running", "error:failed"]);
    assert_eq!(error.lock().unwrap().as_deref(), Some("disk full"));
}

#[tokio::test]
async fn a_panic_fires_on_error_and_still_propagates() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    let task = tokio::spawn({
        let op = op.clone();
        async move { op.run(async { panic!("exploded") }).await }
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(calls.take(), ["start:running", "error:failed"]);
}

#[tokio::test]
async fn a_dropped_run_future_fires_on_cancel() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    let message = Arc::new(Mutex::new(None));
    let m = message.clone();
    op.on_cancelled(move |ctx| *m.lock().unwrap() = ctx.message.clone());

    let mut run = Box::pin(op.run(std::future::pending::<()>()));
    assert!(poll_once(&mut run).is_pending());
    drop(run);
    assert_eq!(calls.take(), ["start:running", "cancel:cancelled"]);
    assert!(
        message
            .lock()
            .unwrap()
            .as_deref()
            .unwrap()
            .contains("dropped")
    );
}

#[tokio::test]
async fn cancel_before_run_fires_start_then_cancel() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    op.cancel();
    op.run(async {}).await.unwrap_err();
    assert_eq!(calls.take(), ["start:running", "cancel:cancelled"]);
}

#[tokio::test]
async fn callbacks_registered_during_the_run_fire() {
    let calls = Calls::default();
    let op = Cancelable::new();
    let c = calls.clone();
    op.run(async move {
        let current = Cancelable::current().unwrap();
        current.on_completed(c.hook("complete"));
        current.on_start(c.hook("late-start"));
    })
    .await
    .unwrap();
    assert_eq!(calls.take(), ["late-start:running", "complete:completed"]);
}

#[tokio::test]
async fn callbacks_registered_after_the_end_run_at_once_only_if_they_match() {
    let calls = Calls::default();
    let op = Cancelable::new();
    op.run(async {}).await.unwrap();
    calls.register_all(&op);
    assert_eq!(calls.take(), ["start:completed", "complete:completed"]);
}

#[tokio::test]
async fn callbacks_registered_before_start_wait_for_it() {
    let calls = Calls::default();
    let op = Cancelable::new();
    calls.register_all(&op);
    assert!(calls.take().is_empty());
    drop(op);
    assert!(calls.take().is_empty());
}

#[test]
fn no_callback_is_lost_when_registrations_race_the_completion() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut lost = 0;
    for _ in 0..3_000 {
        let op = Cancelable::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let registrar = std::thread::spawn({
            let (op, fired, barrier) = (op.clone(), fired.clone(), barrier.clone());
            move || {
                barrier.wait();
                let mut registered = 0;
                loop {
                    let fired = fired.clone();
                    op.on_completed(move |_| {
                        fired.fetch_add(1, Ordering::SeqCst);
                    });
                    registered += 1;
                    if op.status().is_finished() {
                        return registered;
                    }
                }
            }
        });
        barrier.wait();
        runtime.block_on(op.run(async {})).unwrap();
        let registered = registrar.join().unwrap();
        lost += registered - fired.load(Ordering::SeqCst);
    }
    assert_eq!(lost, 0, "every on_completed registered runs exactly once");
}

#[test]
fn exactly_one_ending_callback_fires_when_registration_races_the_end() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for round in 0..200 {
        let op = Cancelable::new();
        let fired = Arc::new(AtomicUsize::new(0));
        let task = runtime.spawn({
            let op = op.clone();
            async move { op.run(tokio::task::yield_now()).await }
        });
        let registrar = std::thread::spawn({
            let (op, fired) = (op.clone(), fired.clone());
            move || {
                for _ in 0..3 {
                    let (a, b, c) = (fired.clone(), fired.clone(), fired.clone());
                    op.on_completed(move |_| {
                        a.fetch_add(1, Ordering::SeqCst);
                    });
                    op.on_cancelled(move |_| {
                        b.fetch_add(1, Ordering::SeqCst);
                    });
                    op.on_failed(move |_| {
                        c.fetch_add(1, Ordering::SeqCst);
                    });
                }
            }
        });
        if round % 2 == 0 {
            op.cancel();
        }
        registrar.join().unwrap();
        let _ = runtime.block_on(task).unwrap();
        assert_eq!(
            fired.load(Ordering::SeqCst),
            3,
            "round {round}: one ending, three callbacks"
        );
    }
}

#[tokio::test]
async fn a_panicking_callback_is_contained_logged_and_changes_nothing() {
    let (capture, _guard) = Capture::install();
    let calls = Calls::default();
    let op = Cancelable::new().named("fragile");
    op.on_completed(|_| panic!("callback exploded"));
    op.on_completed(calls.hook("complete"));
    op.on_progress(|_| panic!("listener exploded"));
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    op.on_progress(move |_| {
        h.fetch_add(1, Ordering::SeqCst);
    });

    let result = op
        .run(async {
            Cancelable::current().unwrap().report_progress("step");
            5
        })
        .await;
    assert_eq!(result, Ok(5));
    assert_eq!(op.status(), OperationStatus::Completed);
    assert_eq!(calls.take(), ["complete:completed"]);
    assert_eq!(heard.load(Ordering::SeqCst), 1);

    let errors: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|e| e.level == Level::ERROR)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].fields["panic"], "listener exploded");
    assert_eq!(errors[0].fields["callback"], "on_progress");
    assert_eq!(errors[1].fields["panic"], "callback exploded");
    assert_eq!(errors[1].fields["callback"], "on_completed");
}
