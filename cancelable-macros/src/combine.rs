//! `cancel_combine!`: options and `Cancelable` expressions, combined.
//!
//! Input:
//!
//! ```text
//! cancel_combine!(timeout = "5s", token = shutdown.clone(), upstream)
//! cancel_combine!(all: warmup, token = ready.clone())
//! ```
//!
//! Output:
//!
//! ```text
//! ::cancelable::__private::OperationBuilder::unnamed()
//!     .timeout(::core::time::Duration::from_millis(5000))
//!     .token(shutdown.clone())
//!     .member(upstream)
//!     .build()
//! ::cancelable::__private::OperationBuilder::unnamed()
//!     .token(ready.clone())
//!     .member(warmup)
//!     .build_all()
//! ```
//!
//! The arguments after `all:` are read by [`MacroArgs`]: the options among
//! them by the table of options, the rest are `Cancelable` expressions.

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Token;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};

use crate::args::{Context, MacroArgs, OPTIONS, Options, lookup};
use crate::path::Private;
use crate::{builder, fallback, suggest};

mod kw {
    syn::custom_keyword!(all);
}

/// The whole grammar, for an invocation without a source.
fn grammar() -> String {
    let sources: Vec<String> = OPTIONS
        .iter()
        .filter(|spec| spec.is_source)
        .map(|spec| spec.form())
        .collect();
    format!(
        "`cancel_combine!` needs at least one source; expected `cancel_combine!(source, …)` \
         (the first to fire cancels) or `cancel_combine!(all: source, …)` (cancels once every \
         one has fired), where a source is a `Cancelable` expression or one of the options {}",
        suggest::one_of(&sources)
    )
}

struct Input {
    /// `all:` and its span.
    all: Option<Span>,
    args: MacroArgs,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut all = None;
        if input.peek(kw::all) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let keyword: kw::all = input.parse()?;
            input.parse::<Token![:]>()?;
            all = Some(keyword.span);
        }
        Ok(Input {
            all,
            args: input.parse()?,
        })
    }
}

/// Entry point of `cancel_combine!(...)`.
pub(crate) fn cancel_combine(input: TokenStream) -> TokenStream {
    let mut errors = Error::accumulator();
    if input.is_empty() {
        errors.push(Error::custom(grammar()).with_span(&Span::call_site()));
        return fallback::expression(errors, fallback_operation(Private::new(None)));
    }
    let Input { all, args } = match Input::parse.parse2(input) {
        Ok(input) => input,
        Err(error) => {
            errors.push(error.into());
            return fallback::expression(errors, fallback_operation(Private::new(None)));
        }
    };

    let options = Options::from_items(&args.options, Context::Combine, &mut errors);
    let private = Private::new(options.krate.as_ref());
    // A source whose value was rejected still counts: its own error says what is wrong.
    let source_written = !args.exprs.is_empty() || args.options.iter().any(is_source);
    if !source_written {
        let span = all.unwrap_or_else(Span::call_site);
        errors.push(Error::custom(grammar()).with_span(&span));
    }

    let chain = builder::chain(&options, private, options.name.as_ref());
    let members = &args.exprs;
    let build = if all.is_some() {
        quote!(build_all)
    } else {
        quote!(build)
    };
    fallback::expression(errors, quote!(#chain #(.member(#members))* .#build()))
}

/// An operation with no source: the expression the fallback evaluates to.
fn fallback_operation(private: Private<'_>) -> TokenStream {
    quote!(#private::OperationBuilder::unnamed().build())
}

/// Whether the option is one of the table's sources, whatever its value.
fn is_source(option: &NestedMeta) -> bool {
    let NestedMeta::Meta(meta) = option else {
        return false;
    };
    meta.path()
        .get_ident()
        .and_then(|ident| lookup(&ident.unraw().to_string()))
        .is_some_and(|spec| spec.is_source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> String {
        cancel_combine(input).to_string()
    }

    #[test]
    fn options_and_members() {
        let out = expand(quote!(
            timeout = "5s",
            token = shutdown.clone(),
            upstream,
            a.child()
        ));
        assert_eq!(
            out,
            ":: cancelable :: __private :: OperationBuilder :: unnamed () \
             . timeout (:: core :: time :: Duration :: from_millis (5000u64)) \
             . token (shutdown . clone ()) . member (upstream) . member (a . child ()) . build ()"
        );
    }

    #[test]
    fn all_of() {
        let out = expand(quote!(all: a, b, name = "both"));
        assert_eq!(
            out,
            ":: cancelable :: __private :: OperationBuilder :: new (\"both\") . member (a) . member (b) . build_all ()"
        );
    }

    #[test]
    fn comparisons_are_members() {
        let out = expand(quote!(a == b));
        assert!(out.contains(". member (a == b)"), "{out}");
    }

    #[test]
    fn empty_input_states_the_grammar() {
        let out = expand(quote!());
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("needs at least one source"), "{out}");
        let out = expand(quote!(all:));
        assert!(out.contains("needs at least one source"), "{out}");
        let out = expand(quote!(name = "x"));
        assert!(out.contains("needs at least one source"), "{out}");
    }

    #[test]
    fn bad_options_are_reported_and_dropped() {
        let out = expand(quote!(timout = "5s", timeout = "5x", a));
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.contains("did you mean `timeout`?"), "{out}");
        assert!(out.contains(". member (a) . build ()"), "{out}");
        // A source whose value was rejected still counts as written: no grammar error on top.
        let out = expand(quote!(timeout = "0s"));
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        let out = expand(quote!(register, a));
        assert!(out.contains(". member (register)"), "{out}");
    }
}
