//! SMS decisions, pure: when expiry reminders are due (in East Africa Time), when promotional
//! messages may go (08:00-18:00 EAT), how long to wait before a retry, what a provider's
//! per-recipient status means, and the message texts in the subscriber's language.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

use crate::domain::time::eat;
use crate::web::i18n::Lang;

/// The reminders about one paid period, in the order they fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// At 09:00 EAT three calendar days (EAT) before the day of expiry.
    ThreeDays,
    /// At 09:00 EAT the day before the day of expiry.
    OneDay,
    /// At the moment of expiry.
    Expired,
    /// When the grace period ends (the subscriber is cut off).
    GraceEnded,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ThreeDays => "3d",
            Stage::OneDay => "1d",
            Stage::Expired => "expiry",
            Stage::GraceEnded => "grace_end",
        }
    }
}

/// Morning reminders go at this hour (EAT), not at midnight.
const REMINDER_HOUR: u32 = 9;

/// A reminder older than this is not sent any more (the next stage, or nothing, is due).
pub const REMINDER_STALE: Duration = Duration::hours(12);

fn eat_morning(expires_at: DateTime<Utc>, days_before: i64) -> DateTime<Utc> {
    let day = expires_at.with_timezone(&eat()).date_naive() - Duration::days(days_before);
    let at = day.and_time(NaiveTime::from_hms_opt(REMINDER_HOUR, 0, 0).unwrap_or_default());
    eat().from_local_datetime(&at).single().map(|d| d.with_timezone(&Utc)).unwrap_or(expires_at)
}

/// When each reminder of a period ending at `expires_at` falls. A morning reminder is left out
/// unless the period is longer than its lead (a daily plan gets neither "3 days" nor "1 day
/// before"), and when it would fall before the period began or not before the expiry itself.
pub fn schedule(expires_at: DateTime<Utc>, period: Duration, grace: Duration) -> Vec<(Stage, DateTime<Utc>)> {
    let starts = expires_at - period;
    let mut out = Vec::new();
    for (stage, days) in [(Stage::ThreeDays, 3), (Stage::OneDay, 1)] {
        let at = eat_morning(expires_at, days);
        if period > Duration::days(days) && at > starts && at < expires_at {
            out.push((stage, at));
        }
    }
    out.push((Stage::Expired, expires_at));
    if grace > Duration::zero() {
        out.push((Stage::GraceEnded, expires_at + grace));
    }
    out
}

/// The reminder to send now, if any: the latest stage whose time has come, unless it is stale.
pub fn due(schedule: &[(Stage, DateTime<Utc>)], now: DateTime<Utc>) -> Option<Stage> {
    let (stage, at) = schedule.iter().rev().find(|(_, at)| *at <= now)?;
    (now - *at <= REMINDER_STALE).then_some(*stage)
}

/// Promotional messages only between 08:00 and 18:00 East Africa Time.
pub fn promo_allowed(now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&eat()).time();
    local >= NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default()
        && local < NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default()
}

/// The next moment promotional messages may go (now, if they may).
pub fn next_promo_window(now: DateTime<Utc>) -> DateTime<Utc> {
    if promo_allowed(now) {
        return now;
    }
    let local = now.with_timezone(&eat());
    let mut day = local.date_naive();
    if local.time() >= NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default() {
        day += Duration::days(1);
    }
    let at = day.and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default());
    eat().from_local_datetime(&at).single().map(|d| d.with_timezone(&Utc)).unwrap_or(now)
}

/// How many attempts a message gets before it is given up.
pub const MAX_ATTEMPTS: i64 = 8;

/// Wait after the `attempts`-th failed attempt: 1, 2, 4... minutes, at most 2 hours.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 8) - 1;
    Duration::minutes((1i64 << exp).min(120))
}

/// What one recipient's status code from the provider means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted (100 Processed, 101 Sent, 102 Queued): wait for the delivery report.
    Accepted,
    /// Will not go through, whatever we do (bad number, sender ID, blacklisted...).
    Refused,
    /// The number asked not to receive messages (406 UserInBlacklist).
    OptedOut,
    /// Worth another try later (insufficient balance, gateway errors).
    Retry,
}

/// Africa's Talking's per-recipient `statusCode`.
pub fn verdict(status_code: i64) -> Verdict {
    match status_code {
        100..=102 => Verdict::Accepted,
        406 => Verdict::OptedOut,
        401 | 402 | 403 | 404 | 407 | 409 => Verdict::Refused,
        _ => Verdict::Retry,
    }
}

/// A delivery report's `status`: `Some(true)` delivered, `Some(false)` failed for good, `None`
/// not final (`Sent`, `Submitted`, `Buffered`).
pub fn report_final(status: &str) -> Option<bool> {
    match status {
        "Success" => Some(true),
        "Failed" | "Rejected" => Some(false),
        _ => None,
    }
}

/// `KES 0.8000` -> 8000 (ten-thousandths of a shilling), read from the text without floats.
pub fn cost_e4(cost: &str) -> Option<i64> {
    let n = cost.trim().trim_start_matches(|c: char| c.is_ascii_alphabetic()).trim();
    if n.is_empty() {
        return None;
    }
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) || frac.len() > 4 {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac: i64 = format!("{frac:0<4}").parse().ok()?;
    whole.checked_mul(10_000)?.checked_add(frac)
}

/// `2547XXXXXXXX` -> `+2547XXXXXXXX`, the form the provider wants.
pub fn international(msisdn: &str) -> String {
    if msisdn.starts_with('+') { msisdn.to_owned() } else { format!("+{msisdn}") }
}

/// A date and time as a Kenyan reads it, in EAT: `03/01/2027 21:00`.
pub fn eat_when(t: DateTime<Utc>) -> String {
    t.with_timezone(&eat()).format("%d/%m/%Y %H:%M").to_string()
}

/// Whole shillings with thousands separators: `1,500` (cents shown only when there are some).
pub fn kes(cents: i64) -> String {
    let whole = (cents / 100).abs().to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    match cents.abs() % 100 {
        0 => format!("{sign}{out}"),
        c => format!("{sign}{out}.{c:02}"),
    }
}

/// A payment receipt.
pub fn receipt(lang: Lang, cents: i64, reference: &str, account: &str, until: Option<DateTime<Utc>>) -> String {
    let amount = kes(cents);
    let args = [("amount", amount.as_str()), ("ref", reference), ("account", account)];
    let mut s = lang.tf("sms.receipt", &args);
    if let Some(t) = until {
        s.push(' ');
        s.push_str(&lang.tf("sms.receipt_until", &[("when", &eat_when(t))]));
    }
    s
}

/// An expiry reminder.
pub fn reminder(lang: Lang, stage: Stage, account: &str, due_cents: i64, expires_at: DateTime<Utc>) -> String {
    let key = match stage {
        Stage::ThreeDays | Stage::OneDay => "sms.reminder_before",
        Stage::Expired => "sms.reminder_expired",
        Stage::GraceEnded => "sms.reminder_cut_off",
    };
    let amount = kes(due_cents.max(0));
    let when = eat_when(expires_at);
    lang.tf(key, &[("account", account), ("amount", amount.as_str()), ("when", when.as_str())])
}

/// A promotional message, with how to opt out appended.
pub fn promotional(lang: Lang, text: &str) -> String {
    format!("{} {}", text.trim(), lang.t("sms.opt_out"))
}

/// How a message is encoded on the air: GSM 03.38 7-bit when every character is in its alphabet
/// (the extension table's `^{}\[~]|€` take two septets), UCS-2 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The GSM 03.38 basic alphabet (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM 03.38 extension table (an escape and the character: two septets each).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// A message's encoding and how many segments (billed SMS) it goes out as: one segment holds 160
/// GSM septets or 70 UCS-2 units; a longer message is split into parts of 153 or 67 (the rest is
/// the concatenation header), and a two-unit character (a GSM escape, a UCS-2 surrogate pair) is
/// never split across two parts.
pub fn segments(text: &str) -> (Encoding, usize) {
    let gsm = text.chars().all(|c| GSM_BASIC.contains(c) || GSM_EXTENDED.contains(c));
    let (encoding, units): (Encoding, Vec<usize>) = if gsm {
        (Encoding::Gsm7, text.chars().map(|c| if GSM_EXTENDED.contains(c) { 2 } else { 1 }).collect())
    } else {
        (Encoding::Ucs2, text.chars().map(char::len_utf16).collect())
    };
    let (single, part) = match encoding {
        Encoding::Gsm7 => (160, 153),
        Encoding::Ucs2 => (70, 67),
    };
    let total: usize = units.iter().sum();
    if total == 0 {
        return (encoding, 1);
    }
    if total <= single {
        return (encoding, 1);
    }
    let (mut parts, mut used) = (1, 0);
    for u in units {
        if used + u > part {
            parts += 1;
            used = 0;
        }
        used += u;
    }
    (encoding, parts)
}

/// What a segment is assumed to cost when the tenant has sent nothing to measure it by: KES 0.80,
/// Africa's Talking's Kenyan per-message price as its answers state it (`KES 0.8000`).
pub const ASSUMED_SEGMENT_COST_E4: i64 = 8000;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        crate::domain::time::parse_ts(s).expect("time")
    }

    #[test]
    fn reminders_monthly_fall_at_nine_eat_across_day_boundaries() {
        // expires 2026-12-10 22:30 UTC = 11 Dec 01:30 EAT: the EAT day of expiry is the 11th
        let exp = t("2026-12-10T22:30:00Z");
        let s = schedule(exp, Duration::days(30), Duration::days(1));
        assert_eq!(
            s,
            vec![
                (Stage::ThreeDays, t("2026-12-08T06:00:00Z")), // 8 Dec 09:00 EAT
                (Stage::OneDay, t("2026-12-10T06:00:00Z")),    // 10 Dec 09:00 EAT
                (Stage::Expired, exp),
                (Stage::GraceEnded, t("2026-12-11T22:30:00Z")),
            ]
        );
        assert_eq!(due(&s, t("2026-12-08T05:59:59Z")), None);
        assert_eq!(due(&s, t("2026-12-08T06:00:00Z")), Some(Stage::ThreeDays));
        assert_eq!(due(&s, t("2026-12-08T18:00:01Z")), None, "stale: more than 12 h late");
        assert_eq!(due(&s, t("2026-12-10T07:00:00Z")), Some(Stage::OneDay));
        assert_eq!(due(&s, t("2026-12-10T22:30:00Z")), Some(Stage::Expired));
        assert_eq!(due(&s, t("2026-12-11T23:00:00Z")), Some(Stage::GraceEnded));
        assert_eq!(due(&s, t("2026-12-13T00:00:00Z")), None);
    }

    #[test]
    fn reminders_weekly_and_daily_skip_what_falls_before_the_period() {
        let exp = t("2026-12-10T15:00:00Z"); // 18:00 EAT on the 10th
        let weekly = schedule(exp, Duration::days(7), Duration::zero());
        assert_eq!(weekly.iter().map(|x| x.0).collect::<Vec<_>>(), [Stage::ThreeDays, Stage::OneDay, Stage::Expired]);
        let daily = schedule(exp, Duration::days(1), Duration::zero());
        // bought 9 Dec 18:00 EAT: 9 Dec 09:00 EAT is before it
        assert_eq!(daily.iter().map(|x| x.0).collect::<Vec<_>>(), [Stage::Expired]);
        // a daily plan bought at 08:00 EAT: 09:00 EAT that day would be "1 day before", an hour after buying: no
        let early = schedule(t("2026-12-10T05:00:00Z"), Duration::days(1), Duration::hours(2));
        assert_eq!(early.iter().map(|x| x.0).collect::<Vec<_>>(), [Stage::Expired, Stage::GraceEnded]);
    }

    #[test]
    fn promotional_hours_are_eight_to_six_eat() {
        assert!(!promo_allowed(t("2026-12-04T04:59:59Z"))); // 07:59:59 EAT
        assert!(promo_allowed(t("2026-12-04T05:00:00Z"))); // 08:00 EAT
        assert!(promo_allowed(t("2026-12-04T14:59:59Z"))); // 17:59:59 EAT
        assert!(!promo_allowed(t("2026-12-04T15:00:00Z"))); // 18:00 EAT
        assert_eq!(next_promo_window(t("2026-12-04T15:00:00Z")), t("2026-12-05T05:00:00Z"));
        assert_eq!(next_promo_window(t("2026-12-04T22:00:00Z")), t("2026-12-05T05:00:00Z")); // 01:00 EAT next day
        assert_eq!(next_promo_window(t("2026-12-04T02:00:00Z")), t("2026-12-04T05:00:00Z"));
        assert_eq!(next_promo_window(t("2026-12-04T10:00:00Z")), t("2026-12-04T10:00:00Z"));
    }

    #[test]
    fn statuses_costs_and_backoff() {
        assert_eq!(verdict(101), Verdict::Accepted);
        assert_eq!(verdict(403), Verdict::Refused);
        assert_eq!(verdict(406), Verdict::OptedOut);
        assert_eq!(verdict(405), Verdict::Retry);
        assert_eq!(verdict(500), Verdict::Retry);
        assert_eq!(report_final("Success"), Some(true));
        assert_eq!(report_final("Rejected"), Some(false));
        assert_eq!(report_final("Buffered"), None);
        assert_eq!(cost_e4("KES 0.8000"), Some(8000));
        assert_eq!(cost_e4("KES 1.6"), Some(16_000));
        assert_eq!(cost_e4("0"), Some(0));
        assert_eq!(cost_e4("KES abc"), None);
        assert_eq!(cost_e4(""), None);
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(4));
        assert_eq!(backoff(30), Duration::minutes(120));
        assert_eq!(international("254700000001"), "+254700000001");
    }

    #[test]
    fn texts_in_each_language() {
        let until = t("2027-01-03T18:00:00Z");
        let en = receipt(Lang::En, 150_000, "QKX1", "ACC1", Some(until));
        assert!(en.contains("KES 1,500") && en.contains("QKX1") && en.contains("03/01/2027 21:00"), "{en}");
        let sw = receipt(Lang::Sw, 150_050, "QKX1", "ACC1", None);
        assert!(sw.contains("1,500.50") && sw.starts_with("Tumepokea"), "{sw}");
        let r = reminder(Lang::Sw, Stage::OneDay, "ACC1", 150_000, until);
        assert!(r.contains("ACC1") && r.contains("1,500"), "{r}");
        assert!(promotional(Lang::En, "Offer ").ends_with(Lang::En.t("sms.opt_out")));
        assert_eq!(kes(123_456_700), "1,234,567");
    }

    #[test]
    fn segments_count_gsm_and_ucs2_parts_without_splitting_a_two_unit_character() {
        assert_eq!(segments(""), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(307)), (Encoding::Gsm7, 3));
        // the extension table's characters take two septets: 80 euro signs fill one segment
        assert_eq!(segments(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"€".repeat(81)), (Encoding::Gsm7, 2));
        // 152 septets then an escape pair: the pair goes whole into the second part
        assert_eq!(segments(&format!("{}{}", "a".repeat(152), "{")), (Encoding::Gsm7, 1));
        assert_eq!(segments(&format!("{}{}{}", "a".repeat(152), "{", "a".repeat(10))), (Encoding::Gsm7, 2));
        // one character outside GSM (a curly apostrophe, an emoji) makes the whole message UCS-2
        assert_eq!(segments(&format!("{}’", "a".repeat(69))), (Encoding::Ucs2, 1));
        assert_eq!(segments(&format!("{}’", "a".repeat(70))), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"😀".repeat(35)), (Encoding::Ucs2, 1), "a surrogate pair is two units");
        assert_eq!(segments(&"😀".repeat(36)), (Encoding::Ucs2, 2));
        // the shipped opt-out line is plain GSM in both languages
        for l in [Lang::En, Lang::Sw] {
            assert_eq!(segments(&promotional(l, "Ofa")).0, Encoding::Gsm7);
        }
    }
}
