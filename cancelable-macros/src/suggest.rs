//! "Did you mean …?" for option names, signal names and duration units.
//!
//! A small optimal-string-alignment distance (Levenshtein plus adjacent
//! transpositions, so `tiemout` is one edit from `timeout`), plus a containment
//! rule so that `timeout_ms` suggests `timeout` and `interval` suggests
//! `check_interval`.

/// The candidate closest to `given`, if one is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let given = given.to_ascii_lowercase();
    // One edit per three characters: `timout` and `sigtrem` get an answer, `x` does not.
    let threshold = given.chars().count() / 3;
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in candidates {
        let lower = candidate.to_ascii_lowercase();
        let distance = if given == lower {
            0
        } else if given.len() >= 4 && (lower.contains(&given) || given.contains(&lower)) {
            threshold.max(1)
        } else {
            osa_distance(&given, &lower)
        };
        if distance <= threshold && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `a`, `b` and `c` → "`a`, `b` or `c`".
pub(crate) fn one_of(names: &[impl AsRef<str>]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == names.len() { " or " } else { ", " });
        }
        out.push('`');
        out.push_str(name.as_ref());
        out.push('`');
    }
    out
}

/// Optimal string alignment distance between `a` and `b`.
fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: i - 2, i - 1 and i.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[&str] = &["timeout", "signal", "name", "check_interval", "crate"];

    #[test]
    fn distance() {
        assert_eq!(osa_distance("timeout", "timeout"), 0);
        assert_eq!(osa_distance("timout", "timeout"), 1);
        assert_eq!(osa_distance("tiemout", "timeout"), 1);
        assert_eq!(osa_distance("", "abc"), 3);
        assert_eq!(osa_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("timout", OPTIONS), Some("timeout"));
        assert_eq!(did_you_mean("Timeout", OPTIONS), Some("timeout"));
        assert_eq!(did_you_mean("signals", OPTIONS), Some("signal"));
        assert_eq!(did_you_mean("nmae", OPTIONS), Some("name"));
        assert_eq!(did_you_mean("timeout_ms", OPTIONS), Some("timeout"));
        assert_eq!(did_you_mean("interval", OPTIONS), Some("check_interval"));
        assert_eq!(did_you_mean("deadline", OPTIONS), None);
        assert_eq!(did_you_mean("x", OPTIONS), None);
        assert_eq!(did_you_mean("mss", &["ms", "s"]), Some("ms"));
    }

    #[test]
    fn lists() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b"]), "`a` or `b`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
