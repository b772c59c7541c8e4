//! SMS in the console: the outbox (filter by status and phone, the provider's reason for a
//! failure, sending a failed transactional message again), what SMS cost per EAT day and month,
//! and broadcasts, composed, checked (recipients, segments, estimated cost, when they go) and then
//! sent.
//!
//! Owners and staff send; read-only users see the outbox and costs; agents do not see SMS at all.
//! A broadcast's check page carries a key of its own, so sending it twice (a double tap, the
//! back button) queues it once.

use chrono::{DateTime, Duration, Utc};
use http::StatusCode;
use maud::{Markup, html};

use super::Staff;
use super::pages::{PageError, PageResult, audit, done, eat_str, enc, need, notice, pager, uc_message};
use crate::api::Query;
use crate::db::Db;
use crate::domain::msisdn::Msisdn;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::store::{plans, sms as store};
use crate::usecases::UseCaseError;
use crate::usecases::sms::{self as uc, BroadcastInput, BroadcastPreview};
use crate::usecases::staff::Action;
use crate::web::PageCtx;
use crate::web::form::{self, FieldError};

/// Messages per outbox page.
pub const OUTBOX_PAGE: i64 = 50;
const STATUSES: [&str; 5] =
    [store::STATUS_QUEUED, store::STATUS_SENDING, store::STATUS_SENT, store::STATUS_DELIVERED, store::STATUS_FAILED];
/// Days of the per-day costs table; months of the per-month one.
const COST_DAYS: i64 = 31;
const COST_MONTHS: i64 = 12;

/// Ten-thousandths of a shilling as `KES 1,234.56` (rounded to the cent).
fn kes_e4(cx: &PageCtx, e4: i64) -> String {
    cx.kes((e4 + 50).div_euclid(100))
}

fn status_key(s: &str) -> &'static str {
    match s {
        store::STATUS_QUEUED => "console.sms.status.queued",
        store::STATUS_SENDING => "console.sms.status.sending",
        store::STATUS_SENT => "console.sms.status.sent",
        store::STATUS_DELIVERED => "console.sms.status.delivered",
        _ => "console.sms.status.failed",
    }
}

fn badge(cx: &PageCtx, s: &str) -> Markup {
    let class = match s {
        store::STATUS_DELIVERED => "badge ok",
        store::STATUS_FAILED => "badge bad",
        _ => "badge warn",
    };
    html! { span class=(class) { (cx.t(status_key(s))) } }
}

/// A page's notice for `?done=` of this section (others go through the console's).
fn sms_notice(cx: &PageCtx, q: &Query) -> Markup {
    let key = match q.get("done") {
        Some("broadcast") => Some("console.sms.done.broadcast"),
        Some("resent") => Some("console.sms.done.resent"),
        _ => None,
    };
    html! {
        @if let Some(k) = key { div.notice.ok role="status" { (cx.t(k)) } }
        @else { (notice(cx, q)) }
    }
}

/// `GET /sms?status=&phone=&page=`: the outbox, then costs per day and per month.
pub(super) async fn page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ViewSms)?;
    let status = q.get("status").filter(|s| STATUSES.contains(s));
    let phone_typed = q.get("phone").map(str::trim).unwrap_or("");
    let phone = (!phone_typed.is_empty()).then(|| Msisdn::parse(phone_typed).ok());
    let mut errors = Vec::new();
    if phone == Some(None) {
        errors.push(FieldError { field: "sms_phone", message: cx.t("console.sms.bad_phone").into() });
    }
    let phone = phone.flatten().map(|m| m.as_str().to_owned());
    let page_no = q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).clamp(1, 10_000);
    let (list, more) = if errors.is_empty() {
        store::page(db, phone.as_deref(), status, OUTBOX_PAGE, (page_no - 1) * OUTBOX_PAGE).await?
    } else {
        (Vec::new(), false)
    };
    let per_day = store::costs_eat(db, &fmt_ts(now - Duration::days(COST_DAYS)), false).await?;
    let per_month = store::costs_eat(db, &fmt_ts(now - Duration::days(COST_MONTHS * 31)), true).await?;
    let base = st.base();
    let href = |pg: i64| format!("{base}/sms?status={}&phone={}&page={pg}", status.unwrap_or(""), enc(phone_typed));
    let can_send = st.may(Action::SendSms);
    let body = html! {
        (sms_notice(cx, q))
        div.row {
            h1 { (cx.t("console.sms.title")) }
            @if can_send { a.btn href={ (base) "/sms/broadcast" } { (cx.t("console.sms.new_broadcast")) } }
        }
        (form::error_summary(cx, &errors))
        h2 #outbox { (cx.t("console.sms.outbox")) }
        form.card method="get" action={ (base) "/sms" } role="search" {
            div.grid {
                div {
                    label for="sms_status" { (cx.t("console.sub.status")) }
                    select #sms_status name="status" {
                        option value="" { (cx.t("console.any")) }
                        @for s in STATUSES { option value=(s) selected[status == Some(s)] { (cx.t(status_key(s))) } }
                    }
                }
                div {
                    label for="sms_phone" { (cx.t("console.sub.phone")) span.hint { (cx.t("console.sms.phone_hint")) } }
                    input #sms_phone type="tel" name="phone" value=(phone_typed) inputmode="tel" autocomplete="off";
                }
            }
            p { button type="submit" { (cx.t("console.sms.filter")) } }
        }
        @if list.is_empty() {
            p.muted { (cx.t("console.sms.none")) }
        } @else {
            div.table-wrap { table.stack {
                thead { tr {
                    th { (cx.t("console.when")) } th { (cx.t("console.sms.to")) } th { (cx.t("console.sms.message")) }
                    th { (cx.t("console.sub.status")) } th { (cx.t("console.sms.reason")) } th.num { (cx.t("console.sms.cost")) }
                    th { span.small { (cx.t("console.sms.action")) } }
                } }
                tbody { @for m in &list { (outbox_row(cx, st, m, can_send)) } }
            } }
        }
        (pager(cx, page_no, None, more, href))
        h2 #costs { (cx.t("console.sms.costs")) }
        p.muted { (cx.t("console.sms.costs_hint")) }
        (costs_table(cx, "console.sms.day", &per_day))
        details {
            summary { (cx.t("console.sms.per_month")) }
            (costs_table(cx, "console.sms.month", &per_month))
        }
    };
    let mut r = super::page(cx, st, "sms", cx.t("console.sms.title"), body);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

fn outbox_row(cx: &PageCtx, st: &Staff, m: &store::Sms, can_send: bool) -> Markup {
    let kind = match m.kind {
        store::Kind::Transactional => cx.t("console.sms.kind.transactional"),
        store::Kind::Promotional => cx.t("console.sms.kind.promotional"),
    };
    let preview: String = m.body.chars().take(70).collect();
    let cut = m.body.chars().count() > 70;
    // The provider's word, and our own when it adds something (gave up after retries, expired).
    let reason = match (m.provider_status.as_deref(), m.last_error.as_deref()) {
        (Some(p), Some(e)) if m.status == store::STATUS_FAILED && !e.contains(p) => format!("{p}: {e}"),
        (Some(p), _) => p.to_owned(),
        (None, Some(e)) => e.to_owned(),
        (None, None) => String::new(),
    };
    let resendable =
        can_send && m.status == store::STATUS_FAILED && m.kind == store::Kind::Transactional && m.send_before.is_none();
    html! {
        tr {
            td data-label=(cx.t("console.when")) { (eat_str(cx, &m.created_at)) }
            td data-label=(cx.t("console.sms.to")) { (m.to) }
            td data-label=(cx.t("console.sms.message")) {
                span title=(m.body) { (preview) @if cut { "…" } }
                br; span.small.muted { (kind) " · " (m.language) }
            }
            td data-label=(cx.t("console.sub.status")) { (badge(cx, &m.status)) }
            td data-label=(cx.t("console.sms.reason")) { span.small { (reason) } }
            td.num data-label=(cx.t("console.sms.cost")) { (m.cost_e4.map_or_else(|| "—".to_owned(), |c| kes_e4(cx, c))) }
            td data-label="" {
                @if resendable {
                    form.inline method="post" action={ (st.base()) "/sms/" (m.id) "/resend" } {
                        (st.csrf_field())
                        button.secondary type="submit" aria-label={ (cx.t("console.sms.resend")) " " (m.to) } { (cx.t("console.sms.resend")) }
                    }
                }
            }
        }
    }
}

fn costs_table(cx: &PageCtx, period_key: &'static str, rows: &[store::PeriodCost]) -> Markup {
    let total_sent: i64 = rows.iter().map(|r| r.sent).sum();
    let total_cost: i64 = rows.iter().map(|r| r.cost_e4).sum();
    html! {
        div.table-wrap { table {
            thead { tr {
                th { (cx.t(period_key)) } th.num { (cx.t("console.sms.sent")) } th.num { (cx.t("console.sms.status.delivered")) }
                th.num { (cx.t("console.sms.status.failed")) } th.num { (cx.t("console.sms.cost")) }
            } }
            tbody {
                @for r in rows {
                    tr { td { (r.period) } td.num { (r.sent) } td.num { (r.delivered) } td.num { (r.failed) } td.num { (kes_e4(cx, r.cost_e4)) } }
                }
                @if rows.is_empty() { tr { td colspan="5" { span.muted { (cx.t("console.sms.no_costs")) } } } }
            }
            tfoot { tr {
                th { (cx.t("console.sms.total")) } th.num { (total_sent) } th {} th {} th.num { (kes_e4(cx, total_cost)) }
            } }
        } }
    }
}

// ---------------------------------------------------------------------------------------------
// Broadcasts

/// The audience the form chose: `active` (every active subscriber), `plan` or `expiring`.
fn input_of(f: &Query) -> Result<BroadcastInput, (&'static str, &'static str)> {
    let text = |k: &str| f.get(k).unwrap_or("").trim().to_owned();
    let mut input = BroadcastInput {
        message_en: text("message_en"),
        message_sw: text("message_sw"),
        to: Some("active".into()),
        ..Default::default()
    };
    if input.message_en.is_empty() {
        return Err(("b_en", "console.sms.need_en"));
    }
    if input.message_sw.is_empty() {
        return Err(("b_sw", "console.sms.need_sw"));
    }
    match f.get("audience").unwrap_or("active") {
        "active" => {}
        "plan" => match f.get("plan").map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => input.plan = Some(p.to_owned()),
            None => return Err(("b_plan", "console.sms.need_plan")),
        },
        "expiring" => match f.get("days").map(str::trim).and_then(|d| d.parse::<i64>().ok()) {
            Some(d) if (1..=60).contains(&d) => input.expiring_days = Some(d),
            _ => return Err(("b_days", "console.sms.days_hint")),
        },
        _ => return Err(("b_active", "console.sms.need_audience")),
    }
    Ok(input)
}

/// `GET /sms/broadcast`: the form (also shown again, filled in, with what was wrong).
pub(super) async fn compose(db: &impl Db, cx: &PageCtx, st: &Staff, f: &Query, errors: &[FieldError]) -> PageResult {
    need(st, Action::SendSms)?;
    let all_plans: Vec<_> = plans::list(db).await?.into_iter().filter(|p| p.active).collect();
    let v = |k: &str| f.get(k).unwrap_or("").to_owned();
    let audience = f.get("audience").unwrap_or("active");
    let max = uc::BROADCAST_MAX_CHARS.to_string();
    let body = html! {
        p { a href={ (st.base()) "/sms" } { "← " (cx.t("console.sms.title")) } }
        h1 { (cx.t("console.sms.new_broadcast")) }
        (form::error_summary(cx, errors))
        form.card method="post" action={ (st.base()) "/sms/broadcast" } {
            (st.csrf_field())
            input type="hidden" name="step" value="check";
            fieldset {
                legend { (cx.t("console.sms.audience")) }
                label { input #b_active type="radio" name="audience" value="active" checked[audience == "active"]; " " (cx.t("console.sms.to_active")) }
                label { input type="radio" name="audience" value="plan" checked[audience == "plan"]; " " (cx.t("console.sms.to_plan")) }
                select #b_plan name="plan" aria-label=(cx.t("console.sub.plan")) {
                    @for p in &all_plans { option value=(p.code) selected[v("plan") == p.code] { (p.name) } }
                }
                label { input type="radio" name="audience" value="expiring" checked[audience == "expiring"]; " " (cx.t("console.sms.to_expiring")) }
                label for="b_days" { span.hint { (cx.t("console.sms.days_hint")) } }
                input #b_days type="number" name="days" min="1" max="60" step="1" inputmode="numeric" value=(if v("days").is_empty() { "3".to_owned() } else { v("days") });
            }
            label for="b_en" { (cx.t("console.sms.message_en")) span.hint { (cx.tf("console.sms.message_hint", &[("max", &max)])) } }
            textarea #b_en name="message_en" rows="3" maxlength=(max) required { (v("message_en")) }
            label for="b_sw" { (cx.t("console.sms.message_sw")) }
            textarea #b_sw name="message_sw" rows="3" maxlength=(max) required { (v("message_sw")) }
            p.muted.small { (cx.t("console.sms.rules")) }
            p { button type="submit" { (cx.t("console.sms.check")) } }
        }
    };
    let mut r = super::page(cx, st, "sms", cx.t("console.sms.new_broadcast"), body);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

fn field_of(e: &UseCaseError) -> &'static str {
    match e {
        UseCaseError::NotFound(_) => "b_plan",
        UseCaseError::Invalid(m) if m.contains("expiring") => "b_days",
        _ => "b_en",
    }
}

/// `POST /sms/broadcast`: `step=check` shows what it would do; `step=edit` goes back to the form;
/// `step=send` (from the check page) queues it, once per check page.
pub(super) async fn broadcast(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::SendSms)?;
    let step = f.get("step").unwrap_or("check");
    if step == "edit" {
        return compose(db, cx, st, f, &[]).await;
    }
    let mut input = match input_of(f) {
        Ok(i) => i,
        Err((field, key)) => return compose(db, cx, st, f, &[FieldError { field, message: cx.t(key).into() }]).await,
    };
    let settings = &st.tenant.settings;
    if step != "send" {
        return match uc::preview(db, settings, &input, now).await {
            Ok(p) => Ok(check_page(cx, st, f, &p, &ids.token(16), now)),
            Err(UseCaseError::Store(e)) => Err(e.into()),
            Err(e) => compose(db, cx, st, f, &[FieldError { field: field_of(&e), message: uc_message(&e) }]).await,
        };
    }
    let key = f.get("key").filter(|k| (16..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric()));
    let Some(key) = key else {
        return compose(db, cx, st, f, &[]).await;
    };
    input.batch = Some(key.to_owned());
    let audience = serde_json::json!({"to": input.to, "plan": input.plan, "expiring_days": input.expiring_days});
    let (en, sw) = (input.message_en.clone(), input.message_sw.clone());
    match uc::broadcast(db, settings, input, ids, now).await {
        Ok(b) => {
            let after = serde_json::json!({"audience": audience, "queued": b.queued, "not_before": b.not_before,
                "message_en": en, "message_sw": sw});
            audit(db, st, now, "sms.broadcast", key, None, Some(after)).await?;
            Ok(done(st, "sms", "broadcast"))
        }
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => compose(db, cx, st, f, &[FieldError { field: field_of(&e), message: uc_message(&e) }]).await,
    }
}

/// "Check your answers": who, how many segments, what it should cost, when it goes; send or change.
fn check_page(
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    p: &BroadcastPreview,
    key: &str,
    now: DateTime<Utc>,
) -> http::Response<bytes::Bytes> {
    let keep = ["audience", "plan", "days", "message_en", "message_sw"];
    let when = match crate::domain::time::parse_ts(&p.not_before) {
        Some(t) if t <= now => cx.t("console.sms.goes_now").to_owned(),
        Some(t) => cx.tf("console.sms.goes_at", &[("when", &cx.eat(t))]),
        None => p.not_before.clone(),
    };
    let hidden = html! { @for k in keep { input type="hidden" name=(k) value=(f.get(k).unwrap_or("")); } };
    let basis = if p.cost_measured {
        cx.tf("console.sms.price_measured", &[("price", &kes_e4(cx, p.segment_cost_e4))])
    } else {
        cx.tf("console.sms.price_assumed", &[("price", &kes_e4(cx, p.segment_cost_e4))])
    };
    let body = html! {
        h1 { (cx.t("console.sms.check_title")) }
        dl.kv.card {
            dt { (cx.t("console.sms.recipients")) }
            dd #b_recipients { (p.recipients) span.small.muted { " (" (cx.tf("console.sms.of_them_sw", &[("n", &p.recipients_sw.to_string())])) ")" } }
            dt { (cx.t("console.sms.segments")) }
            dd #b_segments { (p.segments) span.small.muted { " (" (cx.tf("console.sms.segments_each", &[("en", &p.segments_en.to_string()), ("sw", &p.segments_sw.to_string())])) ")" } }
            dt { (cx.t("console.sms.estimated_cost")) }
            dd #b_cost { (kes_e4(cx, p.estimated_cost_e4)) br; span.small.muted { (basis) } }
            dt { (cx.t("console.sms.when")) }
            dd #b_when { (when) }
        }
        h2 { (cx.t("console.sms.as_sent")) }
        div.card { p { strong { "English: " } (p.body_en) } p { strong { "Kiswahili: " } (p.body_sw) } }
        p.muted.small { (cx.t("console.sms.optout_note")) }
        div.row {
            form.inline method="post" action={ (st.base()) "/sms/broadcast" } {
                (st.csrf_field()) (hidden)
                input type="hidden" name="key" value=(key);
                button type="submit" name="step" value="send" disabled[p.recipients == 0] { (cx.tf("console.sms.send_to", &[("n", &p.recipients.to_string())])) }
            }
            form.inline method="post" action={ (st.base()) "/sms/broadcast" } {
                (st.csrf_field()) (hidden)
                button.secondary type="submit" name="step" value="edit" { (cx.t("console.sms.change")) }
            }
        }
    };
    super::page(cx, st, "sms", cx.t("console.sms.check_title"), body)
}

/// `POST /sms/{id}/resend`: a failed transactional message queued again.
pub(super) async fn resend(db: &impl Db, st: &Staff, id: &str, ids: &mut IdGen, now: DateTime<Utc>) -> PageResult {
    need(st, Action::SendSms)?;
    match uc::resend(db, id, ids, now).await {
        Ok(new_id) => {
            audit(db, st, now, "sms.resend", id, None, Some(serde_json::json!({"sent_again_as": new_id}))).await?;
            Ok(done(st, "sms", "resent"))
        }
        Err(UseCaseError::NotFound(_)) => Err(PageError::NotFound),
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => Ok(crate::web::see_other(&format!("{}/sms?error={}", st.base(), enc(&uc_message(&e))))),
    }
}
