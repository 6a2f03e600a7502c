//! Join hooks: code told of every operation that joins a registry (the `cluster` feature's
//! sticky commands cancel operations that join after them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use slab::Slab;

use crate::operation::Cancelable;

/// Called with each operation that joins the registry (`cluster`: sticky commands cancel
/// operations that join after them).
///
/// It runs in `insert`, from `register_in` (`operation/build.rs`), after the shard lock is
/// released: it may read the operation's name and id and clone the handle, never lock, cancel
/// or call into the operation there, and it must take only leaf locks of its own.
pub(crate) type JoinHook = Arc<dyn Fn(&Cancelable) + Send + Sync>;

/// The join hooks, with a flag so that `insert` pays one load when there are none.
#[derive(Default)]
pub(super) struct JoinHooks {
    any: AtomicBool,
    hooks: Mutex<Slab<JoinHook>>,
}

impl JoinHooks {
    /// Calls every hook with `op`; one load when there are none.
    #[inline]
    pub(super) fn call(&self, op: &Cancelable) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let due: Vec<JoinHook> = self.hooks.lock().iter().map(|(_, h)| h.clone()).collect();
        for hook in due {
            hook(op);
        }
    }

    pub(super) fn add(&self, hook: JoinHook) -> usize {
        let mut hooks = self.hooks.lock();
        let key = hooks.insert(hook);
        self.any.store(true, Ordering::Release);
        key
    }

    pub(super) fn remove(&self, key: usize) {
        let mut hooks = self.hooks.lock();
        let removed = hooks.try_remove(key);
        self.any.store(!hooks.is_empty(), Ordering::Release);
        drop(hooks);
        drop(removed);
    }

    #[cfg(feature = "test-util")]
    pub(super) fn count(&self) -> usize {
        self.hooks.lock().len()
    }
}
