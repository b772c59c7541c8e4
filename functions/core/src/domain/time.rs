//! Timestamps: stored as UTC text that sorts correctly, shown in Nairobi time.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

const STORED: &str = "%Y-%m-%dT%H:%M:%SZ";

/// `2026-11-27T17:04:05Z`: fixed width, so SQL string comparison orders it.
pub fn fmt_ts(t: DateTime<Utc>) -> String {
    t.format(STORED).to_string()
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, STORED)
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc)))
}

/// Africa/Nairobi: UTC+3 all year (no daylight saving).
pub fn eat() -> FixedOffset {
    FixedOffset::east_opt(3 * 3600).expect("+03:00 is a valid offset")
}

/// For pages and receipts: `27 Nov 2026 20:04 EAT`.
pub fn fmt_eat(t: DateTime<Utc>) -> String {
    t.with_timezone(&eat()).format("%d %b %Y %H:%M EAT").to_string()
}

/// M-Pesa's `YYYYMMDDHHmmss`, read as Nairobi local time.
pub fn parse_mpesa_time(s: &str) -> Option<DateTime<Utc>> {
    let n = NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").ok()?;
    eat().from_local_datetime(&n).single().map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_round_trips_and_sorts_as_text() {
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 11, 2, 3, 4, 5).unwrap();
        assert_eq!(parse_ts(&fmt_ts(a)), Some(a));
        assert!(fmt_ts(a) < fmt_ts(b));
    }

    #[test]
    fn mpesa_time_is_nairobi_local() {
        let t = parse_mpesa_time("20191219102115").unwrap();
        assert_eq!(fmt_ts(t), "2019-12-19T07:21:15Z");
        assert_eq!(fmt_eat(t), "19 Dec 2019 10:21 EAT");
    }
}
