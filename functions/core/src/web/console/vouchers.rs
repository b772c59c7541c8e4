//! Voucher batches in the console: the list, a new batch (plan, count, price, agent), printing
//! (the admin API's sheet, answered here under the session) and sales (the voucher report).
//!
//! An agent sees, prints and sells only the printed batches made for their own login: a batch they
//! create is theirs, at the plan's price; another batch's sheet is 404 to them, as if it did not
//! exist. Owners and staff see every batch and may make one for any agent (or none).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, StatusCode};
use maud::{Markup, html};

use super::Staff;
use super::pages::{PageError, PageResult, audit, done, eat_str, need, notice, plan_name, uc_message};
use crate::api::Query;
use crate::db::Db;
use crate::domain::plan::PlanKind;
use crate::ids::IdGen;
use crate::platform::Platform;
use crate::store::{plans, staff, voucher_report, vouchers};
use crate::usecases::UseCaseError;
use crate::usecases::staff::{Action, Role};
use crate::usecases::vouchers as uc;
use crate::web::PageCtx;
use crate::web::form::{self, FieldError};

/// The most codes one batch made in the console may hold (a sheet prints 1,000 at a time).
pub const CONSOLE_MAX_COUNT: u32 = 5_000;
/// Codes per printed sheet (one print link each).
const SHEET_CODES: u32 = 1_000;

fn is_agent(st: &Staff) -> bool {
    st.user.role == Role::Agent
}

/// Whether `st` may see and print `b`.
fn visible(st: &Staff, b: &vouchers::Batch) -> bool {
    !is_agent(st) || (b.kind == vouchers::KIND_PRINTED && b.agent == st.user.login)
}

/// `GET /vouchers`: batches with their print links, the sales report, and the form for a new batch.
pub(super) async fn page(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    q: &Query,
    now: DateTime<Utc>,
    errors: &[FieldError],
    f: &Query,
) -> PageResult {
    need(st, Action::ViewVouchers)?;
    let list = if is_agent(st) {
        vouchers::list_for_agent(db, &st.user.login, 200).await?
    } else {
        vouchers::list(db, 200).await?
    };
    let all_plans = plans::list(db).await?;
    let hotspot: Vec<_> = all_plans.iter().filter(|p| p.kind == PlanKind::Hotspot && p.active).collect();
    let report = voucher_report::report(db, 30, now).await?;
    let lines: Vec<_> = report
        .batches
        .iter()
        .filter(|l| !is_agent(st) || (l.kind == vouchers::KIND_PRINTED && l.agent == st.user.login))
        .collect();
    let agents: Vec<_> = report.per_agent.iter().filter(|a| !is_agent(st) || a.agent == st.user.login).collect();
    let agent_logins: Vec<String> = if is_agent(st) {
        Vec::new()
    } else {
        staff::users(db).await?.into_iter().filter(|u| u.role == Role::Agent && u.active).map(|u| u.login).collect()
    };
    let base = st.base();
    let v = |k: &str| f.get(k).unwrap_or("").to_owned();
    let body = html! {
        (notice(cx, q))
        h1 { (cx.t("console.nav.vouchers")) }
        (form::error_summary(cx, errors))
        @if is_agent(st) { p.muted { (cx.t("console.vouchers.agent_hint")) } }
        div.table-wrap { table {
            thead { tr {
                th { "#" } th { (cx.t("console.sub.plan")) } th.num { (cx.t("console.vouchers.count")) }
                th.num { (cx.t("console.vouchers.price")) } th { (cx.t("console.vouchers.agent")) }
                th { (cx.t("console.when")) } th { (cx.t("console.vouchers.print")) }
            } }
            tbody { @for b in list.iter().filter(|b| visible(st, b)) {
                tr {
                    td { (b.id) }
                    td { (plan_name(&all_plans, &b.plan_id)) }
                    td.num { (b.count) }
                    td.num { (b.price_cents.map_or_else(|| cx.t("console.vouchers.plan_price").to_owned(), |c| cx.kes(c))) }
                    td { (if b.kind == vouchers::KIND_ONLINE { voucher_report::ONLINE_AGENT } else { b.agent.as_str() }) }
                    td { (eat_str(cx, &b.created_at)) }
                    td { @if b.kind == vouchers::KIND_PRINTED { (print_links(cx, &base, b)) } @else { "—" } }
                }
            } }
        } }
        @if st.may(Action::SellVouchers) && !hotspot.is_empty() {
            form.card method="post" action={ (base) "/vouchers" } {
                h2 { (cx.t("console.vouchers.new")) }
                (st.csrf_field())
                label for="v_plan" { (cx.t("console.sub.plan")) }
                select #v_plan name="plan" { @for pl in &hotspot {
                    option value=(pl.code) selected[v("plan") == pl.code] { (pl.name) " · " (cx.kes(pl.price.0)) }
                } }
                label for="v_count" { (cx.t("console.vouchers.count")) span.hint { (cx.tf("console.vouchers.count_hint", &[("max", &CONSOLE_MAX_COUNT.to_string())])) } }
                input #v_count type="number" name="count" min="1" max=(CONSOLE_MAX_COUNT) step="1" inputmode="numeric" value=(v("count")) required;
                @if !is_agent(st) {
                    label for="v_price" { (cx.t("console.vouchers.price_kes")) span.hint { (cx.t("console.vouchers.price_hint")) } }
                    input #v_price type="number" name="price_kes" min="1" step="1" inputmode="numeric" value=(v("price_kes"));
                    label for="v_agent" { (cx.t("console.vouchers.agent")) span.hint { (cx.t("console.vouchers.agent_field_hint")) } }
                    input #v_agent type="text" name="agent" list="agents" value=(v("agent")) maxlength="80";
                    datalist #agents { @for a in &agent_logins { option value=(a) {} } }
                }
                label for="v_days" { (cx.t("console.vouchers.valid_days")) span.hint { (cx.t("console.vouchers.valid_days_hint")) } }
                input #v_days type="number" name="valid_days" min="1" max="3660" step="1" inputmode="numeric" value=(v("valid_days"));
                label for="v_note" { (cx.t("console.memo")) }
                input #v_note type="text" name="note" maxlength="200" value=(v("note"));
                p { button type="submit" { (cx.t("console.vouchers.create")) } }
            }
        }
        h2 { (cx.t("console.vouchers.sales")) }
        p.muted { (cx.t("console.vouchers.sales_hint")) }
        div.table-wrap { table {
            thead { tr {
                th { (cx.t("console.vouchers.agent")) } th.num { (cx.t("console.vouchers.sold")) }
                th.num { (cx.t("console.vouchers.redeemed")) } th.num { (cx.t("console.vouchers.revenue")) }
            } }
            tbody { @for a in &agents {
                tr { td { (if a.agent.is_empty() { "—" } else { a.agent.as_str() }) } td.num { (a.sold) } td.num { (a.redeemed) } td.num { (cx.kes(a.revenue_cents)) } }
            } }
        } }
        details {
            summary { (cx.t("console.vouchers.per_batch")) }
            div.table-wrap { table {
                thead { tr {
                    th { "#" } th { (cx.t("console.sub.plan")) } th { (cx.t("console.vouchers.agent")) }
                    th.num { (cx.t("console.vouchers.sold")) } th.num { (cx.t("console.vouchers.redeemed")) }
                    th.num { (cx.t("console.vouchers.unused")) } th.num { (cx.t("console.vouchers.expired")) }
                } }
                tbody { @for l in &lines {
                    tr { td { (l.batch) } td { (l.plan) } td { (l.agent) } td.num { (l.sold) } td.num { (l.redeemed) } td.num { (l.unused) } td.num { (l.expired) } }
                } }
            } }
        }
    };
    let mut r = super::page(cx, st, "vouchers", cx.t("console.nav.vouchers"), body);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

/// The print links of a batch: A4 and the two thermal rolls, per 1,000 codes.
fn print_links(cx: &PageCtx, base: &str, b: &vouchers::Batch) -> Markup {
    let chunks: Vec<u32> = (0..b.count.div_ceil(SHEET_CODES)).map(|i| i * SHEET_CODES).collect();
    html! {
        @for off in &chunks {
            span.row {
                @if chunks.len() > 1 { span.small { (off + 1) "–" ((off + SHEET_CODES).min(b.count)) } }
                @for (layout, label) in [("a4", "A4"), ("58", "58 mm"), ("80", "80 mm")] {
                    a href={ (base) "/vouchers/" (b.id) "/sheet?layout=" (layout) "&offset=" (off) "&limit=" (SHEET_CODES) }
                      target="_blank" rel="noopener" aria-label={ (cx.t("console.vouchers.print")) " " (b.id) " " (label) } { (label) }
                }
            }
        }
    }
}

/// `POST /vouchers`: a new printed batch. An agent's batch is theirs, at the plan's price.
pub(super) async fn create<P: Platform>(
    p: &P,
    db: &P::Db,
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::SellVouchers)?;
    let again = |e: FieldError| async move { page(db, cx, st, &Query::parse(None), now, &[e], f).await };
    let count = match f.get("count").map(str::trim).and_then(|c| c.parse::<u32>().ok()) {
        Some(c) if (1..=CONSOLE_MAX_COUNT).contains(&c) => c,
        _ => {
            let m = cx.tf("console.vouchers.count_hint", &[("max", &CONSOLE_MAX_COUNT.to_string())]);
            return again(FieldError { field: "v_count", message: m }).await;
        }
    };
    let whole = |k: &str| f.get(k).map(str::trim).filter(|s| !s.is_empty());
    let price_cents = match (is_agent(st), whole("price_kes")) {
        (true, _) | (false, None) => None,
        (false, Some(s)) => match s.parse::<i64>() {
            Ok(k) if k > 0 => Some(k.saturating_mul(100)),
            _ => {
                return again(FieldError { field: "v_price", message: cx.t("console.vouchers.price_hint").into() })
                    .await;
            }
        },
    };
    let valid_days = match whole("valid_days").map(str::parse::<u32>) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            let m = cx.t("console.vouchers.valid_days_hint").into();
            return again(FieldError { field: "v_days", message: m }).await;
        }
    };
    let agent = if is_agent(st) { st.user.login.clone() } else { f.get("agent").unwrap_or("").trim().to_owned() };
    if let Err(e) = uc::key(p.settings(), &st.tenant.realm) {
        return again(FieldError { field: "v_plan", message: uc_message(&e) }).await;
    }
    let input = uc::BatchInput {
        plan: f.get("plan").unwrap_or("").to_owned(),
        count,
        note: f.get("note").unwrap_or("").to_owned(),
        valid_days,
        agent,
        price_cents,
    };
    match uc::create_batch(db, input, ids, now).await {
        Ok(b) => {
            let after = serde_json::json!({"batch": b.id, "plan_id": b.plan_id, "count": b.count,
                "price_cents": b.price_cents, "agent": b.agent, "valid_until": b.valid_until});
            audit(db, st, now, "voucher.create", &b.id.to_string(), None, Some(after)).await?;
            Ok(done(st, "vouchers", "created"))
        }
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => {
            let field = if matches!(e, UseCaseError::NotFound(_)) { "v_plan" } else { "v_count" };
            again(FieldError { field, message: uc_message(&e) }).await
        }
    }
}

/// `GET /vouchers/{id}/sheet?layout=a4|58|80&offset=&limit=`: the print-ready sheet.
pub(super) async fn sheet<P: Platform>(p: &P, db: &P::Db, st: &Staff, id: &str, req: &Request<Bytes>) -> PageResult {
    need(st, Action::ViewVouchers)?;
    let id: u32 = id.parse().map_err(|_| PageError::NotFound)?;
    let batch = vouchers::get(db, id).await?.filter(|b| visible(st, b)).ok_or(PageError::NotFound)?;
    if batch.kind != vouchers::KIND_PRINTED {
        return Err(PageError::NotFound);
    }
    let q = Query::parse(req.uri().query());
    Ok(crate::api::vouchers::sheet_of(p, &st.tenant, db, &batch, &q, req).await.unwrap_or_else(|e| e.into_response()))
}
