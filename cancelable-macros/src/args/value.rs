//! Reading an option's value, one reader per [`Kind`](super::table::Kind).
//!
//! A reader rejects a malformed value with an error on the offending token
//! that shows the option's example.

use darling::Error;
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, LitStr, Path};

use super::table::OptionSpec;
use super::{DurationOption, DurationValue, SignalOption};
use crate::signal;
use crate::{duration, ungroup};

/// What follows an option's name.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    /// `register`
    Word,
    /// `timeout("30s")`
    List,
    /// `timeout = "30s"`
    Expr(&'a Expr),
    /// `token = pub(crate)`: not an expression; darling kept the parse error.
    Invalid(&'a Error),
}

/// The value of a `key = value` option.
pub(super) fn expr<'a>(
    spec: &OptionSpec,
    path: &Path,
    value: Value<'a>,
) -> Result<&'a Expr, Error> {
    let OptionSpec { name, example, .. } = spec;
    match value {
        Value::Expr(expr) => Ok(expr),
        Value::Word => {
            Err(Error::custom(format!("`{name}` needs a value: `{example}`")).with_span(path))
        }
        Value::List => Err(Error::custom(format!(
            "`{name}` takes its value after `=`: `{example}`"
        ))
        .with_span(path)),
        Value::Invalid(error) => Err(error.clone()),
    }
}

/// The string literal of a `key = "value"` option.
fn string(spec: &OptionSpec, path: &Path, value: Value<'_>) -> Result<LitStr, Error> {
    match ungroup::expr(expr(spec, path, value)?) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit.clone()),
        other => Err(Error::custom(format!(
            "`{}` expects a string literal: `{}`",
            spec.name, spec.example
        ))
        .with_span(other)),
    }
}

pub(super) fn flag(spec: &OptionSpec, path: &Path, value: Value<'_>) -> Result<Span, Error> {
    let name = spec.name;
    let message = format!("`{name}` is a flag and takes no value; write `{name}` alone");
    match value {
        Value::Word => Ok(path.span()),
        Value::Expr(expr) => Err(Error::custom(message).with_span(expr)),
        Value::List | Value::Invalid(_) => Err(Error::custom(message).with_span(path)),
    }
}

/// A duration: a string literal, checked here, or any other expression, which the expansion
/// requires to be a `Duration`. Other literals are rejected: a number has no unit.
pub(super) fn duration(
    spec: &OptionSpec,
    path: &Path,
    value: Value<'_>,
) -> Result<DurationOption, Error> {
    let expr = expr(spec, path, value)?;
    let value = match ungroup::expr(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => DurationValue::Millis(duration_literal(spec, lit)?),
        Expr::Lit(ExprLit { lit, .. }) => return Err(not_a_duration(spec, lit)),
        _ => DurationValue::Expr(Box::new(expr.clone())),
    };
    Ok(DurationOption {
        value,
        key: path.span(),
    })
}

fn duration_literal(spec: &OptionSpec, lit: &LitStr) -> Result<u64, Error> {
    let text = lit.value();
    duration::parse(&text).map_err(|error| {
        let message = match error {
            duration::DurationError::Zero => {
                format!("`{}` must be greater than zero, found `{text}`", spec.name)
            }
            error if error.wants_forms() => {
                format!("invalid duration `{text}`: {error}; {}", duration::EXPECTED)
            }
            error => format!("invalid duration `{text}`: {error}"),
        };
        Error::custom(message).with_span(lit)
    })
}

/// The error for `timeout = 30`, `timeout = 1.5`, `timeout = true`.
fn not_a_duration(spec: &OptionSpec, lit: &Lit) -> Error {
    let name = spec.name;
    let message = match lit {
        Lit::Int(int) if int.suffix().is_empty() => {
            let n = int.base10_digits();
            format!(
                "`{name}` needs a unit: `{name} = \"{n}s\"` or `{name} = \"{n}ms\"`, or an expression of type `Duration`"
            )
        }
        _ => format!(
            "`{name}` expects a duration: a string literal such as `{}` or an expression of type `Duration`",
            spec.example
        ),
    };
    Error::custom(message).with_span(lit)
}

pub(super) fn signals(
    spec: &OptionSpec,
    path: &Path,
    value: Value<'_>,
) -> Result<SignalOption, Error> {
    const EXPECTED: &str = "`signal` expects a signal name or a list of them: `signal = \"SIGTERM\"` or `signal = [\"SIGINT\", \"SIGTERM\"]`";

    let literals: Vec<&Expr> = match ungroup::expr(expr(spec, path, value)?) {
        Expr::Array(array) if array.elems.is_empty() => {
            return Err(Error::custom(EXPECTED).with_span(array));
        }
        Expr::Array(array) => array.elems.iter().collect(),
        single => vec![single],
    };

    let mut errors = Error::accumulator();
    let mut signals = Vec::new();
    for literal in literals {
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = ungroup::expr(literal)
        else {
            errors.push(Error::custom(EXPECTED).with_span(literal));
            continue;
        };
        match signal::parse(&lit.value()) {
            Ok(signal) if signals.contains(&signal) => {
                errors.push(
                    Error::custom(format!("`{}` is listed twice", signal.name())).with_span(lit),
                );
            }
            Ok(signal) => signals.push(signal),
            Err(error) => errors.push(Error::custom(error).with_span(lit)),
        }
    }
    errors.finish_with(SignalOption {
        signals,
        key: path.span(),
    })
}

pub(super) fn name(spec: &OptionSpec, path: &Path, value: Value<'_>) -> Result<LitStr, Error> {
    let lit = string(spec, path, value)?;
    if lit.value().is_empty() {
        return Err(Error::custom("the operation name must not be empty").with_span(&lit));
    }
    Ok(lit)
}

/// `crate = "path"`, also accepted unquoted: `crate = my_crate::cancelable`.
pub(super) fn path(spec: &OptionSpec, path: &Path, value: Value<'_>) -> Result<Path, Error> {
    match ungroup::expr(expr(spec, path, value)?) {
        Expr::Path(expr) if expr.qself.is_none() && expr.attrs.is_empty() => Ok(expr.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.parse::<Path>().map_err(|_| {
            Error::custom(format!(
                "`{}` is not a path; expected the path of the `cancelable` crate: `{}`",
                lit.value(),
                spec.example
            ))
            .with_span(lit)
        }),
        other => Err(Error::custom(format!(
            "`{}` expects a path: `{}`",
            spec.name, spec.example
        ))
        .with_span(other)),
    }
}
