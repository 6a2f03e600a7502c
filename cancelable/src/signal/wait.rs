//! Signals without an operation: [`Signal::wait`] and [`CancellationToken::on_signals`], on the
//! same shared listeners as [`Cancelable::with_signal`](crate::Cancelable::with_signal).
//!
//! # Invariants
//!
//! 1. A wait or a token holds one subscription per signal, and only while a delivery can still
//!    matter to it: a wait gives them back when it resolves or is dropped, a token when it is
//!    cancelled (by a delivery or by anyone) or its last handle is dropped. The last
//!    subscription given back removes the listener, and the signal's previous disposition is
//!    back (see [`Signal`]).
//! 2. Nothing is spawned and nothing is logged: abandoning a wait is silent, and no operation
//!    exists to be reported as cancelled.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Signal;
use super::listener::Subscription;
use crate::token::{CancellationToken, Cancelled};

impl Signal {
    /// Listens for the first of `signals` now and returns a future that resolves to the one that
    /// arrived. The listener is shared with every operation and token that listens to the same
    /// signal; when the future resolves or is dropped and nobody else listens, the signal's
    /// previous disposition is back.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty list; the OS error when a listener cannot be installed.
    ///
    /// ```rust,standalone_crate
    /// use cancelable::Signal;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let wait = Signal::wait([Signal::Usr1, Signal::Usr2])?;
    /// // Stands in for `kill -USR2 <pid>`.
    /// signal_hook::low_level::raise(signal_hook::consts::SIGUSR2)?;
    /// let signal = wait.await;
    /// assert_eq!(signal, Signal::Usr2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancellation safety
    ///
    /// Dropping the [`SignalWait`] stops listening; a delivery that arrived before is lost with
    /// it. Listening starts when `wait` returns, not at the first poll.
    pub fn wait(signals: impl IntoIterator<Item = Signal>) -> io::Result<SignalWait> {
        let watches = subscribe(signals)?
            .into_iter()
            .map(|(signal, subscription)| Watch {
                signal,
                arrived: subscription.token().cancelled(),
                _subscription: subscription,
            })
            .collect();
        Ok(SignalWait { watches })
    }
}

impl CancellationToken {
    /// A token cancelled when the process receives one of `signals`, with reason `Signal`, the
    /// message `received signal SIGTERM` and [`CancellationError::signal`] set. It listens
    /// through the shared listeners until it is cancelled or its last handle is dropped; the
    /// signal's previous disposition is then back (a second Ctrl+C after the first is handled
    /// as if nobody listened).
    ///
    /// [`CancellationError::signal`]: crate::CancellationError::signal
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an empty list; the OS error when a listener cannot be installed.
    ///
    /// ```
    /// use cancelable::{CancellationToken, Signal};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let stop = CancellationToken::on_signals([Signal::Int, Signal::Term])?;
    /// let worker = tokio::spawn({
    ///     let stop = stop.clone();
    ///     async move { stop.run_until_cancelled(std::future::pending::<()>()).await }
    /// });
    /// stop.cancel(); // what Ctrl+C would do, with reason `Signal`
    /// assert!(worker.await.unwrap().is_none());
    /// let exit_code = match stop.cancellation().and_then(|err| err.signal()) {
    ///     Some(signal) => 128 + signal.number(),
    ///     None => 1,
    /// };
    /// # assert_eq!(exit_code, 1);
    /// # Ok(()) }
    /// ```
    pub fn on_signals(signals: impl IntoIterator<Item = Signal>) -> io::Result<CancellationToken> {
        let subscriptions = subscribe(signals)?;
        let token = CancellationToken::new();
        for (_, subscription) in &subscriptions {
            token.follow_forwarding(subscription.token());
        }
        token.on_cancel(move |_| drop(subscriptions));
        Ok(token)
    }
}

fn subscribe(signals: impl IntoIterator<Item = Signal>) -> io::Result<Vec<(Signal, Subscription)>> {
    let mut subscriptions: Vec<(Signal, Subscription)> = Vec::new();
    for signal in signals {
        if subscriptions.iter().all(|(taken, _)| *taken != signal) {
            subscriptions.push((signal, Subscription::new(signal)?));
        }
    }
    if subscriptions.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no signal to wait for: name at least one",
        ));
    }
    Ok(subscriptions)
}

struct Watch {
    signal: Signal,
    arrived: Cancelled,
    _subscription: Subscription,
}

/// The future returned by [`Signal::wait`]: the first of its signals to arrive.
#[must_use = "futures do nothing unless polled"]
pub struct SignalWait {
    watches: Vec<Watch>,
}

impl Future for SignalWait {
    type Output = Signal;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Signal> {
        for watch in &mut self.watches {
            if Pin::new(&mut watch.arrived).poll(cx).is_ready() {
                let signal = watch.signal;
                self.watches.clear();
                return Poll::Ready(signal);
            }
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for SignalWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.watches.iter().map(|w| w.signal))
            .finish()
    }
}
