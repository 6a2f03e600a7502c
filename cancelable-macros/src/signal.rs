//! Signal names: `"SIGTERM"`, `"TERM"`, `"sigterm"`.
//!
//! Checked at compile time against the signals a process can catch and that
//! `cancelable::Signal` models. Whether signals are available at all (the
//! `signal` feature, Unix) is decided by the runtime crate: a proc macro runs
//! on the host and cannot know.

use std::fmt;

use crate::suggest;

/// A signal that can cancel an operation: a variant of `cancelable::Signal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Int,
    Term,
    Hup,
    Quit,
    Usr1,
    Usr2,
}

impl Signal {
    const ALL: [Signal; 6] = [
        Signal::Int,
        Signal::Term,
        Signal::Hup,
        Signal::Quit,
        Signal::Usr1,
        Signal::Usr2,
    ];
    const NAMES: &[&str] = &[
        "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
    ];

    /// The conventional name, `SIGTERM`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
            Signal::Hup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }

    /// The variant of `cancelable::Signal`, `Term`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Signal::Int => "Int",
            Signal::Term => "Term",
            Signal::Hup => "Hup",
            Signal::Quit => "Quit",
            Signal::Usr1 => "Usr1",
            Signal::Usr2 => "Usr2",
        }
    }
}

/// POSIX signals that exist but are not cancellation sources.
const UNSUPPORTED: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CONT", "FPE", "ILL", "IO", "PIPE", "POLL", "PROF", "PWR",
    "SEGV", "SYS", "TRAP", "TSTP", "TTIN", "TTOU", "URG", "VTALRM", "WINCH", "XCPU", "XFSZ",
];

/// Why a signal name was rejected. `given` is the text as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignalError {
    /// `SIGKILL` or `SIGSTOP`.
    Uncatchable { given: String, name: &'static str },
    /// A real signal that is not a cancellation source, such as `SIGALRM`.
    Unsupported { given: String },
    Unknown {
        given: String,
        suggestion: Option<&'static str>,
    },
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = suggest::one_of(Signal::NAMES);
        match self {
            SignalError::Uncatchable { given, name } => {
                let effect = if *name == "SIGKILL" {
                    "kills"
                } else {
                    "suspends"
                };
                write!(
                    f,
                    "`{given}` cannot be caught (the OS {effect} the process without notice), \
                     so it cannot cancel an operation; use `SIGTERM` or `SIGINT`"
                )
            }
            SignalError::Unsupported { given } => {
                write!(
                    f,
                    "`{given}` is not supported as a cancellation source; expected {expected}"
                )
            }
            SignalError::Unknown {
                given,
                suggestion: Some(suggestion),
            } => {
                write!(f, "unknown signal `{given}`; did you mean `{suggestion}`?")
            }
            SignalError::Unknown {
                given,
                suggestion: None,
            } => {
                write!(f, "unknown signal `{given}`; expected {expected}")
            }
        }
    }
}

/// Parses one signal name: with or without the `SIG` prefix, in any case.
pub(crate) fn parse(given: &str) -> Result<Signal, SignalError> {
    let upper = given.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(signal) = Signal::ALL
        .into_iter()
        .find(|signal| &signal.name()[3..] == bare)
    {
        return Ok(signal);
    }
    match bare {
        "KILL" => Err(SignalError::Uncatchable {
            given: given.to_owned(),
            name: "SIGKILL",
        }),
        "STOP" => Err(SignalError::Uncatchable {
            given: given.to_owned(),
            name: "SIGSTOP",
        }),
        _ if UNSUPPORTED.contains(&bare) => Err(SignalError::Unsupported {
            given: given.to_owned(),
        }),
        _ => {
            let bare_names = Signal::ALL.map(|signal| &signal.name()[3..]);
            let suggestion = suggest::did_you_mean(bare, &bare_names).and_then(|bare| {
                Signal::NAMES
                    .iter()
                    .copied()
                    .find(|name| &name[3..] == bare)
            });
            Err(SignalError::Unknown {
                given: given.to_owned(),
                suggestion,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runtime's `Signal` pins the same names in the same order in its own test
    /// (`cancelable/src/signal.rs`): a signal added on one side only fails one of the two.
    #[test]
    fn the_six_names_the_runtime_knows() {
        assert_eq!(
            Signal::ALL.map(Signal::name),
            [
                "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"
            ]
        );
        assert_eq!(Signal::NAMES, Signal::ALL.map(Signal::name));
    }

    #[test]
    fn accepted_spellings() {
        for (text, signal) in [
            ("SIGINT", Signal::Int),
            ("SIGTERM", Signal::Term),
            ("TERM", Signal::Term),
            ("sigterm", Signal::Term),
            ("term", Signal::Term),
            ("SigHup", Signal::Hup),
            ("SIGQUIT", Signal::Quit),
            ("usr1", Signal::Usr1),
            ("SIGUSR2", Signal::Usr2),
        ] {
            assert_eq!(parse(text), Ok(signal), "{text}");
        }
    }

    #[test]
    fn uncatchable() {
        assert_eq!(
            parse("SIGKILL"),
            Err(SignalError::Uncatchable {
                given: "SIGKILL".into(),
                name: "SIGKILL"
            })
        );
        assert_eq!(
            parse("stop"),
            Err(SignalError::Uncatchable {
                given: "stop".into(),
                name: "SIGSTOP"
            })
        );
        assert!(
            parse("KILL")
                .unwrap_err()
                .to_string()
                .contains("cannot be caught")
        );
    }

    #[test]
    fn unknown_and_unsupported() {
        assert_eq!(
            parse("SIGTREM"),
            Err(SignalError::Unknown {
                given: "SIGTREM".into(),
                suggestion: Some("SIGTERM")
            })
        );
        assert_eq!(
            parse("SIGINTR"),
            Err(SignalError::Unknown {
                given: "SIGINTR".into(),
                suggestion: Some("SIGINT")
            })
        );
        assert_eq!(
            parse("SIGFOO"),
            Err(SignalError::Unknown {
                given: "SIGFOO".into(),
                suggestion: None
            })
        );
        assert_eq!(
            parse("SIGALRM"),
            Err(SignalError::Unsupported {
                given: "SIGALRM".into()
            })
        );
        assert_eq!(
            parse("SIGFOO").unwrap_err().to_string(),
            "unknown signal `SIGFOO`; expected `SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1` or `SIGUSR2`"
        );
        assert_eq!(
            parse("sigtrem").unwrap_err().to_string(),
            "unknown signal `sigtrem`; did you mean `SIGTERM`?"
        );
    }
}
