//! Progress reports and their listeners.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cancelable::{Cancelable, OperationRegistry, OwnedProgressEvent};

use crate::capture::tracing_lock;

#[test]
fn progress_reaches_listeners_in_order_with_the_event_fields() {
    let events: Arc<Mutex<Vec<(usize, OwnedProgressEvent)>>> = Arc::default();
    let op = Cancelable::new().named("import").operation_id("import-1");
    for listener in 0..2 {
        let events = events.clone();
        op.on_progress(move |event| events.lock().unwrap().push((listener, event.to_owned())));
    }
    let before = SystemTime::now();
    op.report_progress("starting");
    op.report_progress_with("rows", serde_json::json!({ "rows": 1200 }));
    let after = SystemTime::now();

    let events = events.lock().unwrap();
    let order: Vec<_> = events
        .iter()
        .map(|(l, e)| format!("{l}:{}", e.message))
        .collect();
    assert_eq!(order, ["0:starting", "1:starting", "0:rows", "1:rows"]);
    let (_, last) = &events[3];
    assert_eq!(last.operation_id, "import-1");
    assert_eq!(last.operation_name, "import");
    assert_eq!(last.metadata, Some(serde_json::json!({ "rows": 1200 })));
    assert_eq!(events[0].1.metadata, None);
    assert!(before <= last.at && last.at <= after);
}

#[test]
fn report_progress_without_listeners_does_not_allocate() {
    let _lock = tracing_lock();
    tracing::callsite::rebuild_interest_cache();
    let op = Cancelable::new();
    op.report_progress("warm up");

    let quiet = allocation_counter::measure(|| {
        for _ in 0..100 {
            op.report_progress("tick");
            op.report_progress_with("tick", serde_json::Value::Null);
        }
    });
    assert_eq!(quiet.count_total, 0);

    let owned = allocation_counter::measure(|| op.report_progress(format!("tick {}", 1)));
    assert!(
        owned.count_total > 0,
        "the check above can fail: a formatted message allocates"
    );
}

#[test]
fn a_report_to_a_listener_borrows_and_does_not_allocate() {
    let _lock = tracing_lock();
    tracing::callsite::rebuild_interest_cache();
    let op = Cancelable::new().named("import");
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    op.on_progress(move |event| {
        h.fetch_add(
            event.message.len() + event.operation_name.len(),
            Ordering::Relaxed,
        );
    });
    op.report_progress("warm up");

    let reports = allocation_counter::measure(|| {
        for _ in 0..100 {
            op.report_progress("tick");
        }
    });
    assert_eq!(reports.count_total, 0);
    assert_eq!(heard.load(Ordering::Relaxed), 13 + 100 * 10);
}

#[test]
fn a_registered_operation_keeps_its_last_message_in_one_buffer() {
    let _lock = tracing_lock();
    tracing::callsite::rebuild_interest_cache();
    let registry = OperationRegistry::new();
    let op = Cancelable::new().register_in(&registry);
    op.report_progress("row 1200 of 5000");
    let again = allocation_counter::measure(|| op.report_progress("row 2400 of 5000"));
    assert_eq!(
        again.count_total, 0,
        "the buffer of the previous message is reused"
    );
    assert_eq!(
        registry.list()[0].progress.as_deref(),
        Some("row 2400 of 5000")
    );
    op.report_progress("done");
    assert_eq!(op.context().progress.as_deref(), Some("done"));
}

#[test]
fn the_time_is_read_once_per_report_and_fixed_by_to_owned() {
    let times: Arc<Mutex<Vec<SystemTime>>> = Arc::default();
    let kept: Arc<Mutex<Vec<OwnedProgressEvent>>> = Arc::default();
    let op = Cancelable::new();
    let (t, k) = (times.clone(), kept.clone());
    op.on_progress(move |event| {
        t.lock().unwrap().push(event.at());
        k.lock().unwrap().push(event.to_owned());
    });
    let t = times.clone();
    op.on_progress(move |event| t.lock().unwrap().push(event.at()));
    op.report_progress("one");
    std::thread::sleep(std::time::Duration::from_millis(2));
    op.report_progress("two");

    let times = times.lock().unwrap();
    assert_eq!(
        times[0], times[1],
        "both listeners see the time of the report"
    );
    assert_eq!(times[2], times[3]);
    assert!(times[0] < times[2], "each report has its own time");
    let kept = kept.lock().unwrap();
    assert_eq!(kept[0].at, times[0]);
    assert_eq!(kept[1].message, "two");
    let json = serde_json::to_value(&kept[1]).unwrap();
    let back: OwnedProgressEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, kept[1]);
}

#[test]
fn a_listener_can_add_a_listener_which_hears_the_next_report() {
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let op = Cancelable::new();
    let (h, inner) = (heard.clone(), op.clone());
    op.on_progress(move |event| {
        h.lock().unwrap().push(format!("first: {}", event.message));
        if event.message == "one" {
            let h = h.clone();
            inner.on_progress(move |event| {
                h.lock().unwrap().push(format!("second: {}", event.message))
            });
        }
    });
    op.report_progress("one");
    op.report_progress("two");
    assert_eq!(
        *heard.lock().unwrap(),
        ["first: one", "first: two", "second: two"]
    );
}

#[test]
fn listeners_added_from_threads_while_others_report_are_each_called_once_in_order() {
    const ADDERS: usize = 4;
    const PER_ADDER: usize = 40;
    const REPORTS: usize = 150;
    let op = Cancelable::new();
    let heard: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let start = std::sync::Barrier::new(ADDERS + 2);
    std::thread::scope(|threads| {
        for adder in 0..ADDERS {
            let (op, heard, start) = (&op, &heard, &start);
            threads.spawn(move || {
                start.wait();
                for n in 0..PER_ADDER {
                    let (heard, id) = (heard.clone(), adder * PER_ADDER + n);
                    op.on_progress(move |event| {
                        heard.lock().unwrap().push((event.message.to_owned(), id));
                    });
                }
            });
        }
        for reporter in 0..2 {
            let (op, start) = (&op, &start);
            threads.spawn(move || {
                start.wait();
                for n in 0..REPORTS {
                    op.report_progress(format!("{reporter}-{n}"));
                }
            });
        }
    });
    op.report_progress("last");

    let heard = heard.lock().unwrap();
    let called = |message: &str| -> Vec<usize> {
        heard
            .iter()
            .filter(|(m, _)| m == message)
            .map(|&(_, id)| id)
            .collect()
    };
    let last = called("last");
    assert_eq!(last.len(), ADDERS * PER_ADDER, "every listener, once");
    for adder in 0..ADDERS {
        let own: Vec<_> = last.iter().filter(|&&id| id / PER_ADDER == adder).collect();
        assert!(
            own.is_sorted(),
            "an adder's listeners in its order: {own:?}"
        );
    }
    for reporter in 0..2 {
        for n in 0..REPORTS {
            let report = called(&format!("{reporter}-{n}"));
            assert_eq!(
                report,
                last[..report.len()],
                "a report calls the listeners added before it began, in order"
            );
        }
    }
}

#[test]
fn a_panicking_listener_is_contained_with_no_subscriber() {
    let op = Cancelable::new();
    op.on_progress(|event| assert_ne!(event.message, "boom", "listener exploded"));
    op.report_progress("boom");
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    op.on_progress(move |_| {
        h.fetch_add(1, Ordering::Relaxed);
    });
    op.report_progress("boom");
    op.report_progress("fine");
    assert_eq!(heard.load(Ordering::Relaxed), 2);
}

#[test]
fn combine_hands_the_listeners_on_and_keeps_the_lists_apart() {
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = |label: &'static str| {
        let heard = heard.clone();
        move |event: &cancelable::ProgressEvent<'_>| {
            let line = format!("{label}: {} {}", event.operation_name, event.message);
            heard.lock().unwrap().push(line);
        }
    };
    let op = Cancelable::new().named("first");
    op.on_progress(listener("a"));
    let before = op.clone();
    let combined = op.combine(Cancelable::new());
    combined.on_progress(listener("b"));
    combined.report_progress("combined");
    before.on_progress(listener("c"));
    before.report_progress("before");
    assert_eq!(
        *heard.lock().unwrap(),
        [
            "a: first combined",
            "b: first combined",
            "a: first before",
            "c: first before"
        ]
    );
}

#[test]
fn a_long_list_of_listeners_is_dropped_without_recursion() {
    let op = Cancelable::new();
    let heard = Arc::new(AtomicUsize::new(0));
    for _ in 0..20_000 {
        let heard = heard.clone();
        op.on_progress(move |_| {
            heard.fetch_add(1, Ordering::Relaxed);
        });
    }
    op.report_progress("all");
    assert_eq!(heard.load(Ordering::Relaxed), 20_000);
    drop(op);
    assert_eq!(Arc::strong_count(&heard), 1, "every listener dropped");
}
