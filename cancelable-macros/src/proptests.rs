//! Property tests of the parsers: the option parser and the three macros never panic on
//! arbitrary token streams or strings, and every rejection is an error spanned at the input;
//! the duration parser round-trips, detects overflow and stays sane on any Unicode.
//!
//! `proc-macro2` runs in its fallback mode here, with `span-locations`: a span parsed from a
//! string knows its byte range and text, so a test can check where an error points. The case
//! count is proptest's default (256 per property); `PROPTEST_CASES=100000` runs a longer fuzz.

use std::str::FromStr;

use darling::Error;
use proc_macro2::{Span, TokenStream, TokenTree};
use proptest::prelude::*;

use crate::args::{Context, OPTIONS, Options};
use crate::duration::{self, DurationError};

// ===== generators =====

/// A fragment of an attribute's arguments: option names and near misses, punctuation,
/// literals of every kind.
fn fragment() -> impl Strategy<Value = String> {
    let words = prop::sample::select(option_names([
        "r#timeout",
        "r#crate",
        "timout",
        "Timeout",
        "deadline",
        "all",
        "self",
        "async",
        "fn",
        "move",
        "_",
        "x",
        "ſignal",
        "時間",
    ]))
    .prop_map(str::to_owned);
    let punct = prop::sample::select(vec![
        "=", ",", ":", "::", ";", "#", "&", ".", "|", "||", "->", "=>", "==", "!", "?", "*", "'a",
        "$", "@", "-", "+",
    ])
    .prop_map(str::to_owned);
    let literal = prop_oneof![
        prop::sample::select(vec![
            "\"30s\"",
            "\"1m30s\"",
            "\"0s\"",
            "\"SIGTERM\"",
            "\"sigint\"",
            "\"SIGKILL\"",
            "\"fetch\"",
            "\"\"",
            "\"my::cancelable\"",
            "\"not a path\"",
            "30",
            "1.5",
            "0x1F",
            "1e9",
            "'c'",
            "b\"x\"",
            "true",
            "r\"raw\"",
            "\"99999999999999999999999h\"",
        ])
        .prop_map(str::to_owned),
        any::<String>().prop_map(|s| format!("{s:?}")),
        duration_like().prop_map(|s| format!("{s:?}")),
    ];
    prop_oneof![3 => words, 3 => punct, 2 => literal]
}

/// Every option of the table, then `extra`.
fn option_names<const N: usize>(extra: [&'static str; N]) -> Vec<&'static str> {
    OPTIONS.iter().map(|spec| spec.name).chain(extra).collect()
}

/// Balanced token-stream text, with nested groups.
fn token_text() -> impl Strategy<Value = String> {
    let leaf = prop::collection::vec(fragment(), 0..8).prop_map(|parts| parts.join(" "));
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop::collection::vec(
            prop_oneof![
                3 => fragment(),
                1 => inner.clone().prop_map(|t| format!("({t})")),
                1 => inner.clone().prop_map(|t| format!("[{t}]")),
                1 => inner.prop_map(|t| format!("{{{t}}}")),
            ],
            0..8,
        )
        .prop_map(|parts| parts.join(" "))
    })
}

/// `key = value, …` lists: shaped like options, so that validation is reached.
fn option_list_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(option_names(["timout"]));
    let item = (key, prop::option::of(token_text())).prop_map(|(key, value)| match value {
        Some(value) => format!("{key} = {value}"),
        None => key.to_owned(),
    });
    prop::collection::vec(item, 0..6).prop_map(|items| items.join(", "))
}

/// Strings near the duration grammar: digits, units, separators, Unicode look-alikes.
fn duration_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "0",
        "1",
        "7",
        "30",
        "500",
        "007",
        "h",
        "m",
        "s",
        "ms",
        "µs",
        "ns",
        "d",
        "sec",
        "S",
        "M",
        ".",
        ",",
        "-",
        "+",
        " ",
        "_",
        "٣",
        "１",
        "ｓ",
        "ſ",
        "\u{301}",
        "🦀",
        "\u{0}",
        "e",
        "ms ",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999999999999",
    ]);
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

// ===== helpers =====

/// Parses `text` as a token stream; `None` for text that does not tokenize.
fn tokens(text: &str) -> Option<TokenStream> {
    TokenStream::from_str(text).ok()
}

/// Every error of the accumulator, flattened, as (message, span).
fn errors_of(errors: darling::error::Accumulator) -> Vec<(String, Span)> {
    errors
        .into_inner()
        .into_iter()
        .flat_map(Error::into_iter)
        .map(|error| (error.to_string(), error.span()))
        .collect()
}

/// A span that points into the text that was parsed (not the macro's call site).
fn points_into(span: Span, input: &str) -> bool {
    let range = span.byte_range();
    match span.source_text() {
        Some(text) => range.end <= input.len() && input.get(range) == Some(text.as_str()),
        None => false,
    }
}

/// The errors the parser is allowed to report at the call site: `syn`'s, when the input ends
/// in the middle of something ("unexpected end of input, …", or "expected `:`" after a
/// lifetime), since there is no token left to point at. The parser's own errors always point
/// at a token.
fn may_point_at_call_site(message: &str) -> bool {
    message.contains("end of input") || message.starts_with("expected `")
}

fn parse_options(text: &str, context: Context) -> Option<(Options, Vec<(String, Span)>)> {
    let stream = tokens(text)?;
    let mut errors = Error::accumulator();
    let options = match context {
        Context::Attribute => Options::parse_attribute(stream, &mut errors),
        Context::Combine | Context::Shield => {
            match darling::ast::NestedMeta::parse_meta_list(stream) {
                Ok(items) => Options::from_items(&items, context, &mut errors),
                Err(error) => {
                    errors.push(error.into());
                    Options::default()
                }
            }
        }
    };
    Some((options, errors_of(errors)))
}

fn assert_spanned(text: &str, errors: &[(String, Span)]) -> Result<(), TestCaseError> {
    for (message, span) in errors {
        prop_assert!(!message.is_empty());
        prop_assert!(
            points_into(*span, text) || may_point_at_call_site(message),
            "error {message:?} does not point into {text:?}"
        );
    }
    Ok(())
}

/// The `compile_error!` invocations of a macro's output, as (message literal, span).
fn compile_errors(output: TokenStream) -> Vec<(String, Span)> {
    fn walk(stream: TokenStream, found: &mut Vec<(String, Span)>) {
        let trees: Vec<TokenTree> = stream.into_iter().collect();
        for (i, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Ident(ident) if ident == "compile_error" => {
                    let message = match trees.get(i + 2) {
                        Some(TokenTree::Group(group)) => group.stream().to_string(),
                        _ => String::new(),
                    };
                    let message = message.trim_matches('"').to_owned();
                    found.push((message, ident.span()));
                }
                TokenTree::Group(group) => walk(group.stream(), found),
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    walk(output, &mut found);
    found
}

/// The errors a whole macro may report at its call site: those of [`may_point_at_call_site`],
/// those about an input that is empty, and those about something missing from the whole call
/// (no source in `cancel_combine!`, no block in `shielded!`): there is nothing else to point at.
fn macro_may_point_at_call_site(message: &str, inputs: &[&str]) -> bool {
    may_point_at_call_site(message)
        || inputs.iter().any(|input| input.trim().is_empty())
        || message.contains("needs at least one source")
        || message.starts_with("missing block")
}

fn assert_macro_errors_spanned(inputs: &[&str], output: TokenStream) -> Result<(), TestCaseError> {
    for (message, span) in compile_errors(output) {
        prop_assert!(
            inputs.iter().any(|input| points_into(span, input))
                || macro_may_point_at_call_site(&message, inputs),
            "error {message} does not point into {inputs:?}"
        );
    }
    Ok(())
}

/// Milliseconds written the canonical way: largest unit first, zero parts left out.
fn canonical(millis: u64) -> String {
    let mut text = String::new();
    let mut rest = millis;
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    text
}

/// The value of `digits` (any length, leading zeros allowed) if it fits in a `u128`.
fn big_value(digits: &str) -> Option<u128> {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    significant.parse().ok()
}

// ===== the option parser and the macros =====

proptest! {
    /// Arbitrary token streams: no panic, every error points into the input.
    #[test]
    fn options_never_panic_and_errors_are_spanned(text in token_text()) {
        for context in [Context::Attribute, Context::Combine, Context::Shield] {
            if let Some((_, errors)) = parse_options(&text, context) {
                assert_spanned(&text, &errors)?;
            }
        }
    }

    /// Option-shaped lists reach validation: the same holds.
    #[test]
    fn option_lists_never_panic_and_errors_are_spanned(text in option_list_text()) {
        for context in [Context::Attribute, Context::Combine, Context::Shield] {
            if let Some((_, errors)) = parse_options(&text, context) {
                assert_spanned(&text, &errors)?;
            }
        }
    }

    /// Any string as a duration: accepted exactly when the duration parser accepts it, and a
    /// rejection points at the literal itself.
    #[test]
    fn any_duration_string(value in prop_oneof![any::<String>(), duration_like()]) {
        let literal = format!("{value:?}");
        let text = format!("timeout = {literal}");
        let (options, errors) = parse_options(&text, Context::Attribute).unwrap();
        match duration::parse(&value) {
            Ok(millis) => {
                prop_assert!(errors.is_empty(), "{errors:?}");
                prop_assert_eq!(options.timeout.and_then(|t| t.millis()), Some(millis));
            }
            Err(_) => {
                prop_assert_eq!(errors.len(), 1);
                prop_assert_eq!(errors[0].1.source_text(), Some(literal));
            }
        }
    }

    /// Any string as a signal name, an operation name or a crate path: no panic, and a
    /// rejection points at the literal.
    #[test]
    fn any_string_option(key in prop::sample::select(vec!["signal", "name", "crate"]), value in any::<String>()) {
        let literal = format!("{value:?}");
        let text = format!("{key} = {literal}");
        let (_, errors) = parse_options(&text, Context::Attribute).unwrap();
        for (message, span) in &errors {
            let pointed = span.source_text();
            prop_assert_eq!(pointed.as_deref(), Some(literal.as_str()), "{}", message);
        }
        let list = format!("signal = [{literal}, {literal}]");
        let (_, errors) = parse_options(&list, Context::Attribute).unwrap();
        prop_assert!(!errors.is_empty(), "the same signal twice is an error");
        assert_spanned(&list, &errors)?;
    }

    /// `#[cancelable(args)]` on a valid fn, and valid args on an arbitrary item: no panic, and
    /// every `compile_error!` points into the input. (Only an item that parses as an item can
    /// reach an attribute macro; on anything else, `syn`'s end-of-input error has no token to
    /// point at.)
    #[test]
    fn attribute_macro_never_panics(args in prop_oneof![token_text(), option_list_text()], item in token_text()) {
        let valid_item = "async fn fetch(id: u64) -> u64 { id }";
        if let (Some(args_tokens), Some(item_tokens)) = (tokens(&args), tokens(valid_item)) {
            let output = crate::expand::cancelable(args_tokens, item_tokens);
            assert_macro_errors_spanned(&[&args, valid_item], output)?;
        }
        if let (Some(args_tokens), Some(item_tokens)) = (tokens("timeout = \"1s\""), tokens(&item)) {
            let is_item = syn::parse2::<syn::Item>(item_tokens.clone()).is_ok();
            let output = crate::expand::cancelable(args_tokens, item_tokens);
            if is_item {
                assert_macro_errors_spanned(&["timeout = \"1s\"", &item], output)?;
            }
        }
    }

    /// `cancel_combine!(…)` and `shielded!(…)` on arbitrary input: no panic, errors spanned.
    #[test]
    fn function_macros_never_panic(text in prop_oneof![token_text(), option_list_text()]) {
        if let Some(stream) = tokens(&text) {
            assert_macro_errors_spanned(&[&text], crate::combine::cancel_combine(stream.clone()))?;
            assert_macro_errors_spanned(&[&text], crate::shield::shielded(stream))?;
        }
        let all = format!("all: {text}");
        if let Some(stream) = tokens(&all) {
            assert_macro_errors_spanned(&[&all], crate::combine::cancel_combine(stream))?;
        }
    }
}

// ===== the duration parser =====

proptest! {
    /// Every whole number of milliseconds, written the canonical way, parses back to itself.
    #[test]
    fn duration_round_trip(millis in 1..=u64::MAX) {
        prop_assert_eq!(duration::parse(&canonical(millis)), Ok(millis));
    }

    /// Small values too (the range above rarely picks them), with the units in every mix.
    #[test]
    fn duration_round_trip_small(millis in 1..10_000_000u64) {
        prop_assert_eq!(duration::parse(&canonical(millis)), Ok(millis));
    }

    /// Any parts, with leading zeros: the sum, or `Zero`, or `Overflow` past `u64::MAX` ms.
    #[test]
    fn duration_parts_sum_or_overflow(
        mut parts in prop::collection::vec(prop::option::of((0..3usize, any::<u64>())), 4),
        last in (0..3usize, any::<u64>()),
    ) {
        // At least one part: an empty string is not a sum.
        if parts.iter().all(Option::is_none) {
            parts[3] = Some(last);
        }
        let units = [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000), ("ms", 1)];
        let mut text = String::new();
        let mut sum: u128 = 0;
        for ((unit, size), part) in units.iter().zip(&parts) {
            if let Some((zeros, value)) = part {
                text.push_str(&"0".repeat(*zeros));
                text.push_str(&format!("{value}{unit}"));
                sum += u128::from(*value) * size;
            }
        }
        let expected = match u64::try_from(sum) {
            Ok(0) => Err(DurationError::Zero),
            Ok(millis) => Ok(millis),
            Err(_) => Err(DurationError::Overflow),
        };
        prop_assert_eq!(duration::parse(&text), expected, "{}", text);
    }

    /// Numbers of any length: exact up to `u64::MAX` ms, `Overflow` beyond, never a panic.
    #[test]
    fn duration_long_numbers(digits in "[0-9]{1,80}", unit in prop::sample::select(vec!["h", "m", "s", "ms"])) {
        let size: u128 = match unit { "h" => 3_600_000, "m" => 60_000, "s" => 1_000, _ => 1 };
        let text = format!("{digits}{unit}");
        let expected = match big_value(&digits).and_then(|v| v.checked_mul(size)) {
            Some(0) => Err(DurationError::Zero),
            Some(millis) => u64::try_from(millis).map_err(|_| DurationError::Overflow),
            None => Err(DurationError::Overflow),
        };
        prop_assert_eq!(duration::parse(&text), expected, "{}", text);
    }

    /// Any Unicode: no panic; an accepted string is ASCII, positive, and means what its
    /// canonical form means; a rejection has a message.
    #[test]
    fn duration_any_unicode(text in prop_oneof![any::<String>(), duration_like()]) {
        match duration::parse(&text) {
            Ok(millis) => {
                prop_assert!(millis > 0);
                prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{}", text);
                prop_assert_eq!(duration::parse(&canonical(millis)), Ok(millis));
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    /// Digits and letters from other scripts are not digits and units.
    #[test]
    fn duration_lookalikes_are_rejected(
        number in "[0-9]{1,4}",
        lookalike in prop::sample::select(vec!["１", "٣", "ｓ", "ｍ", "µs", "ſ", "s\u{301}", "ⅿ"]),
        before in any::<bool>(),
    ) {
        let text = if before { format!("{lookalike}{number}s") } else { format!("{number}{lookalike}") };
        prop_assert!(duration::parse(&text).is_err(), "{}", text);
    }
}

/// The spans the properties rely on are real: a literal's error points at the literal.
#[test]
fn spans_point_into_the_parsed_text() {
    let text = "timeout = \"30x\", name = \"ok\"";
    let (_, errors) = parse_options(text, Context::Attribute).unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1.source_text().as_deref(), Some("\"30x\""));
    assert!(points_into(errors[0].1, text));
    assert!(!points_into(Span::call_site(), text));
    let (_, errors) = parse_options("timeout =", Context::Attribute).unwrap();
    assert!(may_point_at_call_site(&errors[0].0), "{errors:?}");
}
