//! The voucher report for the operator: per batch sold / redeemed / unused / expired, redemptions
//! and revenue per day (East Africa Time), revenue per agent.
//!
//! Definitions: a printed batch's codes are **sold** when printed (handed to the agent) and earn
//! their price (the batch's, else the plan's) when **redeemed**; an online batch's codes are sold
//! one by one by M-Pesa from the captive portal and earn what was paid, on the day it was paid.
//! **Expired**: unredeemed codes of a batch past its `valid_until`. Redemptions are read from
//! `voucher_redemptions` (the redemption core's table); before that table exists every count of
//! redemptions is 0.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::db::{Db, StoreError};
use crate::domain::time::fmt_ts;
use crate::stmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub struct BatchLine {
    pub batch: u32,
    pub kind: String,
    pub plan: String,
    pub agent: String,
    pub price_cents: i64,
    pub sold: i64,
    pub redeemed: i64,
    pub unused: i64,
    pub expired: i64,
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub struct DayLine {
    /// `YYYY-MM-DD` in East Africa Time.
    pub day: String,
    pub redemptions: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub struct AgentLine {
    /// The agent of printed batches; `""` for printed batches without one; `"M-Pesa (portal)"` for
    /// online sales.
    pub agent: String,
    pub sold: i64,
    pub redeemed: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "VoucherReport")]
pub struct Report {
    pub since: String,
    pub batches: Vec<BatchLine>,
    pub per_day: Vec<DayLine>,
    pub per_agent: Vec<AgentLine>,
}

/// The label online sales carry in the per-agent lines.
pub const ONLINE_AGENT: &str = "M-Pesa (portal)";

async fn has_redemptions(db: &impl Db) -> Result<bool, StoreError> {
    let rows = db
        .query(&stmt!("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'voucher_redemptions'"))
        .await?;
    Ok(rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0) > 0)
}

/// The report over the last `days` days (per-day lines) and all batches.
pub async fn report(db: &impl Db, days: i64, now: DateTime<Utc>) -> Result<Report, StoreError> {
    let since = fmt_ts(now - Duration::days(days));
    let at = fmt_ts(now);
    let red = has_redemptions(db).await?;
    let redeemed_of = if red { "(SELECT COUNT(*) FROM voucher_redemptions r WHERE r.batch_id = b.id)" } else { "0" };
    let rows = db
        .query(&stmt!(format!(
            "SELECT b.id, b.kind, p.code AS plan, b.agent, COALESCE(b.price_cents, p.price_cents) AS price, b.count, \
                 {redeemed_of} AS redeemed, b.valid_until FROM voucher_batches b JOIN plans p ON p.id = b.plan_id \
                 ORDER BY b.id DESC LIMIT 1000"
        )))
        .await?;
    let mut batches = Vec::new();
    for r in rows.iter() {
        let sold = r.int("count")?;
        let redeemed = r.int("redeemed")?;
        let valid_until = r.opt_text("valid_until")?;
        let past = valid_until.as_deref().is_some_and(|v| v <= at.as_str());
        let left = (sold - redeemed).max(0);
        batches.push(BatchLine {
            batch: u32::try_from(r.int("id")?).map_err(|_| StoreError::Corrupt("batch id".into()))?,
            kind: r.text("kind")?,
            plan: r.text("plan")?,
            agent: r.text("agent")?,
            price_cents: r.int("price")?,
            sold,
            redeemed,
            unused: if past { 0 } else { left },
            expired: if past { left } else { 0 },
            valid_until,
        });
    }

    // Per day: redemptions (printed codes earn their price then) and online sales paid that day.
    let mut per_day: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    if red {
        let rows = db
            .query(&stmt!(
                "SELECT date(r.first_used_at, '+3 hours') AS day, COUNT(*) AS n, \
                 SUM(CASE WHEN b.kind = 'online' THEN 0 ELSE COALESCE(b.price_cents, p.price_cents) END) AS revenue \
                 FROM voucher_redemptions r JOIN voucher_batches b ON b.id = r.batch_id JOIN plans p ON p.id = b.plan_id \
                 WHERE r.first_used_at >= ?1 GROUP BY day",
                &since
            ))
            .await?;
        for r in rows.iter() {
            let e = per_day.entry(r.text("day")?).or_default();
            e.0 += r.int("n")?;
            e.1 += r.opt_int("revenue")?.unwrap_or(0);
        }
    }
    let rows = db
        .query(&stmt!(
            "SELECT date(s.resolved_at, '+3 hours') AS day, SUM(h.amount_cents) AS revenue \
             FROM hotspot_sales h JOIN stk_requests s ON s.checkout_request_id = h.checkout_request_id \
             WHERE s.status = 'paid' AND s.resolved_at >= ?1 GROUP BY day",
            &since
        ))
        .await?;
    for r in rows.iter() {
        per_day.entry(r.text("day")?).or_default().1 += r.opt_int("revenue")?.unwrap_or(0);
    }
    let per_day = per_day
        .into_iter()
        .map(|(day, (redemptions, revenue_cents))| DayLine { day, redemptions, revenue_cents })
        .collect();

    // Per agent: printed batches by agent, online sales as one line.
    let mut per_agent: std::collections::BTreeMap<String, AgentLine> = Default::default();
    for b in batches.iter().filter(|b| b.kind != crate::store::vouchers::KIND_ONLINE) {
        let e = per_agent.entry(b.agent.clone()).or_insert_with(|| AgentLine {
            agent: b.agent.clone(),
            sold: 0,
            redeemed: 0,
            revenue_cents: 0,
        });
        e.sold += b.sold;
        e.redeemed += b.redeemed;
        e.revenue_cents += b.redeemed * b.price_cents;
    }
    let rows = db
        .query(&stmt!(
            "SELECT COUNT(*) AS n, COALESCE(SUM(h.amount_cents), 0) AS revenue FROM hotspot_sales h \
             JOIN stk_requests s ON s.checkout_request_id = h.checkout_request_id WHERE s.status = 'paid'"
        ))
        .await?;
    let online_redeemed: i64 =
        batches.iter().filter(|b| b.kind == crate::store::vouchers::KIND_ONLINE).map(|b| b.redeemed).sum();
    if let Some(r) = rows.first() {
        let n = r.int("n")?;
        if n > 0 {
            per_agent.insert(
                ONLINE_AGENT.into(),
                AgentLine {
                    agent: ONLINE_AGENT.into(),
                    sold: n,
                    redeemed: online_redeemed,
                    revenue_cents: r.int("revenue")?,
                },
            );
        }
    }
    Ok(Report { since, batches, per_day, per_agent: per_agent.into_values().collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Money;
    use crate::domain::plan::{Plan, PlanKind};
    use crate::store::vouchers::{self, NewBatch};
    use crate::store::{hotspot_sales, plans, stk};
    use crate::testing::{TestDb, run};
    use chrono::TimeZone;

    #[test]
    fn report_counts_printed_and_online_batches_revenue_per_day_and_agent() {
        let db = TestDb::tenant();
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).single().expect("time");
        let plan = Plan {
            id: "h1".into(),
            code: "h1".into(),
            name: "1 hour".into(),
            kind: PlanKind::Hotspot,
            price: Money(1000),
            period_seconds: 3600,
            down_kbps: 2000,
            up_kbps: 1000,
            data_cap_bytes: None,
            max_devices: 1,
            active: true,
        };
        let at = "2026-12-01T00:00:00Z";
        let printed =
            |agent, price, valid| NewBatch { note: "", valid_until: valid, agent, price_cents: price, kind: "printed" };
        run(db.batch(&[
            plans::insert(&plan, at),
            vouchers::insert("r1", "h1", 10, printed("Mama Mboga", Some(2000), None), at),
            vouchers::insert("r2", "h1", 5, printed("", None, Some("2026-12-02T00:00:00Z")), at),
        ]))
        .expect("batches");
        // One online sale paid this morning (EAT), minted.
        let sale = hotspot_sales::Sale {
            checkout_request_id: "ws_CO_1".into(),
            plan_id: "h1".into(),
            msisdn: "254708374149".into(),
            amount_cents: 1000,
            visitor: "v".into(),
            mac: None,
            minted: None,
            created_at: fmt_ts(now),
        };
        let req = stk::StkRequest {
            checkout_request_id: "ws_CO_1".into(),
            merchant_request_id: "m".into(),
            subscriber_id: hotspot_sales::SALES_ACCOUNT_ID.into(),
            msisdn: "254708374149".into(),
            amount_cents: 1000,
            account_ref: "HOTSPOT".into(),
            status: crate::domain::payment::StkStatus::Paid,
            result_code: Some("0".into()),
            result_desc: None,
            resolved_by: Some("callback".into()),
            query_attempts: 0,
            last_query_at: None,
            created_at: fmt_ts(now),
            resolved_at: Some(fmt_ts(now)),
        };
        run(db.batch(&[
            hotspot_sales::ensure_sales_account("h1", "pw", at),
            stk::insert(&req),
            hotspot_sales::insert(&sale),
        ]))
        .expect("sale");
        run(crate::usecases::hotspot_sales::mint(&db, "ws_CO_1", now)).expect("mint");

        let r = run(report(&db, 30, now)).expect("report");
        let by_batch = |id: u32| r.batches.iter().find(|b| b.batch == id).expect("batch line").clone();
        let b1 = by_batch(1);
        assert_eq!(
            (b1.sold, b1.unused, b1.expired, b1.price_cents, b1.agent.as_str()),
            (10, 10, 0, 2000, "Mama Mboga")
        );
        let b2 = by_batch(2);
        assert_eq!((b2.sold, b2.unused, b2.expired, b2.price_cents), (5, 0, 5, 1000), "past valid_until: expired");
        let online = by_batch(3);
        assert_eq!((online.kind.as_str(), online.sold), ("online", 1));
        assert_eq!(r.per_day, vec![DayLine { day: "2026-12-04".into(), redemptions: 0, revenue_cents: 1000 }]);
        let agents: Vec<(&str, i64, i64)> =
            r.per_agent.iter().map(|a| (a.agent.as_str(), a.sold, a.revenue_cents)).collect();
        assert_eq!(agents, vec![("", 5, 0), ("M-Pesa (portal)", 1, 1000), ("Mama Mboga", 10, 0)]);
    }
}
