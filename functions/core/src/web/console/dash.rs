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
use crate::domain::mrr;
use crate::domain::time::{fmt_ts, parse_ts};
use crate::stmt;
use crate::store::summaries;
use crate::usecases::staff::Action;
use crate::web::PageCtx;

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

/// Who the expiry forecast is about: active subscribers whose period ends in the next 30 days,
/// at their plan's price (id, end, price), with their name, account and whether they have a phone.
#[allow(clippy::type_complexity)]
pub(crate) async fn expiring_soon(
    db: &impl Db,
    now: DateTime<Utc>,
) -> Result<(Vec<(String, DateTime<Utc>, i64)>, BTreeMap<String, (String, String, bool)>), StoreError> {
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
    Ok((expiring, who))
}

/// How many of this week's expiring subscribers are listed before "show all".
const WEEK_SHOWN: usize = 5;

/// Subscribers expiring soon with their chance to renew, revenue at risk and a one-click STK prompt.
fn expiring_table(
    cx: &PageCtx,
    st: &Staff,
    who: &BTreeMap<String, (String, String, bool)>,
    rows: &[&mrr::Expiring],
) -> Markup {
    let base = st.base();
    html! {
        div.table-wrap { table.stack {
            thead { tr { th { (cx.t("console.sub.name")) } th { (cx.t("console.sub.expires")) } th.num { (cx.t("console.dash.chance")) } th.num { (cx.t("console.dash.at_risk")) } th {} } }
            tbody { @for e in rows {
                @let (name, acct, has_phone) = who.get(&e.subscriber).cloned().unwrap_or_default();
                tr {
                    td data-label=(cx.t("console.sub.name")) { a href={ (base) "/subscribers/" (e.subscriber) } { (name) } " " span.muted.small { (acct) } }
                    td data-label=(cx.t("console.sub.expires")) { (cx.eat(e.ends_at)) }
                    td.num data-label=(cx.t("console.dash.chance")) { (format!("{:.0}%", e.chance * 100.0)) }
                    td.num data-label=(cx.t("console.dash.at_risk")) { (cx.kes(e.at_risk_cents)) }
                    td { @if has_phone && st.may(Action::TakeMoney) {
                        form method="post" action={ (base) "/subscribers/" (e.subscriber) "/stk" } { (st.csrf_field()) button.secondary type="submit" { (cx.t("console.sub.send_stk")) } }
                    } }
                }
            } }
        } }
    }
}

/// The dashboard's numbers, from the summary tables (built first if they are not, or were built
/// with another grace).
pub(crate) struct Figures {
    pub months: Vec<mrr::Month>,
    pub days: Vec<mrr::Day>,
    pub list: Vec<mrr::Expiring>,
    pub who: BTreeMap<String, (String, String, bool)>,
    pub tests: Vec<mrr::BackTest>,
    /// Last month's MRR by plan and site.
    pub shares: Vec<summaries::Share>,
}

pub(crate) async fn figures(db: &impl Db, grace: i64, now: DateTime<Utc>) -> Result<Figures, StoreError> {
    summaries::ensure_built(db, grace, now).await?;
    let months = summaries::months(db, grace, now, 24).await?;
    let (expiring, who) = expiring_soon(db, now).await?;
    let hist = summaries::expiring_histories(db, now).await?;
    let (days, list) = mrr::forecast(&expiring, &hist, now, 30);
    let tests = summaries::back_test(db, grace, now, 3).await?;
    let last = months.len().checked_sub(2).and_then(|i| months.get(i)).map(|m| m.label.clone()).unwrap_or_default();
    let shares = summaries::by_plan_and_site(db, &last).await?;
    Ok(Figures { months, days, list, who, tests, shares })
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
    let Figures { months, days, list, who, tests, shares } = figures(db, grace, now).await?;
    let last_month =
        months.len().checked_sub(2).and_then(|i| months.get(i)).map(|m| m.label.clone()).unwrap_or_default();
    let current = months.last().cloned().unwrap_or_default();
    let mean_err =
        if tests.is_empty() { 0.0 } else { tests.iter().map(mrr::BackTest::error).sum::<f64>() / tests.len() as f64 };

    // collections per channel per day, the last 14 days (today and the 13 before, UTC days), from
    // the summary the database keeps with every payment
    let since = fmt_ts(now - Duration::days(13));
    let mut coll: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for (day, provider, method, cents) in summaries::collections(db, &since[..10]).await? {
        let ch = match (provider.as_str(), method.as_str()) {
            ("mpesa", "stk") => 0,
            ("mpesa", _) => 1,
            ("manual", _) => 2,
            _ => 3,
        };
        coll.entry(day).or_default()[ch] += cents;
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
    let coll_points: Vec<(String, i64)> =
        coll.iter().map(|(d, c)| (d.get(5..).unwrap_or(d).to_owned(), c.iter().sum())).collect();
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
        p { (cx.tf("console.dash.mrr_by", &[("month", &last_month)])) }
        details { summary { (cx.t("console.dash.show_table")) }
            (table(&[cx.t("console.sub.plan"), cx.t("console.sub.site"), "MRR", cx.t("console.dash.paying_n")],
                shares.iter().map(|s| vec![if s.plan.is_empty() { s.plan_id.clone() } else { s.plan.clone() },
                    if s.site.is_empty() { "—".to_owned() } else { s.site.clone() }, kes(s.mrr), s.paying.to_string()]).collect()))
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
        details { summary { (cx.t("console.dash.show_table")) }
            (table(&[cx.t("console.dash.month"), cx.t("console.dash.ended"), cx.t("console.dash.expected"), cx.t("console.dash.renewed"), cx.t("console.dash.error")],
                tests.iter().map(|b| vec![b.label.clone(), b.ended.to_string(), format!("{:.1}", b.predicted), b.actual.to_string(), format!("{:.1}%", b.error() * 100.0)]).collect()))
        }
        h2 { (cx.t("console.dash.this_week")) }
        // the riskiest first on the page; the rest one click away (a phone screen holds five)
        (expiring_table(cx, st, &who, &week[..week.len().min(WEEK_SHOWN)]))
        @if week.len() > WEEK_SHOWN {
            details { summary { (cx.tf("console.dash.show_all", &[("n", &week.len().to_string())])) }
                (expiring_table(cx, st, &who, &week[WEEK_SHOWN..]))
            }
        }
        h2 { (cx.t("console.dash.collections")) }
        (bars(cx.t("console.dash.collections"), &coll_points, &kes))
        details { summary { (cx.t("console.dash.show_table")) }
            (table(&[cx.t("console.dash.day"), "STK", "Paybill", cx.t("console.dash.cash"), cx.t("console.dash.other")],
                coll.iter().rev().map(|(d, c)| vec![d.clone(), kes(c[0]), kes(c[1]), kes(c[2]), kes(c[3])]).collect()))
        }
        p.small.muted { (cx.t("console.dash.vouchers_beside")) }
    };
    Ok(page(cx, st, "dashboard", cx.t("console.nav.dashboard"), body))
}

/// The seeded tenant of the issue (`crate::seeded`): the MRR months and the 30-day expiry figures
/// the dashboard shows (from its summary tables) must equal what the oracle counts from the raw
/// subscriptions rows read back with plain SQL, by a different, naive route.
#[cfg(test)]
mod seeded {
    use super::*;
    use crate::seeded::{GRACE, N, expected, generate, raw_periods, write};
    use crate::testing::{TestDb, run};
    use chrono::TimeZone;

    #[test]
    fn seeded_10k_tenant_mrr_movements_and_expiry_match_an_independent_count() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).single().expect("now");
        let paid = generate(N, now);
        assert!(paid.len() > 50_000, "{} paid periods", paid.len());
        let db = TestDb::tenant();
        run(write(&db, &paid, now)).expect("seeded rows");
        drop(paid);

        // what the dashboard shows, from its summary tables (built from the rows just written)
        let f = run(figures(&db, GRACE, now)).expect("figures");

        // the oracle, from the raw rows
        let by_sub = run(raw_periods(&db)).expect("raw periods");
        assert_eq!(by_sub.len(), N);
        let want = expected(&by_sub, GRACE, now);
        assert_eq!(f.months, want.months);
        let m = want.months.last().expect("current month");
        assert!(m.paying > 1_000 && m.churn > 0 && m.reactivation > 0 && m.expansion > 0 && m.contraction > 0, "{m:?}");
        let got: Vec<(i64, i64)> = f.days.iter().map(|d| (d.expiring, d.revenue_cents)).collect();
        assert_eq!(got, want.days);
        assert!(want.days.iter().map(|d| d.0).sum::<i64>() > 1_000);
        // the back-test covers the whole months past grace, with periods ending in each
        assert_eq!(f.tests.len(), 3);
        assert!(f.tests.iter().all(|b| b.ended > 1_000 && b.actual > 0), "{:?}", f.tests);
    }
}
