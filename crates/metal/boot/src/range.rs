//! `Range` request headers (RFC 9110 §14), single byte ranges only. Pure.

/// What to send for a request's `Range` header against a representation of a known length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeDecision {
    /// `200 OK` with the whole body: no `Range` header, another unit, or several ranges (which
    /// RFC 9110 lets a server ignore; boot clients never ask for them).
    Full,
    /// `206 Partial Content` with bytes `start..=end`.
    Partial {
        /// First byte offset.
        start: u64,
        /// Last byte offset, inclusive (always below the length).
        end: u64,
    },
    /// `416 Range Not Satisfiable`: a malformed `bytes=` range, or one outside the body.
    Unsatisfiable,
}

impl RangeDecision {
    /// Number of bytes the response body carries for a representation of `len` bytes.
    pub fn body_len(self, len: u64) -> u64 {
        match self {
            RangeDecision::Full => len,
            RangeDecision::Partial { start, end } => end - start + 1,
            RangeDecision::Unsatisfiable => 0,
        }
    }
}

/// Decides how to answer `header` (the `Range` value, if any) for a body of `len` bytes.
///
/// Accepts `bytes=a-b` (`b` past the end is clamped), `bytes=a-` and `bytes=-n` (the last `n`
/// bytes), with optional whitespace. A `bytes=` value that does not parse, has `a > b`, starts at
/// or past the end, or asks for zero bytes is [`RangeDecision::Unsatisfiable`].
pub fn decide_range(header: Option<&str>, len: u64) -> RangeDecision {
    let Some(header) = header else {
        return RangeDecision::Full;
    };
    let header = header.trim();
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeDecision::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeDecision::Full;
    }
    if spec.contains(',') {
        return RangeDecision::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeDecision::Unsatisfiable;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.is_empty(), last.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match number(last) {
            Some(n) if n > 0 && len > 0 => RangeDecision::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            _ => RangeDecision::Unsatisfiable,
        },
        // `a-`: from a to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => RangeDecision::Partial { start, end: len - 1 },
            _ => RangeDecision::Unsatisfiable,
        },
        // `a-b`.
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end && start < len => RangeDecision::Partial {
                start,
                end: end.min(len - 1),
            },
            _ => RangeDecision::Unsatisfiable,
        },
        (true, true) => RangeDecision::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeDecision::{Full, Partial, Unsatisfiable};
    use super::*;

    fn check(header: Option<&str>, len: u64, expect: RangeDecision) {
        assert_eq!(decide_range(header, len), expect, "{header:?} of {len}");
    }

    #[test]
    fn range_table() {
        let p = |start, end| Partial { start, end };
        let table: &[(Option<&str>, u64, RangeDecision)] = &[
            (None, 10, Full),
            (None, 0, Full),
            (Some("bytes=0-0"), 10, p(0, 0)),
            (Some("bytes=0-9"), 10, p(0, 9)),
            (Some("bytes=2-5"), 10, p(2, 5)),
            (Some("bytes=2-100"), 10, p(2, 9)),
            (Some("bytes=9-9"), 10, p(9, 9)),
            (Some("bytes=3-"), 10, p(3, 9)),
            (Some("bytes=0-"), 10, p(0, 9)),
            (Some("bytes=-4"), 10, p(6, 9)),
            (Some("bytes=-10"), 10, p(0, 9)),
            (Some("bytes=-100"), 10, p(0, 9)),
            (Some(" bytes = 2 - 5 "), 10, p(2, 5)),
            (Some("BYTES=1-1"), 10, p(1, 1)),
            // Unsatisfiable: past the end, empty body, zero-length suffix.
            (Some("bytes=10-"), 10, Unsatisfiable),
            (Some("bytes=10-20"), 10, Unsatisfiable),
            (Some("bytes=0-0"), 0, Unsatisfiable),
            (Some("bytes=-1"), 0, Unsatisfiable),
            (Some("bytes=-0"), 10, Unsatisfiable),
            // Malformed.
            (Some("bytes=5-2"), 10, Unsatisfiable),
            (Some("bytes=-"), 10, Unsatisfiable),
            (Some("bytes="), 10, Unsatisfiable),
            (Some("bytes=a-b"), 10, Unsatisfiable),
            (Some("bytes=+1-2"), 10, Unsatisfiable),
            (Some("bytes=1"), 10, Unsatisfiable),
            (Some("bytes=99999999999999999999999-"), 10, Unsatisfiable),
            (Some("garbage"), 10, Unsatisfiable),
            // Ignored: other units and multiple ranges.
            (Some("items=0-1"), 10, Full),
            (Some("bytes=0-1,3-4"), 10, Full),
        ];
        for (header, len, expect) in table {
            check(*header, *len, *expect);
        }
    }

    #[test]
    fn body_len_counts_inclusive_range() {
        assert_eq!(Partial { start: 2, end: 5 }.body_len(10), 4);
        assert_eq!(Full.body_len(10), 10);
        assert_eq!(Unsatisfiable.body_len(10), 0);
    }

    proptest::proptest! {
        #[test]
        fn any_header_gives_a_range_inside_the_body(header in ".{0,40}", len in 0u64..1000) {
            if let Partial { start, end } = decide_range(Some(&header), len) {
                proptest::prop_assert!(start <= end && end < len);
            }
        }

        #[test]
        fn in_bounds_first_last_is_served_exactly(a in 0u64..1000, b in 0u64..1000, len in 1u64..1000) {
            let got = decide_range(Some(&format!("bytes={a}-{b}")), len);
            let expect = if a <= b && a < len {
                Partial { start: a, end: b.min(len - 1) }
            } else {
                Unsatisfiable
            };
            proptest::prop_assert_eq!(got, expect);
        }
    }
}
