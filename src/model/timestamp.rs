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
    let b = text.as_bytes();
    let mut p = Cursor { b, i: 0 };
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
    if !(1..=12).contains(&month) {
        return Err(TimestampError::new("month out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TimestampError::new("day out of range for the month"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimestampError::new("time of day out of range"));
    }
    let days = days_from_civil(year, month, day) as i128;
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i128 - offset_secs as i128;
    let total = secs * NANOS_PER_SEC + nanos as i128;
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
}
