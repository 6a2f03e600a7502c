//! `CancellationError`: display, io conversion, accessors.

use std::io;
use std::time::Duration;

use cancelable::{Cancelable, CancellationError, CancellationReason};

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

    let anonymous = CancellationError::new(CancellationReason::Manual);
    assert_eq!(anonymous.to_string(), "operation cancelled: manual");
}

#[test]
fn converts_into_io_error() {
    let timeout: io::Error = CancellationError::new(CancellationReason::Timeout).into();
    assert_eq!(timeout.kind(), io::ErrorKind::TimedOut);
    for reason in [
        CancellationReason::Manual,
        CancellationReason::Signal,
        CancellationReason::Condition,
        CancellationReason::Parent,
        CancellationReason::Disconnect,
    ] {
        let err: io::Error = CancellationError::new(reason).into();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted, "{reason}");
        let inner = err
            .into_inner()
            .unwrap()
            .downcast::<CancellationError>()
            .unwrap();
        assert_eq!(inner.reason(), reason);
    }
}

#[test]
fn reasons_serialize_lower_case() {
    assert_eq!(
        serde_json::to_string(&CancellationReason::Timeout).unwrap(),
        "\"timeout\""
    );
    assert_eq!(CancellationReason::Disconnect.to_string(), "disconnect");
    let back: CancellationReason = serde_json::from_str("\"signal\"").unwrap();
    assert_eq!(back, CancellationReason::Signal);
}

#[test]
fn errors_are_send_sync_static() {
    fn assert_traits<T: Clone + std::fmt::Debug + std::error::Error + Send + Sync + 'static>() {}
    assert_traits::<CancellationError>();
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Cancelable>();
    assert_handle::<cancelable::CancellationToken>();
}
