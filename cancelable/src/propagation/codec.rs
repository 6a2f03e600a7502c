//! The wire format of a deadline: a relative timeout in a header, never an absolute time.
//!
//! # Invariants
//!
//! 1. Encoding rounds down: a callee is never given more time than the caller has left.
//! 2. Parsing accepts only the exact grammar (digits, then a unit for `grpc-timeout`) and at
//!    most [`GRPC_MAX_DIGITS`] or [`MS_MAX_DIGITS`] digits, so the work per header is bounded
//!    and every accepted value fits a [`Duration`]. Anything else is `None`, never an error.
//! 3. [`DeadlineHeaders::read`] only ever returns a header's own value or a smaller one, and a
//!    malformed header is as if absent: untrusted input can shorten a request, never fail it.

use std::time::Duration;

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

/// At most eight digits in a `grpc-timeout` value (the gRPC spec: `TimeoutValue`).
const GRPC_MAX_DIGITS: usize = 8;
const GRPC_MAX_VALUE: u128 = 99_999_999;
/// At most ten digits of milliseconds (about 115 days; Connect's `connect-timeout-ms` limit).
const MS_MAX_DIGITS: usize = 10;
const MS_MAX_VALUE: u128 = 9_999_999_999;
/// Values of one header name looked at, at most (invariant 2: bounded work per request).
const MAX_VALUES_PER_NAME: usize = 4;
/// Header values compared by name in one pass, at most: past this many, each name is looked
/// up instead (invariant 4). Comparing costs about 30 instructions per value, the two
/// lookups about 590 in all (callgrind): past eight values, the lookups are as cheap.
const MAX_VALUES_SCANNED: usize = 8;

/// The gRPC units from the finest up, with their length in nanoseconds.
const GRPC_UNITS: [(u8, u128); 6] = [
    (b'n', 1),
    (b'u', 1_000),
    (b'm', 1_000_000),
    (b'S', 1_000_000_000),
    (b'M', 60_000_000_000),
    (b'H', 3_600_000_000_000),
];

/// The default name of the gRPC deadline header.
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
/// The default name of the plain HTTP deadline header (decimal milliseconds).
pub const REQUEST_TIMEOUT_MS: HeaderName = HeaderName::from_static("request-timeout-ms");
/// The header an egress Envoy sets on upstream calls (decimal milliseconds); read only when
/// [opted in](DeadlineHeaders::envoy).
pub const ENVOY_EXPECTED_RQ_TIMEOUT_MS: HeaderName =
    HeaderName::from_static("x-envoy-expected-rq-timeout-ms");
/// [`ENVOY_EXPECTED_RQ_TIMEOUT_MS`], to be borrowed.
static ENVOY: HeaderName = ENVOY_EXPECTED_RQ_TIMEOUT_MS;

/// Encodes `timeout` as a `grpc-timeout` value: at most eight digits in the finest unit that
/// holds them, rounded down (`n`, `u`, `m`, `S`, `M`, `H`), as the gRPC spec asks.
///
/// A timeout past `99999999H` (about 11,400 years) is sent as `99999999H`; zero is `0n`.
///
/// ```
/// use std::time::Duration;
/// use cancelable::propagation::encode_grpc_timeout;
///
/// assert_eq!(encode_grpc_timeout(Duration::from_millis(1500)), "1500000u");
/// assert_eq!(encode_grpc_timeout(Duration::from_secs(30)), "30000000u");
/// assert_eq!(encode_grpc_timeout(Duration::from_secs(100_000_000)), "1666666M"); // 3 years
/// assert_eq!(encode_grpc_timeout(Duration::ZERO), "0n");
/// ```
pub fn encode_grpc_timeout(timeout: Duration) -> HeaderValue {
    let nanos = timeout.as_nanos();
    let (value, unit) = GRPC_UNITS
        .iter()
        .map(|&(unit, length)| (nanos / length, unit))
        .find(|&(value, _)| value <= GRPC_MAX_VALUE)
        .unwrap_or((GRPC_MAX_VALUE, b'H'));
    header_value(value, Some(unit))
}

/// Parses a `grpc-timeout` value: one to eight ASCII digits, then one of the units `n`, `u`,
/// `m`, `S`, `M`, `H`. Anything else (empty, nine digits, a sign, a space, another unit) is
/// `None`.
///
/// ```
/// use std::time::Duration;
/// use cancelable::propagation::parse_grpc_timeout;
///
/// assert_eq!(parse_grpc_timeout(b"1500m"), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_grpc_timeout(b"99999999H"), Some(Duration::from_secs(99_999_999 * 3600)));
/// assert_eq!(parse_grpc_timeout(b"123456789n"), None);
/// assert_eq!(parse_grpc_timeout(b"+5S"), None);
/// assert_eq!(parse_grpc_timeout(b"5s"), None);
/// ```
pub fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    let from: fn(u64) -> Duration = match unit {
        b'n' => Duration::from_nanos,
        b'u' => Duration::from_micros,
        b'm' => Duration::from_millis,
        b'S' => Duration::from_secs,
        b'M' => |minutes| Duration::from_secs(minutes * 60),
        b'H' => |hours| Duration::from_secs(hours * 3600),
        _ => return None,
    };
    // At most eight digits: `99999999H` in seconds is far from `u64::MAX`.
    Some(from(parse_digits(digits, GRPC_MAX_DIGITS)?))
}

/// Encodes `timeout` as whole milliseconds, rounded down (at most ten digits: a longer timeout
/// is sent as `9999999999`).
///
/// ```
/// use std::time::Duration;
/// use cancelable::propagation::encode_timeout_ms;
///
/// assert_eq!(encode_timeout_ms(Duration::from_micros(2_500_900)), "2500");
/// ```
pub fn encode_timeout_ms(timeout: Duration) -> HeaderValue {
    header_value(timeout.as_millis().min(MS_MAX_VALUE), None)
}

/// Parses a decimal number of milliseconds: one to ten ASCII digits and nothing else.
///
/// ```
/// use std::time::Duration;
/// use cancelable::propagation::parse_timeout_ms;
///
/// assert_eq!(parse_timeout_ms(b"2500"), Some(Duration::from_millis(2500)));
/// assert_eq!(parse_timeout_ms(b"2.5"), None);
/// assert_eq!(parse_timeout_ms(b"12345678901"), None);
/// ```
pub fn parse_timeout_ms(value: &[u8]) -> Option<Duration> {
    Some(Duration::from_millis(parse_digits(value, MS_MAX_DIGITS)?))
}

/// Whether a request is a gRPC call: its `content-type` starts with `application/grpc` (which
/// includes `application/grpc+proto` and gRPC-Web).
///
/// ```
/// use cancelable::propagation::is_grpc;
/// use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
///
/// let mut headers = HeaderMap::new();
/// assert!(!is_grpc(&headers));
/// headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc+proto"));
/// assert!(is_grpc(&headers));
/// ```
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// Which headers carry a deadline, read by servers and written by clients.
///
/// By default: `grpc-timeout` for gRPC calls, `request-timeout-ms` (decimal milliseconds) for
/// the rest; Envoy's `x-envoy-expected-rq-timeout-ms` is read only when
/// [opted in](Self::envoy), for a service that trusts the Envoy in front of it.
///
/// ```
/// use std::time::Duration;
/// use cancelable::propagation::DeadlineHeaders;
/// use http::{HeaderMap, HeaderName, HeaderValue};
///
/// let headers = DeadlineHeaders::default();
/// let mut request = HeaderMap::new();
/// headers.write(&mut request, Duration::from_millis(1500));
/// assert_eq!(request["request-timeout-ms"], "1500");
/// assert_eq!(headers.read(&request), Some(Duration::from_millis(1500)));
///
/// // Another name for plain HTTP, and Envoy's header trusted.
/// let custom = DeadlineHeaders::default().http(HeaderName::from_static("x-timeout-ms")).envoy(true);
/// request.insert("x-envoy-expected-rq-timeout-ms", HeaderValue::from_static("900"));
/// assert_eq!(custom.read(&request), Some(Duration::from_millis(900)));
/// ```
#[derive(Clone, Debug)]
pub struct DeadlineHeaders {
    grpc: HeaderName,
    http: HeaderName,
    envoy: bool,
}

impl Default for DeadlineHeaders {
    fn default() -> Self {
        DeadlineHeaders {
            grpc: GRPC_TIMEOUT,
            http: REQUEST_TIMEOUT_MS,
            envoy: false,
        }
    }
}

impl DeadlineHeaders {
    /// The header of gRPC calls, in `grpc-timeout`'s format (default: `grpc-timeout`).
    pub fn grpc(mut self, name: HeaderName) -> Self {
        self.grpc = name;
        self
    }

    /// The header of plain HTTP requests, in decimal milliseconds (default:
    /// `request-timeout-ms`).
    pub fn http(mut self, name: HeaderName) -> Self {
        self.http = name;
        self
    }

    /// Also reads `x-envoy-expected-rq-timeout-ms`, which an egress Envoy sets to the time it
    /// gives the request (default: off; turn it on only behind an Envoy that sets or strips it,
    /// since a client could send it too — though it can only shorten its own request).
    pub fn envoy(mut self, read: bool) -> Self {
        self.envoy = read;
        self
    }

    /// The timeout the caller asked for: the smallest valid value among the headers present
    /// (each in its own format), or `None` if there is none.
    ///
    /// A malformed value is ignored and logged at `debug`; only the first four values of a
    /// repeated header are looked at.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::propagation::DeadlineHeaders;
    /// use http::{HeaderMap, HeaderValue};
    ///
    /// let mut request = HeaderMap::new();
    /// request.insert("grpc-timeout", HeaderValue::from_static("2S"));
    /// request.insert("request-timeout-ms", HeaderValue::from_static("soon"));
    /// assert_eq!(DeadlineHeaders::default().read(&request), Some(Duration::from_secs(2)));
    /// ```
    pub fn read(&self, headers: &HeaderMap) -> Option<Duration> {
        if headers.len() > MAX_VALUES_SCANNED {
            self.read_by_name(headers)
        } else {
            self.read_in_one_pass(headers)
        }
    }

    /// [`read`](Self::read) in one pass, comparing names instead of hashing them (invariant
    /// 4): most requests carry none of these headers, and a standard name differs from them
    /// at once.
    fn read_in_one_pass(&self, headers: &HeaderMap) -> Option<Duration> {
        let [mut grpc, mut http, mut envoy] = self.readers();
        let mut found = None;
        for (name, value) in headers {
            if name == grpc.name {
                grpc.take(value, &mut found);
            }
            if name == http.name {
                http.take(value, &mut found);
            }
            if self.envoy && name == envoy.name {
                envoy.take(value, &mut found);
            }
        }
        found
    }

    /// [`read`](Self::read) by one lookup per name, for a request with many headers.
    fn read_by_name(&self, headers: &HeaderMap) -> Option<Duration> {
        let mut readers = self.readers();
        let names = if self.envoy { 3 } else { 2 };
        let mut found = None;
        for reader in &mut readers[..names] {
            for value in headers.get_all(reader.name) {
                if !reader.take(value, &mut found) {
                    break;
                }
            }
        }
        found
    }

    /// A reader per header name: gRPC's, plain HTTP's, Envoy's (read only when opted in).
    fn readers(&self) -> [Reader<'_>; 3] {
        [
            Reader::new(&self.grpc, parse_grpc_timeout),
            Reader::new(&self.http, parse_timeout_ms),
            Reader::new(&ENVOY, parse_timeout_ms),
        ]
    }

    /// Writes `remaining` into a request's headers: `grpc-timeout` for a gRPC call (see
    /// [`is_grpc`]), the HTTP header otherwise. A shorter valid timeout already there (say, one
    /// set with tonic's `Request::set_timeout`) is kept.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cancelable::propagation::DeadlineHeaders;
    /// use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
    ///
    /// let mut request = HeaderMap::new();
    /// request.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    /// request.insert("grpc-timeout", HeaderValue::from_static("200m"));
    /// DeadlineHeaders::default().write(&mut request, Duration::from_secs(5));
    /// assert_eq!(request["grpc-timeout"], "200m");
    /// DeadlineHeaders::default().write(&mut request, Duration::from_millis(150));
    /// assert_eq!(request["grpc-timeout"], "150000u");
    /// ```
    pub fn write(&self, headers: &mut HeaderMap, remaining: Duration) {
        let (name, format) = if is_grpc(headers) {
            (&self.grpc, GRPC)
        } else {
            (&self.http, MILLIS)
        };
        let shorter = headers
            .get_all(name)
            .iter()
            .take(MAX_VALUES_PER_NAME)
            .filter_map(|value| (format.parse)(value.as_bytes()))
            .any(|timeout| timeout <= remaining);
        if !shorter {
            headers.insert(name.clone(), (format.encode)(remaining));
        }
    }
}

/// A header format: its parser and its encoder.
#[derive(Clone, Copy)]
struct Format {
    parse: fn(&[u8]) -> Option<Duration>,
    encode: fn(Duration) -> HeaderValue,
}

const GRPC: Format = Format {
    parse: parse_grpc_timeout,
    encode: encode_grpc_timeout,
};
const MILLIS: Format = Format {
    parse: parse_timeout_ms,
    encode: encode_timeout_ms,
};

/// The values of one header name, as they are met.
struct Reader<'a> {
    name: &'a HeaderName,
    parse: fn(&[u8]) -> Option<Duration>,
    /// Values looked at so far (invariant 2: at most [`MAX_VALUES_PER_NAME`]).
    seen: usize,
}

impl<'a> Reader<'a> {
    fn new(name: &'a HeaderName, parse: fn(&[u8]) -> Option<Duration>) -> Self {
        Reader {
            name,
            parse,
            seen: 0,
        }
    }

    /// Looks at the next value of the name, keeping the shortest valid timeout in `found`;
    /// `false` once no more are looked at.
    fn take(&mut self, value: &HeaderValue, found: &mut Option<Duration>) -> bool {
        if self.seen == MAX_VALUES_PER_NAME {
            return false;
        }
        self.seen += 1;
        match (self.parse)(value.as_bytes()) {
            Some(timeout) => *found = shortest(*found, Some(timeout)),
            None => {
                tracing::debug!(header = %self.name, len = value.len(), "ignoring a malformed deadline header");
            }
        }
        self.seen < MAX_VALUES_PER_NAME
    }
}

fn shortest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One to `max` ASCII digits (invariant 2), as a number (`max` ≤ 19, so it fits).
fn parse_digits(digits: &[u8], max: usize) -> Option<u64> {
    if digits.is_empty() || digits.len() > max {
        return None;
    }
    let mut value = 0u64;
    for &digit in digits {
        let digit = digit.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    Some(value)
}

/// `value` in decimal, then `unit`, with no allocation beyond the header's own.
fn header_value(mut value: u128, unit: Option<u8>) -> HeaderValue {
    let mut buf = [0u8; 24];
    let mut start = buf.len();
    if let Some(unit) = unit {
        start -= 1;
        buf[start] = unit;
    }
    let end = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    HeaderValue::from_bytes(&buf[start..end]).expect("digits and a unit are a valid header value")
}

#[cfg(test)]
mod tests;
