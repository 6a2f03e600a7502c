//! `shielded!`: run a block to completion even if the operation is cancelled.
//!
//! Input:
//!
//! ```text
//! shielded!(cancel, { audit::record(id).await })
//! shielded!({ flush().await })
//! ```
//!
//! Output:
//!
//! ```text
//! ::cancelable::__private::shield(&cancel, async { audit::record(id).await }).await
//! ::cancelable::__private::shield_current(async { flush().await }).await
//! ```
//!
//! The block becomes a non-`move` `async` block, so it borrows and mutates the
//! surrounding locals like an ordinary block; `return`, `?` and `break` inside
//! it apply to the block.

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Token};

use crate::path::Private;

const GRAMMAR: &str =
    "`shielded!(cancel, { … })` shields the operation `cancel`, `shielded!({ … })` the current one";

/// Entry point of `shielded!(...)`.
///
/// Errors are `syn::Error`s rather than darling's: `new_spanned` underlines a
/// whole expression on stable Rust, darling's spans stop at its first token.
pub(crate) fn shielded(input: TokenStream) -> TokenStream {
    let private = Private::new(None);
    let mut errors: Option<syn::Error> = None;
    let mut push = |error: syn::Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };

    let args = match Punctuated::<Expr, Token![,]>::parse_terminated.parse2(input) {
        Ok(args) => args.into_iter().collect::<Vec<_>>(),
        Err(error) => return with_errors(Some(error), quote!(())),
    };
    let (operation, body) = match args.as_slice() {
        [] => {
            let error = syn::Error::new(Span::call_site(), format!("missing block: {GRAMMAR}"));
            return with_errors(Some(error), quote!(()));
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

    let body = match ungroup(body) {
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
    with_errors(errors, quote!(#call.await))
}

/// `{ errors; expr }`, or `expr` when there is no error.
fn with_errors(errors: Option<syn::Error>, expr: TokenStream) -> TokenStream {
    match errors {
        Some(errors) => {
            let errors = errors.into_compile_error();
            quote!({ #errors #expr })
        }
        None => expr,
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
    fn empty_and_extra_arguments() {
        assert!(expand(quote!()).contains("missing block: `shielded!(cancel, { … })`"));
        let out = expand(quote!(a, { 1 }, b));
        assert_eq!(out.matches("compile_error").count(), 1, "{out}");
        assert!(out.contains("unexpected argument"), "{out}");
    }
}
