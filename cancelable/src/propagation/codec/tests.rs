use std::time::Duration;

use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use proptest::prelude::*;

use super::*;

fn grpc(d: Duration) -> String {
    encode_grpc_timeout(d).to_str().unwrap().to_owned()
}

#[test]
fn grpc_encoding_picks_the_finest_unit_with_eight_digits() {
    let cases = [
        (Duration::ZERO, "0n"),
        (Duration::from_nanos(82), "82n"),
        (Duration::from_nanos(99_999_999), "99999999n"),
        (Duration::from_nanos(100_000_000), "100000u"),
        (Duration::from_nanos(100_000_001), "100000u"),
        (Duration::from_millis(1500), "1500000u"),
        (Duration::from_secs(30), "30000000u"),
        (Duration::from_secs(100), "100000m"),
        (Duration::from_secs(99_999), "99999000m"),
        (Duration::from_secs(100_000), "100000S"),
        (Duration::from_secs(99_999_999), "99999999S"),
        (Duration::from_secs(100_000_000), "1666666M"),
        (Duration::from_secs(99_999_999 * 60), "99999999M"),
        (Duration::from_secs(99_999_999 * 60 + 60), "1666666H"),
        (Duration::from_secs(99_999_999 * 3600), "99999999H"),
        (Duration::MAX, "99999999H"),
    ];
    for (timeout, expected) in cases {
        assert_eq!(grpc(timeout), expected, "{timeout:?}");
    }
}

#[test]
fn grpc_parsing_takes_the_spec_grammar_and_nothing_else() {
    let accepted = [
        ("3H", Duration::from_secs(3 * 3600)),
        ("1M", Duration::from_secs(60)),
        ("42S", Duration::from_secs(42)),
        ("13m", Duration::from_millis(13)),
        ("2u", Duration::from_micros(2)),
        ("82n", Duration::from_nanos(82)),
        ("0n", Duration::ZERO),
        ("00000001S", Duration::from_secs(1)),
        ("99999999S", Duration::from_secs(99_999_999)),
    ];
    for (value, expected) in accepted {
        assert_eq!(
            parse_grpc_timeout(value.as_bytes()),
            Some(expected),
            "{value}"
        );
    }
    let rejected = [
        "",
        "H",
        "1",
        "abcS",
        "82f",
        "5§",
        "123456789H",
        "000000001S",
        "+5S",
        "-5S",
        " 5S",
        "5S ",
        "5 S",
        "5s",
        "1.5S",
        "5SS",
        "0x5S",
    ];
    for value in rejected {
        assert_eq!(parse_grpc_timeout(value.as_bytes()), None, "{value:?}");
    }
}

#[test]
fn milliseconds_round_down_and_are_limited_to_ten_digits() {
    assert_eq!(encode_timeout_ms(Duration::from_micros(999)), "0");
    assert_eq!(encode_timeout_ms(Duration::from_micros(1_999)), "1");
    assert_eq!(encode_timeout_ms(Duration::MAX), "9999999999");
    assert_eq!(parse_timeout_ms(b"0"), Some(Duration::ZERO));
    assert_eq!(
        parse_timeout_ms(b"9999999999"),
        Some(Duration::from_millis(9_999_999_999))
    );
    for value in ["", "-1", "+1", "1.0", "1ms", " 1", "12345678901", "1e3"] {
        assert_eq!(parse_timeout_ms(value.as_bytes()), None, "{value:?}");
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for &(name, value) in pairs {
        map.append(name, HeaderValue::from_static(value));
    }
    map
}

#[test]
fn read_takes_the_minimum_of_the_valid_headers() {
    let all = DeadlineHeaders::default();
    let map = headers(&[("grpc-timeout", "3S"), ("request-timeout-ms", "2000")]);
    assert_eq!(all.read(&map), Some(Duration::from_secs(2)));
    let map = headers(&[("grpc-timeout", "1S"), ("request-timeout-ms", "2000")]);
    assert_eq!(all.read(&map), Some(Duration::from_secs(1)));
    assert_eq!(all.read(&HeaderMap::new()), None);
}

#[test]
fn read_ignores_malformed_values() {
    let all = DeadlineHeaders::default();
    let map = headers(&[("grpc-timeout", "1s"), ("request-timeout-ms", "750")]);
    assert_eq!(all.read(&map), Some(Duration::from_millis(750)));
    let map = headers(&[("grpc-timeout", "-1S"), ("request-timeout-ms", "x")]);
    assert_eq!(all.read(&map), None);
    let map = headers(&[("request-timeout-ms", "oops"), ("request-timeout-ms", "40")]);
    assert_eq!(all.read(&map), Some(Duration::from_millis(40)));
}

#[test]
fn read_looks_at_a_bounded_number_of_repeated_values() {
    let mut map = HeaderMap::new();
    for _ in 0..MAX_VALUES_PER_NAME {
        map.append("request-timeout-ms", HeaderValue::from_static("junk"));
    }
    map.append("request-timeout-ms", HeaderValue::from_static("5"));
    assert_eq!(DeadlineHeaders::default().read(&map), None);
}

#[test]
fn read_gives_the_same_answer_past_the_values_it_scans() {
    let mut map = headers(&[
        ("request-timeout-ms", "junk"),
        ("grpc-timeout", "2S"),
        ("request-timeout-ms", "900"),
    ]);
    let all = DeadlineHeaders::default();
    assert_eq!(all.read(&map), Some(Duration::from_millis(900)));
    for i in 0..MAX_VALUES_SCANNED {
        let name = HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap();
        map.append(name, HeaderValue::from_static("1"));
    }
    assert!(map.len() > MAX_VALUES_SCANNED);
    assert_eq!(all.read(&map), Some(Duration::from_millis(900)));
    map.append("request-timeout-ms", HeaderValue::from_static("40"));
    assert_eq!(all.read(&map), Some(Duration::from_millis(40)));
}

#[test]
fn envoy_header_is_read_only_when_opted_in() {
    let map = headers(&[
        ("x-envoy-expected-rq-timeout-ms", "300"),
        ("request-timeout-ms", "900"),
    ]);
    assert_eq!(
        DeadlineHeaders::default().read(&map),
        Some(Duration::from_millis(900))
    );
    let envoy = DeadlineHeaders::default().envoy(true);
    assert_eq!(envoy.read(&map), Some(Duration::from_millis(300)));
}

#[test]
fn names_are_configurable() {
    let custom = DeadlineHeaders::default()
        .grpc(HeaderName::from_static("x-grpc-deadline"))
        .http(HeaderName::from_static("x-timeout-ms"));
    let map = headers(&[("grpc-timeout", "1S"), ("x-timeout-ms", "5000")]);
    assert_eq!(custom.read(&map), Some(Duration::from_secs(5)));
    let mut map = headers(&[("content-type", "application/grpc")]);
    custom.write(&mut map, Duration::from_secs(2));
    assert_eq!(map["x-grpc-deadline"], "2000000u");
    assert!(!map.contains_key("grpc-timeout"));
}

#[test]
fn write_picks_the_header_by_content_type() {
    let all = DeadlineHeaders::default();
    let mut plain = headers(&[("content-type", "application/json")]);
    all.write(&mut plain, Duration::from_millis(1234));
    assert_eq!(plain["request-timeout-ms"], "1234");
    assert!(!plain.contains_key("grpc-timeout"));

    let mut grpc = headers(&[("content-type", "application/grpc+proto")]);
    all.write(&mut grpc, Duration::from_millis(1234));
    assert_eq!(grpc["grpc-timeout"], "1234000u");
    assert!(!grpc.contains_key("request-timeout-ms"));
}

#[test]
fn write_keeps_a_shorter_timeout_and_replaces_a_longer_or_broken_one() {
    let all = DeadlineHeaders::default();
    let mut map = headers(&[("request-timeout-ms", "100")]);
    all.write(&mut map, Duration::from_secs(1));
    assert_eq!(map["request-timeout-ms"], "100");
    let mut map = headers(&[("request-timeout-ms", "5000")]);
    all.write(&mut map, Duration::from_secs(1));
    assert_eq!(map["request-timeout-ms"], "1000");
    let mut map = headers(&[("request-timeout-ms", "junk")]);
    all.write(&mut map, Duration::from_secs(1));
    assert_eq!(map.get_all("request-timeout-ms").iter().count(), 1);
    assert_eq!(map["request-timeout-ms"], "1000");
}

#[test]
fn is_grpc_reads_the_content_type() {
    assert!(is_grpc(&headers(&[(
        CONTENT_TYPE.as_str(),
        "application/grpc"
    )])));
    assert!(is_grpc(&headers(&[(
        "content-type",
        "application/grpc-web+proto"
    )])));
    assert!(!is_grpc(&headers(&[("content-type", "application/json")])));
    assert!(!is_grpc(&headers(&[(
        "content-type",
        "text/application/grpc"
    )])));
    assert!(!is_grpc(&HeaderMap::new()));
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    Duration::new(
        u64::try_from(nanos / NANOS_PER_SEC).unwrap(),
        (nanos % NANOS_PER_SEC) as u32,
    )
}

/// The precision of an encoded value: the length of its unit.
fn unit_of(encoded: &str) -> Duration {
    let unit = *encoded.as_bytes().last().unwrap();
    let (_, nanos) = GRPC_UNITS.iter().find(|&&(u, _)| u == unit).unwrap();
    Duration::from_nanos(*nanos as u64)
}

const LARGEST: Duration = Duration::from_secs(99_999_999 * 3600);

proptest! {
    #[test]
    fn grpc_round_trip_is_within_one_unit_and_never_longer(nanos in 0u128..=LARGEST.as_nanos()) {
        let timeout = duration_from_nanos(nanos);
        let encoded = grpc(timeout);
        let back = parse_grpc_timeout(encoded.as_bytes()).expect("what we encode parses");
        prop_assert!(back <= timeout, "{encoded} is longer than {timeout:?}");
        prop_assert!(timeout - back < unit_of(&encoded), "{encoded} is too coarse for {timeout:?}");
    }

    #[test]
    fn grpc_encoding_has_at_most_eight_digits_in_the_finest_unit(nanos in any::<u64>()) {
        let encoded = grpc(Duration::from_nanos(nanos).saturating_mul(1000));
        let digits = &encoded[..encoded.len() - 1];
        prop_assert!(!digits.is_empty() && digits.len() <= GRPC_MAX_DIGITS, "{encoded}");
        prop_assert!(digits == "0" || !digits.starts_with('0'), "{encoded}");
    }

    #[test]
    fn grpc_unit_is_the_finest_that_fits(nanos in 0u128..=LARGEST.as_nanos()) {
        let encoded = grpc(duration_from_nanos(nanos));
        let unit = unit_of(&encoded).as_nanos();
        let finer = GRPC_UNITS.iter().rev().find(|&&(_, length)| length < unit);
        if let Some(&(_, finer)) = finer {
            prop_assert!(nanos / finer > GRPC_MAX_VALUE, "{encoded}: a finer unit fits");
        }
    }

    #[test]
    fn milliseconds_round_trip_rounded_down(millis in 0u64..=9_999_999_999, extra in 0u32..1_000_000) {
        let timeout = Duration::from_millis(millis) + Duration::from_nanos(u64::from(extra));
        let encoded = encode_timeout_ms(timeout);
        prop_assert_eq!(parse_timeout_ms(encoded.as_bytes()), Some(Duration::from_millis(millis)));
    }

    #[test]
    fn garbage_is_none_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
        let grpc = parse_grpc_timeout(&bytes);
        let well_formed = bytes.len() >= 2
            && bytes.len() <= GRPC_MAX_DIGITS + 1
            && bytes[..bytes.len() - 1].iter().all(u8::is_ascii_digit)
            && b"numSMH".contains(bytes.last().unwrap());
        prop_assert_eq!(grpc.is_some(), well_formed);
        let ms = parse_timeout_ms(&bytes);
        let well_formed = !bytes.is_empty() && bytes.len() <= MS_MAX_DIGITS && bytes.iter().all(u8::is_ascii_digit);
        prop_assert_eq!(ms.is_some(), well_formed);
    }

    #[test]
    fn one_pass_and_lookups_read_alike(
        pairs in proptest::collection::vec((0usize..5, 0usize..5), 0..=MAX_VALUES_SCANNED),
        envoy in any::<bool>(),
    ) {
        const NAMES: [&str; 5] = [
            "grpc-timeout",
            "request-timeout-ms",
            "x-envoy-expected-rq-timeout-ms",
            "content-type",
            "x-timeout-ms",
        ];
        const VALUES: [&str; 5] = ["5S", "70", "3m", "junk", ""];
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(NAMES[name], HeaderValue::from_static(VALUES[value]));
        }
        let all = DeadlineHeaders::default().envoy(envoy);
        prop_assert_eq!(all.read_in_one_pass(&map), all.read_by_name(&map));
    }

    #[test]
    fn read_never_exceeds_any_valid_header(a in 0u64..100_000, b in 0u64..100_000, junk in "[ -~]{0,12}") {
        let mut map = HeaderMap::new();
        map.insert("grpc-timeout", HeaderValue::from_str(&format!("{a}m")).unwrap());
        map.insert("request-timeout-ms", HeaderValue::from_str(&b.to_string()).unwrap());
        map.append("request-timeout-ms", HeaderValue::from_str(&junk).unwrap());
        let read = DeadlineHeaders::default().read(&map).unwrap();
        prop_assert!(read <= Duration::from_millis(a.min(b)));
    }
}
