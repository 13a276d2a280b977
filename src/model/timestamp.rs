//! PI Web API timestamps: ISO-8601 text <-> integer nanoseconds since the Unix epoch.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS`, then optionally `.` and 1 to 9 fractional digits (PI sends
//! up to 7, i.e. 100 ns resolution), then `Z`, `+HH:MM`, `-HH:MM`, `+HHMM` or `+HH`. `t`/`z` in
//! lower case and a space instead of `T` are accepted too. A timestamp without an offset is
//! taken as UTC (PI Web API sends UTC). Anything else is rejected, as are impossible dates
//! (2023-02-29), hours past 23, leap seconds (`:60`), and instants outside the range of an
//! `i64` of nanoseconds (1677-09-21 .. 2262-04-11).

use std::fmt;

/// Why a timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    reason: &'static str,
}

impl TimestampError {
    fn new(reason: &'static str) -> Self {
        TimestampError { reason }
    }

    pub fn reason(&self) -> &str {
        self.reason
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for TimestampError {}

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Parse an ISO-8601 timestamp into nanoseconds since 1970-01-01T00:00:00Z.
///
/// `1969-12-31T23:59:59.9999999Z` is -100; `2100-01-01T00:00:00Z` is 4102444800 * 10^9.
pub fn parse_timestamp(text: &str) -> Result<i64, TimestampError> {
    parse_full(text).map(|(ns, _)| ns)
}

/// Parses timestamps like [`parse_timestamp`] (same results and errors), skipping the date
/// and time of day when a text starts with the same bytes as the last valid one did: the
/// values of a message mostly share them.
#[derive(Debug, Default)]
pub(crate) struct TimestampCache {
    /// `YYYY-MM-DDTHH:MM:SS` of the last valid text (a year has at most 6 digits).
    prefix: [u8; PREFIX_MAX],
    /// Used length of `prefix`; 0 when nothing is cached.
    len: usize,
    /// What `prefix` stands for, in seconds since the epoch (before the offset).
    secs: i64,
}

const PREFIX_MAX: usize = 21;

impl TimestampCache {
    pub(crate) fn parse(&mut self, text: &str) -> Result<i64, TimestampError> {
        let b = text.as_bytes();
        if self.len > 0 && b.get(..self.len) == Some(&self.prefix[..self.len]) {
            // The prefix parse looks at no byte past the seconds, so it would read the same
            // valid fields again: only the tail's syntax and the int64 range can fail.
            let mut p = Cursor { b, i: self.len };
            let tail = tail(&mut p)?;
            return combine(self.secs, tail);
        }
        let (ns, (len, secs)) = parse_full(text)?;
        self.prefix[..len].copy_from_slice(&b[..len]);
        self.len = len;
        self.secs = secs;
        Ok(ns)
    }
}

/// The timestamp, and its prefix's length and seconds (for the cache).
fn parse_full(text: &str) -> Result<(i64, (usize, i64)), TimestampError> {
    let mut p = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    // Syntax of the whole text first, then ranges.
    let fields = prefix(&mut p)?;
    let len = p.i;
    let tail = tail(&mut p)?;
    fields.validate()?;
    let secs = fields.seconds();
    Ok((combine(secs, tail)?, (len, secs)))
}

/// The date and time of day, as written (not range checked).
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Fields {
    fn validate(&self) -> Result<(), TimestampError> {
        if !(1..=12).contains(&self.month) {
            return Err(TimestampError::new("month out of range"));
        }
        if self.day == 0 || self.day > days_in_month(self.year, self.month) {
            return Err(TimestampError::new("day out of range for the month"));
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return Err(TimestampError::new("time of day out of range"));
        }
        Ok(())
    }

    /// Seconds since the epoch, as if UTC (fits: years have at most 6 digits).
    fn seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + (self.hour * 3600 + self.minute * 60 + self.second) as i64
    }
}

/// The fraction (in nanoseconds) and the offset (in seconds east of UTC).
struct Tail {
    nanos: i64,
    offset_secs: i64,
}

/// `YYYY-MM-DDTHH:MM:SS`; reads nothing past the seconds.
fn prefix(p: &mut Cursor) -> Result<Fields, TimestampError> {
    let year = p
        .digits_at_least(4)
        .ok_or_else(|| TimestampError::new("expected a 4-digit year"))? as i64;
    p.expect(b'-', "expected '-' after the year")?;
    let month = p
        .digits(2)
        .ok_or_else(|| TimestampError::new("expected a 2-digit month"))? as u32;
    p.expect(b'-', "expected '-' after the month")?;
    let day = p
        .digits(2)
        .ok_or_else(|| TimestampError::new("expected a 2-digit day"))? as u32;
    match p.next() {
        Some(b'T' | b't' | b' ') => {}
        _ => return Err(TimestampError::new("expected 'T' between date and time")),
    }
    let hour = p
        .digits(2)
        .ok_or_else(|| TimestampError::new("expected a 2-digit hour"))? as u32;
    p.expect(b':', "expected ':' after the hour")?;
    let minute = p
        .digits(2)
        .ok_or_else(|| TimestampError::new("expected 2-digit minutes"))? as u32;
    p.expect(b':', "expected ':' after the minutes")?;
    let second = p
        .digits(2)
        .ok_or_else(|| TimestampError::new("expected 2-digit seconds"))? as u32;
    Ok(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
    })
}

/// What follows the seconds: optional fraction, optional offset, then the end.
fn tail(p: &mut Cursor) -> Result<Tail, TimestampError> {
    let mut nanos: i64 = 0;
    if p.eat(b'.') || p.eat(b',') {
        let start = p.i;
        while let Some(d) = p.peek().filter(u8::is_ascii_digit) {
            if p.i - start == 9 {
                return Err(TimestampError::new("more than 9 fractional digits"));
            }
            nanos = nanos * 10 + (d - b'0') as i64;
            p.i += 1;
        }
        // Scale to nanoseconds (fewer than 9 digits given).
        const POW10: [i64; 10] = [
            1,
            10,
            100,
            1_000,
            10_000,
            100_000,
            1_000_000,
            10_000_000,
            100_000_000,
            1_000_000_000,
        ];
        nanos *= POW10[9 - (p.i - start).min(9)];
        if p.i == start {
            return Err(TimestampError::new(
                "expected digits after the decimal point",
            ));
        }
    }
    let offset_secs: i64 = match p.next() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let h = p
                .digits(2)
                .ok_or_else(|| TimestampError::new("expected a 2-digit offset hour"))?
                as i64;
            p.eat(b':');
            let m = if p.peek().is_some() {
                p.digits(2)
                    .ok_or_else(|| TimestampError::new("expected 2-digit offset minutes"))?
                    as i64
            } else {
                0
            };
            if h > 23 || m > 59 {
                return Err(TimestampError::new("offset out of range"));
            }
            let s = h * 3600 + m * 60;
            if sign == b'-' {
                -s
            } else {
                s
            }
        }
        Some(_) => return Err(TimestampError::new("unexpected character after the time")),
    };
    if p.peek().is_some() {
        return Err(TimestampError::new("unexpected text after the timestamp"));
    }
    Ok(Tail { nanos, offset_secs })
}

/// Local seconds, offset and fraction to int64 nanoseconds, if in range.
fn combine(local_secs: i64, tail: Tail) -> Result<i64, TimestampError> {
    // i128: seconds * 10^9 may leave the i64 range while the sum with the fraction does not.
    let secs = local_secs as i128 - tail.offset_secs as i128;
    let total = secs * NANOS_PER_SEC + tail.nanos as i128;
    i64::try_from(total)
        .map_err(|_| TimestampError::new("outside the range of int64 nanoseconds (1677..2262)"))
}

/// Format nanoseconds since the Unix epoch as PI Web API does: UTC, `Z`, with exactly
/// `fraction_digits` (0..=9) fractional digits (truncated, not rounded).
pub fn format_timestamp(unix_ns: i64, fraction_digits: u32) -> String {
    let digits = fraction_digits.min(9);
    let secs = unix_ns.div_euclid(1_000_000_000);
    let nanos = unix_ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if digits > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(&frac[..digits as usize]);
    }
    out.push('Z');
    out
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), TimestampError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(TimestampError::new(what))
        }
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u64> {
        let s = self.b.get(self.i..self.i + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(s.iter().fold(0u64, |acc, d| acc * 10 + (d - b'0') as u64))
    }

    /// At least `n` digits (years past 9999), at most 6.
    fn digits_at_least(&mut self, n: usize) -> Option<u64> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) && self.i - start < 6 {
            self.i += 1;
        }
        if self.i - start < n {
            self.i = start;
            return None;
        }
        Some(
            self.b[start..self.i]
                .iter()
                .fold(0u64, |acc, d| acc * 10 + (d - b'0') as u64),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_fractions() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:00.1234567Z"),
            Ok(123_456_700)
        );
        assert_eq!(parse_timestamp("1969-12-31T23:59:59.9999999Z"), Ok(-100));
        assert_eq!(parse_timestamp("1970-01-01T02:00:00+02:00"), Ok(0));
        assert_eq!(parse_timestamp("1969-12-31T18:30:00-05:30"), Ok(0));
        assert!(parse_timestamp("2023-02-29T00:00:00Z").is_err());
        assert!(parse_timestamp("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn formatting_round_trips() {
        for ns in [
            0i64,
            -100,
            1_670_594_798_435_012_800,
            4_102_444_800_000_000_000,
            -2_208_988_800_000_000_000,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(ns, 9)), Ok(ns));
        }
        assert_eq!(format_timestamp(-100, 7), "1969-12-31T23:59:59.9999999Z");
    }

    /// Each text through one cache, checked against `parse_timestamp`.
    fn check_sequence(texts: &[&str]) {
        let mut cache = TimestampCache::default();
        for text in texts {
            assert_eq!(cache.parse(text), parse_timestamp(text), "{text:?}");
        }
    }

    fn reason(r: Result<i64, TimestampError>) -> String {
        r.map_or_else(|e| e.reason().to_string(), |ns| ns.to_string())
    }

    #[test]
    fn cache_hit_with_another_fraction() {
        let mut cache = TimestampCache::default();
        assert_eq!(cache.parse("1970-01-01T00:00:01.5Z"), Ok(1_500_000_000));
        assert_eq!(cache.len, 19);
        assert_eq!(cache.parse("1970-01-01T00:00:01.25Z"), Ok(1_250_000_000));
        assert_eq!(cache.parse("1970-01-01T00:00:01Z"), Ok(1_000_000_000));
        assert_eq!(cache.parse("1970-01-01T00:00:01"), Ok(1_000_000_000));
        assert_eq!(
            cache.parse("1970-01-01T00:00:01,123456789z"),
            Ok(1_123_456_789)
        );
    }

    #[test]
    fn cache_hit_with_an_offset() {
        let mut cache = TimestampCache::default();
        assert_eq!(cache.parse("1970-01-01T02:00:00Z"), Ok(7_200_000_000_000));
        assert_eq!(cache.parse("1970-01-01T02:00:00+02:00"), Ok(0));
        assert_eq!(
            cache.parse("1970-01-01T02:00:00.5-0130"),
            Ok(12_600_500_000_000)
        );
        assert_eq!(cache.parse("1970-01-01T02:00:00+02"), Ok(0));
    }

    #[test]
    fn cache_hit_with_a_bad_tail_gives_the_same_error() {
        let texts = [
            "2022-12-09T14:06:38.1Z",
            "2022-12-09T14:06:38.1Z junk",
            "2022-12-09T14:06:38.",
            "2022-12-09T14:06:38.1234567890Z",
            "2022-12-09T14:06:38+24:00",
            "2022-12-09T14:06:38+2",
            "2022-12-09T14:06:38Q",
            "2022-12-09T14:06:381Z",
        ];
        let mut cache = TimestampCache::default();
        for text in texts {
            assert_eq!(cache.parse(text), parse_timestamp(text), "{text:?}");
        }
        assert_eq!(
            reason(cache.parse("2022-12-09T14:06:38.1Z junk")),
            "unexpected text after the timestamp"
        );
        // Still cached, and still right.
        assert_eq!(cache.len, 19);
        assert_eq!(
            cache.parse("2022-12-09T14:06:38Z"),
            Ok(1_670_594_798_000_000_000)
        );
        // A bad month and trailing junk: the junk is reported, as before.
        assert_eq!(
            reason(cache.parse("2022-13-09T14:06:38Zjunk")),
            "unexpected text after the timestamp"
        );
    }

    #[test]
    fn cache_and_long_years() {
        let mut cache = TimestampCache::default();
        let text = "10000-01-01T00:00:00Z";
        assert_eq!(cache.parse(text), parse_timestamp(text));
        assert!(cache.parse(text).is_err());
        // Leading zeros: 5 and 6 digit prefixes that are cached.
        assert_eq!(cache.parse("01970-01-01T00:00:01Z"), Ok(1_000_000_000));
        assert_eq!(cache.len, 20);
        assert_eq!(cache.parse("01970-01-01T00:00:01.5Z"), Ok(1_500_000_000));
        assert_eq!(
            cache.parse("001970-01-01T00:00:01+00:01"),
            Ok(-59_000_000_000)
        );
        assert_eq!(cache.len, 21);
        assert_eq!(cache.parse("001970-01-01T00:00:01.1Z"), Ok(1_100_000_000));
        check_sequence(&[
            "999999-12-31T23:59:59Z",
            "0001970-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:00.5Z",
        ]);
    }

    #[test]
    fn cache_miss_after_an_error() {
        let mut cache = TimestampCache::default();
        assert_eq!(cache.parse("1970-01-01T00:00:01Z"), Ok(1_000_000_000));
        for bad in [
            "1970-01-01T00:00:01Zx",
            "1970-02-30T00:00:01Z",
            "2262-04-11T23:47:16.854775808Z",
            "nonsense",
            "",
        ] {
            assert_eq!(cache.parse(bad), parse_timestamp(bad), "{bad:?}");
        }
        // Misses after errors: the new prefix is read and cached.
        assert_eq!(cache.parse("1970-01-01T00:00:02Z"), Ok(2_000_000_000));
        assert_eq!(cache.parse("1970-01-01T00:00:02.5Z"), Ok(2_500_000_000));
        // Out of range on a hit (the cached prefix is valid, the sum is not).
        assert_eq!(
            cache.parse("2262-04-11T23:47:16Z"),
            Ok(9_223_372_036_000_000_000)
        );
        let text = "2262-04-11T23:47:16.854775808Z";
        assert_eq!(cache.parse(text), parse_timestamp(text));
        assert!(cache.parse(text).is_err());
    }

    /// A timestamp near `ns`: PI's layout with `digits` fractional digits, the year padded
    /// with `zeros` leading zeros, the `Z` replaced by `offset`, then an edit.
    fn text_for(
        ns: i64,
        digits: u32,
        zeros: usize,
        offset: &str,
        edit: Option<(usize, u8, u8)>,
    ) -> String {
        let mut t = format_timestamp(ns, digits);
        t.pop();
        t.insert_str(0, &"0".repeat(zeros));
        t.push_str(offset);
        if let Some((at, op, c)) = edit {
            // ASCII only: the text stays UTF-8.
            let c = (c % 0x80) as char;
            let at = at % (t.len() + 1);
            match op % 4 {
                0 if at < t.len() => t.replace_range(at..=at, &c.to_string()),
                1 => t.insert(at, c),
                2 if at < t.len() => {
                    t.remove(at);
                }
                _ => t.truncate(at),
            }
        }
        t
    }

    proptest::proptest! {
        #[test]
        fn cache_matches_parse_timestamp(
            start in proptest::prop_oneof![
                proptest::prelude::any::<i64>(),
                1_600_000_000_000_000_000i64..1_900_000_000_000_000_000,
                proptest::prelude::Just(i64::MIN),
                proptest::prelude::Just(i64::MAX),
            ],
            steps in proptest::collection::vec(
                (
                    -3_000_000_000i64..3_000_000_000,
                    0u32..=9,
                    proptest::prop_oneof![8 => proptest::prelude::Just(0usize), 1 => 1usize..=2],
                    proptest::sample::select(vec!["Z", "z", "", "+05:30", "-0800", "+01", "-00:00", "+23:59"]),
                    proptest::option::weighted(0.3, (0usize..40, 0u8..4, proptest::prelude::any::<u8>())),
                ),
                1..40,
            ),
        ) {
            let mut cache = TimestampCache::default();
            let mut ns = start;
            for (delta, digits, zeros, offset, edit) in steps {
                ns = ns.saturating_add(delta);
                let text = text_for(ns, digits, zeros, offset, edit);
                proptest::prop_assert_eq!(cache.parse(&text), parse_timestamp(&text), "{:?}", text);
            }
        }
    }
}
