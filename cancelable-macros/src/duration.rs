//! Duration literals: `"500ms"`, `"30s"`, `"1m30s"`, `"2h"`.
//!
//! Parsed at compile time into a whole number of milliseconds, so the expansion
//! holds a constant `Duration::from_millis(..)` and nothing is parsed at run time.
//!
//! Grammar: one or more `<digits><unit>` parts, units from largest to smallest,
//! each at most once; units are `h`, `m`, `s` and `ms`. No sign, no fraction, no
//! whitespace. Zero and values above `u64::MAX` milliseconds are rejected.

use std::fmt;

use crate::suggest;

/// What the error messages list as the accepted forms.
pub(crate) const EXPECTED: &str = "expected a whole number and a unit (`ms`, `s`, `m` or `h`), such as `500ms`, `30s`, `1m30s` or `2h`";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Millis,
    Seconds,
    Minutes,
    Hours,
}

impl Unit {
    const NAMES: &[&str] = &["ms", "s", "m", "h"];

    fn parse(text: &str) -> Option<Unit> {
        match text {
            "ms" => Some(Unit::Millis),
            "s" => Some(Unit::Seconds),
            "m" => Some(Unit::Minutes),
            "h" => Some(Unit::Hours),
            _ => None,
        }
    }

    fn millis(self) -> u128 {
        match self {
            Unit::Millis => 1,
            Unit::Seconds => 1_000,
            Unit::Minutes => 60_000,
            Unit::Hours => 3_600_000,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::Minutes => "m",
            Unit::Hours => "h",
        }
    }

    /// A spelling people reach for, and the unit it means.
    fn hint(text: &str) -> Option<&'static str> {
        let hint = match text.to_ascii_lowercase().as_str() {
            "msec" | "msecs" | "millis" | "milli" | "millisecond" | "milliseconds" => "ms",
            "sec" | "secs" | "second" | "seconds" => "s",
            "min" | "mins" | "minute" | "minutes" => "m",
            "hr" | "hrs" | "hour" | "hours" => "h",
            "d" | "day" | "days" => "h",
            other => return suggest::did_you_mean(other, Unit::NAMES),
        };
        Some(hint)
    }
}

/// Why a duration literal was rejected. Displayed after "invalid duration `…`: ".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    Empty,
    MissingUnit {
        number: String,
    },
    MissingNumber {
        unit: String,
    },
    UnknownUnit {
        unit: String,
        hint: Option<&'static str>,
    },
    Fraction,
    Unexpected(char),
    OutOfOrder {
        unit: &'static str,
        after: &'static str,
    },
    Repeated {
        unit: &'static str,
    },
    Zero,
    Overflow,
}

impl DurationError {
    /// Whether the message should go on with the accepted forms: the text does
    /// not follow the grammar, and the error does not already say how to fix it.
    pub(crate) fn wants_forms(&self) -> bool {
        !matches!(
            self,
            DurationError::Zero | DurationError::Overflow | DurationError::Fraction
        )
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("the string is empty"),
            DurationError::MissingUnit { number } => write!(f, "missing unit after `{number}`"),
            DurationError::MissingNumber { unit } => write!(f, "missing number before `{unit}`"),
            DurationError::UnknownUnit {
                unit,
                hint: Some(hint),
            } => {
                write!(f, "unknown unit `{unit}` (did you mean `{hint}`?)")
            }
            DurationError::UnknownUnit { unit, hint: None } => write!(f, "unknown unit `{unit}`"),
            DurationError::Fraction => f.write_str(
                "fractions are not supported, combine units instead (`1m30s`, `1s500ms`)",
            ),
            DurationError::Unexpected(' ') => f.write_str("unexpected space"),
            DurationError::Unexpected(c) => write!(f, "unexpected `{c}`"),
            DurationError::OutOfOrder { unit, after } => {
                write!(
                    f,
                    "`{unit}` after `{after}`; write units from largest to smallest"
                )
            }
            DurationError::Repeated { unit } => write!(f, "unit `{unit}` given twice"),
            DurationError::Zero => f.write_str("it must be greater than zero"),
            DurationError::Overflow => f.write_str("too large (at most `u64::MAX` milliseconds)"),
        }
    }
}

/// Parses a duration literal into milliseconds.
pub(crate) fn parse(text: &str) -> Result<u64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut previous: Option<Unit> = None;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after_digits) = rest.split_at(digits_len);
        let unit_len = after_digits
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(after_digits.len());
        let (unit, after_unit) = after_digits.split_at(unit_len);

        if after_digits.starts_with(['.', ',']) {
            return Err(DurationError::Fraction);
        }
        if digits.is_empty() {
            return Err(match after_digits.chars().next() {
                Some(c) if c.is_alphabetic() => DurationError::MissingNumber {
                    unit: unit.to_owned(),
                },
                Some(c) => DurationError::Unexpected(c),
                None => DurationError::Empty,
            });
        }
        if unit.is_empty() {
            return Err(match after_digits.chars().next() {
                Some(c) => DurationError::Unexpected(c),
                None => DurationError::MissingUnit {
                    number: digits.to_owned(),
                },
            });
        }
        let Some(parsed) = Unit::parse(unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
                hint: Unit::hint(unit),
            });
        };
        if let Some(previous) = previous {
            if parsed == previous {
                return Err(DurationError::Repeated {
                    unit: parsed.name(),
                });
            }
            if parsed > previous {
                return Err(DurationError::OutOfOrder {
                    unit: parsed.name(),
                    after: previous.name(),
                });
            }
        }
        previous = Some(parsed);

        let value = digits
            .bytes()
            .try_fold(0u128, |acc, digit| {
                acc.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
            })
            .and_then(|value| value.checked_mul(parsed.millis()))
            .and_then(|value| value.checked_add(total))
            .ok_or(DurationError::Overflow)?;
        total = value;
        rest = after_unit;
    }
    match u64::try_from(total) {
        Ok(0) => Err(DurationError::Zero),
        Ok(millis) => Ok(millis),
        Err(_) => Err(DurationError::Overflow),
    }
}

#[cfg(test)]
mod tests {
    use super::DurationError::*;
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse("500ms"), Ok(500));
        assert_eq!(parse("30s"), Ok(30_000));
        assert_eq!(parse("1m30s"), Ok(90_000));
        assert_eq!(parse("2h"), Ok(7_200_000));
        assert_eq!(parse("1h2m3s4ms"), Ok(3_723_004));
        assert_eq!(parse("90m"), Ok(5_400_000));
        assert_eq!(parse("0h1ms"), Ok(1));
        assert_eq!(parse("007s"), Ok(7_000));
        assert_eq!(parse("18446744073709551615ms"), Ok(u64::MAX));
    }

    #[test]
    fn malformed() {
        assert_eq!(parse(""), Err(Empty));
        assert_eq!(
            parse("30"),
            Err(MissingUnit {
                number: "30".into()
            })
        );
        assert_eq!(parse("s"), Err(MissingNumber { unit: "s".into() }));
        assert_eq!(
            parse("30x"),
            Err(UnknownUnit {
                unit: "x".into(),
                hint: None
            })
        );
        assert_eq!(
            parse("30sec"),
            Err(UnknownUnit {
                unit: "sec".into(),
                hint: Some("s")
            })
        );
        assert_eq!(
            parse("2days"),
            Err(UnknownUnit {
                unit: "days".into(),
                hint: Some("h")
            })
        );
        assert_eq!(
            parse("5mss"),
            Err(UnknownUnit {
                unit: "mss".into(),
                hint: Some("ms")
            })
        );
        assert_eq!(
            parse("30S"),
            Err(UnknownUnit {
                unit: "S".into(),
                hint: Some("s")
            })
        );
        assert_eq!(parse("1.5s"), Err(Fraction));
        assert_eq!(parse(".5s"), Err(Fraction));
        assert_eq!(parse("-1s"), Err(Unexpected('-')));
        assert_eq!(parse("30 s"), Err(Unexpected(' ')));
        assert_eq!(parse(" 30s"), Err(Unexpected(' ')));
        assert_eq!(parse("30s "), Err(Unexpected(' ')));
        assert_eq!(
            parse("30s1m"),
            Err(OutOfOrder {
                unit: "m",
                after: "s"
            })
        );
        assert_eq!(parse("1s1s"), Err(Repeated { unit: "s" }));
        assert_eq!(
            parse("1s500"),
            Err(MissingUnit {
                number: "500".into()
            })
        );
    }

    #[test]
    fn zero_and_overflow() {
        assert_eq!(parse("0s"), Err(Zero));
        assert_eq!(parse("0h0m"), Err(Zero));
        assert_eq!(parse("18446744073709551616ms"), Err(Overflow));
        assert_eq!(parse("99999999999999999999999h"), Err(Overflow));
        assert_eq!(
            parse("9999999999999999999999999999999999999999999s"),
            Err(Overflow)
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            UnknownUnit {
                unit: "sec".into(),
                hint: Some("s")
            }
            .to_string(),
            "unknown unit `sec` (did you mean `s`?)"
        );
        assert_eq!(
            OutOfOrder {
                unit: "m",
                after: "s"
            }
            .to_string(),
            "`m` after `s`; write units from largest to smallest"
        );
        assert!(
            MissingUnit {
                number: "30".into()
            }
            .wants_forms()
        );
        assert!(!Zero.wants_forms());
        assert!(!Fraction.wants_forms());
    }
}
