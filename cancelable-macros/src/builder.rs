//! The operation described by the options, as a chain of calls on
//! `__private::OperationBuilder`; shared by `#[cancelable]` and
//! `cancel_combine!`, which end the chain with `.build()` or `.build_all()`.
//!
//! ```text
//! ::cancelable::__private::OperationBuilder::new("fetch")
//!     .timeout(::core::time::Duration::from_millis(30000))
//!     .token(self.shutdown.clone())
//! ```
//!
//! The calls come in a fixed order, not in the order the options were written.
//! A duration is `Duration::from_millis(…)` for a literal, or the user's
//! expression in a block that types it as `Duration` (`DurationOption`'s
//! `ToTokens`).

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::LitStr;

use crate::args::Options;
use crate::path::Private;

/// `OperationBuilder::new(name)` (or `unnamed()`) with one call per option.
pub(crate) fn chain(options: &Options, private: Private<'_>, name: Option<&LitStr>) -> TokenStream {
    let mut chain = match name {
        Some(name) => quote!(#private::OperationBuilder::new(#name)),
        None => quote!(#private::OperationBuilder::unnamed()),
    };
    if let Some(signal) = &options.signal {
        // A macro of the runtime crate, so that a crate built without the
        // `signal` feature gets a readable error at the `signal` option.
        let span = signal.key;
        let path = private.spanned(span);
        let variants = signal
            .signals
            .iter()
            .map(|signal| Ident::new(signal.variant(), span));
        chain = quote_spanned!(span=> #path::signals!(#chain, [#(#variants),*]));
    }
    if let Some(timeout) = &options.timeout {
        chain = quote_spanned!(timeout.key=> #chain.timeout(#timeout));
    }
    if let Some(token) = &options.token {
        chain = quote!(#chain.token(#token));
    }
    if let Some(condition) = &options.condition {
        let interval = match &options.check_interval {
            Some(interval) => interval.to_token_stream(),
            None => quote!(::core::time::Duration::from_millis(100u64)),
        };
        chain = quote!(#chain.condition(#condition, #interval));
    }
    if let Some(grace) = &options.grace {
        chain = quote_spanned!(grace.key=> #chain.grace(#grace));
    }
    if let Some(parent) = &options.parent {
        chain = quote!(#chain.parent(#parent));
    }
    if let Some(span) = options.register {
        chain = quote_spanned!(span=> #chain.register());
    }
    chain
}

/// `__private::timeout_operation(name, duration)` when a timeout is all there
/// is: the most common operation, made without a builder.
pub(crate) fn lone_timeout(
    options: &Options,
    private: Private<'_>,
    name: &LitStr,
) -> Option<TokenStream> {
    let timeout = options.timeout.as_ref()?;
    let alone = options.signal.is_none()
        && options.token.is_none()
        && options.condition.is_none()
        && options.grace.is_none()
        && options.parent.is_none()
        && options.register.is_none();
    alone.then(|| quote_spanned!(timeout.key=> #private::timeout_operation(#name, #timeout)))
}
