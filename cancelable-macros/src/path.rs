//! The path expansions go through: `::cancelable::__private`, or
//! `<path>::__private` with `crate = "<path>"`.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::Path;

/// `::cancelable::__private`, or the `crate = "…"` override followed by `::__private`.
#[derive(Clone, Copy)]
pub(crate) struct Private<'a> {
    krate: Option<&'a Path>,
}

impl<'a> Private<'a> {
    pub(crate) fn new(krate: Option<&'a Path>) -> Self {
        Private { krate }
    }

    /// The same path, every token spanned at `span`; for a macro invocation
    /// whose errors should point at one option.
    pub(crate) fn spanned(self, span: Span) -> TokenStream {
        respan(self.to_token_stream(), span)
    }
}

impl ToTokens for Private<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self.krate {
            None => tokens.extend(quote!(::cancelable::__private)),
            Some(krate) => tokens.extend(quote!(#krate::__private)),
        }
    }
}

/// `tokens`, with every span (also inside groups) set to `span`.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn default_and_override() {
        assert_eq!(
            Private::new(None).to_token_stream().to_string(),
            ":: cancelable :: __private"
        );
        let krate: Path = parse_quote!(my::reexport);
        assert_eq!(
            Private::new(Some(&krate)).to_token_stream().to_string(),
            "my :: reexport :: __private"
        );
    }
}
