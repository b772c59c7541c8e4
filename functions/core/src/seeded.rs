//! The seeded tenant of issue 14 and its oracle, shared by every check of the dashboard's figures
//! (the unit test on SQLite in `web::console::dash`, the end-to-end test over HTTP against the
//! native host and a Worker in `tests/tests/seeded_dashboard.rs`).
//!
//! [`generate`]: 10,000 subscribers over 24 months from a fixed seed (renewals on time and late
//! within grace, lapses and returns, plan changes, four plans of 7, 30 and 90 days), written by
//! [`write`] as plain `plans`, `subscribers` and `subscriptions` rows. The oracle reads the raw
//! `subscriptions` rows back with plain SQL ([`raw_periods`], not the summaries, not the
//! generator's record) and counts the MRR months and the 30-day expiry figures by a different,
//! naive route ([`expected`]). Only built for tests (feature `seeded`).

use chrono::{DateTime, Datelike, Duration, Utc};
use std::collections::HashMap;

use crate::db::{Db, Statement, StoreError};
use crate::domain::mrr;
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;

/// Subscribers of the seeded tenant.
pub const N: usize = 10_000;
/// The tenant's grace (`grace_seconds`) the figures are computed with.
pub const GRACE: i64 = 2 * 86_400;
/// (id, price, period) of the plans.
pub const PLANS: [(&str, i64, i64); 4] = [
    ("m15", 150_000, 30 * 86_400),
    ("m30", 300_000, 30 * 86_400),
    ("w4", 40_000, 7 * 86_400),
    ("q40", 400_000, 90 * 86_400),
];

/// One paid period as the generator made it.
pub struct Paid {
    pub sub: usize,
    pub plan: usize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `n` subscribers' paid periods up to `now` (a fixed xorshift seed: the same `n` and `now` give
/// the same history).
pub fn generate(n: usize, now: DateTime<Utc>) -> Vec<Paid> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m.max(1)
    };
    let mut out = Vec::new();
    for sub in 0..n {
        let mut plan = rnd(4) as usize;
        let mut t = now - Duration::days(rnd(730) as i64) - Duration::seconds(rnd(86_400) as i64);
        while t < now {
            let end = t + Duration::seconds(PLANS[plan].2);
            out.push(Paid { sub, plan, start: t, end });
            t = match rnd(100) {
                0..=69 => end,
                70..=84 => end + Duration::seconds(rnd(GRACE as u64) as i64),
                85..=95 => end + Duration::days(3 + rnd(60) as i64),
                _ => break,
            };
            if rnd(100) < 8 {
                plan = rnd(4) as usize;
            }
        }
    }
    out
}

/// Writes the plans, each subscriber (status and expiry from their last period as of `now`) and
/// every paid period, in batches of at most 5,000 rows.
pub async fn write(db: &impl Db, paid: &[Paid], now: DateTime<Utc>) -> Result<(), StoreError> {
    let at = fmt_ts(now - Duration::days(800));
    let mut batch: Vec<Statement> = PLANS
        .iter()
        .map(|(id, price, period)| {
            stmt!(
                "INSERT INTO plans (id, code, name, kind, price_cents, period_seconds, down_kbps, up_kbps, created_at) \
                 VALUES (?1, ?1, ?1, 'pppoe', ?2, ?3, 1000, 1000, ?4)",
                *id,
                *price,
                *period,
                &at
            )
        })
        .collect();
    let mut last: HashMap<usize, &Paid> = HashMap::new();
    for p in paid {
        last.insert(p.sub, p);
    }
    let mut subs: Vec<_> = last.into_iter().collect();
    subs.sort_by_key(|(sub, _)| *sub);
    for (sub, p) in subs {
        let status = if p.end > now { "active" } else { "expired" };
        batch.push(stmt!(
            "INSERT INTO subscribers (id, account_no, account_loose, name, username, password, plan_id, status, expires_at, created_at) \
             VALUES (?1, ?1, ?1, ?1, ?1, 'x', ?2, ?3, ?4, ?5)",
            format!("S{sub}"),
            PLANS[p.plan].0,
            status,
            fmt_ts(p.end),
            &at
        ));
    }
    db.batch(&batch).await?;
    for (i, chunk) in paid.chunks(5_000).enumerate() {
        let rows: Vec<Statement> = chunk
            .iter()
            .enumerate()
            .map(|(j, p)| {
                stmt!(
                    "INSERT INTO subscriptions (id, subscriber_id, plan_id, starts_at, ends_at, price_cents, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)",
                    format!("x{i}-{j}"),
                    format!("S{}", p.sub),
                    PLANS[p.plan].0,
                    fmt_ts(p.start),
                    fmt_ts(p.end),
                    PLANS[p.plan].1
                )
            })
            .collect();
        db.batch(&rows).await?;
    }
    Ok(())
}

/// One paid period as the oracle reads it back from the raw `subscriptions` rows.
pub struct Raw {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub price: i64,
    pub monthly: i64,
}

/// The raw ledger of paid periods, read back with plain SQL (not the summaries, not the
/// generator's record), grouped by subscriber in start order.
pub async fn raw_periods(db: &impl Db) -> Result<Vec<Vec<Raw>>, StoreError> {
    let bad = |what: &str| StoreError::Unavailable(format!("unreadable {what}"));
    let plans = db.query(&stmt!("SELECT id, period_seconds FROM plans")).await?;
    let mut period: HashMap<String, i64> = HashMap::new();
    for r in plans.iter() {
        period.insert(r.text("id")?, r.int("period_seconds")?);
    }
    let rows = db
        .query(&stmt!(
            "SELECT subscriber_id, plan_id, starts_at, ends_at, price_cents FROM subscriptions ORDER BY subscriber_id, starts_at"
        ))
        .await?;
    let mut out: Vec<Vec<Raw>> = Vec::new();
    let mut last = String::new();
    for r in rows.iter() {
        let sub = r.text("subscriber_id")?;
        if sub != last || out.is_empty() {
            out.push(Vec::new());
            last = sub;
        }
        let ts = |c: &str| -> Result<DateTime<Utc>, StoreError> { parse_ts(&r.text(c)?).ok_or_else(|| bad(c)) };
        let price = r.int("price_cents")?;
        // 30 days' worth of the period's price, rounded to the nearest cent, by hand
        let secs = *period.get(&r.text("plan_id")?).ok_or_else(|| bad("plan"))?;
        let monthly = (price * 2_592_000 + secs / 2) / secs;
        let (start, end) = (ts("starts_at")?, ts("ends_at")?);
        if let Some(group) = out.last_mut() {
            group.push(Raw { start, end, price, monthly });
        }
    }
    Ok(out)
}

/// The oracle: a subscriber's MRR at `t`, walking their periods in order.
fn value_at(periods: &[Raw], grace: i64, t: DateTime<Utc>) -> i64 {
    let cur = periods.iter().rev().find(|p| p.start <= t);
    match cur {
        Some(p) if t < p.end + Duration::seconds(grace) => p.monthly,
        _ => 0,
    }
}

/// What the dashboard must show at `now`, counted from the raw periods.
#[derive(Debug, PartialEq, Eq)]
pub struct Expected {
    /// The 24 months ending with the month of `now`, oldest first (the current one at `now`).
    pub months: Vec<mrr::Month>,
    /// For each of the next 30 days: subscribers whose last period ends that day, and its price.
    pub days: Vec<(i64, i64)>,
}

/// The dashboard's MRR months and 30-day expiry figures at `now`, counted naively from the raw
/// periods: every subscriber's value at every month end from the start of history.
pub fn expected(by_sub: &[Vec<Raw>], grace: i64, now: DateTime<Utc>) -> Expected {
    let n = by_sub.len();
    let first = by_sub.iter().filter_map(|ps| ps.first()).map(|p| p.start).min().unwrap_or(now);
    // every month end from the start of history, then the 24 shown (the current at `now`)
    let mut instants = Vec::new();
    let mut t = mrr::month_start(first, 1);
    while t <= mrr::month_start(now, -23) {
        instants.push((None, t));
        t = mrr::month_start(t, 1);
    }
    for k in 0..24 {
        let start = mrr::month_start(now, -23 + k);
        let end = mrr::month_start(now, -22 + k);
        instants.push((Some(format!("{:04}-{:02}", start.year(), start.month())), end.min(now)));
    }
    let mut ever = vec![false; n];
    let mut prev = vec![0i64; n];
    let mut months = Vec::new();
    for (label, t) in instants {
        let cur: Vec<i64> = by_sub.iter().map(|ps| value_at(ps, grace, t)).collect();
        if let Some(label) = label {
            let mut m = mrr::Month { label, ..Default::default() };
            for s in 0..n {
                let (v, pv) = (cur[s], prev[s]);
                m.mrr += v;
                m.paying += i64::from(v > 0);
                if v > 0 && pv == 0 {
                    if ever[s] { m.reactivation += v } else { m.new += v }
                } else if v > 0 && v > pv {
                    m.expansion += v - pv;
                } else if v > 0 && v < pv {
                    m.contraction += pv - v;
                } else if v == 0 && pv > 0 {
                    m.churn += pv;
                }
            }
            months.push(m);
        }
        for s in 0..n {
            ever[s] |= cur[s] > 0;
        }
        prev = cur;
    }
    // expiry: subscribers whose last period ends in each of the next 30 days, at its price
    let mut days = vec![(0i64, 0i64); 30];
    for ps in by_sub {
        let Some(p) = ps.last() else { continue };
        let d = (p.end - now).num_seconds().div_euclid(86_400);
        if p.end > now && d < 30 {
            days[d as usize].0 += 1;
            days[d as usize].1 += p.price;
        }
    }
    Expected { months, days }
}

/// Whether no figure of [`expected`] can change at any instant in `(from, to]`: no period starts
/// or runs out of grace, no last period's end crosses a day of the forecast, no month begins.
/// A check that reads a page served at an instant it only knows to lie in that window compares
/// it with [`expected`] at `from` only when this holds.
pub fn quiet(by_sub: &[Vec<Raw>], grace: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let inside = |t: DateTime<Utc>| from < t && t <= to;
    if inside(mrr::month_start(to, 0)) {
        return false;
    }
    by_sub.iter().all(|ps| {
        ps.iter().all(|p| !inside(p.start) && !inside(p.end + Duration::seconds(grace)))
            && ps.last().is_none_or(|p| (0..=30).all(|k| !inside(p.end - Duration::days(k))))
    })
}
