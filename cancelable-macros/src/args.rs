//! The options of the macros: `#[cancelable(...)]`, the options among the
//! arguments of `cancel_combine!(...)`, and `crate` in `shielded!(...)`.
//!
//! Parsing is split in two: darling's `NestedMeta` reads the `key = value`
//! syntax, then [`Options::from_items`] checks every option against
//! [`table::OPTIONS`]. Validation never stops at the first error: every problem
//! is pushed to the accumulator with the span of the offending token, and an
//! option whose value is rejected is left out, so the caller can still expand
//! as if it had not been written.

mod table;
mod value;

use darling::Error;
use darling::ast::NestedMeta;
use darling::error::Accumulator;
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr, Meta, MetaNameValue, Path, Token};

use crate::signal::Signal;
use crate::suggest;
pub(crate) use table::{OPTIONS, OptionSpec, lookup};
use value::Value;

/// Which macro the options belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Context {
    Attribute,
    Combine,
    Shield,
}

/// `timeout`, `check_interval` or `grace`: a checked literal or an expression.
#[derive(Clone, Debug)]
pub(crate) struct DurationOption {
    pub(crate) value: DurationValue,
    /// The option's name, where code generated for it is spanned.
    pub(crate) key: Span,
}

/// What a duration option holds.
#[derive(Clone, Debug)]
pub(crate) enum DurationValue {
    /// `"30s"`, parsed at compile time.
    Millis(u64),
    /// Any other expression: a `Duration`, evaluated when the function is called.
    Expr(Box<Expr>),
}

impl DurationOption {
    /// The literal's milliseconds; `None` for an expression.
    #[cfg(test)]
    pub(crate) fn millis(&self) -> Option<u64> {
        match self.value {
            DurationValue::Millis(millis) => Some(millis),
            DurationValue::Expr(_) => None,
        }
    }
}

impl ToTokens for DurationOption {
    /// `Duration::from_millis(30000)`, or the expression bound to a `let` of type `Duration`: a
    /// value of another type is then a type error on the expression, "expected due to" the
    /// option's name.
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match &self.value {
            DurationValue::Millis(millis) => tokens
                .extend(quote_spanned!(self.key=> ::core::time::Duration::from_millis(#millis))),
            DurationValue::Expr(expr) => {
                let binding = Ident::new("__cancelable_duration", Span::mixed_site());
                let ty = quote_spanned!(self.key=> ::core::time::Duration);
                tokens.extend(quote!({
                    let #binding: #ty = #expr;
                    #binding
                }));
            }
        }
    }
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
    pub(crate) grace: Option<DurationOption>,
    pub(crate) parent: Option<Expr>,
    pub(crate) register: Option<Span>,
    pub(crate) krate: Option<Path>,
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
        // Written and taken by this macro, whether or not the value was valid.
        let mut seen: Vec<(&OptionSpec, &Path)> = Vec::new();

        for item in items {
            let (path, value) = match item {
                NestedMeta::Lit(lit) => {
                    errors.push(
                        Error::custom(format!(
                            "expected an option such as `{}`, found a literal",
                            OPTIONS[0].example
                        ))
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

            let spec = path
                .get_ident()
                .and_then(|ident| lookup(&ident.unraw().to_string()));
            let Some(spec) = spec else {
                errors.push(unknown_option(path, context));
                continue;
            };
            if !context.accepts(spec) {
                errors.push(Error::custom(context.refusal(spec)).with_span(path));
                continue;
            }
            if seen.iter().any(|(other, _)| other.name == spec.name) {
                errors.push(
                    Error::custom(format!("duplicate option `{}`", spec.name)).with_span(path),
                );
                continue;
            }
            seen.push((spec, path));
            errors.handle(spec.read(path, value, &mut options));
        }

        for &(spec, path) in &seen {
            let Some(required) = spec.requires else {
                continue;
            };
            if seen.iter().all(|(other, _)| other.name != required) {
                errors.push(
                    Error::custom(format!(
                        "`{}` only applies to `{required}`; add `{required} = …` or remove it",
                        spec.name
                    ))
                    .with_span(path),
                );
                spec.clear(&mut options);
            }
        }
        options
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
    let names = context.names();
    let message = match suggest::did_you_mean(&text, &names) {
        Some(suggestion) => format!("unknown option `{text}`; did you mean `{suggestion}`?"),
        None => format!(
            "unknown option `{text}`; expected {}",
            suggest::one_of(&names)
        ),
    };
    Error::custom(message).with_span(path)
}

/// The arguments of a function-like macro, `cancel_combine!` or `shielded!`:
/// options and expressions, comma-separated, in any order.
///
/// An argument is an option when it reads `name = value`, which is never a
/// `Cancelable` nor a block, or is the keyword `crate` alone, which is never an
/// expression; anything else is an expression.
pub(crate) struct MacroArgs {
    pub(crate) options: Vec<NestedMeta>,
    pub(crate) exprs: Vec<Expr>,
}

impl Parse for MacroArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Vec::new();
        let mut exprs = Vec::new();
        while !input.is_empty() {
            if input.peek(Ident::peek_any)
                && input.peek2(Token![=])
                && !input.peek2(Token![==])
                && !input.peek2(Token![=>])
            {
                let key = Ident::parse_any(input)?;
                let eq_token = input.parse()?;
                let value = input.parse()?;
                options.push(NestedMeta::Meta(Meta::NameValue(MetaNameValue {
                    path: key.into(),
                    eq_token,
                    value,
                })));
            } else if is_bare_crate(input) {
                let key = Ident::parse_any(input)?;
                options.push(NestedMeta::Meta(Meta::Path(key.into())));
            } else {
                exprs.push(input.parse()?);
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(MacroArgs { options, exprs })
    }
}

/// `crate` followed by `,` or by nothing.
fn is_bare_crate(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.parse::<Token![crate]>().is_ok() && (fork.is_empty() || fork.peek(Token![,]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration;
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
        assert_eq!(options.timeout.and_then(|d| d.millis()), Some(90_000));
        assert_eq!(
            options.signal.map(|s| s.signals),
            Some(vec![Signal::Int, Signal::Term])
        );
        assert_eq!(options.name.map(|n| n.value()).as_deref(), Some("fetch"));
        assert!(options.token.is_some() && options.condition.is_some() && options.parent.is_some());
        assert_eq!(options.check_interval.and_then(|d| d.millis()), Some(50));
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
                 `check_interval`, `grace`, `parent`, `register` or `crate`"
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
            [
                "`timeout` needs a unit: `timeout = \"30s\"` or `timeout = \"30ms\"`, or an expression of type `Duration`"
            ]
        );
        assert_eq!(
            parse_err(quote!(grace = 1.5)),
            [
                "`grace` expects a duration: a string literal such as `grace = \"5s\"` or an expression of type `Duration`"
            ]
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
    fn duration_expressions_are_kept_for_the_compiler() {
        let options = parse_ok(quote!(
            timeout = self.cfg.timeout,
            grace = budget / 2,
            condition = || false,
            check_interval = Duration::from_millis(10),
        ));
        for (option, text) in [
            (&options.timeout, "self . cfg . timeout"),
            (&options.grace, "budget / 2"),
            (&options.check_interval, "Duration :: from_millis (10)"),
        ] {
            let option = option.as_ref().unwrap();
            assert_eq!(option.millis(), None);
            let DurationValue::Expr(expr) = &option.value else {
                unreachable!()
            };
            assert_eq!(quote!(#expr).to_string(), text);
        }
        let tokens = options.timeout.unwrap().to_token_stream().to_string();
        assert_eq!(
            tokens,
            "{ let __cancelable_duration : :: core :: time :: Duration = self . cfg . timeout ; __cancelable_duration }"
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
