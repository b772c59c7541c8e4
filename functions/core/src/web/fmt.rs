//! Money and time as a person in Kenya reads them: `KES 1,500`, `3 Dec 2026, 23:58` (EAT).

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};

use super::Lang;

/// `KES 1,500`, or `KES 1,500.50` when there are cents; negative as `-KES 20`.
pub fn kes(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (whole, frac) = (abs / 100, abs % 100);
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if frac == 0 { format!("{sign}KES {grouped}") } else { format!("{sign}KES {grouped}.{frac:02}") }
}

/// East Africa Time (UTC+3, no daylight saving).
pub fn to_eat(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let eat = FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
    t.with_timezone(&eat)
}

const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTHS_SW: [&str; 12] = ["Jan", "Feb", "Machi", "Apr", "Mei", "Juni", "Julai", "Ago", "Sep", "Okt", "Nov", "Des"];

fn month(lang: Lang, m0: u32) -> &'static str {
    let i = (m0 as usize).min(11);
    match lang {
        Lang::En => MONTHS_EN[i],
        Lang::Sw => MONTHS_SW[i],
    }
}

/// `3 Dec 2026, 23:58` in East Africa Time.
pub fn eat(t: DateTime<Utc>, lang: Lang) -> String {
    let l = to_eat(t);
    format!("{} {} {}, {:02}:{:02}", l.day(), month(lang, l.month0()), l.year(), l.hour(), l.minute())
}

/// `3 Dec 2026` in East Africa Time.
pub fn eat_date(t: DateTime<Utc>, lang: Lang) -> String {
    let l = to_eat(t);
    format!("{} {} {}", l.day(), month(lang, l.month0()), l.year())
}

/// A duration as a person says it: `2 h 5 min`, `3 days`, `45 s` (`siku 3` in Swahili).
pub fn duration(seconds: i64, lang: Lang) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let days = |n: i64| match (lang, n) {
        (Lang::En, 1) => "1 day".to_owned(),
        (Lang::En, n) => format!("{n} days"),
        (Lang::Sw, n) => format!("siku {n}"),
    };
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => days(d),
        (d, h, _) => format!("{} {h} h", days(d)),
    }
}

/// Bytes as `1.5 GB`, `300 MB`, `12 KB` (decimal units, as bundles are sold).
pub fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    let (v, unit) = if n >= 1e9 {
        (n / 1e9, "GB")
    } else if n >= 1e6 {
        (n / 1e6, "MB")
    } else if n >= 1e3 {
        (n / 1e3, "KB")
    } else {
        return format!("{n} B");
    };
    if v >= 100.0 || (v.fract() * 10.0).round() == 0.0 { format!("{v:.0} {unit}") } else { format!("{v:.1} {unit}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kes_groups_thousands_and_shows_cents_only_when_present() {
        assert_eq!(kes(0), "KES 0");
        assert_eq!(kes(100), "KES 1");
        assert_eq!(kes(150_000), "KES 1,500");
        assert_eq!(kes(123_456_789), "KES 1,234,567.89");
        assert_eq!(kes(100_000_000), "KES 1,000,000");
        assert_eq!(kes(-2_000), "-KES 20");
        assert_eq!(kes(5), "KES 0.05");
    }

    #[test]
    fn eat_is_utc_plus_three_across_midnight() {
        let t = Utc.with_ymd_and_hms(2026, 12, 3, 21, 58, 0).single().expect("valid");
        assert_eq!(eat(t, Lang::En), "4 Dec 2026, 00:58");
        assert_eq!(eat(t, Lang::Sw), "4 Des 2026, 00:58");
        assert_eq!(eat_date(t, Lang::En), "4 Dec 2026");
    }

    #[test]
    fn duration_and_bytes_read_naturally() {
        assert_eq!(duration(45, Lang::En), "45 s");
        assert_eq!(duration(3600 * 2 + 300, Lang::En), "2 h 5 min");
        assert_eq!(duration(86_400 * 3, Lang::En), "3 days");
        assert_eq!(duration(86_400 * 3, Lang::Sw), "siku 3");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(bytes(300_000_000), "300 MB");
        assert_eq!(bytes(999), "999 B");
    }
}
