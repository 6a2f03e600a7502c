//! The table of options. Everything the macros know about an option is in its
//! row: which macros take it, how its value is read and where it is stored,
//! what to show in a message, whether it is a source of cancellation.

use darling::Error;
use proc_macro2::Span;
use syn::{Expr, LitStr, Path};

use super::value::{self, Value};
use super::{Context, DurationOption, Options, SignalOption};

/// One option, as the macros accept it.
pub(crate) struct OptionSpec {
    /// The word before `=`.
    pub(crate) name: &'static str,
    /// How the value is read, and the field of [`Options`] it fills.
    pub(crate) kind: Kind,
    /// The option written out, for the messages that show how to fix it.
    pub(crate) example: &'static str,
    /// Cancels the operation when it fires: `cancel_combine!` needs at least one.
    pub(crate) is_source: bool,
    pub(crate) scope: Scope,
    /// An option without which this one has no effect; leaving it out is an
    /// error on this one, which is then dropped.
    pub(crate) requires: Option<&'static str>,
}

/// Which macros take an option. Each scope is wider than the next:
/// `#[cancelable]` takes every option, `shielded!` only those of [`Scope::Every`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Scope {
    /// All three macros.
    Every,
    /// `#[cancelable]` and `cancel_combine!`: what the operation is cancelled
    /// by and called. `shielded!` takes an operation that has them already.
    Operation,
    /// `#[cancelable]` only: something done with the operation once built.
    /// `cancel_combine!` returns the `Cancelable`, and its method of the same
    /// name does it; the error for the option says so.
    Attribute,
}

/// Where an option's value is stored.
type Slot<T> = fn(&mut Options) -> &mut Option<T>;

/// What an option's value is. Each kind has one reader in [`value`], which
/// owns the messages about a malformed value.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A duration: a string literal greater than zero (`"30s"`), or an expression of type
    /// `Duration`.
    Duration(Slot<DurationOption>),
    /// A signal name, or an array of them.
    Signals(Slot<SignalOption>),
    /// A string literal that is not empty.
    Name(Slot<LitStr>),
    /// Any expression; the expansion evaluates it when the function is called.
    Expr(Slot<Expr>),
    /// The name alone, no value.
    Flag(Slot<Span>),
    /// A path, quoted or not.
    Path(Slot<Path>),
}

/// Every option, in the order the docs list them.
pub(crate) const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "timeout",
        kind: Kind::Duration(|options| &mut options.timeout),
        example: "timeout = \"30s\"",
        is_source: true,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "signal",
        kind: Kind::Signals(|options| &mut options.signal),
        example: "signal = \"SIGTERM\"",
        is_source: true,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "name",
        kind: Kind::Name(|options| &mut options.name),
        example: "name = \"fetch_user\"",
        is_source: false,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "token",
        kind: Kind::Expr(|options| &mut options.token),
        example: "token = self.shutdown.clone()",
        is_source: true,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "condition",
        kind: Kind::Expr(|options| &mut options.condition),
        example: "condition = move || done.load(Ordering::Relaxed)",
        is_source: true,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "check_interval",
        kind: Kind::Duration(|options| &mut options.check_interval),
        example: "check_interval = \"100ms\"",
        is_source: false,
        scope: Scope::Operation,
        requires: Some("condition"),
    },
    OptionSpec {
        name: "grace",
        kind: Kind::Duration(|options| &mut options.grace),
        example: "grace = \"5s\"",
        is_source: false,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "parent",
        kind: Kind::Expr(|options| &mut options.parent),
        example: "parent = &outer",
        is_source: false,
        scope: Scope::Operation,
        requires: None,
    },
    OptionSpec {
        name: "register",
        kind: Kind::Flag(|options| &mut options.register),
        example: "register",
        is_source: false,
        scope: Scope::Attribute,
        requires: None,
    },
    OptionSpec {
        name: "crate",
        kind: Kind::Path(|options| &mut options.krate),
        example: "crate = \"my_crate::cancelable\"",
        is_source: false,
        scope: Scope::Every,
        requires: None,
    },
];

/// The option called `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|spec| spec.name == name)
}

impl OptionSpec {
    /// How the option reads in a list of them: an expression's example is too
    /// particular there, so it shows as `token = …`.
    pub(crate) fn form(&self) -> String {
        match self.kind {
            Kind::Expr(_) => format!("{} = …", self.name),
            _ => self.example.to_owned(),
        }
    }

    /// Checks `value` and stores it in `options`; a rejected value leaves the
    /// field empty.
    pub(crate) fn read(
        &self,
        path: &Path,
        value: Value<'_>,
        options: &mut Options,
    ) -> Result<(), Error> {
        match self.kind {
            Kind::Duration(slot) => *slot(options) = Some(value::duration(self, path, value)?),
            Kind::Signals(slot) => *slot(options) = Some(value::signals(self, path, value)?),
            Kind::Name(slot) => *slot(options) = Some(value::name(self, path, value)?),
            Kind::Expr(slot) => *slot(options) = Some(value::expr(self, path, value)?.clone()),
            Kind::Flag(slot) => *slot(options) = Some(value::flag(self, path, value)?),
            Kind::Path(slot) => *slot(options) = Some(value::path(self, path, value)?),
        }
        Ok(())
    }

    /// Forgets the option's value, as if it had not been written.
    pub(crate) fn clear(&self, options: &mut Options) {
        match self.kind {
            Kind::Duration(slot) => *slot(options) = None,
            Kind::Signals(slot) => *slot(options) = None,
            Kind::Name(slot) => *slot(options) = None,
            Kind::Expr(slot) => *slot(options) = None,
            Kind::Flag(slot) => *slot(options) = None,
            Kind::Path(slot) => *slot(options) = None,
        }
    }
}

impl Context {
    pub(crate) fn accepts(self, spec: &OptionSpec) -> bool {
        match self {
            Context::Attribute => true,
            Context::Combine => spec.scope != Scope::Attribute,
            Context::Shield => spec.scope == Scope::Every,
        }
    }

    /// The names of the options this macro takes, in table order.
    pub(crate) fn names(self) -> Vec<&'static str> {
        OPTIONS
            .iter()
            .filter(|spec| self.accepts(spec))
            .map(|spec| spec.name)
            .collect()
    }

    /// The error for an option of the table that this macro does not take.
    pub(crate) fn refusal(self, spec: &OptionSpec) -> String {
        let name = spec.name;
        match self {
            Context::Combine => format!(
                "`{name}` is not an option of `cancel_combine!`; call `.{name}()` on the `Cancelable` it returns"
            ),
            Context::Shield => format!(
                "`{name}` is not an option of `shielded!`; set it on the operation being shielded"
            ),
            Context::Attribute => format!("`{name}` is not an option of `#[cancelable]`"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = include_str!("../lib.rs");

    /// `docs` from `start` up to `end`.
    fn section<'a>(docs: &'a str, start: &str, end: &str) -> &'a str {
        let from = docs.find(start).expect(start);
        let to = from + docs[from..].find(end).expect(end);
        &docs[from..to]
    }

    #[test]
    fn names_are_unique_and_requirements_exist() {
        for (i, spec) in OPTIONS.iter().enumerate() {
            assert!(
                OPTIONS[..i].iter().all(|other| other.name != spec.name),
                "{}",
                spec.name
            );
            assert!(spec.example.starts_with(spec.name), "{}", spec.example);
            if let Some(required) = spec.requires {
                assert!(lookup(required).is_some(), "{required}");
            }
        }
    }

    #[test]
    fn the_attribute_docs_list_every_option_in_order() {
        let table = section(LIB, "/// | option | value | meaning |", "///\n");
        let rows: Vec<&str> = table
            .lines()
            .filter_map(|line| line.strip_prefix("/// | `"))
            .filter_map(|row| row.split('`').next())
            .collect();
        let names: Vec<&str> = OPTIONS.iter().map(|spec| spec.name).collect();
        assert_eq!(rows, names);
    }

    #[test]
    fn the_macro_docs_name_the_options_they_take() {
        let combine = section(LIB, "/// Combines sources", "pub fn cancel_combine");
        let shield = section(LIB, "/// Runs a block to completion", "pub fn shielded");
        for spec in OPTIONS {
            let written = format!("`{}`", spec.name);
            assert_eq!(
                combine.contains(&written),
                Context::Combine.accepts(spec),
                "`cancel_combine!` docs and {written}"
            );
            if Context::Shield.accepts(spec) {
                assert!(shield.contains(&written), "`shielded!` docs and {written}");
            }
        }
    }
}
