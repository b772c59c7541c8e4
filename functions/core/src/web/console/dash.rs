//! The dashboard: MRR now and for 24 months with its movements, the 30-day expiry forecast with
//! its back-test, who expires this week by revenue at risk (one-click STK), collections per
//! channel per day and the unmatched inbox. Numbers come from the pure functions in
//! [`crate::domain::mrr`]; every chart has its table one click away (`<details>`).

use chrono::{DateTime, Duration, Utc};
use maud::{Markup, html};
use std::collections::BTreeMap;

use super::charts::bars;
use super::pages::PageError;
use super::{Staff, page};
use crate::api::Query;
use crate::db::{Db, StoreError};
use crate::domain::mrr::{self, Period};
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;
use crate::usecases::staff::Action;
use crate::web::PageCtx;

/// Every paid period of the tenant, with its price normalised to 30 days.
pub async fn periods(db: &impl Db) -> Result<Vec<Period>, StoreError> {
    let rows = db
        .query(&stmt!(
            "SELECT x.subscriber_id, x.plan_id, x.starts_at, x.ends_at, x.price_cents, p.period_seconds \
             FROM subscriptions x JOIN plans p ON p.id = x.plan_id"
        ))
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        let (Some(s), Some(e)) = (parse_ts(&r.text("starts_at")?), parse_ts(&r.text("ends_at")?)) else { continue };
        out.push(Period {
            subscriber: r.text("subscriber_id")?,
            plan: r.text("plan_id")?,
            starts_at: s,
            ends_at: e,
            monthly_cents: mrr::monthly_cents(r.int("price_cents")?, r.int("period_seconds")?),
        });
    }
    Ok(out)
}

fn table(head: &[&str], rows: Vec<Vec<String>>) -> Markup {
    html! {
        div.table-wrap { table.stack {
            thead { tr { @for (i, h) in head.iter().enumerate() { @if i == 0 { th { (h) } } @else { th.num { (h) } } } } }
            tbody { @for r in &rows { tr { @for (i, c) in r.iter().enumerate() {
                @let label = head.get(i).copied().unwrap_or("");
                @if i == 0 { td data-label=(label) { (c) } } @else { td.num data-label=(label) { (c) } }
            } } } }
        } }
    }
}

pub(crate) async fn dashboard(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    _q: &Query,
    now: DateTime<Utc>,
) -> Result<http::Response<bytes::Bytes>, PageError> {
    if !st.may(Action::ViewDashboard) {
        return Err(PageError::Forbidden);
    }
    let grace = st.tenant.settings.grace_seconds;
    let periods = periods(db).await?;
    let months = mrr::months(&periods, grace, now, 24);
    let current = months.last().cloned().unwrap_or_default();

    // forecast: active subscribers whose period ends in the next 30 days, at their plan's price
    let rows = db
        .query(&stmt!(
            "SELECT s.id, s.name, s.account_no, s.phone, s.expires_at, p.price_cents FROM subscribers s \
             JOIN plans p ON p.id = s.plan_id WHERE s.status = 'active' AND s.expires_at >= ?1 AND s.expires_at < ?2",
            fmt_ts(now),
            fmt_ts(now + Duration::days(30))
        ))
        .await?;
    let mut who: BTreeMap<String, (String, String, bool)> = BTreeMap::new();
    let mut expiring = Vec::new();
    for r in rows.iter() {
        let Some(e) = parse_ts(&r.text("expires_at")?) else { continue };
        let id = r.text("id")?;
        who.insert(id.clone(), (r.text("name")?, r.text("account_no")?, r.opt_text("phone")?.is_some()));
        expiring.push((id, e, r.int("price_cents")?));
    }
    let hist = mrr::histories(&periods, grace, now);
    let (days, list) = mrr::forecast(&expiring, &hist, now, 30);
    let tests = mrr::back_test(&periods, grace, now, 3);
    let mean_err =
        if tests.is_empty() { 0.0 } else { tests.iter().map(mrr::BackTest::error).sum::<f64>() / tests.len() as f64 };

    // collections per channel per day, last 14 days
    let since = now - Duration::days(14);
    let rows = db
        .query(&stmt!(
            "SELECT substr(received_at, 1, 10) AS day, provider, method, SUM(amount_cents) AS cents, COUNT(*) AS n \
             FROM payments WHERE received_at >= ?1 AND status = 'applied' GROUP BY day, provider, method ORDER BY day",
            fmt_ts(since)
        ))
        .await?;
    let mut coll: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for r in rows.iter() {
        let ch = match (r.text("provider")?.as_str(), r.text("method")?.as_str()) {
            ("mpesa", "stk") => 0,
            ("mpesa", _) => 1,
            ("manual", _) => 2,
            _ => 3,
        };
        coll.entry(r.text("day")?).or_default()[ch] += r.int("cents")?;
    }
    let un = db
        .query(&stmt!("SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM payments WHERE status = 'unmatched'"))
        .await?;
    let (un_n, un_oldest) = match un.first() {
        Some(r) => (r.int("n")?, r.opt_text("oldest")?.and_then(|s| parse_ts(&s))),
        None => (0, None),
    };

    let kes = |c: i64| cx.kes(c);
    let mrr_points: Vec<(String, i64)> = months.iter().map(|m| (m.label[2..].to_owned(), m.mrr)).collect();
    let net_points: Vec<(String, i64)> = months
        .iter()
        .map(|m| (m.label[2..].to_owned(), m.new + m.reactivation + m.expansion - m.contraction - m.churn))
        .collect();
    let fc_points: Vec<(String, i64)> = days.iter().map(|d| (format!("+{}", d.day), d.revenue_cents)).collect();
    let base = st.base();
    let week: Vec<_> = list.iter().filter(|e| e.ends_at < now + Duration::days(7)).take(50).collect();
    let body = html! {
        h1 { (cx.t("console.nav.dashboard")) }
        div.grid {
            div.card { p.muted { (cx.t("console.dash.mrr_now")) } p.big { (kes(current.mrr)) } p.small { (cx.tf("console.dash.paying", &[("n", &current.paying.to_string())])) } }
            div.card { p.muted { (cx.t("console.dash.expiring_7")) } p.big { (week.len()) } p.small { (kes(week.iter().map(|e| e.at_risk_cents).sum())) " " (cx.t("console.dash.at_risk")) } }
            div.card { p.muted { (cx.t("console.nav.unmatched")) } p.big { a href={ (base) "/unmatched" } { (un_n) } }
                p.small { (cx.t("console.dash.oldest")) ": " (un_oldest.map_or_else(|| "—".into(), |o| crate::web::fmt::duration((now - o).num_seconds(), cx.lang))) } }
        }
        h2 { (cx.t("console.dash.mrr_24")) }
        (bars(cx.t("console.dash.mrr_24"), &mrr_points, &kes))
        details { summary { (cx.t("console.dash.show_table")) }
            (table(&[cx.t("console.dash.month"), "MRR", cx.t("console.dash.new"), cx.t("console.dash.expansion"), cx.t("console.dash.contraction"), cx.t("console.dash.churn"), cx.t("console.dash.reactivation")],
                months.iter().rev().map(|m| vec![m.label.clone(), kes(m.mrr), kes(m.new), kes(m.expansion), kes(m.contraction), kes(m.churn), kes(m.reactivation)]).collect()))
        }
        h2 { (cx.t("console.dash.net_movement")) }
        (bars(cx.t("console.dash.net_movement"), &net_points, &kes))
        details.card { summary { (cx.t("console.dash.definitions")) }
            ul.small {
                li { (cx.t("console.dash.def_mrr")) }
                li { (cx.t("console.dash.def_movements")) }
                li { (cx.t("console.dash.def_vouchers")) }
            }
        }
        h2 { (cx.t("console.dash.forecast")) }
        (bars(cx.t("console.dash.forecast"), &fc_points, &kes))
        details { summary { (cx.t("console.dash.show_table")) }
            (table(&[cx.t("console.dash.day"), cx.t("console.dash.expiring"), cx.t("console.dash.revenue"), cx.t("console.dash.expected"), cx.t("console.dash.at_risk")],
                days.iter().filter(|d| d.expiring > 0).map(|d| vec![cx.eat(now + Duration::days(d.day)).chars().take(16).collect(), d.expiring.to_string(), kes(d.revenue_cents), format!("{:.1}", d.expected_renewals), kes(d.at_risk_cents)]).collect()))
        }
        p.small.muted { (cx.t("console.dash.model")) }
        p.small { (cx.tf("console.dash.backtest", &[("err", &format!("{:.1}", mean_err * 100.0))])) }
        (table(&[cx.t("console.dash.month"), cx.t("console.dash.ended"), cx.t("console.dash.expected"), cx.t("console.dash.renewed"), cx.t("console.dash.error")],
            tests.iter().map(|b| vec![b.label.clone(), b.ended.to_string(), format!("{:.1}", b.predicted), b.actual.to_string(), format!("{:.1}%", b.error() * 100.0)]).collect()))
        h2 { (cx.t("console.dash.this_week")) }
        div.table-wrap { table.stack {
            thead { tr { th { (cx.t("console.sub.name")) } th { (cx.t("console.sub.expires")) } th.num { (cx.t("console.dash.chance")) } th.num { (cx.t("console.dash.at_risk")) } th {} } }
            tbody { @for e in &week {
                @let (name, acct, has_phone) = who.get(&e.subscriber).cloned().unwrap_or_default();
                tr {
                    td data-label=(cx.t("console.sub.name")) { a href={ (base) "/subscribers/" (e.subscriber) } { (name) } " " span.muted.small { (acct) } }
                    td data-label=(cx.t("console.sub.expires")) { (cx.eat(e.ends_at)) }
                    td.num data-label=(cx.t("console.dash.chance")) { (format!("{:.0}%", e.chance * 100.0)) }
                    td.num data-label=(cx.t("console.dash.at_risk")) { (kes(e.at_risk_cents)) }
                    td { @if has_phone && st.may(Action::TakeMoney) {
                        form method="post" action={ (base) "/subscribers/" (e.subscriber) "/stk" } { (st.csrf_field()) button.secondary type="submit" { (cx.t("console.sub.send_stk")) } }
                    } }
                }
            } }
        } }
        h2 { (cx.t("console.dash.collections")) }
        (table(&[cx.t("console.dash.day"), "STK", "Paybill", cx.t("console.dash.cash"), cx.t("console.dash.other")],
            coll.iter().rev().map(|(d, c)| vec![d.clone(), kes(c[0]), kes(c[1]), kes(c[2]), kes(c[3])]).collect()))
        p.small.muted { (cx.t("console.dash.vouchers_beside")) }
    };
    Ok(page(cx, st, "dashboard", cx.t("console.nav.dashboard"), body))
}
