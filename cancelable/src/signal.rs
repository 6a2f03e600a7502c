//! OS signals as a source of cancellation.
//!
//! [`Signal`] names the catchable signals. With the `signal` feature (on by default, Unix only),
//! [`Cancelable::with_signal`](crate::Cancelable::with_signal) cancels an operation when the
//! process receives one of them.
//!
//! Without an operation, [`Signal::wait`] waits for one and
//! [`CancellationToken::on_signals`](crate::CancellationToken::on_signals) turns them into a
//! token, on the same listeners.
//!
//! How deliveries reach operations, and what "the previous disposition is back" means, is
//! documented on [`Signal`].

use std::fmt;
use std::str::FromStr;

#[cfg(all(unix, feature = "signal"))]
pub(crate) mod listener;
#[cfg(all(unix, feature = "signal"))]
mod wait;

#[cfg(all(unix, feature = "signal"))]
pub use wait::SignalWait;

/// A catchable OS signal.
///
/// `SIGKILL` and `SIGSTOP` cannot be caught and are not listed.
///
///
///
/// There is one process-wide listener per signal, shared by every operation waiting on it: the
/// first operation to listen installs it (through `signal-hook`) and starts one small OS thread
/// that turns deliveries into a cancel of a shared token; the `run` of every listening operation
/// waits on that token beside its body (no link, no task) and cancels its operation when woken,
/// before polling the body again. When the last listening operation ends, the listener is
/// removed, its thread ends, and the signal's previous disposition is back: a program that no
/// longer listens for `SIGINT` dies on Ctrl+C again.
///
/// `signal-hook` cannot uninstall the process's handler once installed, so "back" works like
/// this: when `cancelable` first listens to a signal, it reads the signal's disposition (from
/// `/proc/self/status` on Linux). If it was the default action, a permanent `signal-hook` action
/// re-enacts the default action whenever nobody listens. If the signal was ignored or already
/// handled (say by your own `signal-hook` or raw handler installed *before*), that handler keeps
/// running, chained, and nothing is re-enacted. A handler installed through `signal-hook` or
/// `tokio::signal` *after* `cancelable` first listened is not seen: install yours first.
///
/// # Examples
///
/// ```
/// use cancelable::Signal;
///
/// assert_eq!("SIGTERM".parse::<Signal>().unwrap(), Signal::Term);
/// assert_eq!("term".parse::<Signal>().unwrap(), Signal::Term);
/// assert_eq!(Signal::Int.to_string(), "SIGINT");
/// let err = "SIGKILL".parse::<Signal>().unwrap_err();
/// assert!(err.to_string().contains("cannot be caught"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGINT`: Ctrl+C.
    Int,
    /// `SIGTERM`: the polite request to stop.
    Term,
    /// `SIGHUP`: the terminal went away (often: reload).
    Hup,
    /// `SIGQUIT`: Ctrl+\.
    Quit,
    /// `SIGUSR1`.
    Usr1,
    /// `SIGUSR2`.
    Usr2,
}

impl Signal {
    /// Every signal this crate can listen to.
    pub const ALL: [Signal; 6] = [
        Signal::Int,
        Signal::Term,
        Signal::Hup,
        Signal::Quit,
        Signal::Usr1,
        Signal::Usr2,
    ];

    /// The conventional name, e.g. `"SIGTERM"`.
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
            Signal::Hup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }

    /// This signal's position in [`Signal::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The signal number on this platform.
    #[cfg(all(unix, feature = "signal"))]
    pub fn number(self) -> i32 {
        use signal_hook::consts::signal as s;
        match self {
            Signal::Int => s::SIGINT,
            Signal::Term => s::SIGTERM,
            Signal::Hup => s::SIGHUP,
            Signal::Quit => s::SIGQUIT,
            Signal::Usr1 => s::SIGUSR1,
            Signal::Usr2 => s::SIGUSR2,
        }
    }
}

/// A set of signals, one bit per [`Signal::index`]: what an operation listens to.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SignalSet(u8);

impl SignalSet {
    pub(crate) fn insert(&mut self, signal: Signal) {
        self.0 |= 1 << signal.index();
    }

    pub(crate) fn union(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 | other.0)
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = Signal> {
        Signal::ALL
            .into_iter()
            .filter(move |signal| self.0 & (1 << signal.index()) != 0)
    }
}

impl FromIterator<Signal> for SignalSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(signals: I) -> Self {
        let mut set = SignalSet::default();
        for signal in signals {
            set.insert(signal);
        }
        set
    }
}

impl fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Signal {
    /// As its name: `"SIGTERM"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A string that names no catchable [`Signal`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSignalError {
    input: String,
}

impl fmt::Display for ParseSignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let upper = self.input.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if matches!(bare, "KILL" | "STOP") {
            write!(
                f,
                "SIG{bare} cannot be caught, so it cannot cancel an operation; "
            )?;
        } else {
            write!(f, "unknown signal {:?}; ", self.input)?;
        }
        f.write_str("expected one of SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2")
    }
}

impl std::error::Error for ParseSignalError {}

impl FromStr for Signal {
    type Err = ParseSignalError;

    /// Accepts `"SIGTERM"`, `"TERM"` and `"sigterm"` alike.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        Signal::ALL
            .into_iter()
            .find(|signal| &signal.name()[3..] == bare)
            .ok_or_else(|| ParseSignalError {
                input: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all_and_a_set_keeps_each_signal_once() {
        for (position, signal) in Signal::ALL.into_iter().enumerate() {
            assert_eq!(signal.index(), position, "{signal}");
        }
        let set: SignalSet = [Signal::Usr2, Signal::Int, Signal::Usr2]
            .into_iter()
            .collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::Int, Signal::Usr2]);
        assert!(SignalSet::default().is_empty());
        let both = set.union([Signal::Term].into_iter().collect());
        assert_eq!(both.iter().count(), 3);
    }

    /// The macro crate keeps its own copy of this list (a proc-macro crate cannot use the
    /// runtime's types) and pins the same names in the same order in its own test: a signal
    /// added on one side only fails one of the two.
    #[test]
    fn the_six_names_the_macros_accept() {
        let names = Signal::ALL.map(Signal::name);
        assert_eq!(
            names,
            [
                "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"
            ]
        );
    }
}
