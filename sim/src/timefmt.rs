//! PI-style timestamps: ISO-8601 UTC with exactly 7 fractional digits (100 ns ticks).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in 100 ns ticks since the Unix epoch.
pub fn now_ticks() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() * 10_000_000 + u64::from(d.subsec_nanos() / 100)
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2022-12-09T14:06:38.4350128Z` for a tick count.
pub fn format_ticks(ticks: u64) -> String {
    let secs = ticks / 10_000_000;
    let frac = ticks % 10_000_000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{frac:07}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Ticks of `YYYY-MM-DDTHH:MM:SS[.fffffff]Z` (UTC; up to 9 fractional digits, beyond 7
/// truncated); `None` for anything else or a time before 1970.
pub fn parse_iso_ticks(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let rest = &text[19..];
    let (frac, tail) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            let digits = &r[..n];
            let mut f: u64 = 0;
            for (i, c) in digits.bytes().take(7).enumerate() {
                f += u64::from(c - b'0') * 10u64.pow(6 - i as u32);
            }
            (f, &r[n..])
        }
        None => (0, rest),
    };
    if !tail.eq_ignore_ascii_case("z") {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    u64::try_from(secs).ok().map(|s| s * 10_000_000 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_ticks(0), "1970-01-01T00:00:00.0000000Z");
        // 2022-12-09T14:06:38.4350128Z = 1670594798 s
        assert_eq!(
            format_ticks(1_670_594_798 * 10_000_000 + 4_350_128),
            "2022-12-09T14:06:38.4350128Z"
        );
        // leap day
        assert_eq!(
            format_ticks(951_782_400 * 10_000_000),
            "2000-02-29T00:00:00.0000000Z"
        );
        assert_eq!(
            format_ticks(4_102_444_799 * 10_000_000 + 9_999_999),
            "2099-12-31T23:59:59.9999999Z"
        );
        let s = format_ticks(now_ticks());
        assert_eq!(s.len(), 28);
    }
}
