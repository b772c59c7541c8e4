//! Monthly recurring revenue, its movements, and the expiry forecast: pure functions over the
//! subscription periods of a tenant (no storage, no clock).
//!
//! Definitions (stated on the dashboard too):
//! - A plan's price is normalised to 30 days: `price × 30 days / period` (a KES 500 weekly plan
//!   is KES 2,143 a month).
//! - A subscriber's MRR at an instant is the normalised price of the paid period covering it,
//!   grace included (`starts_at <= t < ends_at + grace`); MRR of a month is the sum at the
//!   month's end.
//! - Movements compare each subscriber's MRR at the end of the month with the end of the month
//!   before: **new** (0 → paid, never paid at an earlier month end), **reactivation** (0 → paid,
//!   paid at some earlier month end), **expansion** (up), **contraction** (down), **churn**
//!   (paid → 0: lapsed past grace). So `MRR(m) = MRR(m−1) + new + reactivation + expansion −
//!   contraction − churn`, exactly.
//! - Voucher sales are revenue but not recurring: never in MRR.
//!
//! Renewal model for the forecast: a period that ends is renewed **on time** (the next period
//! starts by its end), **late** (within grace) or **lapsed**. A subscriber's chance to renew is
//! `(renewals + 1) / (past ends + 2)` over their own history (Laplace's rule: a new subscriber
//! starts at one half). Expected renewals on a day are the sum of those chances.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use std::collections::HashMap;

/// 30 days in seconds: the normalisation period.
pub const MONTH_SECONDS: i64 = 30 * 86_400;

/// `price_cents` for `period_seconds`, normalised to 30 days (rounded to the nearest cent).
pub fn monthly_cents(price_cents: i64, period_seconds: i64) -> i64 {
    if period_seconds <= 0 {
        return 0;
    }
    let num = i128::from(price_cents) * i128::from(MONTH_SECONDS);
    let p = i128::from(period_seconds);
    i64::try_from((num + p / 2) / p).unwrap_or(i64::MAX)
}

/// One paid period of one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub subscriber: String,
    pub plan: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The period's price normalised to 30 days ([`monthly_cents`]).
    pub monthly_cents: i64,
}

/// One month's MRR and movements (cents; churn and contraction as positive amounts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub label: String,
    pub mrr: i64,
    pub paying: i64,
    pub new: i64,
    pub reactivation: i64,
    pub expansion: i64,
    pub contraction: i64,
    pub churn: i64,
}

/// The first instant of the month `n` months after the month of `t` (`n` may be negative).
pub fn month_start(t: DateTime<Utc>, n: i32) -> DateTime<Utc> {
    let total = t.year() * 12 + t.month0() as i32 + n;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    Utc.with_ymd_and_hms(y, m0 + 1, 1, 0, 0, 0).single().unwrap_or(t)
}

/// Each subscriber's MRR at `t` (the latest-starting period covering `t`, grace included).
pub fn mrr_at(periods: &[Period], grace_seconds: i64, t: DateTime<Utc>) -> HashMap<&str, i64> {
    let grace = Duration::seconds(grace_seconds.max(0));
    let mut best: HashMap<&str, (DateTime<Utc>, i64)> = HashMap::new();
    for p in periods {
        if p.starts_at <= t && t < p.ends_at + grace {
            let e = best.entry(p.subscriber.as_str()).or_insert((p.starts_at, p.monthly_cents));
            if p.starts_at >= e.0 {
                *e = (p.starts_at, p.monthly_cents);
            }
        }
    }
    best.into_iter().map(|(k, v)| (k, v.1)).collect()
}

/// MRR and movements for the `months` months ending with the month of `now` (the current month
/// is measured at `now`, the others at their ends), oldest first.
pub fn months(periods: &[Period], grace_seconds: i64, now: DateTime<Utc>, months: u32) -> Vec<Month> {
    let n = months.max(1) as i32;
    let first = periods.iter().map(|p| p.starts_at).min().unwrap_or(now);
    // measurement instants for the shown months: end of each month, `now` for the current one
    let shown: Vec<(String, DateTime<Utc>)> = (0..n)
        .map(|i| {
            let start = month_start(now, -n + 1 + i);
            let end = month_start(now, -n + 2 + i);
            (format!("{:04}-{:02}", start.year(), start.month()), if end > now { now } else { end })
        })
        .collect();
    // who was paying at any month end before the first shown month
    let before_first = month_start(now, -n + 1);
    let mut ever: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut t = month_start(first, 1);
    while t <= before_first {
        for (s, v) in mrr_at(periods, grace_seconds, t) {
            if v > 0 {
                ever.insert(s.to_owned());
            }
        }
        t = month_start(t, 1);
    }
    let mut prev: HashMap<String, i64> =
        mrr_at(periods, grace_seconds, before_first).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for (s, v) in &prev {
        if *v > 0 {
            ever.insert(s.clone());
        }
    }
    let mut out = Vec::new();
    for (label, at) in shown {
        let cur: HashMap<String, i64> =
            mrr_at(periods, grace_seconds, at).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let m = month_of(label, &cur, &prev, &ever);
        for s in cur.keys() {
            ever.insert(s.clone());
        }
        prev = cur;
        out.push(m);
    }
    out
}

/// A month's MRR and its movements from each subscriber's MRR at its end (`cur`) and at the end
/// of the month before (`prev`); `ever`: who paid at some month end before `prev`'s (a return
/// is then a reactivation, not new). The one place the movements are classified: the full
/// recomputation ([`months`]) and the stored summaries' current month both call it.
pub fn month_of(
    label: String,
    cur: &HashMap<String, i64>,
    prev: &HashMap<String, i64>,
    ever: &std::collections::HashSet<String>,
) -> Month {
    let mut m = Month { label, ..Month::default() };
    for (s, &v) in cur {
        m.mrr += v;
        m.paying += 1;
        match prev.get(s).copied().unwrap_or(0) {
            0 if ever.contains(s) => m.reactivation += v,
            0 => m.new += v,
            pv if v > pv => m.expansion += v - pv,
            pv if v < pv => m.contraction += pv - v,
            _ => {}
        }
    }
    for (s, &pv) in prev {
        if pv > 0 && !cur.contains_key(s) {
            m.churn += pv;
        }
    }
    m
}

/// How each past end of a period went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    pub on_time: i64,
    pub late: i64,
    pub lapsed: i64,
}

impl History {
    /// The chance to renew: `(renewals + 1) / (ends + 2)`.
    pub fn chance(&self) -> f64 {
        let renewed = (self.on_time + self.late) as f64;
        (renewed + 1.0) / ((self.on_time + self.late + self.lapsed) as f64 + 2.0)
    }
}

/// Each subscriber's renewal history from the periods that ended (with their grace) before
/// `as_of`, and whether each such end was followed by a period within grace.
pub fn histories(periods: &[Period], grace_seconds: i64, as_of: DateTime<Utc>) -> HashMap<String, History> {
    let grace = Duration::seconds(grace_seconds.max(0));
    let mut by: HashMap<&str, Vec<&Period>> = HashMap::new();
    for p in periods {
        by.entry(p.subscriber.as_str()).or_default().push(p);
    }
    let mut out = HashMap::new();
    for (s, mut ps) in by {
        ps.sort_by_key(|p| p.starts_at);
        let mut h = History::default();
        for (i, p) in ps.iter().enumerate() {
            let next = ps.get(i + 1).map(|n| n.starts_at).filter(|n| *n < as_of);
            match next {
                Some(n) if n <= p.ends_at => h.on_time += 1,
                Some(n) if n <= p.ends_at + grace => h.late += 1,
                _ if p.ends_at + grace <= as_of => h.lapsed += 1,
                _ => {} // still running, or within grace now: not decided yet
            }
        }
        out.insert(s.to_owned(), h);
    }
    out
}

/// One day of the expiry forecast.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Day {
    /// Days from `now` (0 = the next 24 hours).
    pub day: i64,
    pub expiring: i64,
    pub revenue_cents: i64,
    pub expected_renewals: f64,
    pub at_risk_cents: i64,
}

/// A subscriber whose period ends soon, with the chance to renew.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    pub subscriber: String,
    pub ends_at: DateTime<Utc>,
    pub price_cents: i64,
    pub chance: f64,
    /// `price × (1 − chance)`.
    pub at_risk_cents: i64,
}

/// The forecast for the next `days` days: `expiring` are the current periods' ends and prices.
pub fn forecast(
    expiring: &[(String, DateTime<Utc>, i64)],
    hist: &HashMap<String, History>,
    now: DateTime<Utc>,
    days: i64,
) -> (Vec<Day>, Vec<Expiring>) {
    let mut out: Vec<Day> = (0..days).map(|d| Day { day: d, ..Day::default() }).collect();
    let mut list = Vec::new();
    for (s, end, price) in expiring {
        let d = (*end - now).num_seconds().div_euclid(86_400);
        if d < 0 || d >= days {
            continue;
        }
        let chance = hist.get(s).copied().unwrap_or_default().chance();
        let at_risk = (*price as f64 * (1.0 - chance)).round() as i64;
        let day = &mut out[d as usize];
        day.expiring += 1;
        day.revenue_cents += price;
        day.expected_renewals += chance;
        day.at_risk_cents += at_risk;
        list.push(Expiring {
            subscriber: s.clone(),
            ends_at: *end,
            price_cents: *price,
            chance,
            at_risk_cents: at_risk,
        });
    }
    list.sort_by(|a, b| b.at_risk_cents.cmp(&a.at_risk_cents).then(a.ends_at.cmp(&b.ends_at)));
    (out, list)
}

/// Back-test of the renewal model on one past month: the periods that ended in
/// `[from, to)`, predicted from the history before `from`, against what happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackTest {
    pub label: String,
    pub ended: i64,
    pub predicted: f64,
    pub actual: i64,
}

impl BackTest {
    /// `|predicted − actual| / actual` (0 when nothing was due).
    pub fn error(&self) -> f64 {
        if self.actual == 0 { 0.0 } else { (self.predicted - self.actual as f64).abs() / self.actual as f64 }
    }
}

/// Back-tests the model on each of the `months` whole months before `now`'s month.
pub fn back_test(periods: &[Period], grace_seconds: i64, now: DateTime<Utc>, months: u32) -> Vec<BackTest> {
    let grace = Duration::seconds(grace_seconds.max(0));
    let mut by: HashMap<&str, Vec<&Period>> = HashMap::new();
    for p in periods {
        by.entry(p.subscriber.as_str()).or_default().push(p);
    }
    for v in by.values_mut() {
        v.sort_by_key(|p| p.starts_at);
    }
    let mut out = Vec::new();
    for k in (1..=months as i32).rev() {
        let from = month_start(now, -k);
        let to = month_start(now, -k + 1);
        // the outcome must be known by now
        if to + grace > now {
            continue;
        }
        let hist = histories(periods, grace_seconds, from);
        let mut bt = BackTest { label: format!("{:04}-{:02}", from.year(), from.month()), ..BackTest::default() };
        for (s, ps) in &by {
            for (i, p) in ps.iter().enumerate() {
                if p.ends_at < from || p.ends_at >= to {
                    continue;
                }
                bt.ended += 1;
                bt.predicted += hist.get(*s).copied().unwrap_or_default().chance();
                if ps.get(i + 1).is_some_and(|n| n.starts_at <= p.ends_at + grace) {
                    bt.actual += 1;
                }
            }
        }
        out.push(bt);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().expect("valid")
    }

    #[test]
    fn monthly_cents_normalises_daily_and_weekly_plans_to_30_days() {
        assert_eq!(monthly_cents(150_000, MONTH_SECONDS), 150_000);
        assert_eq!(monthly_cents(50_000, 7 * 86_400), 214_286);
        assert_eq!(monthly_cents(5_000, 86_400), 150_000);
        assert_eq!(monthly_cents(1, 0), 0);
    }

    #[test]
    fn month_start_steps_across_years() {
        assert_eq!(month_start(t(2026, 12, 4), 1), t(2027, 1, 1));
        assert_eq!(month_start(t(2026, 1, 31), -1), t(2025, 12, 1));
        assert_eq!(month_start(t(2026, 3, 15), -24), t(2024, 3, 1));
    }

    /// A small world computed by hand: a new in October, b new in October and expanding in
    /// November, a churning in November, a back in December (reactivation).
    #[test]
    fn months_classify_new_expansion_churn_reactivation_by_hand() {
        let p = |s: &str, from: DateTime<Utc>, to: DateTime<Utc>, m: i64| Period {
            subscriber: s.into(),
            plan: "x".into(),
            starts_at: from,
            ends_at: to,
            monthly_cents: m,
        };
        let periods = vec![
            p("a", t(2026, 10, 10), t(2026, 11, 9), 1000),
            p("b", t(2026, 10, 15), t(2026, 11, 14), 1000),
            p("b", t(2026, 11, 14), t(2026, 12, 14), 2500),
            p("a", t(2026, 12, 2), t(2027, 1, 1), 1500),
        ];
        let ms = months(&periods, 0, t(2026, 12, 20), 3);
        assert_eq!(ms.iter().map(|m| m.label.as_str()).collect::<Vec<_>>(), ["2026-10", "2026-11", "2026-12"]);
        assert_eq!((ms[0].mrr, ms[0].new, ms[0].churn), (2000, 2000, 0));
        assert_eq!((ms[1].mrr, ms[1].expansion, ms[1].churn, ms[1].new), (2500, 1500, 1000, 0));
        // measured at `now` (Dec 20): b's period ended Dec 14 (churn), a reactivated at 1500
        assert_eq!((ms[2].mrr, ms[2].reactivation, ms[2].new, ms[2].churn), (1500, 1500, 0, 2500));
        for w in ms.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            assert_eq!(b.mrr, a.mrr + b.new + b.reactivation + b.expansion - b.contraction - b.churn);
        }
    }

    #[test]
    fn grace_keeps_a_late_payer_in_mrr() {
        let periods = vec![Period {
            subscriber: "a".into(),
            plan: "x".into(),
            starts_at: t(2026, 10, 1),
            ends_at: t(2026, 10, 31),
            monthly_cents: 100,
        }];
        assert_eq!(mrr_at(&periods, 0, t(2026, 11, 1)).len(), 0);
        assert_eq!(mrr_at(&periods, 2 * 86_400, t(2026, 11, 1)).get("a"), Some(&100));
    }

    #[test]
    fn history_counts_on_time_late_lapsed_and_chance_uses_laplace() {
        let p = |from: DateTime<Utc>, to: DateTime<Utc>| Period {
            subscriber: "a".into(),
            plan: "x".into(),
            starts_at: from,
            ends_at: to,
            monthly_cents: 100,
        };
        let periods = vec![
            p(t(2026, 1, 1), t(2026, 2, 1)),
            p(t(2026, 2, 1), t(2026, 3, 1)), // on time
            p(t(2026, 3, 2), t(2026, 4, 2)), // late (1 day, grace 3)
            p(t(2026, 6, 1), t(2026, 7, 1)), // after a lapse
        ];
        let h = histories(&periods, 3 * 86_400, t(2026, 12, 1))["a"];
        assert_eq!(h, History { on_time: 1, late: 1, lapsed: 2 });
        assert!((h.chance() - 3.0 / 6.0).abs() < 1e-9);
        assert!((History::default().chance() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn forecast_sorts_by_revenue_at_risk_and_buckets_by_day() {
        let now = t(2026, 12, 1);
        let mut hist = HashMap::new();
        hist.insert("sure".to_owned(), History { on_time: 8, late: 0, lapsed: 0 });
        hist.insert("flaky".to_owned(), History { on_time: 0, late: 0, lapsed: 8 });
        let exp = vec![
            ("sure".to_owned(), now + Duration::hours(30), 10_000),
            ("flaky".to_owned(), now + Duration::hours(30), 5_000),
            ("far".to_owned(), now + Duration::days(40), 5_000),
        ];
        let (days, list) = forecast(&exp, &hist, now, 30);
        assert_eq!(days[1].expiring, 2);
        assert_eq!(days[1].revenue_cents, 15_000);
        assert!((days[1].expected_renewals - (0.9 + 0.1)).abs() < 1e-9);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].subscriber, "flaky");
        assert_eq!(list[0].at_risk_cents, 4_500);
    }
}
