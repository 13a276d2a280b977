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
