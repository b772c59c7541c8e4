//! The dashboard's summary tables (migration 0018): each subscriber's contribution to each
//! month's MRR and movements (`mrr_moves`), their sums by month, plan and site (`mrr_months`),
//! and how each paid period's end went (`renewal_outcomes`).
//!
//! Kept in the same atomic batch as every new paid period: [`refresh`] recomputes the one
//! subscriber's rows from their raw `subscriptions` rows inside the batch (so two racing writes
//! can never leave them stale: whichever commits last sees both) and moves the month sums by the
//! difference. The grace they are computed with is stored in `summary_meta`; when the tenant's
//! grace changes or a plan's period is edited ([`invalidate`]) the next dashboard view or
//! scheduled pass rebuilds them whole ([`ensure_built`]).
//!
//! The dashboard then reads 23 closed months from `mrr_months`, measures the current month at
//! the page view from the periods running now (an index range, not the history), and the
//! renewal histories of the subscribers it forecasts from `renewal_outcomes`. The definitions are
//! those of [`crate::domain::mrr`]; a property test holds the two equal.

use chrono::{DateTime, Datelike, Duration, Utc};
use std::collections::{HashMap, HashSet};

use crate::db::{Db, Statement, StoreError};
use crate::domain::mrr::{self, BackTest, History, Month};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;

/// The grace as an SQLite date modifier, from `summary_meta` (no row: nothing is computed).
const GRACE: &str = "g AS (SELECT '+' || grace_seconds || ' seconds' AS m FROM summary_meta WHERE id = 1)";

/// `mrr_moves` rows of the subscribers matched by `filter` (a condition on `x`, the
/// subscriptions), computed from their raw periods.
fn moves_sql(filter: &str) -> String {
    format!(
        "INSERT INTO mrr_moves (subscriber_id, month, plan_id, site, mrr, paying, new, reactivation, expansion, contraction, churn) \
         WITH RECURSIVE {GRACE}, \
         span AS (SELECT x.subscriber_id AS sub, \
                    strftime('%Y-%m-%dT%H:%M:%SZ', MIN(x.starts_at), '-1 seconds', 'start of month', '+1 month') AS t, \
                    MAX(strftime('%Y-%m-%dT%H:%M:%SZ', x.ends_at, g.m)) AS last \
                  FROM subscriptions x, g WHERE {filter} GROUP BY x.subscriber_id), \
         ends(sub, t, last) AS (SELECT sub, t, last FROM span \
                  UNION ALL SELECT sub, strftime('%Y-%m-%dT%H:%M:%SZ', t, '+1 month'), last FROM ends WHERE t < last), \
         pts AS (SELECT ends.sub, ends.t, \
                    (SELECT y.id FROM subscriptions y WHERE y.subscriber_id = ends.sub AND y.starts_at <= ends.t \
                       AND strftime('%Y-%m-%dT%H:%M:%SZ', y.ends_at, g.m) > ends.t \
                     ORDER BY y.starts_at DESC, y.id DESC LIMIT 1) AS xid \
                  FROM ends, g), \
         v AS (SELECT pts.sub, strftime('%Y-%m', pts.t, '-1 month') AS month, y.plan_id, \
                  CASE WHEN y.id IS NULL THEN 0 \
                       ELSE (y.price_cents * 2592000 + p.period_seconds / 2) / p.period_seconds END AS c \
                FROM pts LEFT JOIN subscriptions y ON y.id = pts.xid LEFT JOIN plans p ON p.id = y.plan_id), \
         w AS (SELECT sub, month, plan_id, c, \
                  LAG(c, 1, 0) OVER win AS pc, LAG(plan_id) OVER win AS pplan, \
                  MAX(c > 0) OVER (PARTITION BY sub ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ever \
                FROM v WINDOW win AS (PARTITION BY sub ORDER BY month)) \
         SELECT w.sub, w.month, COALESCE(CASE WHEN w.c > 0 THEN w.plan_id ELSE w.pplan END, ''), COALESCE(s.site, ''), \
           w.c, w.c > 0, \
           CASE WHEN w.c > 0 AND w.pc = 0 AND COALESCE(w.ever, 0) = 0 THEN w.c ELSE 0 END, \
           CASE WHEN w.c > 0 AND w.pc = 0 AND w.ever = 1 THEN w.c ELSE 0 END, \
           CASE WHEN w.c > 0 AND w.pc > 0 AND w.c > w.pc THEN w.c - w.pc ELSE 0 END, \
           CASE WHEN w.c > 0 AND w.pc > 0 AND w.c < w.pc THEN w.pc - w.c ELSE 0 END, \
           CASE WHEN w.c = 0 AND w.pc > 0 THEN w.pc ELSE 0 END \
         FROM w LEFT JOIN subscribers s ON s.id = w.sub WHERE w.c > 0 OR w.pc > 0"
    )
}

/// `renewal_outcomes` rows of the subscriptions matched by `filter`.
fn outcomes_sql(filter: &str) -> String {
    format!(
        "INSERT INTO renewal_outcomes (subscription_id, subscriber_id, ends_at, lapse_at, outcome, decided_at) \
         WITH {GRACE} \
         SELECT id, sub, ends_at, lapse_at, \
           CASE WHEN n IS NOT NULL AND n <= ends_at THEN 'on_time' WHEN n IS NOT NULL AND n <= lapse_at THEN 'late' ELSE 'lapsed' END, \
           CASE WHEN n IS NOT NULL AND n <= lapse_at THEN n ELSE lapse_at END \
         FROM (SELECT x.id, x.subscriber_id AS sub, x.ends_at, strftime('%Y-%m-%dT%H:%M:%SZ', x.ends_at, g.m) AS lapse_at, \
                 LEAD(x.starts_at) OVER (PARTITION BY x.subscriber_id ORDER BY x.starts_at, x.id) AS n \
               FROM subscriptions x, g WHERE {filter})"
    )
}

/// Adds (`sign` 1) or takes away (`sign` -1) one subscriber's `mrr_moves` from `mrr_months`.
fn shift_months(subscriber_id: &str, sign: i64) -> Statement {
    stmt!(
        "INSERT INTO mrr_months (month, plan_id, site, mrr, paying, new, reactivation, expansion, contraction, churn) \
         SELECT month, plan_id, site, ?2 * SUM(mrr), ?2 * SUM(paying), ?2 * SUM(new), ?2 * SUM(reactivation), \
           ?2 * SUM(expansion), ?2 * SUM(contraction), ?2 * SUM(churn) \
         FROM mrr_moves WHERE subscriber_id = ?1 GROUP BY month, plan_id, site \
         ON CONFLICT (month, plan_id, site) DO UPDATE SET mrr = mrr + excluded.mrr, paying = paying + excluded.paying, \
           new = new + excluded.new, reactivation = reactivation + excluded.reactivation, \
           expansion = expansion + excluded.expansion, contraction = contraction + excluded.contraction, \
           churn = churn + excluded.churn",
        subscriber_id,
        sign
    )
}

/// The statements that bring one subscriber's summaries up to date with their paid periods:
/// put them in the batch that writes a period, after it.
pub fn refresh(subscriber_id: &str) -> Vec<Statement> {
    vec![
        shift_months(subscriber_id, -1),
        stmt!("DELETE FROM mrr_moves WHERE subscriber_id = ?1", subscriber_id),
        stmt!(moves_sql("x.subscriber_id = ?1"), subscriber_id),
        shift_months(subscriber_id, 1),
        stmt!("DELETE FROM renewal_outcomes WHERE subscriber_id = ?1", subscriber_id),
        stmt!(outcomes_sql("x.subscriber_id = ?1"), subscriber_id),
    ]
}

/// Marks the summaries stale (a plan's period changed: every normalised price moves); the next
/// dashboard view or scheduled pass rebuilds them.
pub fn invalidate() -> Statement {
    Statement::new("DELETE FROM summary_meta")
}

/// Every summary row recomputed from the raw periods with `grace_seconds`, in one batch.
pub fn rebuild(grace_seconds: i64, now: DateTime<Utc>) -> Vec<Statement> {
    vec![
        Statement::new("DELETE FROM mrr_moves"),
        Statement::new("DELETE FROM mrr_months"),
        Statement::new("DELETE FROM renewal_outcomes"),
        Statement::new("DELETE FROM backtest_months"),
        stmt!(
            "INSERT OR REPLACE INTO summary_meta (id, grace_seconds, built_at) VALUES (1, ?1, ?2)",
            grace_seconds.max(0),
            fmt_ts(now)
        ),
        Statement::new(moves_sql("1 = 1")),
        Statement::new(
            "INSERT INTO mrr_months (month, plan_id, site, mrr, paying, new, reactivation, expansion, contraction, churn) \
             SELECT month, plan_id, site, SUM(mrr), SUM(paying), SUM(new), SUM(reactivation), SUM(expansion), \
               SUM(contraction), SUM(churn) FROM mrr_moves GROUP BY month, plan_id, site",
        ),
        Statement::new(outcomes_sql("1 = 1")),
    ]
}

/// Rebuilds the summaries when they were never built or were built with another grace.
/// Returns whether it rebuilt.
pub async fn ensure_built(db: &impl Db, grace_seconds: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let rows = db.query(&Statement::new("SELECT grace_seconds FROM summary_meta WHERE id = 1")).await?;
    let built = rows.first().map(|r| r.int("grace_seconds")).transpose()?;
    if built == Some(grace_seconds.max(0)) {
        return Ok(false);
    }
    db.batch(&rebuild(grace_seconds, now)).await?;
    Ok(true)
}

fn label(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// MRR and movements for the `n` months ending with the month of `now`, oldest first, as
/// [`mrr::months`] defines them: closed months from `mrr_months`, the current one measured at
/// `now` from the periods running now against last month's end.
pub async fn months(db: &impl Db, grace_seconds: i64, now: DateTime<Utc>, n: u32) -> Result<Vec<Month>, StoreError> {
    let n = n.max(1) as i32;
    let labels: Vec<String> = (0..n).map(|i| label(mrr::month_start(now, -n + 1 + i))).collect();
    let current = labels.last().cloned().unwrap_or_default();
    let previous = label(mrr::month_start(now, -1));
    let rows = db
        .query(&stmt!(
            "SELECT month, SUM(mrr) AS mrr, SUM(paying) AS paying, SUM(new) AS new, SUM(reactivation) AS reactivation, \
               SUM(expansion) AS expansion, SUM(contraction) AS contraction, SUM(churn) AS churn \
             FROM mrr_months WHERE month >= ?1 AND month < ?2 GROUP BY month",
            &labels[0],
            &current
        ))
        .await?;
    let mut closed: HashMap<String, Month> = HashMap::new();
    for r in rows.iter() {
        let m = Month {
            label: r.text("month")?,
            mrr: r.int("mrr")?,
            paying: r.int("paying")?,
            new: r.int("new")?,
            reactivation: r.int("reactivation")?,
            expansion: r.int("expansion")?,
            contraction: r.int("contraction")?,
            churn: r.int("churn")?,
        };
        closed.insert(m.label.clone(), m);
    }
    let mut out: Vec<Month> = labels[..labels.len() - 1]
        .iter()
        .map(|l| closed.remove(l).unwrap_or_else(|| Month { label: l.clone(), ..Month::default() }))
        .collect();

    // the current month, at `now`: each subscriber's latest-starting period covering now
    let grace = Duration::seconds(grace_seconds.max(0));
    let running = db
        .query(&stmt!(
            "SELECT x.subscriber_id, x.id, x.starts_at, x.price_cents, p.period_seconds FROM subscriptions x \
             JOIN plans p ON p.id = x.plan_id WHERE x.ends_at > ?1 AND x.starts_at <= ?2",
            fmt_ts(now - grace),
            fmt_ts(now)
        ))
        .await?;
    let mut cur: HashMap<String, (String, String, i64)> = HashMap::new();
    for r in running.iter() {
        let key = (r.text("starts_at")?, r.text("id")?);
        let v = mrr::monthly_cents(r.int("price_cents")?, r.int("period_seconds")?);
        let e = cur.entry(r.text("subscriber_id")?).or_insert((key.0.clone(), key.1.clone(), v));
        if (&key.0, &key.1) > (&e.0, &e.1) {
            *e = (key.0, key.1, v);
        }
    }
    let prev_rows =
        db.query(&stmt!("SELECT subscriber_id, mrr FROM mrr_moves WHERE month = ?1 AND mrr > 0", &previous)).await?;
    let mut prev: HashMap<String, i64> = HashMap::new();
    for r in prev_rows.iter() {
        prev.insert(r.text("subscriber_id")?, r.int("mrr")?);
    }
    let returning: Vec<&String> =
        cur.iter().filter(|(s, v)| v.2 > 0 && !prev.contains_key(*s)).map(|(s, _)| s).collect();
    let mut ever: HashSet<String> = HashSet::new();
    if !returning.is_empty() {
        let ids = serde_json::to_string(&returning).unwrap_or_else(|_| "[]".into());
        let rows = db
            .query(&stmt!(
                "SELECT DISTINCT subscriber_id FROM mrr_moves WHERE subscriber_id IN (SELECT value FROM json_each(?1)) \
                 AND month < ?2 AND mrr > 0",
                ids,
                &current
            ))
            .await?;
        for r in rows.iter() {
            ever.insert(r.text("subscriber_id")?);
        }
    }
    let cur: HashMap<String, i64> = cur.into_iter().map(|(s, (_, _, v))| (s, v)).collect();
    out.push(mrr::month_of(current, &cur, &prev, &ever));
    Ok(out)
}

/// One plan and site's share of a month's MRR (at the month's end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub plan_id: String,
    /// The plan's name ('' when the plan is gone).
    pub plan: String,
    /// The subscribers' site (router); '' when none.
    pub site: String,
    pub mrr: i64,
    pub paying: i64,
}

/// A closed month's MRR by plan and site, largest first (from `mrr_months`).
pub async fn by_plan_and_site(db: &impl Db, month: &str) -> Result<Vec<Share>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT m.plan_id, COALESCE(p.name, '') AS plan, m.site, SUM(m.mrr) AS mrr, SUM(m.paying) AS paying \
             FROM mrr_months m LEFT JOIN plans p ON p.id = m.plan_id WHERE m.month = ?1 \
             GROUP BY m.plan_id, m.site HAVING SUM(m.paying) > 0 ORDER BY SUM(m.mrr) DESC, m.plan_id, m.site",
            month
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Share {
                plan_id: r.text("plan_id")?,
                plan: r.text("plan")?,
                site: r.text("site")?,
                mrr: r.int("mrr")?,
                paying: r.int("paying")?,
            })
        })
        .collect()
}

/// Counts of a subscriber's renewal history as of `?1` (as [`mrr::histories`] does), over the
/// rows `h` of their `renewal_outcomes` decided by then: renewals decided before it; ends whose
/// grace ran out by it with no renewal before it.
const HISTORY_AS_OF: &str = "\
    COALESCE(SUM(h.decided_at < ?1 AND h.outcome = 'on_time'), 0) AS on_time, \
    COALESCE(SUM(h.decided_at < ?1 AND h.outcome = 'late'), 0) AS late, \
    COALESCE(SUM(h.lapse_at <= ?1 AND (h.outcome = 'lapsed' OR h.decided_at >= ?1)), 0) AS lapsed";

fn history(r: &crate::db::Row) -> Result<History, StoreError> {
    Ok(History { on_time: r.int("on_time")?, late: r.int("late")?, lapsed: r.int("lapsed")? })
}

/// The renewal histories, as of `now`, of the active subscribers whose period ends in the next
/// 30 days (the ones the forecast is about).
pub async fn expiring_histories(db: &impl Db, now: DateTime<Utc>) -> Result<HashMap<String, History>, StoreError> {
    let rows = db
        .query(&stmt!(
            format!(
                "SELECT s.id, {HISTORY_AS_OF} FROM subscribers s \
                 LEFT JOIN renewal_outcomes h ON h.subscriber_id = s.id AND h.decided_at <= ?1 \
                 WHERE s.status = 'active' AND s.expires_at >= ?1 AND s.expires_at < ?2 GROUP BY s.id"
            ),
            fmt_ts(now),
            fmt_ts(now + Duration::days(30))
        ))
        .await?;
    let mut out = HashMap::new();
    for r in rows.iter() {
        out.insert(r.text("id")?, history(&r)?);
    }
    Ok(out)
}

/// [`mrr::back_test`] from `renewal_outcomes`: for each of the `months` whole months before
/// `now`'s month whose outcome is known, the periods that ended in it, the renewals the model
/// expected from each subscriber's history before the month, and the renewals that happened.
/// A month's figures never change once its outcome is known: they are kept in
/// `backtest_months` the first time they are computed.
pub async fn back_test(
    db: &impl Db,
    grace_seconds: i64,
    now: DateTime<Utc>,
    months: u32,
) -> Result<Vec<BackTest>, StoreError> {
    let grace_seconds = grace_seconds.max(0);
    let grace = Duration::seconds(grace_seconds);
    let due: Vec<(DateTime<Utc>, DateTime<Utc>)> = (1..=months as i32)
        .rev()
        .map(|k| (mrr::month_start(now, -k), mrr::month_start(now, -k + 1)))
        .filter(|(_, to)| *to + grace <= now)
        .collect();
    let Some(first) = due.first() else { return Ok(Vec::new()) };
    let kept = db
        .query(&stmt!(
            "SELECT month, ended, predicted, actual FROM backtest_months WHERE grace_seconds = ?1 AND month >= ?2",
            grace_seconds,
            label(first.0)
        ))
        .await?;
    let mut known: HashMap<String, BackTest> = HashMap::new();
    for r in kept.iter() {
        let bt = BackTest {
            label: r.text("month")?,
            ended: r.int("ended")?,
            predicted: r
                .text("predicted")?
                .parse()
                .map_err(|_| StoreError::Corrupt("backtest_months.predicted".into()))?,
            actual: r.int("actual")?,
        };
        known.insert(bt.label.clone(), bt);
    }
    let mut out = Vec::new();
    let mut keep = Vec::new();
    for (from, to) in due {
        if let Some(bt) = known.remove(&label(from)) {
            out.push(bt);
            continue;
        }
        let rows = db
            .query(&stmt!(
                format!(
                    "SELECT e.n, e.r, {HISTORY_AS_OF} FROM (SELECT subscriber_id, COUNT(*) AS n, SUM(outcome <> 'lapsed') AS r \
                     FROM renewal_outcomes WHERE ends_at >= ?1 AND ends_at < ?2 GROUP BY subscriber_id) e \
                     LEFT JOIN renewal_outcomes h ON h.subscriber_id = e.subscriber_id AND h.decided_at <= ?1 \
                     GROUP BY e.subscriber_id"
                ),
                fmt_ts(from),
                fmt_ts(to)
            ))
            .await?;
        let mut bt = BackTest { label: label(from), ..BackTest::default() };
        for r in rows.iter() {
            let n = r.int("n")?;
            bt.ended += n;
            bt.actual += r.int("r")?;
            bt.predicted += n as f64 * history(&r)?.chance();
        }
        keep.push(stmt!(
            "INSERT OR REPLACE INTO backtest_months (month, grace_seconds, ended, predicted, actual) VALUES (?1, ?2, ?3, ?4, ?5)",
            &bt.label,
            grace_seconds,
            bt.ended,
            bt.predicted.to_string(),
            bt.actual
        ));
        out.push(bt);
    }
    if !keep.is_empty() {
        db.batch(&keep).await?;
    }
    Ok(out)
}

/// Collections of applied payments from `since_day` (`YYYY-MM-DD`, UTC) on: (day, provider,
/// method, cents), by day. Read from `collections_daily` (migration 0022), which the database keeps
/// in the same statement as every payment written or assigned: no scan of the payments.
pub async fn collections(db: &impl Db, since_day: &str) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT day, provider, method, cents FROM collections_daily WHERE day >= ?1 AND n > 0 \
             ORDER BY day, provider, method",
            since_day
        ))
        .await?;
    rows.iter().map(|r| Ok((r.text("day")?, r.text("provider")?, r.text("method")?, r.int("cents")?))).collect()
}

/// Every paid period of the tenant, with its price normalised to 30 days: the raw rows the
/// summaries are checked against (a full scan; not for page views).
pub async fn periods(db: &impl Db) -> Result<Vec<mrr::Period>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT x.subscriber_id, x.plan_id, x.starts_at, x.ends_at, x.price_cents, p.period_seconds \
             FROM subscriptions x JOIN plans p ON p.id = x.plan_id"
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let (Some(s), Some(e)) = (parse_ts(&r.text("starts_at")?), parse_ts(&r.text("ends_at")?)) else { continue };
        out.push(mrr::Period {
            subscriber: r.text("subscriber_id")?,
            plan: r.text("plan_id")?,
            starts_at: s,
            ends_at: e,
            monthly_cents: mrr::monthly_cents(r.int("price_cents")?, r.int("period_seconds")?),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ctx;
    use crate::domain::plan::{Plan, PlanKind};
    use crate::domain::subscriber::Status;
    use crate::domain::{AccountNo, Money, Username};
    use crate::ids::IdGen;
    use crate::store::payments::{self, Payment, PaymentStatus};
    use crate::store::plans;
    use crate::store::subscribers::{self, Subscriber};
    use crate::store::tenants::TenantSettings;
    use crate::testing::{TestDb, run};
    use crate::usecases::credit::{Credit, credit_once};
    use chrono::TimeZone;
    use proptest::prelude::*;

    /// (id, price, period) of the plans: monthly, weekly, quarterly, daily.
    const PLANS: [(&str, i64, i64); 4] =
        [("m", 150_000, 30 * 86_400), ("w", 40_000, 7 * 86_400), ("q", 400_000, 90 * 86_400), ("d", 5_000, 86_400)];
    const SUBS: usize = 4;

    #[derive(Debug, Clone)]
    enum Op {
        /// A payment of `n` periods of the subscriber's plan (renews or reactivates).
        Pay { sub: usize, n: i64 },
        /// Time passes.
        Wait { hours: i64 },
        /// The subscriber moves to another plan (their next period is of it).
        Switch { sub: usize, plan: usize },
        /// The tenant's grace changes.
        Grace { hours: i64 },
        /// A plan's period is edited (every normalised price of it moves).
        Period { plan: usize, days: i64 },
        /// The dashboard is looked at.
        Look,
        /// A payment for nobody lands in the unmatched inbox.
        Unmatched { cents: i64 },
        /// The oldest unmatched payment is assigned to a subscriber (a second assign of the same
        /// payment is refused by its guard).
        Assign { sub: usize, twice: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..SUBS, 1..3i64).prop_map(|(sub, n)| Op::Pay { sub, n }),
            4 => (1..24 * 45i64).prop_map(|hours| Op::Wait { hours }),
            1 => (0..SUBS, 0..PLANS.len()).prop_map(|(sub, plan)| Op::Switch { sub, plan }),
            1 => (0..72i64).prop_map(|hours| Op::Grace { hours }),
            1 => (0..PLANS.len(), 1..40i64).prop_map(|(plan, days)| Op::Period { plan, days }),
            2 => Just(Op::Look),
            2 => (100..500_000i64).prop_map(|cents| Op::Unmatched { cents }),
            2 => (0..SUBS, any::<bool>()).prop_map(|(sub, twice)| Op::Assign { sub, twice }),
        ]
    }

    fn setup(now: DateTime<Utc>) -> TestDb {
        let db = TestDb::tenant();
        let mut batch = Vec::new();
        for (id, price, period) in PLANS {
            batch.push(plans::insert(
                &Plan {
                    id: id.into(),
                    code: id.into(),
                    name: id.into(),
                    kind: PlanKind::Pppoe,
                    price: Money(price),
                    period_seconds: period,
                    down_kbps: 1000,
                    up_kbps: 1000,
                    data_cap_bytes: None,
                    max_devices: 1,
                    active: true,
                },
                "2025-01-01T00:00:00Z",
            ));
        }
        for i in 0..SUBS {
            batch.push(subscribers::insert(&Subscriber {
                id: format!("s{i}"),
                account_no: AccountNo::parse(&format!("ACC{i}")).expect("account"),
                name: format!("S {i}"),
                phone: None,
                username: Username::parse(&format!("user{i}")).expect("username"),
                password: "x".into(),
                site: [None, Some("r1".to_owned()), Some("r2".to_owned())][i % 3].clone(),
                static_ip: None,
                plan_id: PLANS[i % PLANS.len()].0.into(),
                status: Status::Pending,
                expires_at: None,
                auto_renew: true,
                version: 0,
                created_at: now,
            }));
        }
        run(db.batch(&batch)).expect("seed");
        db
    }

    fn pay_row(id: &str, provider: &str, method: &str, cents: i64, sub: Option<String>, now: DateTime<Utc>) -> Payment {
        Payment {
            id: id.into(),
            provider: provider.into(),
            method: method.into(),
            provider_ref: id.into(),
            receipt: None,
            amount_cents: cents,
            status: if sub.is_some() { PaymentStatus::Applied } else { PaymentStatus::Unmatched },
            subscriber_id: sub,
            msisdn: None,
            payer_name: None,
            bill_ref: None,
            note: None,
            paid_at: None,
            received_at: fmt_ts(now),
            applied_at: None,
        }
    }

    /// The dashboard's figures from the summaries against [`mrr`]'s full recomputation from the
    /// raw periods; and the summary tables against a rebuild from scratch.
    fn check(db: &TestDb, grace: i64, now: DateTime<Utc>) -> Result<(), TestCaseError> {
        let f = run(crate::web::console::dash::figures(db, grace, now)).expect("figures");
        let raw = run(periods(db)).expect("periods");
        prop_assert_eq!(&f.months, &mrr::months(&raw, grace, now, 24));
        let (expiring, _) = run(crate::web::console::dash::expiring_soon(db, now)).expect("expiring");
        let (days, list) = mrr::forecast(&expiring, &mrr::histories(&raw, grace, now), now, 30);
        for (a, b) in f.days.iter().zip(&days) {
            prop_assert_eq!(
                (a.expiring, a.revenue_cents, a.at_risk_cents),
                (b.expiring, b.revenue_cents, b.at_risk_cents)
            );
            prop_assert!((a.expected_renewals - b.expected_renewals).abs() < 1e-9, "{:?} vs {:?}", a, b);
        }
        prop_assert_eq!(&f.list, &list);
        // the last closed month by plan and site: each subscriber paying at its end counted under
        // the plan of the period that pays and their site
        let end = mrr::month_start(now, 0);
        let g = Duration::seconds(grace.max(0));
        let mut want_by: HashMap<(String, String), (i64, i64)> = HashMap::new();
        let mut subs: Vec<&str> = raw.iter().map(|p| p.subscriber.as_str()).collect();
        subs.sort_unstable();
        subs.dedup();
        for s in subs {
            let paying = raw
                .iter()
                .filter(|p| p.subscriber == s && p.starts_at <= end && end < p.ends_at + g)
                .max_by_key(|p| p.starts_at);
            if let Some(p) = paying {
                let i: usize = s[1..].parse().expect("s<i>");
                let site = ["", "r1", "r2"][i % 3].to_owned();
                let e = want_by.entry((p.plan.clone(), site)).or_default();
                e.0 += p.monthly_cents;
                e.1 += 1;
            }
        }
        let got_by: HashMap<(String, String), (i64, i64)> =
            run(by_plan_and_site(db, &label(mrr::month_start(now, -1))))
                .expect("by plan and site")
                .into_iter()
                .map(|s| ((s.plan_id, s.site), (s.mrr, s.paying)))
                .collect();
        prop_assert_eq!(got_by, want_by);
        let want = mrr::back_test(&raw, grace, now, 3);
        prop_assert_eq!(f.tests.len(), want.len());
        for (a, b) in f.tests.iter().zip(&want) {
            prop_assert_eq!((&a.label, a.ended, a.actual), (&b.label, b.ended, b.actual));
            prop_assert!((a.predicted - b.predicted).abs() < 1e-9, "{:?} vs {:?}", a, b);
        }

        let tables = |db: &TestDb| {
            let q = |sql: &str| {
                run(db.query(&Statement::new(sql)))
                    .expect("summary rows")
                    .iter()
                    .map(|r| r.text("r").expect("r"))
                    .collect::<Vec<_>>()
            };
            (
                q("SELECT json_array(subscriber_id, month, plan_id, site, mrr, paying, new, reactivation, expansion, \
                   contraction, churn) AS r FROM mrr_moves ORDER BY subscriber_id, month"),
                q(
                    "SELECT json_array(month, plan_id, site, mrr, paying, new, reactivation, expansion, contraction, churn) AS r \
                   FROM mrr_months WHERE mrr <> 0 OR paying <> 0 OR new <> 0 OR reactivation <> 0 \
                   OR expansion <> 0 OR contraction <> 0 OR churn <> 0 ORDER BY month, plan_id, site",
                ),
                q("SELECT json_array(subscription_id, subscriber_id, ends_at, lapse_at, outcome, decided_at) AS r \
                   FROM renewal_outcomes ORDER BY subscription_id"),
            )
        };
        // collections per day and channel: the kept summary equals a scan of the payments, and the
        // dashboard's read of it equals the scan over its window
        let q = |sql: &str| {
            run(db.query(&Statement::new(sql)))
                .expect("collections")
                .iter()
                .map(|r| r.text("r").expect("r"))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(
            q(
                "SELECT json_array(day, provider, method, cents, n) AS r FROM collections_daily WHERE n <> 0 OR cents <> 0 \
               ORDER BY day, provider, method"
            ),
            q("SELECT json_array(substr(received_at, 1, 10), provider, method, SUM(amount_cents), COUNT(*)) AS r \
               FROM payments WHERE status = 'applied' GROUP BY substr(received_at, 1, 10), provider, method \
               ORDER BY substr(received_at, 1, 10), provider, method")
        );
        let since = fmt_ts(now - Duration::days(13));
        let read: Vec<String> = run(collections(db, &since[..10]))
            .expect("read")
            .into_iter()
            .map(|(d, p, m, c)| serde_json::json!([d, p, m, c]).to_string())
            .collect();
        let scan = run(db.query(&stmt!(
            "SELECT json_array(substr(received_at, 1, 10), provider, method, SUM(amount_cents)) AS r FROM payments \
             WHERE status = 'applied' AND substr(received_at, 1, 10) >= ?1 \
             GROUP BY substr(received_at, 1, 10), provider, method ORDER BY substr(received_at, 1, 10), provider, method",
            since[..10].to_owned()
        )))
        .expect("scan");
        let scan: Vec<String> = scan.iter().map(|r| r.text("r").expect("r")).collect();
        prop_assert_eq!(read, scan);

        let kept = tables(db);
        // the back-tests kept so far stay (a rebuild would empty them), so later looks check them
        run(db.batch(&[Statement::new("CREATE TEMP TABLE bt AS SELECT * FROM backtest_months")])).expect("keep");
        run(db.batch(&rebuild(grace, now))).expect("rebuild");
        prop_assert_eq!(kept, tables(db));
        run(db
            .batch(&[Statement::new("INSERT INTO backtest_months SELECT * FROM bt"), Statement::new("DROP TABLE bt")]))
        .expect("restore");
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Any sequence of payments (renewals, lapses, reactivations), plan switches, grace and
        /// plan-period edits, through the real crediting path: the summary-backed dashboard
        /// equals the full recomputation from the raw periods, and the incrementally kept
        /// tables equal a rebuild from scratch.
        #[test]
        fn summaries_equal_a_full_recomputation_after_any_operations(ops in proptest::collection::vec(op(), 1..40)) {
            let mut now = Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).single().expect("now");
            let db = setup(now);
            let mut settings = TenantSettings::default();
            run(ensure_built(&db, settings.grace_seconds, now)).expect("built");
            let mut ids = IdGen::new(&Ctx { now, entropy: [3; 32] });
            let mut plan_of: Vec<usize> = (0..SUBS).map(|i| i % PLANS.len()).collect();
            for (k, op) in ops.iter().enumerate() {
                match op {
                    Op::Pay { sub, n } => {
                        let plan = run(plans::get(&db, PLANS[plan_of[*sub]].0)).expect("plan").expect("plan");
                        let pid = format!("pay{k}");
                        // the payment row commits with the credit, as on every real path
                        let (provider, method) = [("mpesa", "stk"), ("mpesa", "c2b"), ("manual", "cash"), ("voucher", "code")][k % 4];
                        let row = pay_row(&pid, provider, method, plan.price.cents() * n, Some(format!("s{sub}")), now);
                        let credit = Credit { amount: Money(plan.price.cents() * n), payment_id: &pid, reference: &pid,
                            memo: "test", prelude: vec![payments::insert(&row)] };
                        run(credit_once(&db, &settings, &format!("s{sub}"), credit, &mut ids, now)).expect("credit");
                    }
                    Op::Wait { hours } => now += Duration::hours(*hours),
                    Op::Switch { sub, plan } => {
                        plan_of[*sub] = *plan;
                        run(db.batch(&[stmt!("UPDATE subscribers SET plan_id = ?2 WHERE id = ?1", format!("s{sub}"), PLANS[*plan].0)]))
                            .expect("switch");
                    }
                    Op::Grace { hours } => settings.grace_seconds = hours * 3_600,
                    Op::Period { plan, days } => {
                        let patch = crate::usecases::plans::PlanPatch { period_seconds: Some(days * 86_400), ..Default::default() };
                        run(crate::usecases::plans::update_plan(&db, PLANS[*plan].0, patch, now)).expect("edit plan");
                    }
                    Op::Look => check(&db, settings.grace_seconds, now)?,
                    Op::Unmatched { cents } => {
                        let pid = format!("un{k}");
                        run(db.batch(&[payments::insert(&pay_row(&pid, "mpesa", "c2b", *cents, None, now))])).expect("unmatched");
                    }
                    Op::Assign { sub, twice } => {
                        let oldest = run(db.query(&Statement::new(
                            "SELECT id FROM payments WHERE status = 'unmatched' ORDER BY received_at, id LIMIT 1")))
                            .expect("inbox");
                        if let Some(id) = oldest.first().map(|r| r.text("id").expect("id")) {
                            let at = fmt_ts(now);
                            run(db.batch(&payments::assign(&id, &format!("s{sub}"), "assigned", &at))).expect("assign");
                            if *twice {
                                let again = run(db.batch(&payments::assign(&id, &format!("s{sub}"), "again", &at)));
                                prop_assert!(matches!(again, Err(StoreError::Conflict(_))), "{:?}", again);
                            }
                        }
                    }
                }
            }
            check(&db, settings.grace_seconds, now)?;
        }
    }

    /// The current month is measured at the page view: a period that ran out past grace since
    /// the month began is churn now, without any write.
    #[test]
    fn the_current_month_is_measured_at_the_view_without_a_write() {
        let start = Utc.with_ymd_and_hms(2026, 10, 20, 9, 0, 0).single().expect("now");
        let db = setup(start);
        let settings = TenantSettings { grace_seconds: 0, ..TenantSettings::default() };
        run(ensure_built(&db, 0, start)).expect("built");
        let mut ids = IdGen::new(&Ctx { now: start, entropy: [4; 32] });
        let credit = Credit { amount: Money(150_000), payment_id: "p", reference: "p", memo: "m", prelude: Vec::new() };
        run(credit_once(&db, &settings, "s0", credit, &mut ids, start)).expect("credit");
        // paid Oct 20 for 30 days: paying at the end of October, lapsed Nov 19
        let nov_10 = Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).single().expect("t");
        let nov_25 = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).single().expect("t");
        let a = run(months(&db, 0, nov_10, 2)).expect("months");
        assert_eq!((a[0].label.as_str(), a[0].mrr, a[0].new), ("2026-10", 150_000, 150_000));
        assert_eq!((a[1].mrr, a[1].churn), (150_000, 0));
        let b = run(months(&db, 0, nov_25, 2)).expect("months");
        assert_eq!((b[1].mrr, b[1].churn, b[1].paying), (0, 150_000, 0));
        let rows =
            run(db.query(&Statement::new("SELECT SUM(mrr) AS m FROM mrr_months WHERE month = '2026-10'"))).expect("q");
        assert_eq!(rows.first().expect("row").int("m").expect("m"), 150_000);
    }
}
