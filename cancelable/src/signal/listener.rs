//! The process-wide listener behind [`Signal`] sources: one per signal, shared by every
//! operation listening to it, removed when the last one stops.
//!
//! # Invariants
//!
//! 1. `LISTENERS[signal.index()]` holds an entry exactly while at least one [`Subscription`] for it
//!    is alive. The entry owns the `signal-hook` registration (through the iterator's
//!    [`Handle`]) and one thread blocked on its deliveries.
//! 2. A delivery cancels the entry's current `generation` token and replaces it with a fresh
//!    one, under the lock: every subscription taken before the delivery sees it, none taken after.
//! 3. `IDLE[signal]` is `true` exactly while no entry exists. When the disposition before our
//!    first registration was the default action, a permanent `signal-hook` action re-enacts that
//!    default while `IDLE` is `true`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;

use signal_hook::iterator::{Handle, Signals};

use super::Signal;
use crate::error::CancellationError;
use crate::token::CancellationToken;

struct Listener {
    subscribers: usize,
    generation: CancellationToken,
    handle: Handle,
}

static LISTENERS: Mutex<[Option<Listener>; Signal::ALL.len()]> =
    Mutex::new([const { None }; Signal::ALL.len()]);

/// Per signal: `Some(flag)` once we know its first disposition; the flag is `IDLE`.
static DEFAULT_EMULATION: [OnceLock<Option<Arc<AtomicBool>>>; Signal::ALL.len()] =
    [const { OnceLock::new() }; Signal::ALL.len()];

fn listeners() -> MutexGuard<'static, [Option<Listener>; Signal::ALL.len()]> {
    LISTENERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// An operation's interest in one signal. Dropping it may remove the listener.
#[derive(Debug)]
pub(crate) struct Subscription {
    signal: Signal,
    token: CancellationToken,
}

impl Subscription {
    /// Subscribes to `signal`, installing the listener if nobody listens yet.
    pub(crate) fn new(signal: Signal) -> std::io::Result<Subscription> {
        let mut listeners = listeners();
        let entry = &mut listeners[signal.index()];
        if let Some(listener) = entry {
            listener.subscribers += 1;
            return Ok(Subscription {
                signal,
                token: listener.generation.clone(),
            });
        }
        let emulation = DEFAULT_EMULATION[signal.index()].get_or_init(|| default_emulation(signal));
        // Stop re-enacting the default action before our listener can see a delivery.
        let set_idle = |idle: bool| {
            if let Some(flag) = &emulation {
                flag.store(idle, Ordering::SeqCst);
            }
        };
        set_idle(false);
        let handle = Signals::new([signal.number()]).and_then(|mut signals| {
            let handle = signals.handle();
            thread::Builder::new()
                .name(format!("cancelable-{}", signal.name().to_ascii_lowercase()))
                .spawn(move || {
                    for _ in signals.forever() {
                        deliver(signal);
                    }
                })?;
            Ok(handle)
        });
        let handle = handle.inspect_err(|_| set_idle(true))?;
        let generation = CancellationToken::new();
        *entry = Some(Listener {
            subscribers: 1,
            generation: generation.clone(),
            handle,
        });
        Ok(Subscription {
            signal,
            token: generation,
        })
    }

    /// Cancelled (reason `Signal`) when the signal arrives.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Follows the current generation from now on, keeping the listener installed: the
    /// deliveries seen so far, however many, count as one (invariant 2).
    pub(crate) fn renew(&mut self) {
        let listeners = listeners();
        if let Some(listener) = &listeners[self.signal.index()] {
            self.token = listener.generation.clone();
        }
    }

    /// Gives up this subscription and delivers `signal` to the process again, as if nobody had
    /// listened: with its default disposition, the process dies of it.
    pub(crate) fn reraise(self) -> ! {
        let signal = self.signal;
        drop(self);
        let default = matches!(DEFAULT_EMULATION[signal.index()].get(), Some(Some(_)));
        if default {
            signal_hook::low_level::emulate_default_handler(signal.number())
                .expect("cannot reset a signal to its default action");
        } else {
            let _ = signal_hook::low_level::raise(signal.number());
        }
        // A handler of the program's own caught it and returned, or the default is to
        // ignore: there is no dying of the signal; exit as a shell reports a signal.
        std::process::exit(128 + signal.number());
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut listeners = listeners();
        let entry = &mut listeners[self.signal.index()];
        let Some(listener) = entry else {
            return;
        };
        listener.subscribers -= 1;
        if listener.subscribers > 0 {
            return;
        }
        if let Some(listener) = entry.take() {
            if let Some(Some(idle)) = DEFAULT_EMULATION[self.signal.index()].get() {
                idle.store(true, Ordering::SeqCst);
            }
            // Ends the thread's `forever()` and, with it, the `signal-hook` registration.
            listener.handle.close();
        }
    }
}

fn deliver(signal: Signal) {
    let token = {
        let mut listeners = listeners();
        let Some(listener) = &mut listeners[signal.index()] else {
            return;
        };
        std::mem::take(&mut listener.generation)
    };
    token.cancel_error(CancellationError::received(signal));
}

/// When `signal` has its default disposition now, arms a permanent action that re-enacts it
/// while nobody listens; returns that action's "nobody listens" flag.
fn default_emulation(signal: Signal) -> Option<Arc<AtomicBool>> {
    if !has_default_disposition(signal) {
        return None;
    }
    let idle = Arc::new(AtomicBool::new(true));
    match signal_hook::flag::register_conditional_default(signal.number(), idle.clone()) {
        Ok(_) => Some(idle),
        Err(error) => {
            tracing::warn!(%signal, %error, "cannot re-enact the default action of the signal");
            None
        }
    }
}

/// Whether `signal` is neither ignored nor caught by this process right now.
///
/// Read from `/proc/self/status` (`SigIgn`, `SigCgt`); where that is unavailable, assumes the
/// default, which is what a process starts with.
fn has_default_disposition(signal: Signal) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return true;
    };
    let bit = 1u64 << (signal.number() - 1);
    let mask = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0)
    };
    (mask("SigIgn:") | mask("SigCgt:")) & bit == 0
}

/// How many listeners are installed right now (for leak tests).
#[cfg(feature = "test-util")]
pub(crate) fn installed() -> usize {
    listeners().iter().flatten().count()
}
