//! `shielded!`: run a block to completion even if the operation is cancelled.
//!
//! Input:
//!
//! ```text
//! shielded!(cancel, { audit::record(id).await })
//! shielded!({ flush().await })
//! shielded!(crate = "my_crate::cancelable", cancel, { flush().await })
//! ```
//!
//! Output:
//!
//! ```text
//! ::cancelable::__private::shield(&cancel, async { audit::record(id).await }).await
//! ::cancelable::__private::shield_current(async { flush().await }).await
//! my_crate::cancelable::__private::shield(&cancel, async { flush().await }).await
//! ```
//!
//! The block becomes a non-`move` `async` block, so it borrows and mutates the
//! surrounding locals like an ordinary block; `return`, `?` and `break` inside
//! it apply to the block. The arguments are read by [`MacroArgs`], like those of
//! `cancel_combine!`: `crate = "…"` is an option of the table, and the
//! expressions left are the operation, if any, and the block.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::Expr;
use syn::spanned::Spanned;

use crate::args::{Context, MacroArgs, Options};
use crate::path::Private;
use crate::{fallback, ungroup};

const GRAMMAR: &str =
    "`shielded!(cancel, { … })` shields the operation `cancel`, `shielded!({ … })` the current one";

/// Entry point of `shielded!(...)`.
///
/// Errors are `syn::Error`s rather than darling's, for their spans (see
/// [`fallback::CompileErrors`]); the option errors are converted.
pub(crate) fn shielded(input: TokenStream) -> TokenStream {
    let args = match syn::parse2::<MacroArgs>(input) {
        Ok(args) => args,
        Err(error) => return fallback::expression(Some(error), quote!(())),
    };

    let mut option_errors = darling::Error::accumulator();
    let options = Options::from_items(&args.options, Context::Shield, &mut option_errors);
    let private = Private::new(options.krate.as_ref());
    let mut errors: Option<syn::Error> = option_errors.finish().err().map(syn::Error::from);
    let mut push = |error: syn::Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };

    let (operation, body) = match args.exprs.as_slice() {
        [] => {
            push(syn::Error::new(
                Span::call_site(),
                format!(
                    "missing block: {GRAMMAR}; `crate = \"…\"` may come first, for a crate that re-exports `cancelable`"
                ),
            ));
            return fallback::expression(errors, quote!(()));
        }
        [body] => (None, body),
        [operation, body, rest @ ..] => {
            for extra in rest {
                push(syn::Error::new_spanned(
                    extra,
                    format!("unexpected argument: {GRAMMAR}"),
                ));
            }
            (Some(operation), body)
        }
    };

    let body = match ungroup::expr(body) {
        Expr::Block(block) if block.label.is_none() => block.to_token_stream(),
        Expr::Async(async_block) => {
            push(syn::Error::new_spanned(
                async_block.async_token,
                "expected a block; `shielded!` already runs it as an `async` block, so write `{ … }`",
            ));
            async_block.block.to_token_stream()
        }
        other => {
            push(syn::Error::new_spanned(
                other,
                format!("expected a block `{{ … }}`: {GRAMMAR}"),
            ));
            // Still type-check the expression, as the body it was meant to be.
            quote!({ #other })
        }
    };

    let span = body.span();
    let future = quote_spanned!(span=> async #body);
    let call = match operation {
        Some(operation) => {
            // An invisible group keeps the expression's precedence under `&`.
            let operation = Group::new(Delimiter::None, operation.to_token_stream());
            quote!(#private::shield(&#operation, #future))
        }
        None => quote!(#private::shield_current(#future)),
    };
    fallback::expression(errors, quote!(#call.await))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> String {
        shielded(input).to_string()
    }

    #[test]
    fn with_an_operation() {
        assert_eq!(
            expand(quote!(cancel, { audit(id).await })),
            ":: cancelable :: __private :: shield (& cancel , async { audit (id) . await }) . await"
        );
    }

    #[test]
    fn current_operation() {
        assert_eq!(
            expand(quote!({
                flush().await;
                1
            })),
            ":: cancelable :: __private :: shield_current (async { flush () . await ; 1 }) . await"
        );
    }

    #[test]
    fn not_a_block() {
        let out = expand(quote!(cancel, flush().await));
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("expected a block `{ … }`"), "{out}");
        assert!(out.contains("async { flush () . await }"), "{out}");
        let out = expand(quote!(cancel, async { 1 }));
        assert!(out.contains("already runs it as an `async` block"), "{out}");
    }

    #[test]
    fn crate_path() {
        assert_eq!(
            expand(quote!(crate = "my::cancelable", cancel, { 1 })),
            "my :: cancelable :: __private :: shield (& cancel , async { 1 }) . await"
        );
        assert_eq!(
            expand(quote!(crate = my::cancelable, { 1 })),
            "my :: cancelable :: __private :: shield_current (async { 1 }) . await"
        );
    }

    #[test]
    fn bad_options() {
        let out = expand(quote!(crate = "not a path", { 1 }));
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("`not a path` is not a path"), "{out}");
        assert!(
            out.contains(":: cancelable :: __private :: shield_current"),
            "{out}"
        );
        let out = expand(quote!(crate, cancel, { 1 }));
        assert!(out.contains("`crate` needs a value"), "{out}");
        assert!(out.contains("shield (& cancel"), "{out}");
        let out = expand(quote!(krate = "x", { 1 }));
        assert!(
            out.contains("unknown option `krate`; did you mean `crate`?"),
            "{out}"
        );
        let out = expand(quote!(timeout = "1s", { 1 }));
        assert!(
            out.contains("`timeout` is not an option of `shielded!`"),
            "{out}"
        );
        let out = expand(quote!(crate = "a", crate = "b", { 1 }));
        assert!(out.contains("duplicate option `crate`"), "{out}");
        assert!(out.contains("a :: __private :: shield_current"), "{out}");
        let out = expand(quote!(crate = "a"));
        assert!(out.contains("missing block"), "{out}");
    }

    #[test]
    fn empty_and_extra_arguments() {
        assert!(expand(quote!()).contains("missing block: `shielded!(cancel, { … })`"));
        let out = expand(quote!(a, { 1 }, b));
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("unexpected argument"), "{out}");
    }
}
