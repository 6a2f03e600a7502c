//! `CancelationError`: display, io conversion, accessors.

use std::io;
use std::time::Duration;

use cancelable::{Cancelable, CancelationError, CancelationReason};

#[tokio::test(start_paused = true)]
async fn display_names_the_operation_reason_and_message() {
    let op = Cancelable::with_timeout(Duration::from_secs(30)).named("fetch_user");
    let err = op.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"operation "fetch_user" cancelled: timeout after 30s"#
    );
    assert_eq!(err.operation_name(), Some("fetch_user"));
    assert_eq!(err.operation_id(), Some(op.id()));

    let anonymous = CancelationError::new(CancelationReason::Manual, None);
    assert_eq!(anonymous.to_string(), "operation cancelled: manual");
}

#[test]
fn converts_into_io_error() {
    let timeout: io::Error = CancelationError::new(CancelationReason::Timeout, None).into();
    assert_eq!(timeout.kind(), io::ErrorKind::TimedOut);
    for reason in [
        CancelationReason::Manual,
        CancelationReason::Signal,
        CancelationReason::Condition,
        CancelationReason::Parent,
        CancelationReason::Disconnect,
    ] {
        let err: io::Error = CancelationError::new(reason, None).into();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "{reason}");
        let inner = err
            .into_inner()
            .unwrap()
            .downcast::<CancelationError>()
            .unwrap();
        assert_eq!(inner.reason(), reason);
    }
}

#[test]
fn reasons_serialize_lower_case() {
    assert_eq!(
        serde_json::to_string(&CancelationReason::Timeout).unwrap(),
        "\"timeout\""
    );
    assert_eq!(CancelationReason::Disconnect.to_string(), "disconnect");
    let back: CancelationReason = serde_json::from_str("\"signal\"").unwrap();
    assert_eq!(back, CancelationReason::Signal);
}

#[test]
fn errors_are_send_sync_static() {
    fn assert_traits<T: Clone + std::fmt::Debug + std::error::Error + Send + Sync + 'static>() {}
    assert_traits::<CancelationError>();
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Cancelable>();
    assert_handle::<cancelable::CancelationToken>();
}
