//! The options of `#[cancelable(...)]`, also accepted by `cancel_combine!(...)`.
//!
//! Parsing is split in two: darling's `NestedMeta` reads the `key = value`
//! syntax, then [`Options::from_items`] checks every option against the table
//! below. Validation never stops at the first error: every problem is pushed to
//! the accumulator with the span of the offending token, and an option whose
//! value is rejected is left out, so the caller can still expand as if it had
//! not been written.

use darling::Error;
use darling::ast::NestedMeta;
use darling::error::Accumulator;
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, LitStr, Meta, Path};

use crate::signal::{self, Signal};
use crate::{duration, suggest};

/// Every option of `#[cancelable]`, in the order the docs list them.
pub(crate) const ATTRIBUTE_OPTIONS: &[&str] = &[
    "timeout",
    "signal",
    "name",
    "token",
    "condition",
    "check_interval",
    "parent",
    "register",
    "crate",
];

/// The options of `cancel_combine!`: `register` is a flag, not `key = value`.
pub(crate) const COMBINE_OPTIONS: &[&str] = &[
    "timeout",
    "signal",
    "name",
    "token",
    "condition",
    "check_interval",
    "parent",
    "crate",
];

/// Which macro the options belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    Attribute,
    Combine,
}

impl Context {
    fn options(self) -> &'static [&'static str] {
        match self {
            Context::Attribute => ATTRIBUTE_OPTIONS,
            Context::Combine => COMBINE_OPTIONS,
        }
    }
}

/// `timeout = "…"` or `check_interval = "…"`, checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DurationOption {
    pub(crate) millis: u64,
    /// The option's name, where code generated for it is spanned.
    pub(crate) key: Span,
}

/// `signal = "…"` or `signal = ["…", …]`, checked.
#[derive(Clone, Debug)]
pub(crate) struct SignalOption {
    pub(crate) signals: Vec<Signal>,
    pub(crate) key: Span,
}

/// The options that passed validation.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) timeout: Option<DurationOption>,
    pub(crate) signal: Option<SignalOption>,
    pub(crate) name: Option<LitStr>,
    pub(crate) token: Option<Expr>,
    pub(crate) condition: Option<Expr>,
    pub(crate) check_interval: Option<DurationOption>,
    pub(crate) parent: Option<Expr>,
    pub(crate) register: Option<Span>,
    pub(crate) krate: Option<Path>,
}

/// What follows an option's name.
#[derive(Clone, Copy)]
enum Value<'a> {
    /// `register`
    Word,
    /// `timeout("30s")`
    List,
    /// `timeout = "30s"`
    Expr(&'a Expr),
    /// `token = pub(crate)`: not an expression; darling kept the parse error.
    Invalid(&'a Error),
}

impl Options {
    /// Parses the arguments of `#[cancelable(...)]`.
    pub(crate) fn parse_attribute(args: TokenStream, errors: &mut Accumulator) -> Options {
        match NestedMeta::parse_meta_list(args) {
            Ok(items) => Options::from_items(&items, Context::Attribute, errors),
            Err(error) => {
                errors.push(error.into());
                Options::default()
            }
        }
    }

    /// Checks already split options.
    pub(crate) fn from_items(
        items: &[NestedMeta],
        context: Context,
        errors: &mut Accumulator,
    ) -> Options {
        let mut options = Options::default();
        let mut seen: Vec<String> = Vec::new();
        let mut check_interval: Option<&Path> = None;

        for item in items {
            let (path, value) = match item {
                NestedMeta::Lit(lit) => {
                    errors.push(
                        Error::custom(
                            "expected an option such as `timeout = \"30s\"`, found a literal",
                        )
                        .with_span(lit),
                    );
                    continue;
                }
                NestedMeta::Meta(Meta::Path(path)) => (path, Value::Word),
                NestedMeta::Meta(Meta::List(list)) => (&list.path, Value::List),
                NestedMeta::Meta(Meta::NameValue(name_value)) => {
                    (&name_value.path, Value::Expr(&name_value.value))
                }
                NestedMeta::NameValueInvalidExpr(invalid) => {
                    (&invalid.path, Value::Invalid(&invalid.error))
                }
            };

            let Some(key) = path.get_ident().map(|ident| ident.unraw().to_string()) else {
                errors.push(unknown_option(path, context));
                continue;
            };
            if key == "register" && context == Context::Combine {
                errors.push(
                    Error::custom(
                        "`register` is not an option of `cancel_combine!`; call `.register()` on the `Cancelable` it returns",
                    )
                    .with_span(path),
                );
                continue;
            }
            if !context.options().contains(&key.as_str()) {
                errors.push(unknown_option(path, context));
                continue;
            }
            if seen.contains(&key) {
                errors.push(Error::custom(format!("duplicate option `{key}`")).with_span(path));
                continue;
            }
            seen.push(key.clone());

            let key = key.as_str();
            let checked = match key {
                "timeout" => duration_option(key, path, value).map(|d| options.timeout = Some(d)),
                "check_interval" => {
                    check_interval = Some(path);
                    duration_option(key, path, value).map(|d| options.check_interval = Some(d))
                }
                "signal" => signal_option(path, value).map(|s| options.signal = Some(s)),
                "name" => name_option(path, value).map(|n| options.name = Some(n)),
                "token" => expr_option(key, path, value).map(|e| options.token = Some(e.clone())),
                "condition" => {
                    expr_option(key, path, value).map(|e| options.condition = Some(e.clone()))
                }
                "parent" => expr_option(key, path, value).map(|e| options.parent = Some(e.clone())),
                "register" => {
                    flag_option(key, path, value).map(|span| options.register = Some(span))
                }
                "crate" => crate_option(path, value).map(|p| options.krate = Some(p)),
                _ => unreachable!("`{key}` is in the option table"),
            };
            errors.handle(checked);
        }

        if let Some(path) = check_interval
            && !seen.iter().any(|key| key == "condition")
        {
            errors.push(
                Error::custom("`check_interval` only applies to `condition`; add `condition = …` or remove it")
                    .with_span(path),
            );
            options.check_interval = None;
        }
        options
    }
}

/// `key = value` with what the option expects, for error messages.
fn example(key: &str) -> &'static str {
    match key {
        "timeout" => "timeout = \"30s\"",
        "check_interval" => "check_interval = \"100ms\"",
        "signal" => "signal = \"SIGTERM\"",
        "name" => "name = \"fetch_user\"",
        "token" => "token = self.shutdown.clone()",
        "condition" => "condition = move || done.load(Ordering::Relaxed)",
        "parent" => "parent = &outer",
        "register" => "register",
        "crate" => "crate = \"my_crate::cancelable\"",
        _ => "timeout = \"30s\"",
    }
}

fn unknown_option(path: &Path, context: Context) -> Error {
    let mut text = String::new();
    if path.leading_colon.is_some() {
        text.push_str("::");
    }
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 {
            text.push_str("::");
        }
        text.push_str(&segment.ident.unraw().to_string());
    }
    let message = match suggest::did_you_mean(&text, context.options()) {
        Some(suggestion) => format!("unknown option `{text}`; did you mean `{suggestion}`?"),
        None => format!(
            "unknown option `{text}`; expected {}",
            suggest::one_of(context.options())
        ),
    };
    Error::custom(message).with_span(path)
}

/// The value of a `key = value` option.
fn expr_option<'a>(key: &str, path: &Path, value: Value<'a>) -> Result<&'a Expr, Error> {
    match value {
        Value::Expr(expr) => Ok(expr),
        Value::Word => {
            Err(Error::custom(format!("`{key}` needs a value: `{}`", example(key))).with_span(path))
        }
        Value::List => Err(Error::custom(format!(
            "`{key}` takes its value after `=`: `{}`",
            example(key)
        ))
        .with_span(path)),
        Value::Invalid(error) => Err(error.clone()),
    }
}

/// The string literal of a `key = "value"` option.
fn string_option(key: &str, path: &Path, value: Value<'_>) -> Result<LitStr, Error> {
    let expr = expr_option(key, path, value)?;
    match ungroup(expr) {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Ok(lit.clone()),
        other => Err(Error::custom(format!(
            "`{key}` expects a string literal: `{}`",
            example(key)
        ))
        .with_span(other)),
    }
}

fn flag_option(key: &str, path: &Path, value: Value<'_>) -> Result<Span, Error> {
    match value {
        Value::Word => Ok(path.span()),
        Value::Expr(expr) => Err(Error::custom(format!(
            "`{key}` is a flag and takes no value; write `{key}` alone"
        ))
        .with_span(expr)),
        Value::List | Value::Invalid(_) => Err(Error::custom(format!(
            "`{key}` is a flag and takes no value; write `{key}` alone"
        ))
        .with_span(path)),
    }
}

fn duration_option(key: &str, path: &Path, value: Value<'_>) -> Result<DurationOption, Error> {
    let lit = string_option(key, path, value)?;
    let text = lit.value();
    match duration::parse(&text) {
        Ok(millis) => Ok(DurationOption {
            millis,
            key: path.span(),
        }),
        Err(duration::DurationError::Zero) => Err(Error::custom(format!(
            "`{key}` must be greater than zero, found `{text}`"
        ))
        .with_span(&lit)),
        Err(error) if error.wants_forms() => Err(Error::custom(format!(
            "invalid duration `{text}`: {error}; {}",
            duration::EXPECTED
        ))
        .with_span(&lit)),
        Err(error) => {
            Err(Error::custom(format!("invalid duration `{text}`: {error}")).with_span(&lit))
        }
    }
}

fn signal_option(path: &Path, value: Value<'_>) -> Result<SignalOption, Error> {
    const EXPECTED: &str = "`signal` expects a signal name or a list of them: `signal = \"SIGTERM\"` or `signal = [\"SIGINT\", \"SIGTERM\"]`";

    let expr = expr_option("signal", path, value)?;
    let literals: Vec<&Expr> = match ungroup(expr) {
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
        }) = ungroup(literal)
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

fn name_option(path: &Path, value: Value<'_>) -> Result<LitStr, Error> {
    let lit = string_option("name", path, value)?;
    if lit.value().is_empty() {
        return Err(Error::custom("the operation name must not be empty").with_span(&lit));
    }
    Ok(lit)
}

/// `crate = "path"`, also accepted unquoted: `crate = my_crate::cancelable`.
fn crate_option(path: &Path, value: Value<'_>) -> Result<Path, Error> {
    let expr = expr_option("crate", path, value)?;
    match ungroup(expr) {
        Expr::Path(expr) if expr.qself.is_none() && expr.attrs.is_empty() => Ok(expr.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => lit.parse::<Path>().map_err(|_| {
            Error::custom(format!(
                "`{}` is not a path; expected the path of the `cancelable` crate: `{}`",
                lit.value(),
                example("crate")
            ))
            .with_span(lit)
        }),
        other => Err(
            Error::custom(format!("`crate` expects a path: `{}`", example("crate")))
                .with_span(other),
        ),
    }
}

/// Looks through the invisible groups that `macro_rules!` puts around `$x:expr`.
fn ungroup(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(args: TokenStream) -> (Options, Vec<String>) {
        let mut errors = Error::accumulator();
        let options = Options::parse_attribute(args, &mut errors);
        let errors = errors
            .into_inner()
            .into_iter()
            .flatten()
            .map(|e| e.to_string())
            .collect();
        (options, errors)
    }

    fn parse_ok(args: TokenStream) -> Options {
        let (options, errors) = parse(args);
        assert!(errors.is_empty(), "{errors:?}");
        options
    }

    fn parse_err(args: TokenStream) -> Vec<String> {
        let (_, errors) = parse(args);
        assert!(!errors.is_empty());
        errors
    }

    #[test]
    fn every_option() {
        let options = parse_ok(quote! {
            timeout = "1m30s",
            signal = ["SIGINT", "term"],
            name = "fetch",
            token = self.shutdown.clone(),
            condition = move || done.load(Ordering::Relaxed),
            check_interval = "50ms",
            parent = &outer,
            register,
            crate = "my::cancelable",
        });
        assert_eq!(options.timeout.map(|d| d.millis), Some(90_000));
        assert_eq!(
            options.signal.map(|s| s.signals),
            Some(vec![Signal::Int, Signal::Term])
        );
        assert_eq!(options.name.map(|n| n.value()).as_deref(), Some("fetch"));
        assert!(options.token.is_some() && options.condition.is_some() && options.parent.is_some());
        assert_eq!(options.check_interval.map(|d| d.millis), Some(50));
        assert!(options.register.is_some());
        assert_eq!(
            options.krate.map(|p| quote!(#p).to_string()).as_deref(),
            Some("my :: cancelable")
        );
    }

    #[test]
    fn empty_and_single() {
        let options = parse_ok(quote!());
        assert!(options.timeout.is_none() && options.krate.is_none());
        let options = parse_ok(quote!(signal = "SIGTERM"));
        assert_eq!(options.signal.map(|s| s.signals), Some(vec![Signal::Term]));
        let options = parse_ok(quote!(crate = ::my::cancelable));
        assert!(options.krate.is_some());
    }

    #[test]
    fn unknown_option_suggests() {
        assert_eq!(
            parse_err(quote!(timout = "30s")),
            ["unknown option `timout`; did you mean `timeout`?"]
        );
        assert_eq!(
            parse_err(quote!(deadline = "30s")),
            [
                "unknown option `deadline`; expected `timeout`, `signal`, `name`, `token`, `condition`, \
                 `check_interval`, `parent`, `register` or `crate`"
            ]
        );
        assert_eq!(parse_err(quote!(a::timeout = "1s")).len(), 1);
    }

    #[test]
    fn duplicates_and_shapes() {
        assert_eq!(
            parse_err(quote!(timeout = "1s", timeout = "2s")),
            ["duplicate option `timeout`"]
        );
        assert_eq!(
            parse_err(quote!(timeout)),
            ["`timeout` needs a value: `timeout = \"30s\"`"]
        );
        assert_eq!(
            parse_err(quote!(timeout("1s"))),
            ["`timeout` takes its value after `=`: `timeout = \"30s\"`"]
        );
        assert_eq!(
            parse_err(quote!(register = true)),
            ["`register` is a flag and takes no value; write `register` alone"]
        );
        assert_eq!(
            parse_err(quote!(timeout = 30)),
            ["`timeout` expects a string literal: `timeout = \"30s\"`"]
        );
        assert_eq!(
            parse_err(quote!("30s")),
            ["expected an option such as `timeout = \"30s\"`, found a literal"]
        );
        assert_eq!(
            parse_err(quote!(name = "")),
            ["the operation name must not be empty"]
        );
        assert_eq!(parse_err(quote!(crate = "not a path")).len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_err(quote!(timeout = "30x")),
            [format!(
                "invalid duration `30x`: unknown unit `x`; {}",
                duration::EXPECTED
            )]
        );
        assert_eq!(
            parse_err(quote!(timeout = "0s")),
            ["`timeout` must be greater than zero, found `0s`"]
        );
        assert_eq!(
            parse_err(quote!(timeout = "99999999999999999999999h")),
            [
                "invalid duration `99999999999999999999999h`: too large (at most `u64::MAX` milliseconds)"
            ]
        );
    }

    #[test]
    fn signals() {
        assert_eq!(
            parse_err(quote!(signal = "SIGTREM")),
            ["unknown signal `SIGTREM`; did you mean `SIGTERM`?"]
        );
        assert!(parse_err(quote!(signal = "SIGKILL"))[0].starts_with("`SIGKILL` cannot be caught"));
        assert_eq!(
            parse_err(quote!(signal = ["SIGINT", "SIGINT"])),
            ["`SIGINT` is listed twice"]
        );
        assert_eq!(parse_err(quote!(signal = [])).len(), 1);
        assert_eq!(parse_err(quote!(signal = SIGTERM)).len(), 1);
        // Every bad element is reported.
        assert_eq!(
            parse_err(quote!(signal = ["SIGKILL", "SIGSTOP", 3])).len(),
            3
        );
    }

    #[test]
    fn check_interval_needs_condition() {
        let (options, errors) = parse(quote!(check_interval = "1s"));
        assert_eq!(
            errors,
            ["`check_interval` only applies to `condition`; add `condition = …` or remove it"]
        );
        assert!(options.check_interval.is_none());
        parse_ok(quote!(condition = || true, check_interval = "1s"));
    }

    #[test]
    fn errors_accumulate_and_valid_options_survive() {
        let (options, errors) = parse(quote!(
            timout = "1s",
            timeout = "1x",
            signal = "SIGKILL",
            name = "ok",
            name = "twice",
            register = 1,
            check_interval = "1s",
            token = tok,
        ));
        assert_eq!(errors.len(), 6, "{errors:?}");
        assert!(
            options.timeout.is_none() && options.signal.is_none() && options.register.is_none()
        );
        assert_eq!(options.name.map(|n| n.value()).as_deref(), Some("ok"));
        assert!(options.token.is_some());
    }

    #[test]
    fn combine_context() {
        let items = NestedMeta::parse_meta_list(quote!(register, timeout = "1s")).unwrap();
        let mut errors = Error::accumulator();
        let options = Options::from_items(&items, Context::Combine, &mut errors);
        let errors: Vec<String> = errors
            .into_inner()
            .into_iter()
            .flatten()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("not an option of `cancel_combine!`"));
        assert!(options.timeout.is_some());
    }

    #[test]
    fn syntax_error_is_one_error() {
        assert_eq!(parse_err(quote!(timeout = "1s" "2s")).len(), 1);
    }
}
