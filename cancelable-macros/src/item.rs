//! The function under `#[cancelable]`: parsing and shape checks.
//!
//! The body is kept as tokens, never parsed: its spans reach the output
//! untouched, and syntax the attribute does not care about cannot make it fail.

use darling::Error;
use darling::error::Accumulator;
use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::token::Brace;
use syn::{
    Attribute, FnArg, GenericArgument, Pat, PathArguments, ReturnType, Signature, Token, Type,
    Visibility, braced,
};

use crate::ungroup;

/// An `fn` item, an inherent method or a trait-impl method, with a body.
pub(crate) struct ItemFn {
    pub(crate) outer_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) defaultness: Option<Token![default]>,
    pub(crate) sig: Signature,
    pub(crate) brace_token: Brace,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) body: TokenStream,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let defaultness = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(syn::Error::new(
                input.span(),
                "`#[cancelable]` needs a function body; put it on the method of the `impl`, not on the trait's declaration",
            ));
        }
        let content;
        let brace_token = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(ItemFn {
            outer_attrs,
            vis,
            defaultness,
            sig,
            brace_token,
            inner_attrs,
            body,
        })
    }
}

/// How to rewrite a function that passed the checks.
pub(crate) struct Plan {
    /// Indices in `sig.inputs` of the `&Cancelable` parameters, removed from the
    /// signature and bound to the operation inside the body. More than one is an
    /// error, reported by [`check`]; they are all bound so the body type-checks.
    pub(crate) cancel_params: Vec<usize>,
    /// The declared return type is `Result<T, E>`, or an alias of it, and is kept.
    pub(crate) returns_result: bool,
}

/// Checks the function's shape. `None`: it cannot be rewritten at all (not
/// `async`, `const`), and the caller emits it unchanged next to the errors.
pub(crate) fn check(item: &ItemFn, errors: &mut Accumulator) -> Option<Plan> {
    let sig = &item.sig;
    if let Some(constness) = &sig.constness {
        errors.push(
            Error::custom("`#[cancelable]` cannot be used on a `const fn`: an operation runs asynchronously, in an `async fn`")
                .with_span(constness),
        );
        return None;
    }
    if sig.asyncness.is_none() {
        let message = if item.outer_attrs.iter().any(is_test_attribute)
            || mentions(&item.body, "block_on")
        {
            // `#[tokio::test]` or `#[tokio::main]` ran first and turned the `async fn`
            // into a plain one that blocks on the body.
            "`#[cancelable]` can only be used on an `async fn`; with `#[tokio::main]` or `#[tokio::test]`, put `#[cancelable]` above it"
        } else {
            "`#[cancelable]` can only be used on an `async fn`"
        };
        errors.push(Error::custom(message).with_span(&sig.fn_token));
        return None;
    }

    let mut cancel_params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else { continue };
        let Type::Reference(reference) = ungroup::ty(&typed.ty) else {
            continue;
        };
        if !is_cancelable(&reference.elem) {
            continue;
        }
        if let Some(mutability) = &reference.mutability {
            errors.push(
                Error::custom(
                    "the operation is shared, so it is passed as `&Cancelable`; `&mut Cancelable` is not supported",
                )
                .with_span(mutability),
            );
            continue;
        }
        if let Some(&first) = cancel_params.first() {
            let FnArg::Typed(first) = &sig.inputs[first] else {
                unreachable!()
            };
            errors.push(
                Error::custom(format!(
                    "only one `&Cancelable` parameter can receive the operation, and `{}` already does; \
                     take other operations by value (`parent: Cancelable`)",
                    pat_text(&first.pat)
                ))
                .with_span(&typed.pat),
            );
        }
        cancel_params.push(index);
    }

    Some(Plan {
        cancel_params,
        returns_result: returns_result(&sig.output),
    })
}

/// `Cancelable` or `path::to::Cancelable`, without generic arguments.
fn is_cancelable(ty: &Type) -> bool {
    match ungroup::ty(ty) {
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "Cancelable" && last.arguments.is_none())
        }
        _ => false,
    }
}

/// Whether the declared return type is kept: a path ending in `Result`, whatever its arguments.
/// `Result<T, E>` and an alias of it (`io::Result<T>`, `anyhow::Result<T>`, `fmt::Result`) are
/// told apart by the compiler, not here: the expansion requires `E: From<CancellationError>` of
/// whatever error type the path stands for.
fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::Path(path) = ungroup::ty(ty) else {
        return false;
    };
    path.qself.is_none()
        && path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "Result")
}

/// Where an error type without `From<CancellationError>` or `Display` is reported: at the `E` of
/// `Result<T, E>`, else (an alias) at the whole return type.
pub(crate) fn error_type_span(output: &ReturnType) -> Option<Span> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let written_out = match ungroup::ty(ty) {
        Type::Path(path) => path.path.segments.last().and_then(|last| {
            let PathArguments::AngleBracketed(arguments) = &last.arguments else {
                return None;
            };
            match (arguments.args.len(), arguments.args.last()) {
                (2, Some(GenericArgument::Type(error))) => Some(error.span()),
                _ => None,
            }
        }),
        _ => None,
    };
    Some(written_out.unwrap_or_else(|| ty.span()))
}

fn pat_text(pat: &Pat) -> String {
    match pat {
        Pat::Ident(ident) => ident.ident.to_string(),
        _ => "another parameter".to_owned(),
    }
}

/// Whether `ident` appears anywhere in `tokens`.
fn mentions(tokens: &TokenStream, ident: &str) -> bool {
    tokens.clone().into_iter().any(|token| match token {
        TokenTree::Ident(found) => found == ident,
        TokenTree::Group(group) => mentions(&group.stream(), ident),
        _ => false,
    })
}

/// `#[test]`, or the `#[::core::prelude::v1::test]` that `#[tokio::test]` emits.
fn is_test_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|last| last.ident == "test")
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn check_fn(item: ItemFn) -> (Option<Plan>, Vec<String>) {
        let mut errors = Error::accumulator();
        let plan = check(&item, &mut errors);
        (
            plan,
            errors
                .into_inner()
                .into_iter()
                .map(|e| e.to_string())
                .collect(),
        )
    }

    #[test]
    fn plain_async_fn() {
        let (plan, errors) = check_fn(parse_quote!(
            async fn f(id: u64) -> u32 {
                1
            }
        ));
        let plan = plan.unwrap();
        assert!(errors.is_empty());
        assert!(plan.cancel_params.is_empty());
        assert!(!plan.returns_result);
    }

    #[test]
    fn finds_the_cancelable_param() {
        let (plan, errors) = check_fn(parse_quote!(
            pub async fn f(&self, id: u64, cancel: &cancelable::Cancelable) -> Result<u32, E> {
                1
            }
        ));
        let plan = plan.unwrap();
        assert!(errors.is_empty());
        assert_eq!(plan.cancel_params, [2]);
        assert!(plan.returns_result);
    }

    #[test]
    fn result_detection() {
        for (output, expected) in [
            (quote::quote!(-> Result<u32, E>), true),
            (
                quote::quote!(-> std::result::Result<(), Box<dyn Error>>),
                true,
            ),
            (quote::quote!(-> io::Result<u32>), true),
            (quote::quote!(-> anyhow::Result<()>), true),
            (quote::quote!(-> fmt::Result), true),
            (quote::quote!(-> <T as Tr>::Result), false),
            (quote::quote!(-> Results<u32>), false),
            (quote::quote!(-> Option<Result<u32, E>>), false),
            (quote::quote!(-> u32), false),
            (quote::quote!(), false),
        ] {
            let output: ReturnType = syn::parse2(output.clone()).unwrap();
            assert_eq!(
                returns_result(&output),
                expected,
                "{}",
                quote::quote!(#output)
            );
        }
    }

    #[test]
    fn not_async_and_const() {
        let (plan, errors) = check_fn(parse_quote!(
            fn f() {}
        ));
        assert!(plan.is_none());
        assert_eq!(
            errors,
            ["`#[cancelable]` can only be used on an `async fn`"]
        );
        let (plan, errors) = check_fn(parse_quote!(
            #[test]
            fn f() {}
        ));
        assert!(plan.is_none());
        assert!(errors[0].contains("put `#[cancelable]` above it"));
        let (_, errors) = check_fn(parse_quote!(
            fn main() {
                runtime.block_on(body)
            }
        ));
        assert!(errors[0].contains("put `#[cancelable]` above it"));
        let (plan, errors) = check_fn(parse_quote!(
            const fn f() {}
        ));
        assert!(plan.is_none());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("`const fn`"));
    }

    #[test]
    fn bad_cancelable_params() {
        let (plan, errors) = check_fn(parse_quote!(
            async fn f(a: &Cancelable, b: &Cancelable) {}
        ));
        assert_eq!(plan.unwrap().cancel_params, [0, 1]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("`a` already does"));

        let (plan, errors) = check_fn(parse_quote!(
            async fn f(a: &mut Cancelable) {}
        ));
        assert!(plan.unwrap().cancel_params.is_empty());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("`&mut Cancelable`"));
    }

    #[test]
    fn trait_declaration_has_no_body() {
        let error = syn::parse2::<ItemFn>(quote::quote!(
            async fn f(&self);
        ))
        .err()
        .unwrap();
        assert!(error.to_string().contains("needs a function body"));
    }
}
