//! Value conventions (§1.8, §1.11): booleans, durations, rates and rate-limit strings.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ProtoError;

/// Parses `yes/true` and `no/false` (what RouterOS accepts; it returns `true/false`).
pub fn parse_bool(s: &str) -> Result<bool, ProtoError> {
    match s {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(ProtoError::InvalidBool(s.to_owned())),
    }
}

/// Formats a boolean the way to send it: `yes` / `no`.
pub fn format_bool(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Parses a RouterOS duration in either style, or a mix of both:
/// `01:22:53`, `1w2d03:04:05`, `2d20h12m20s`, `300ms`, `1h30m`, `00:00:00.5`, `0s`, `45` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, ProtoError> {
    let bad = || ProtoError::InvalidDuration(s.to_owned());
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    // Unit-suffixed parts: number followed by w, d, h, m, s, ms, us, ns.
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let after = &rest[digits..];
        if after.starts_with(':') {
            break;
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        if after.is_empty() || after.starts_with('.') {
            // Bare number (seconds), possibly with a fraction: only as the last part.
            let (secs, tail) = parse_seconds_fraction(n, after).ok_or_else(bad)?;
            if !tail.is_empty() {
                return Err(bad());
            }
            return total.checked_add(secs).ok_or_else(bad);
        }
        let (unit, tail) = if let Some(t) = after.strip_prefix("ms") {
            (Duration::from_millis(1), t)
        } else if let Some(t) = after.strip_prefix("us") {
            (Duration::from_micros(1), t)
        } else if let Some(t) = after.strip_prefix("ns") {
            (Duration::from_nanos(1), t)
        } else {
            let u = match after.as_bytes()[0] {
                b'w' => 7 * 86_400,
                b'd' => 86_400,
                b'h' => 3_600,
                b'm' => 60,
                b's' => 1,
                _ => return Err(bad()),
            };
            (Duration::from_secs(u), &after[1..])
        };
        let part = unit.checked_mul(u32::try_from(n).map_err(|_| bad())?).ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = tail;
    }
    if rest.is_empty() {
        return Ok(total);
    }
    // Clock part: HH:MM:SS(.fraction).
    let mut fields = rest.splitn(3, ':');
    let (Some(h), Some(m), Some(sec)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(bad());
    };
    let num = |f: &str| -> Result<u64, ProtoError> {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        f.parse().map_err(|_| bad())
    };
    let (h, m) = (num(h)?, num(m)?);
    let sec_digits = sec.bytes().take_while(u8::is_ascii_digit).count();
    let s_int = num(&sec[..sec_digits])?;
    let (secs, tail) = parse_seconds_fraction(s_int, &sec[sec_digits..]).ok_or_else(bad)?;
    if !tail.is_empty() || m >= 60 || s_int >= 60 {
        return Err(bad());
    }
    total.checked_add(Duration::from_secs(h * 3600 + m * 60)).and_then(|t| t.checked_add(secs)).ok_or_else(bad)
}

fn parse_seconds_fraction(whole: u64, after: &str) -> Option<(Duration, &str)> {
    let Some(frac) = after.strip_prefix('.') else {
        return Some((Duration::from_secs(whole), after));
    };
    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let nanos: u32 = frac[..digits].parse().ok()?;
    let nanos = nanos * 10u32.pow(9 - digits as u32);
    Some((Duration::new(whole, nanos), &frac[digits..]))
}

/// Formats a duration in the v7 style: `2d20h12m20s`, `1w`, `300ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut out = String::new();
    let mut secs = d.as_secs();
    for (unit, name) in [(604_800, "w"), (86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")] {
        let n = secs / unit;
        secs %= unit;
        if n > 0 {
            out.push_str(&format!("{n}{name}"));
        }
    }
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        if nanos.is_multiple_of(1_000_000) {
            out.push_str(&format!("{}ms", nanos / 1_000_000));
        } else if nanos.is_multiple_of(1_000) {
            out.push_str(&format!("{}us", nanos / 1_000));
        } else {
            out.push_str(&format!("{nanos}ns"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Formats a duration in the v6 style: `1w2d03:04:05` (whole seconds).
pub fn format_duration_v6(d: Duration) -> String {
    let mut secs = d.as_secs();
    let w = secs / 604_800;
    secs %= 604_800;
    let days = secs / 86_400;
    secs %= 86_400;
    let mut out = String::new();
    if w > 0 {
        out.push_str(&format!("{w}w"));
    }
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    out.push_str(&format!("{:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60));
    out
}

/// Parses a rate in bit/s: `128000`, `128k`, `10M`, `1G`, `1.5M` (suffixes are ×1000).
pub fn parse_rate(s: &str) -> Result<u64, ProtoError> {
    let bad = || ProtoError::InvalidRateLimit(s.to_owned());
    let (num, mult) = match s.as_bytes().last() {
        Some(b'k') | Some(b'K') => (&s[..s.len() - 1], 1_000u64),
        Some(b'M') => (&s[..s.len() - 1], 1_000_000),
        Some(b'G') => (&s[..s.len() - 1], 1_000_000_000),
        _ => (s, 1),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(bad());
    }
    let int: u64 = int.parse().map_err(|_| bad())?;
    let mut value = int.checked_mul(mult).ok_or_else(bad)?;
    if !frac.is_empty() {
        let f: u64 = frac.parse().map_err(|_| bad())?;
        let scale = 10u64.pow(frac.len() as u32);
        value = value.checked_add(f * mult / scale).ok_or_else(bad)?;
    }
    Ok(value)
}

/// Formats a rate with the largest exact suffix: `10M`, `128k`, `1500`.
pub fn format_rate(bps: u64) -> String {
    if bps == 0 {
        "0".to_owned()
    } else if bps.is_multiple_of(1_000_000_000) {
        format!("{}G", bps / 1_000_000_000)
    } else if bps.is_multiple_of(1_000_000) {
        format!("{}M", bps / 1_000_000)
    } else if bps.is_multiple_of(1_000) {
        format!("{}k", bps / 1_000)
    } else {
        bps.to_string()
    }
}

/// An `rx/tx` pair as seen from the router: `rx` = client upload, `tx` = client download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePair {
    /// What the router receives from the client (client upload).
    pub rx: u64,
    /// What the router sends to the client (client download).
    pub tx: u64,
}

impl RatePair {
    /// The same value both ways.
    pub fn both(v: u64) -> RatePair {
        RatePair { rx: v, tx: v }
    }

    fn parse_with(s: &str, f: impl Fn(&str) -> Result<u64, ProtoError>) -> Result<RatePair, ProtoError> {
        match s.split_once('/') {
            Some((rx, tx)) => Ok(RatePair { rx: f(rx)?, tx: f(tx)? }),
            None => Ok(RatePair::both(f(s)?)),
        }
    }
}

/// A parsed rate-limit string (§1.11):
/// `rx/tx [burst-rx/burst-tx [threshold-rx/threshold-tx [time-rx/time-tx [priority [min-rx/min-tx]]]]]`.
///
/// Optional parts keep `None` when absent; the `effective_*` methods apply the router's defaults.
///
/// ```
/// use routeros_proto::value::RateLimit;
/// let rl: RateLimit = "2M/10M".parse().unwrap();
/// assert_eq!((rl.rate.rx, rl.rate.tx), (2_000_000, 10_000_000));
/// assert_eq!(rl.to_string(), "2M/10M");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Normal rate.
    pub rate: RatePair,
    /// Burst rate.
    pub burst_rate: Option<RatePair>,
    /// Burst threshold.
    pub burst_threshold: Option<RatePair>,
    /// Burst time in whole seconds.
    pub burst_time: Option<RatePair>,
    /// Priority 1 (highest) ..= 8.
    pub priority: Option<u8>,
    /// Minimum (guaranteed) rate, i.e. `limit-at`.
    pub min_rate: Option<RatePair>,
}

impl RateLimit {
    /// A plain `rx/tx` limit without burst.
    pub fn new(rx: u64, tx: u64) -> RateLimit {
        RateLimit {
            rate: RatePair { rx, tx },
            burst_rate: None,
            burst_threshold: None,
            burst_time: None,
            priority: None,
            min_rate: None,
        }
    }

    /// Burst threshold, defaulting to the rate.
    pub fn effective_burst_threshold(&self) -> RatePair {
        self.burst_threshold.unwrap_or(self.rate)
    }

    /// Burst time in seconds, defaulting to 1 s.
    pub fn effective_burst_time(&self) -> RatePair {
        self.burst_time.unwrap_or(RatePair::both(1))
    }

    /// Minimum rate, defaulting to the rate.
    pub fn effective_min_rate(&self) -> RatePair {
        self.min_rate.unwrap_or(self.rate)
    }
}

fn parse_burst_secs(s: &str) -> Result<u64, ProtoError> {
    let d = parse_duration(s).map_err(|_| ProtoError::InvalidRateLimit(s.to_owned()))?;
    Ok(d.as_secs())
}

impl FromStr for RateLimit {
    type Err = ProtoError;

    fn from_str(s: &str) -> Result<RateLimit, ProtoError> {
        let bad = || ProtoError::InvalidRateLimit(s.to_owned());
        let parts: Vec<&str> = s.split_whitespace().collect();
        if parts.is_empty() || parts.len() > 6 {
            return Err(bad());
        }
        let pair = |i: usize| -> Result<Option<RatePair>, ProtoError> {
            parts.get(i).map(|p| RatePair::parse_with(p, parse_rate)).transpose()
        };
        let priority = match parts.get(4) {
            Some(p) => {
                let v: u8 = p.parse().map_err(|_| bad())?;
                if !(1..=8).contains(&v) {
                    return Err(bad());
                }
                Some(v)
            }
            None => None,
        };
        Ok(RateLimit {
            rate: pair(0)?.ok_or_else(bad)?,
            burst_rate: pair(1)?,
            burst_threshold: pair(2)?,
            burst_time: parts.get(3).map(|p| RatePair::parse_with(p, parse_burst_secs)).transpose()?,
            priority,
            min_rate: pair(5)?,
        })
    }
}

impl fmt::Display for RateLimit {
    /// Writes the shortest form that parses back to the same value; later
    /// positional fields force the earlier ones to be written out with their defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pair = |p: RatePair, fmt_one: &dyn Fn(u64) -> String| {
            if p.rx == p.tx { fmt_one(p.rx) } else { format!("{}/{}", fmt_one(p.rx), fmt_one(p.tx)) }
        };
        let rate = |v: u64| format_rate(v);
        let secs = |v: u64| v.to_string();
        let mut fields = vec![pair(self.rate, &rate)];
        let last = if self.min_rate.is_some() {
            5
        } else if self.priority.is_some() {
            4
        } else if self.burst_time.is_some() {
            3
        } else if self.burst_threshold.is_some() {
            2
        } else if self.burst_rate.is_some() {
            1
        } else {
            0
        };
        if last >= 1 {
            fields.push(pair(self.burst_rate.unwrap_or(RatePair::both(0)), &rate));
        }
        if last >= 2 {
            fields.push(pair(self.effective_burst_threshold(), &rate));
        }
        if last >= 3 {
            fields.push(pair(self.effective_burst_time(), &secs));
        }
        if last >= 4 {
            fields.push(self.priority.unwrap_or(8).to_string());
        }
        if last >= 5 {
            fields.push(pair(self.effective_min_rate(), &rate));
        }
        write!(f, "{}", fields.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bool_accepts_yes_no_true_false() {
        assert_eq!(parse_bool("yes"), Ok(true));
        assert_eq!(parse_bool("true"), Ok(true));
        assert_eq!(parse_bool("no"), Ok(false));
        assert_eq!(parse_bool("false"), Ok(false));
        assert!(parse_bool("none").is_err());
        assert_eq!(format_bool(true), "yes");
    }

    #[test]
    fn duration_both_styles_parse() {
        let d = |s| parse_duration(s).expect(s);
        assert_eq!(d("01:22:53"), Duration::from_secs(3600 + 22 * 60 + 53));
        assert_eq!(d("1w2d03:04:05"), Duration::from_secs(7 * 86_400 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5));
        assert_eq!(d("2d20h12m20s"), Duration::from_secs(2 * 86_400 + 20 * 3600 + 12 * 60 + 20));
        assert_eq!(d("300ms"), Duration::from_millis(300));
        assert_eq!(d("1d"), Duration::from_secs(86_400));
        assert_eq!(d("0s"), Duration::ZERO);
        assert_eq!(d("45"), Duration::from_secs(45));
        assert_eq!(d("00:00:00.5"), Duration::from_millis(500));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1s500ms"), Duration::from_millis(1500));
    }

    #[test]
    fn duration_garbage_is_error() {
        for s in ["", "x", "1x", "1:2", "01:61:00", "h", "1d:", "1.2.3"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn duration_formats_both_styles() {
        let d = Duration::from_secs(2 * 86_400 + 20 * 3600 + 12 * 60 + 20);
        assert_eq!(format_duration(d), "2d20h12m20s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(format_duration_v6(Duration::from_secs(9 * 86_400 + 3 * 3600 + 4 * 60 + 5)), "1w2d03:04:05");
        assert_eq!(format_duration_v6(Duration::from_secs(5)), "00:00:05");
    }

    #[test]
    fn rate_limit_manual_examples_parse() {
        let rl: RateLimit = "128k".parse().expect("parse");
        assert_eq!(rl, RateLimit::new(128_000, 128_000));
        let rl: RateLimit = "64k/128M".parse().expect("parse");
        assert_eq!(rl.rate, RatePair { rx: 64_000, tx: 128_000_000 });
        let rl: RateLimit = "64k 256k".parse().expect("parse");
        assert_eq!(rl.burst_rate, Some(RatePair::both(256_000)));
        assert_eq!(rl.effective_burst_threshold(), RatePair::both(64_000));
        assert_eq!(rl.effective_burst_time(), RatePair::both(1));
        let rl: RateLimit = "64k/64k 256k/256k 128k/128k 10/10".parse().expect("parse");
        assert_eq!(rl.effective_burst_threshold(), RatePair::both(128_000));
        assert_eq!(rl.burst_time, Some(RatePair::both(10)));
        let rl: RateLimit = "2M/10M 4M/20M 1M/5M 8/8 5 1M/2M".parse().expect("parse");
        assert_eq!(rl.priority, Some(5));
        assert_eq!(rl.min_rate, Some(RatePair { rx: 1_000_000, tx: 2_000_000 }));
        assert_eq!(rl.to_string(), "2M/10M 4M/20M 1M/5M 8 5 1M/2M");
    }

    #[test]
    fn rate_limit_bad_input_is_error() {
        for s in ["", "fast", "1M/", "1M 2M 3M 4 9", "1M 2M 3M 4 5 6 7", "-1"] {
            assert!(s.parse::<RateLimit>().is_err(), "{s:?}");
        }
    }

    #[test]
    fn rate_decimal_and_suffixes_parse() {
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000));
        assert_eq!(parse_rate("1G"), Ok(1_000_000_000));
        assert_eq!(parse_rate("1500"), Ok(1500));
        assert_eq!(format_rate(1_500_000), "1500k");
    }

    fn pair() -> impl Strategy<Value = RatePair> {
        (0u64..10_000_000_000, 0u64..10_000_000_000).prop_map(|(rx, tx)| RatePair { rx, tx })
    }

    proptest! {
        #[test]
        fn rate_limit_format_parse_round_trips(
            rate in pair(),
            burst in proptest::option::of(pair()),
            threshold in proptest::option::of(pair()),
            time in proptest::option::of((0u64..3600, 0u64..3600).prop_map(|(rx, tx)| RatePair { rx, tx })),
            priority in proptest::option::of(1u8..=8),
            min in proptest::option::of(pair()),
        ) {
            let rl = RateLimit { rate, burst_rate: burst, burst_threshold: threshold, burst_time: time, priority, min_rate: min };
            let back: RateLimit = rl.to_string().parse().expect("parse back");
            // Formatting makes defaults explicit, so compare effective values.
            prop_assert_eq!(back.rate, rl.rate);
            prop_assert_eq!(back.effective_burst_threshold(), rl.effective_burst_threshold());
            prop_assert_eq!(back.effective_burst_time(), rl.effective_burst_time());
            prop_assert_eq!(back.effective_min_rate(), rl.effective_min_rate());
            prop_assert_eq!(back.burst_rate.unwrap_or(RatePair::both(0)), rl.burst_rate.unwrap_or(RatePair::both(0)));
            prop_assert_eq!(back.to_string(), rl.to_string());
        }

        #[test]
        fn duration_format_parse_round_trips(secs in 0u64..100_000_000, millis in 0u32..1000) {
            let d = Duration::new(secs, millis * 1_000_000);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
            let whole = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration_v6(whole)), Ok(whole));
        }
    }
}
