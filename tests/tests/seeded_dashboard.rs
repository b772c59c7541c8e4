//! The seeded tenant of issue 14 over HTTP (realm e2e-c14): `konnekted_core::seeded`'s 10,000
//! subscribers over 24 months (fixed seed) written straight into the tenant's database file, as
//! the benches do, then the dashboard fetched as the owner. The MRR months with their movements,
//! the paying count and the 30-day expiry figures the page shows must equal the oracle's count
//! from the raw `subscriptions` rows (`seeded::expected`, the unit test's oracle). Natively the
//! file is the host's `tenants/<realm>.sqlite`; on a Worker under `wrangler dev` (workerd + local
//! D1, scripts/edge-e2e.sh) it is the local D1 database's file, so the figures come from the
//! summaries' SQL run by D1.
//!
//! The page is computed at the server's clock, known only to lie between sending the request and
//! reading the answer: it is compared with the oracle when no figure can change in that window
//! (`seeded::quiet`), else fetched again.

use chrono::{Duration, SubsecRound, Utc};
use konnekted::console_client::operator_sign_in;
use konnekted::sqlite::SqliteDb;
use konnekted_core::seeded::{self, GRACE, N};
use konnekted_core::web::fmt::eat_date;
use konnekted_core::web::i18n::Lang;
use konnekted_e2e::{env, pages_client, random_token};
use serde_json::json;

/// A table of the page: its header cells and its body rows, as text.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// The text of each `<tag ...>...</tag>` in `html`, inner tags dropped.
fn cells(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        // `<th` must not match `<thead`
        if !after.starts_with('>') && !after.starts_with(' ') {
            rest = after;
            continue;
        }
        let body = &after[after.find('>').expect("tag end") + 1..];
        let end = body.find(&close).expect("closing tag");
        let mut text = String::new();
        let mut in_tag = false;
        for c in body[..end].chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        out.push(text.trim().to_owned());
        rest = &body[end..];
    }
    out
}

fn tables(html: &str) -> Vec<Table> {
    html.split("<table")
        .skip(1)
        .map(|t| {
            let t = &t[..t.find("</table>").expect("table end")];
            let (head, body) = t.split_at(t.find("<tbody").unwrap_or(t.len()));
            let rows = body.split("<tr").skip(1).map(|r| cells(r, "td")).collect();
            Table { head: cells(head, "th"), rows }
        })
        .collect()
}

/// `KES 1,234.50` / `-KES 20` as cents.
fn cents(s: &str) -> i64 {
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s),
    };
    let s = s.strip_prefix("KES ").unwrap_or_else(|| panic!("not an amount: {s:?}")).replace(',', "");
    let (whole, frac) = s.split_once('.').unwrap_or((&s, "0"));
    let frac = if frac.len() == 1 { format!("{frac}0") } else { frac.to_owned() };
    sign * (whole.parse::<i64>().expect("whole KES") * 100 + frac.parse::<i64>().expect("cents"))
}

/// The figures the dashboard shows: the months (oldest first) as (label, mrr, new, expansion,
/// contraction, churn, reactivation), the current month's paying count, and the forecast's
/// non-empty days as (date, expiring, revenue).
#[allow(clippy::type_complexity)]
fn shown(html: &str) -> (Vec<(String, [i64; 6])>, i64, Vec<(String, i64, i64)>) {
    let tables = tables(html);
    let months = tables.iter().find(|t| t.head.len() == 7 && t.head[0] == "Month").expect("the MRR months table");
    let mut months: Vec<(String, [i64; 6])> = months
        .rows
        .iter()
        .map(|r| (r[0].clone(), [cents(&r[1]), cents(&r[2]), cents(&r[3]), cents(&r[4]), cents(&r[5]), cents(&r[6])]))
        .collect();
    months.reverse();
    let days = tables.iter().find(|t| t.head.get(1).is_some_and(|h| h == "Expiring")).expect("the forecast table");
    let days = days
        .rows
        .iter()
        .map(|r| {
            let date = r[0].split(',').next().unwrap_or_default().to_owned();
            (date, r[1].parse::<i64>().expect("expiring count"), cents(&r[2]))
        })
        .collect();
    let i = html.find(" paying subscribers").expect("the paying count");
    let digits: String =
        html[..i].chars().rev().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect();
    let paying = digits.chars().rev().collect::<String>().parse().expect("paying count");
    (months, paying, days)
}

#[tokio::test]
async fn seeded_tenant_dashboard_over_http_matches_an_independent_count_of_the_raw_rows() {
    let e = env("e2e-c14").await;
    e.put_settings(json!({ "grace_seconds": GRACE })).await;
    let login = format!("owner-{}@c14", random_token(8));
    e.add_user(&login, "owner").await;
    let file = e.tenant_db_file(&login).expect(
        "the tenant's database file (on a Worker: run through scripts/edge-e2e.sh, which sets KONNEKTED_D1_STATE)",
    );

    // 24 months of history up to now, straight into the file
    let now = Utc::now().trunc_subsecs(0);
    let paid = seeded::generate(N, now);
    let db = SqliteDb::open(&file).await.expect("open the tenant's file");
    seeded::write(&db, &paid, now).await.expect("seeded rows");
    drop(paid);
    // the oracle's input: the raw rows read back with plain SQL
    let by_sub = seeded::raw_periods(&db).await.expect("raw periods");
    drop(db);
    assert_eq!(by_sub.len(), N);

    let http = pages_client();
    let session = operator_sign_in(&http, &e.base, &e.realm, &login, "pass-for-tests")
        .await
        .expect("sign in")
        .cookie()
        .expect("signed in");
    let dashboard = || async {
        let r = http.get(e.url(&format!("/c/{}/dashboard", e.realm))).header("cookie", &session).send().await;
        let r = r.expect("dashboard");
        assert_eq!(r.status(), 200);
        r.text().await.expect("dashboard body")
    };
    // the first view builds the summaries from the rows written behind the server's back
    dashboard().await;

    for attempt in 1..=5 {
        // the server's clock, to the millisecond, lies in this window
        let from = Utc::now() - Duration::seconds(1);
        let html = dashboard().await;
        let to = Utc::now() + Duration::seconds(1);
        if !seeded::quiet(&by_sub, GRACE, from, to) || eat_date(from, Lang::En) != eat_date(to, Lang::En) {
            eprintln!("attempt {attempt}: a figure may change between {from} and {to}; again");
            continue;
        }
        let want = seeded::expected(&by_sub, GRACE, from);
        let (months, paying, days) = shown(&html);
        let want_months: Vec<(String, [i64; 6])> = want
            .months
            .iter()
            .map(|m| (m.label.clone(), [m.mrr, m.new, m.expansion, m.contraction, m.churn, m.reactivation]))
            .collect();
        assert_eq!(months, want_months);
        let current = want.months.last().expect("current month");
        assert_eq!(paying, current.paying);
        let want_days: Vec<(String, i64, i64)> = want
            .days
            .iter()
            .enumerate()
            .filter(|(_, d)| d.0 > 0)
            .map(|(k, d)| (eat_date(from + Duration::days(k as i64), Lang::En), d.0, d.1))
            .collect();
        assert_eq!(days, want_days);
        // the seed makes every movement happen and fills the forecast
        assert!(
            current.paying > 1_000
                && current.churn > 0
                && current.reactivation > 0
                && current.expansion > 0
                && current.contraction > 0,
            "{current:?}"
        );
        assert!(want_days.len() == 30 && want_days.iter().map(|d| d.1).sum::<i64>() > 1_000);
        return;
    }
    panic!("no quiet window in five views");
}

#[test]
fn amounts_and_tables_read_back() {
    assert_eq!(cents("KES 0"), 0);
    assert_eq!(cents("KES 1,234,567.89"), 123_456_789);
    assert_eq!(cents("KES 0.05"), 5);
    assert_eq!(cents("-KES 20"), -2_000);
    let t = tables(
        "<table><thead><tr><th>Month</th><th class=\"num\">MRR</th></tr></thead><tbody><tr><td data-label=\"Month\">2026-12</td><td class=\"num\"><a href=\"/x\">KES 1</a></td></tr></tbody></table>",
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].head, ["Month", "MRR"]);
    assert_eq!(t[0].rows, [["2026-12", "KES 1"]]);
}
