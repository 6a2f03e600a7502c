//! What the macros emit when they found errors.
//!
//! Every error is reported at once, and the macros still expand, so that the
//! rest of the crate type-checks and one mistake does not bury the user under
//! follow-up errors (tokio-macros' `DEFAULT_ERROR_CONFIG`, thiserror's
//! `fallback.rs`):
//!
//! * option errors: the function is rewritten as if the rejected options had
//!   not been written; the `&Cancelable` parameter is still bound, so the body
//!   type-checks;
//! * a function that cannot be rewritten (not `async`, `const fn`) or an item
//!   that is not a function: the item is emitted unchanged;
//! * `cancel_combine!` and `shielded!` evaluate to the expression built from
//!   what was valid, so the code around them type-checks.

use darling::error::Accumulator;
use proc_macro2::TokenStream;

/// `item` unchanged, followed by the errors.
pub(crate) fn verbatim(mut item: TokenStream, errors: Accumulator) -> TokenStream {
    item.extend(self::errors(errors));
    item
}

/// One `compile_error!` per error, each at its own span.
pub(crate) fn errors(errors: Accumulator) -> TokenStream {
    errors
        .into_inner()
        .into_iter()
        .map(darling::Error::write_errors)
        .collect()
}

/// `{ errors; expr }`: an expression position with errors in front.
pub(crate) fn expression(errors: impl CompileErrors, expr: TokenStream) -> TokenStream {
    let errors = errors.into_compile_errors();
    if errors.is_empty() {
        expr
    } else {
        quote::quote!({ #errors #expr })
    }
}

/// Errors, as the `compile_error!`s that report them.
///
/// `shielded!` keeps `syn::Error`s: `new_spanned` underlines a whole
/// expression on stable Rust, while darling's errors point at one span, and
/// turning one into the other keeps only its first token.
pub(crate) trait CompileErrors {
    fn into_compile_errors(self) -> TokenStream;
}

impl CompileErrors for Accumulator {
    fn into_compile_errors(self) -> TokenStream {
        errors(self)
    }
}

impl CompileErrors for Option<syn::Error> {
    fn into_compile_errors(self) -> TokenStream {
        self.map(syn::Error::into_compile_error).unwrap_or_default()
    }
}
