//! `#[cancelable]` code generation.
//!
//! Input:
//!
//! ```text
//! #[cancelable(timeout = "30s", token = self.shutdown.clone())]
//! pub async fn fetch(&self, id: u64, cancel: &Cancelable) -> Result<User, AppError> {
//!     body
//! }
//! ```
//!
//! Output (the body keeps its tokens and spans; `__cancelable_op` is hygienic):
//!
//! ```text
//! pub async fn fetch(&self, id: u64) -> Result<User, AppError> {
//!     let __cancelable_op = ::cancelable::__private::OperationBuilder::new("fetch")
//!         .timeout(::core::time::Duration::from_millis(30000))
//!         .token(self.shutdown.clone())
//!         .build();
//!     let cancel: &Cancelable = &__cancelable_op;
//!     ::cancelable::__private::try_run(
//!         &__cancelable_op,
//!         async move {
//!             #[allow(unreachable_code, …)]
//!             if false {
//!                 let __cancelable_fake_return: Result<User, AppError> = loop {};
//!                 return __cancelable_fake_return;
//!             }
//!             body    // the user's statements, inside the user's own braces
//!         },
//!         ::core::convert::From::from,    // these two spanned at `AppError`
//!         ::core::fmt::Display::fmt,
//!     )
//!     .await
//! }
//! ```
//!
//! The option expressions are evaluated first, before the body's `async move`
//! block takes the parameters. The fake return edge (from tracing-attributes)
//! makes the compiler check the body against the declared return type, so a
//! mismatch is reported in the body and `?` knows its error type. `From::from`
//! and `Display::fmt` of the error type are named at the `E` (at the whole
//! return type for an alias such as `io::Result<T>`), so an `E` lacking either
//! is one error on the user's type. Any other return type `R` becomes
//! `Result<R, CancellationError>` and the body runs with `run` instead of
//! `try_run`. A lone `timeout` (no other source, `parent` or
//! `register`) is built by `__private::timeout_operation(name, duration)`.

use darling::Error;
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, LitStr, PatType, ReturnType, Token, Type};

use crate::args::Options;
use crate::builder;
use crate::fallback;
use crate::item::{self, ItemFn, Plan};
use crate::path::Private;
use crate::ungroup;

/// Entry point of `#[cancelable(...)]`.
pub(crate) fn cancelable(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Error::accumulator();
    let options = Options::parse_attribute(args, &mut errors);

    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            errors.push(not_a_function(&item, error));
            return fallback::verbatim(item, errors);
        }
    };
    let Some(plan) = item::check(&function, &mut errors) else {
        return fallback::verbatim(item, errors);
    };

    let mut output = rewrite(function, &plan, &options);
    output.extend(fallback::errors(errors));
    output
}

/// The error for an item that did not parse as a function with a body.
fn not_a_function(item: &TokenStream, error: syn::Error) -> Error {
    let has_fn = item
        .clone()
        .into_iter()
        .any(|token| matches!(&token, TokenTree::Ident(ident) if ident == "fn"));
    if has_fn {
        error.into()
    } else {
        Error::custom("`#[cancelable]` can only be used on an `async fn`").with_span(&error.span())
    }
}

fn rewrite(function: ItemFn, plan: &Plan, options: &Options) -> TokenStream {
    let ItemFn {
        outer_attrs,
        vis,
        defaultness,
        sig,
        brace_token,
        inner_attrs,
        body,
    } = function;
    let private = Private::new(options.krate.as_ref());
    let op = Ident::new("__cancelable_op", Span::mixed_site());

    // The `&Cancelable` parameters leave the signature and become bindings.
    let mut inputs = Punctuated::<FnArg, Token![,]>::new();
    let mut bindings = TokenStream::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Typed(PatType { attrs, pat, ty, .. }) if plan.cancel_params.contains(&index) => {
                // The user's own path to `Cancelable` (so their import stays used), without a
                // lifetime: the operation is a local of the function.
                let ty = match ungroup::ty(ty) {
                    Type::Reference(reference) => {
                        let and_token = reference.and_token;
                        let elem = &reference.elem;
                        quote!(#and_token #elem)
                    }
                    _ => quote!(&#private::Cancelable),
                };
                bindings.extend(quote! {
                    #(#attrs)*
                    let #pat: #ty = &#op;
                });
            }
            input => inputs.push(input.clone()),
        }
    }

    let (output, declared, return_span) = match &sig.output {
        ReturnType::Type(_, ty) if plan.returns_result => (
            sig.output.to_token_stream(),
            erase_impl_trait(ty),
            ty.span(),
        ),
        ReturnType::Type(arrow, ty) => {
            let span = ty.span();
            let output = quote_spanned!(span=> #arrow ::core::result::Result<#ty, #private::CancellationError>);
            (output, erase_impl_trait(ty), span)
        }
        ReturnType::Default => {
            let span = sig.ident.span();
            let output =
                quote_spanned!(span=> -> ::core::result::Result<(), #private::CancellationError>);
            (output, quote!(()), span)
        }
    };

    // As in tracing-attributes: an unreachable `return` of the declared type
    // first, so the body is checked against it.
    let fake_return_edge = quote_spanned! {return_span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __cancelable_fake_return: #declared = loop {};
            return __cancelable_fake_return;
        }
    };
    // The user's own braces become the async block's: no extra pair for `unused_braces` to see.
    let mut block = TokenStream::new();
    brace_token.surround(&mut block, |tokens| {
        tokens.extend(fake_return_edge);
        tokens.extend(body);
    });
    let block_span = brace_token.span.join();
    let future = quote_spanned!(block_span=> async move #block);

    let run = if plan.returns_result {
        // `From::from` and `Display::fmt` of the error type, and the call, spanned at the `E` of
        // `Result<T, E>` (or at an alias): an `E` without `From<CancellationError>` or
        // `Display` is one error there, which names no item of `__private`.
        let span = item::error_type_span(&sig.output).unwrap_or(return_span);
        let private = private.spanned(span);
        quote_spanned!(span=>
            #private::try_run(
                &#op,
                #future,
                ::core::convert::From::from,
                ::core::fmt::Display::fmt,
            )
            .await
        )
    } else {
        quote!(#private::run(&#op, #future).await)
    };

    let name = match &options.name {
        Some(name) => name.clone(),
        None => LitStr::new(&sig.ident.unraw().to_string(), sig.ident.span()),
    };
    let operation = builder::lone_timeout(options, private, &name).unwrap_or_else(|| {
        let chain = builder::chain(options, private, Some(&name));
        quote!(#chain.build())
    });

    let constness = &sig.constness;
    let asyncness = &sig.asyncness;
    let safety = &sig.safety;
    let abi = &sig.abi;
    let fn_token = &sig.fn_token;
    let ident = &sig.ident;
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    let variadic = &sig.variadic;

    let mut tokens = quote! {
        #(#outer_attrs)*
        #vis #defaultness #constness #asyncness #safety #abi #fn_token #ident #generics
    };
    sig.paren_token.surround(&mut tokens, |tokens| {
        inputs.to_tokens(tokens);
        variadic.to_tokens(tokens);
    });
    tokens.extend(output);
    where_clause.to_tokens(&mut tokens);
    brace_token.surround(&mut tokens, |tokens| {
        tokens.append_all(inner_attrs);
        tokens.extend(quote! {
            let #op = #operation;
            #bindings
            #run
        });
    });
    tokens
}

/// `impl Trait` becomes `_`: a `let` cannot name it, inference fills it in.
fn erase_impl_trait(ty: &Type) -> TokenStream {
    struct ImplTraitEraser;

    impl VisitMut for ImplTraitEraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    attrs: Vec::new(),
                    underscore_token: Token![_](impl_trait.impl_token.span),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }

    let mut ty = ty.clone();
    ImplTraitEraser.visit_type_mut(&mut ty);
    ty.into_token_stream()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// `text` without whitespace: the tests compare tokens, not spacing.
    fn squash(text: &str) -> String {
        text.split_whitespace().collect()
    }

    /// Whether `out` contains the tokens written in `fragment`.
    fn has(out: &TokenStream, fragment: &str) -> bool {
        squash(&out.to_string()).contains(&squash(fragment))
    }

    fn count(out: &TokenStream, fragment: &str) -> usize {
        squash(&out.to_string()).matches(&squash(fragment)).count()
    }

    fn starts_with(out: &TokenStream, fragment: &str) -> bool {
        squash(&out.to_string()).starts_with(&squash(fragment))
    }

    /// The expansion of `#[cancelable(args)] item`, formatted by prettyplease,
    /// compared with `tests/expand/<case>.expanded.rs`; with
    /// `SNAPSHOTS=overwrite` the file is written instead. Returns the expansion.
    fn snapshot(case: &str, args: TokenStream, item: TokenStream) -> TokenStream {
        let output = cancelable(args.clone(), item.clone());
        let pretty = |tokens: TokenStream| {
            prettyplease::unparse(&syn::parse2(tokens).expect("a list of items"))
        };
        let input = pretty(quote!(#[cancelable(#args)] #item));
        let expanded = pretty(output.clone());
        let text = format!(
            "// Input:\n//\n{}//\n// Output:\n\n{expanded}",
            input
                .lines()
                .map(|line| format!("// {line}\n").replace("// \n", "//\n"))
                .collect::<String>()
        );
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/expand")
            .join(format!("{case}.expanded.rs"));
        if std::env::var_os("SNAPSHOTS").is_some_and(|value| value == "overwrite") {
            std::fs::write(&path, &text).unwrap();
        } else {
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                text == expected,
                "{} differs from the expansion; check it, then rerun with \
                 SNAPSHOTS=overwrite:\n{text}",
                path.display()
            );
        }
        output
    }

    #[test]
    fn result_fn_keeps_its_signature() {
        let out = snapshot(
            "result-fn",
            quote!(timeout = "30s"),
            quote!(
                async fn fetch(id: u64, cancel: &Cancelable) -> Result<u32, E> {
                    Ok(1)
                }
            ),
        );
        assert!(
            starts_with(&out, "async fn fetch(id: u64) -> Result<u32, E>"),
            "{out}"
        );
        assert!(
            has(
                &out,
                r#"::cancelable::__private::timeout_operation("fetch", ::core::time::Duration::from_millis(30000u64))"#
            ),
            "a lone timeout is built directly: {out}"
        );
        assert!(
            has(&out, "let cancel: &Cancelable = &__cancelable_op;"),
            "{out}"
        );
        assert!(
            has(
                &out,
                "::cancelable::__private::try_run(&__cancelable_op, async move"
            ),
            "{out}"
        );
        assert!(!has(&out, "compile_error"), "{out}");
    }

    #[test]
    fn a_result_alias_keeps_its_signature() {
        for item in [
            quote!(
                async fn read() -> io::Result<u32> {}
            ),
            quote!(
                async fn read() -> fmt::Result {}
            ),
        ] {
            let out = cancelable(quote!(), item.clone());
            let ReturnType::Type(_, ty) = syn::parse2::<ItemFn>(item).unwrap().sig.output else {
                unreachable!()
            };
            assert!(
                starts_with(&out, &format!("async fn read() -> {}", quote!(#ty))),
                "{out}"
            );
            assert!(has(&out, "::cancelable::__private::try_run("), "{out}");
            assert!(
                has(
                    &out,
                    "::core::convert::From::from, ::core::fmt::Display::fmt,"
                ),
                "{out}"
            );
        }
    }

    #[test]
    fn the_binding_keeps_the_users_path_without_lifetime() {
        let out = cancelable(
            quote!(),
            quote!(
                async fn f<'a>(cancel: &'a cancelable::Cancelable) {}
            ),
        );
        assert!(
            has(
                &out,
                "let cancel: &cancelable::Cancelable = &__cancelable_op;"
            ),
            "{out}"
        );
        assert!(starts_with(&out, "async fn f<'a>()"), "{out}");
    }

    #[test]
    fn other_return_types_are_wrapped() {
        let out = snapshot(
            "wrapped-return",
            quote!(),
            quote!(
                pub async fn f() -> u32 {
                    1
                }
            ),
        );
        assert!(
            has(
                &out,
                "-> ::core::result::Result<u32, ::cancelable::__private::CancellationError>"
            ),
            "{out}"
        );
        assert!(
            has(&out, "::cancelable::__private::run(&__cancelable_op"),
            "{out}"
        );
        let out = cancelable(
            quote!(),
            quote!(
                async fn f() {}
            ),
        );
        assert!(has(&out, "-> ::core::result::Result<(),"), "{out}");
    }

    #[test]
    fn impl_trait_is_erased_in_the_fake_return() {
        let out = cancelable(
            quote!(),
            quote!(
                async fn f() -> impl Display {
                    1
                }
            ),
        );
        assert!(
            has(&out, "let __cancelable_fake_return: _ = loop {};"),
            "{out}"
        );
    }

    #[test]
    fn options_become_builder_calls() {
        let out = snapshot(
            "every-option",
            quote!(
                signal = ["SIGINT", "SIGTERM"],
                name = "custom",
                token = self.shutdown.clone(),
                condition = || false,
                grace = "5s",
                parent = &outer,
                register,
                crate = "my::cancelable"
            ),
            quote!(
                async fn f(&self) {}
            ),
        );
        assert!(
            has(
                &out,
                r#"my::cancelable::__private::signals!(my::cancelable::__private::OperationBuilder::new("custom"), [Int, Term])"#
            ),
            "{out}"
        );
        assert!(has(&out, ".token(self.shutdown.clone())"), "{out}");
        assert!(
            has(
                &out,
                ".condition(|| false, ::core::time::Duration::from_millis(100u64))"
            ),
            "{out}"
        );
        assert!(has(&out, ".parent(&outer).register().build()"), "{out}");
        assert_eq!(
            count(&out, "::cancelable::__private"),
            count(&out, "my::cancelable::__private"),
            "every path goes through `crate`: {out}"
        );
    }

    #[test]
    fn errors_still_expand() {
        let out = cancelable(
            quote!(timout = "1s", timeout = "0s"),
            quote!(
                async fn f(c: &Cancelable) {}
            ),
        );
        assert_eq!(count(&out, "compile_error"), 2, "{out}");
        assert!(has(&out, "let c: &Cancelable = &__cancelable_op"), "{out}");
    }

    #[test]
    fn not_async_is_left_alone() {
        let out = cancelable(
            quote!(timeout = "1s"),
            quote!(
                fn f(c: &Cancelable) {}
            ),
        );
        assert!(starts_with(&out, "fn f(c: &Cancelable) {}"), "{out}");
        assert_eq!(count(&out, "compile_error"), 1, "{out}");
    }

    #[test]
    fn not_a_function_at_all() {
        let out = cancelable(
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert!(starts_with(&out, "struct S;"), "{out}");
        assert!(has(&out, "can only be used on an `async fn`"), "{out}");
    }
}
