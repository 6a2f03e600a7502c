//! Progress reports and their listeners.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cancelable::{Cancelable, ProgressEvent};

use crate::capture::tracing_lock;

#[test]
fn progress_reaches_listeners_in_order_with_the_event_fields() {
    let events: Arc<Mutex<Vec<(usize, ProgressEvent)>>> = Arc::default();
    let op = Cancelable::new().named("import").operation_id("import-1");
    for listener in 0..2 {
        let events = events.clone();
        op.on_progress(move |event| events.lock().unwrap().push((listener, event.clone())));
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

    op.on_progress(|_| {});
    let heard = allocation_counter::measure(|| op.report_progress("tick"));
    assert!(
        heard.count_total > 0,
        "the check above can fail: a listener makes it allocate"
    );
}
