//! What triggers a shutdown, and what counts as a second trigger: signals, [`Shutdown::trigger`]
//! calls and the futures given to the builder.
//!
//! # Invariants
//!
//! 1. Signals and trigger calls both work by generations: a delivery (or a call) cancels the
//!    generation token its watchers follow and replaces it. After a trigger is handled, the
//!    watch follows the *current* generation, so everything that arrived before counts once.
//! 2. The signal subscriptions are taken when the watch is made and dropped with it: the
//!    listener stays installed, with no gap, from the start of `run` until Done.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use super::{Trigger, TriggerFuture};
use crate::error::{CancellationError, CancellationReason};
use crate::token::{CancellationToken, Cancelled};

/// Trigger calls waiting to be handled, and the generation their watcher follows.
#[derive(Debug, Default)]
pub(super) struct Requests(Mutex<(CancellationToken, VecDeque<String>)>);

impl Requests {
    fn lock(&self) -> MutexGuard<'_, (CancellationToken, VecDeque<String>)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn push(&self, message: String) {
        let generation = {
            let mut requests = self.lock();
            requests.1.push_back(message);
            std::mem::take(&mut requests.0)
        };
        generation.cancel();
    }

    fn follow(&self) -> Cancelled {
        self.lock().0.cancelled()
    }

    fn pop(&self) -> Option<String> {
        self.lock().1.pop_front()
    }
}

/// One trigger, as the shutdown handles it.
pub(super) struct Fired {
    pub(super) trigger: Trigger,
    /// What the root is cancelled with.
    pub(super) error: CancellationError,
    /// The signal that fired, to raise again on [`Escalation::Exit`](super::Escalation::Exit).
    #[cfg(all(unix, feature = "signal"))]
    pub(super) signal: Option<usize>,
}

/// Everything a running shutdown watches for triggers.
pub(super) struct Watch<'a> {
    requests: &'a Requests,
    calls: Cancelled,
    futures: Vec<TriggerFuture>,
    #[cfg(all(unix, feature = "signal"))]
    signals: Vec<SignalWatch>,
}

#[cfg(all(unix, feature = "signal"))]
struct SignalWatch {
    signal: crate::Signal,
    wait: Cancelled,
    subscription: crate::signal::listener::Subscription,
}

impl<'a> Watch<'a> {
    /// Subscribes to the signals (invariant 2).
    pub(super) fn new(
        requests: &'a Requests,
        futures: Vec<TriggerFuture>,
        #[cfg(all(unix, feature = "signal"))] signals: &[crate::Signal],
    ) -> Watch<'a> {
        Watch {
            requests,
            calls: requests.follow(),
            futures,
            #[cfg(all(unix, feature = "signal"))]
            signals: signals
                .iter()
                .filter_map(
                    |&signal| match crate::signal::listener::Subscription::new(signal) {
                        Ok(subscription) => Some(SignalWatch {
                            signal,
                            wait: subscription.token().cancelled(),
                            subscription,
                        }),
                        Err(error) => {
                            tracing::warn!(%signal, %error, "cannot listen for the signal");
                            None
                        }
                    },
                )
                .collect(),
        }
    }

    /// The next trigger.
    pub(super) fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<Fired> {
        #[cfg(all(unix, feature = "signal"))]
        for (index, watch) in self.signals.iter_mut().enumerate() {
            if Pin::new(&mut watch.wait).poll(cx).is_ready() {
                let error = watch
                    .subscription
                    .token()
                    .cancellation()
                    .unwrap_or_else(|| CancellationError::received(watch.signal));
                // Invariant 1: whatever arrived meanwhile is this one trigger.
                watch.subscription.renew();
                watch.wait = watch.subscription.token().cancelled();
                return Poll::Ready(Fired {
                    trigger: Trigger::Signal(watch.signal),
                    error,
                    signal: Some(index),
                });
            }
        }
        loop {
            if let Some(message) = self.requests.pop() {
                return Poll::Ready(self.fired(
                    Trigger::Manual(message.clone()),
                    CancellationError::new(CancellationReason::Manual).with_message(message),
                ));
            }
            if Pin::new(&mut self.calls).poll(cx).is_pending() {
                break;
            }
            self.calls = self.requests.follow();
        }
        let ready = self
            .futures
            .iter_mut()
            .position(|future| future.as_mut().poll(cx).is_ready());
        if let Some(index) = ready {
            drop(self.futures.swap_remove(index));
            return Poll::Ready(
                self.fired(
                    Trigger::Future,
                    CancellationError::new(CancellationReason::Manual)
                        .with_message("shutdown requested"),
                ),
            );
        }
        Poll::Pending
    }

    fn fired(&self, trigger: Trigger, error: CancellationError) -> Fired {
        Fired {
            trigger,
            error,
            #[cfg(all(unix, feature = "signal"))]
            signal: None,
        }
    }

    /// Gives up the listener of the signal that fired and raises it again (invariant 2 ends
    /// here, for that signal): with its default disposition, the process dies of it.
    #[cfg(all(unix, feature = "signal"))]
    pub(super) fn reraise(&mut self, fired: &Fired) {
        if let Some(index) = fired.signal {
            let watch = self.signals.swap_remove(index);
            drop(watch.wait);
            watch.subscription.reraise();
        }
    }
}
