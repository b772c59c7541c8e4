//! Voucher redemption decisions: pure functions over what the database holds, no I/O.
//!
//! The stateless check ([`super::voucher::VoucherKey::verify`]) says "well-formed and signed by this
//! tenant". Whether the code was *issued* (its batch exists, its serial is below the batch's count),
//! is still valid and may serve this device is decided here, from rows the use case read.
//!
//! - Time runs from first use for the plan's period and never past the batch's `valid_until`.
//! - Devices: the first device's MAC is bound; a plan serves at most `max_devices` at once. A new MAC
//!   when all places are taken is refused (`refuse`) or takes the place of the device seen least
//!   recently (`move`), unless all bound devices are online: phones that randomise their MAC must not
//!   lock their owner out, but a shared code must not serve two people at once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a tenant does when a code already serving its devices is typed on a new device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BindingPolicy {
    /// The new device takes the place of the least recently seen one (when not all are online).
    #[default]
    Move,
    /// The new device is refused while the code has no free place.
    Refuse,
}

/// A MAC address as `AA:BB:CC:DD:EE:FF`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Mac(String);

impl Mac {
    /// Reads `aa:bb:cc:dd:ee:ff`, `AA-BB-...` or `aabb.ccdd.eeff` / `aabbccddeeff`.
    pub fn parse(s: &str) -> Option<Mac> {
        let hex: String = s.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
        if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let up = hex.to_ascii_uppercase();
        let parts: Vec<&str> = (0..6).map(|i| &up[2 * i..2 * i + 2]).collect();
        Some(Mac(parts.join(":")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A locally administered address (bit 1 of the first octet): what phones use when they
    /// randomise their MAC per network.
    pub fn is_randomised(&self) -> bool {
        u8::from_str_radix(&self.0[..2], 16).is_ok_and(|b| b & 0x02 != 0)
    }
}

/// A device bound to a redeemed code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundDevice {
    pub mac: Mac,
    pub last_seen: DateTime<Utc>,
}

/// What happened to the device binding on a successful redemption or login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "binding", rename_all = "snake_case")]
pub enum Binding {
    /// This device took a free place (the first use, or a plan serving several devices).
    New,
    /// This device was already bound.
    Same,
    /// This device took the place of `replaced`, which was offline.
    Moved { replaced: Mac },
}

/// Why a code cannot be used, in terms a buyer can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// Not a code: wrong length or characters (the text says what is wrong).
    Malformed { detail: String },
    /// Well-formed but not a code this tenant issued.
    Unknown,
    /// The time ran out, or the batch's validity ended.
    Expired,
    /// The operator voided the batch.
    Voided,
    /// The plan's data allowance is used up.
    DataUsedUp,
    /// The code serves another device and this one may not take its place.
    InUseElsewhere,
    /// Too many failed attempts from here; try again after this many seconds.
    Throttled { retry_after_seconds: i64 },
}

impl Refusal {
    /// A stable key for pages and APIs (`voucher_unknown`, ...): the captive pages translate it.
    pub fn key(&self) -> &'static str {
        match self {
            Refusal::Malformed { .. } => "voucher_malformed",
            Refusal::Unknown => "voucher_unknown",
            Refusal::Expired => "voucher_expired",
            Refusal::Voided => "voucher_voided",
            Refusal::DataUsedUp => "voucher_data_used_up",
            Refusal::InUseElsewhere => "voucher_in_use_elsewhere",
            Refusal::Throttled { .. } => "voucher_throttled",
        }
    }

    /// Whether this refusal counts as a failed guess for throttling (a buyer who typed a real but
    /// used-up code is not guessing).
    pub fn counts_as_guess(&self) -> bool {
        matches!(self, Refusal::Malformed { .. } | Refusal::Unknown)
    }
}

impl std::fmt::Display for Refusal {
    /// English, for APIs and logs; pages use [`Refusal::key`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Malformed { detail } => write!(f, "not a voucher code: {detail}"),
            Refusal::Unknown => f.write_str("no such voucher: check the code on your slip"),
            Refusal::Expired => f.write_str("this voucher has expired"),
            Refusal::Voided => f.write_str("this voucher was cancelled by the seller"),
            Refusal::DataUsedUp => f.write_str("this voucher's data allowance is used up"),
            Refusal::InUseElsewhere => f.write_str("this voucher is in use on another device"),
            Refusal::Throttled { retry_after_seconds } => {
                write!(f, "too many wrong codes; try again in {} minutes", (retry_after_seconds + 59) / 60)
            }
        }
    }
}

/// What the first use of a code records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstUse {
    pub expires_at: DateTime<Utc>,
}

/// Decides the first use of an issued code: when it will expire, or why it cannot start.
pub fn first_use(
    now: DateTime<Utc>,
    period_seconds: i64,
    batch_valid_until: Option<DateTime<Utc>>,
    batch_voided: bool,
) -> Result<FirstUse, Refusal> {
    if batch_voided {
        return Err(Refusal::Voided);
    }
    if batch_valid_until.is_some_and(|v| v <= now) {
        return Err(Refusal::Expired);
    }
    let by_period = now + Duration::seconds(period_seconds.max(1));
    let expires_at = batch_valid_until.map_or(by_period, |v| v.min(by_period));
    Ok(FirstUse { expires_at })
}

/// An already redeemed code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    pub expires_at: DateTime<Utc>,
    pub data_cap_bytes: Option<i64>,
    pub bytes_used: i64,
    pub batch_voided: bool,
}

/// What remains of a redeemed code at `now`: (seconds, bytes if capped), or why nothing does.
pub fn remaining(r: &Redeemed, now: DateTime<Utc>) -> Result<(i64, Option<i64>), Refusal> {
    if r.batch_voided {
        return Err(Refusal::Voided);
    }
    let seconds = (r.expires_at - now).num_seconds();
    if seconds <= 0 {
        return Err(Refusal::Expired);
    }
    let bytes = r.data_cap_bytes.map(|cap| cap - r.bytes_used.max(0));
    if bytes.is_some_and(|b| b <= 0) {
        return Err(Refusal::DataUsedUp);
    }
    Ok((seconds, bytes))
}

/// Decides whether `mac` may use a code whose devices are `bound`, of which `online` sessions are
/// currently reported.
pub fn bind(
    bound: &[BoundDevice],
    mac: &Mac,
    max_devices: i64,
    online: i64,
    policy: BindingPolicy,
) -> Result<Binding, Refusal> {
    if bound.iter().any(|d| &d.mac == mac) {
        return Ok(Binding::Same);
    }
    if (bound.len() as i64) < max_devices.max(1) {
        return Ok(Binding::New);
    }
    match policy {
        BindingPolicy::Refuse => Err(Refusal::InUseElsewhere),
        BindingPolicy::Move if online >= bound.len() as i64 => Err(Refusal::InUseElsewhere),
        BindingPolicy::Move => {
            let oldest = bound.iter().min_by_key(|d| d.last_seen).ok_or(Refusal::InUseElsewhere)?;
            Ok(Binding::Moved { replaced: oldest.mac.clone() })
        }
    }
}

/// Probability that one random guess hits one of `unused` issued codes (60-bit code space).
pub fn guess_odds(unused: u64) -> f64 {
    unused as f64 / 2f64.powi(60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, 0, 0).single().expect("valid")
    }

    fn dev(mac: &str, h: u32) -> BoundDevice {
        BoundDevice { mac: Mac::parse(mac).expect("mac"), last_seen: t(h) }
    }

    #[test]
    fn mac_parse_accepts_the_usual_forms_and_knows_randomised_ones() {
        let m = Mac::parse("aa-bb-cc-dd-ee-0f").expect("mac");
        assert_eq!(m.as_str(), "AA:BB:CC:DD:EE:0F");
        assert_eq!(Mac::parse("aabb.ccdd.ee0f"), Some(m.clone()));
        assert!(m.is_randomised(), "0xAA has the local bit");
        assert!(!Mac::parse("00:11:22:33:44:55").expect("mac").is_randomised());
        assert_eq!(Mac::parse("00:11:22:33:44"), None);
        assert_eq!(Mac::parse("00:11:22:33:44:GG"), None);
    }

    #[test]
    fn first_use_runs_the_period_but_never_past_the_batch() {
        assert_eq!(first_use(t(1), 3600, None, false), Ok(FirstUse { expires_at: t(2) }));
        assert_eq!(first_use(t(1), 7200, Some(t(2)), false), Ok(FirstUse { expires_at: t(2) }));
        assert_eq!(first_use(t(1), 3600, Some(t(1)), false), Err(Refusal::Expired));
        assert_eq!(first_use(t(1), 3600, None, true), Err(Refusal::Voided));
    }

    #[test]
    fn remaining_counts_down_and_stops_at_the_data_cap() {
        let r = Redeemed { expires_at: t(3), data_cap_bytes: Some(1000), bytes_used: 400, batch_voided: false };
        assert_eq!(remaining(&r, t(2)), Ok((3600, Some(600))));
        assert_eq!(remaining(&r, t(3)), Err(Refusal::Expired));
        let used = Redeemed { bytes_used: 1000, ..r.clone() };
        assert_eq!(remaining(&used, t(2)), Err(Refusal::DataUsedUp));
        let uncapped = Redeemed { data_cap_bytes: None, ..r.clone() };
        assert_eq!(remaining(&uncapped, t(2)), Ok((3600, None)));
        assert_eq!(remaining(&Redeemed { batch_voided: true, ..r }, t(2)), Err(Refusal::Voided));
    }

    #[test]
    fn binding_same_new_move_and_refuse() {
        let a = Mac::parse("00:00:00:00:00:0A").expect("mac");
        let b = Mac::parse("02:00:00:00:00:0B").expect("mac");
        let bound = [dev("00:00:00:00:00:0A", 1)];
        assert_eq!(bind(&[], &a, 1, 0, BindingPolicy::Refuse), Ok(Binding::New));
        assert_eq!(bind(&bound, &a, 1, 1, BindingPolicy::Refuse), Ok(Binding::Same));
        assert_eq!(bind(&bound, &b, 1, 0, BindingPolicy::Refuse), Err(Refusal::InUseElsewhere));
        assert_eq!(bind(&bound, &b, 1, 0, BindingPolicy::Move), Ok(Binding::Moved { replaced: a.clone() }));
        assert_eq!(bind(&bound, &b, 1, 1, BindingPolicy::Move), Err(Refusal::InUseElsewhere), "old one online");
        assert_eq!(bind(&bound, &b, 2, 1, BindingPolicy::Refuse), Ok(Binding::New), "a free place");
        let two = [dev("00:00:00:00:00:01", 3), dev("00:00:00:00:00:02", 1)];
        let replaced = Mac::parse("00:00:00:00:00:02").expect("mac");
        assert_eq!(bind(&two, &b, 2, 1, BindingPolicy::Move), Ok(Binding::Moved { replaced }), "least recent");
    }

    #[test]
    fn guessing_odds_for_100k_unused_codes() {
        let p = guess_odds(100_000);
        assert!((1.0 / p - 1.152_921_5e13).abs() < 1e7, "{}", 1.0 / p);
    }
}
