//! Stand-ins for the two helpers the ported tests import from `futures-test` and `tokio-test`,
//! with the same behaviour: a waker that counts its wake-ups, and `Poll` assertions.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};

/// `futures_test::task::new_count_waker`: a waker and the count of its wake-ups (`wake` and
/// `wake_by_ref` both count; clones share the count).
pub(crate) fn new_count_waker() -> (Waker, AwokenCount) {
    let inner = Arc::new(WakeCounter {
        count: AtomicUsize::new(0),
    });
    (Waker::from(inner.clone()), AwokenCount { inner })
}

/// `futures_test::task::AwokenCount`: compares equal to a `usize`.
pub(crate) struct AwokenCount {
    inner: Arc<WakeCounter>,
}

impl AwokenCount {
    pub(crate) fn get(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }
}

impl PartialEq<usize> for AwokenCount {
    fn eq(&self, other: &usize) -> bool {
        self.get() == *other
    }
}

impl fmt::Debug for AwokenCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwokenCount")
            .field("count", &self.get())
            .finish()
    }
}

struct WakeCounter {
    count: AtomicUsize,
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

/// `tokio_test::assert_pending!`: panics unless the `Poll` is `Pending`.
macro_rules! assert_pending {
    ($e:expr) => {{
        match $e {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(v) => panic!("ready; value = {:?}", v),
        }
    }};
}

/// `tokio_test::assert_ready_eq!`: panics unless the `Poll` is `Ready` with the given value.
macro_rules! assert_ready_eq {
    ($e:expr, $expect:expr) => {{
        match $e {
            ::std::task::Poll::Ready(v) => assert_eq!(v, $expect),
            ::std::task::Poll::Pending => panic!("pending"),
        }
    }};
}

pub(crate) use {assert_pending, assert_ready_eq};

#[test]
fn the_count_waker_counts_every_wake() {
    let (waker, count) = new_count_waker();
    assert_eq!(count, 0);
    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    assert_eq!(count, 2);
    assert_pending!(std::task::Poll::<()>::Pending);
    assert_ready_eq!(std::task::Poll::Ready(3), 3);
}
