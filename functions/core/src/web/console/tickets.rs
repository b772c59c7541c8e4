//! The console's support tickets (`/c/{realm}/tickets`): subscribers open them and write in the
//! portal or the customer API; staff list them by status, read a thread, reply (which may close
//! it) and close. Reading needs [`Action::ViewTickets`], replying and closing
//! [`Action::AnswerTickets`]; every reply and close is in the audit log.

use chrono::{DateTime, Utc};
use http::StatusCode;
use maud::{Markup, html};
use serde_json::json;

use super::Staff;
use super::pages::{PageError, PageResult, audit, done, eat_str, need, notice, uc_message};
use crate::api::Query;
use crate::db::Db;
use crate::ids::IdGen;
use crate::store::self_service as ss;
use crate::usecases::UseCaseError;
use crate::usecases::self_service as uc;
use crate::usecases::staff::Action;
use crate::web::PageCtx;
use crate::web::form::{self, FieldError, field_error};

/// The statuses a ticket moves through, in the order the page offers them.
pub(crate) const STATUSES: [&str; 3] = ["open", "answered", "closed"];

const PAGE: i64 = 50;

fn status_key(s: &str) -> &'static str {
    match s {
        "answered" => "console.tickets.answered",
        "closed" => "console.tickets.closed",
        _ => "console.tickets.open",
    }
}

fn badge(cx: &PageCtx, s: &str) -> Markup {
    let class = match s {
        "open" => "badge warn",
        "answered" => "badge ok",
        _ => "badge",
    };
    html! { span class=(class) { (cx.t(status_key(s))) } }
}

/// `GET tickets?status=open|answered|closed&page=N`: one status at a time (open by default),
/// open ones longest-waiting first.
pub(super) async fn list(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query) -> PageResult {
    need(st, Action::ViewTickets)?;
    let status = q.get("status").filter(|s| STATUSES.contains(s)).unwrap_or("open");
    let page_no = q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1);
    let rows = ss::tickets_by_status(db, status, PAGE + 1, (page_no - 1) * PAGE).await?;
    let has_next = rows.len() as i64 > PAGE;
    let counts = ss::ticket_counts(db).await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let base = st.base();
    let body = html! {
        (notice(cx, q))
        h1 { (cx.t("console.nav.tickets")) }
        nav.row aria-label=(cx.t("console.tickets.by_status")) {
            @for s in STATUSES {
                @let label = format!("{} ({})", cx.t(status_key(s)), count(s));
                @if s == status {
                    a.btn href={ (base) "/tickets?status=" (s) } aria-current="page" { (label) }
                } @else {
                    a.btn.secondary href={ (base) "/tickets?status=" (s) } { (label) }
                }
            }
        }
        @if rows.is_empty() {
            p.muted { (cx.t("console.tickets.none")) }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th { (cx.t("console.tickets.subject")) }
                    th { (cx.t("console.tickets.subscriber")) }
                    th { (cx.t("console.tickets.messages")) }
                    th { (cx.t("console.tickets.changed")) }
                } }
                tbody { @for t in rows.iter().take(PAGE as usize) {
                    tr {
                        td data-label=(cx.t("console.tickets.subject")) {
                            a href={ (base) "/tickets/" (t.ticket.id) } { (t.ticket.subject) }
                        }
                        td data-label=(cx.t("console.tickets.subscriber")) {
                            a href={ (base) "/subscribers/" (t.subscriber_id) } { (t.account_no) } " " (t.name)
                        }
                        td data-label=(cx.t("console.tickets.messages")) { (t.messages) }
                        td data-label=(cx.t("console.tickets.changed")) { (eat_str(cx, &t.ticket.updated_at)) }
                    }
                } }
            } }
        }
        nav.row aria-label="pages" {
            @if page_no > 1 {
                a.btn.secondary href={ (base) "/tickets?status=" (status) "&page=" (page_no - 1) } rel="prev" { (cx.t("console.prev")) }
            }
            @if has_next {
                a.btn.secondary href={ (base) "/tickets?status=" (status) "&page=" (page_no + 1) } rel="next" { (cx.t("console.next")) }
            }
        }
    };
    Ok(super::page(cx, st, "tickets", cx.t("console.nav.tickets"), body))
}

/// `GET tickets/{id}`: the thread, oldest message first, with the reply and close forms for those
/// who may answer. `typed` and `errors` re-render a refused reply with what was typed.
pub(super) async fn thread(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    id: &str,
    q: &Query,
    typed: &str,
    errors: &[FieldError],
) -> PageResult {
    need(st, Action::ViewTickets)?;
    let t = ss::ticket_for_staff(db, id).await?.ok_or(PageError::NotFound)?;
    let messages = ss::ticket_messages(db, &t.ticket.id).await?;
    let base = st.base();
    let err = field_error(errors, "reply");
    let body = html! {
        (notice(cx, q))
        (form::error_summary(cx, errors))
        h1 { (t.ticket.subject) }
        p {
            (badge(cx, &t.ticket.status)) " "
            a href={ (base) "/subscribers/" (t.subscriber_id) } { (t.account_no) } " " (t.name)
            span.muted.small { " · " (cx.t("console.tickets.opened")) " " (eat_str(cx, &t.ticket.created_at)) }
        }
        @for m in &messages {
            div.card {
                p.muted.small {
                    @if m.author == "staff" { (cx.t("console.tickets.from_staff")) } @else { (t.name) }
                    " · " (eat_str(cx, &m.created_at))
                }
                p style="white-space:pre-wrap" { (m.body) }
            }
        }
        @if st.may(Action::AnswerTickets) {
            h2 { (cx.t("console.tickets.reply")) }
            form method="post" action={ (base) "/tickets/" (t.ticket.id) "/reply" } {
                (st.csrf_field())
                div class=@if err.is_some() { "has-error" } @else { "" } {
                    label for="reply" { (cx.t("console.tickets.message")) span.hint { (cx.t("console.tickets.sms_hint")) } }
                    @if let Some(e) = err { p.field-error { (e) } }
                    textarea #reply name="message" rows="5" maxlength="2000" required { (typed) }
                }
                p {
                    label { input type="checkbox" name="close" value="1"; " " (cx.t("console.tickets.close_with_reply")) }
                }
                p { button type="submit" { (cx.t("console.tickets.send")) } }
            }
            @if t.ticket.status != "closed" {
                form method="post" action={ (base) "/tickets/" (t.ticket.id) "/close" } {
                    (st.csrf_field())
                    button.secondary type="submit" { (cx.t("console.tickets.close")) }
                }
            }
        }
        p { a href={ (base) "/tickets?status=" (t.ticket.status) } { (cx.t("common.back")) } }
    };
    let mut r = super::page(cx, st, "tickets", &t.ticket.subject, body);
    if !errors.is_empty() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(r)
}

/// `POST tickets/{id}/reply` (`message`, `close=1` to close with it).
pub(super) async fn reply(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    id: &str,
    f: &Query,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::AnswerTickets)?;
    let message = f.get("message").unwrap_or("");
    let close = f.get("close") == Some("1");
    match uc::staff_reply(db, &st.tenant.settings, id, message, close, ids, now).await {
        Ok(r) => {
            let after = json!({"status": r.ticket.ticket.status, "message": message.trim(), "sms": r.sms_queued});
            audit(db, st, now, "ticket.reply", id, Some(json!({"status": r.was})), Some(after)).await?;
            Ok(done(st, &format!("tickets/{id}"), if close { "closed" } else { "replied" }))
        }
        Err(UseCaseError::NotFound(_)) => Err(PageError::NotFound),
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => {
            let errs = [FieldError { field: "reply", message: uc_message(&e) }];
            thread(db, cx, st, id, &Query::parse(None), message, &errs).await
        }
    }
}

/// `POST tickets/{id}/close`.
pub(super) async fn close(db: &impl Db, st: &Staff, id: &str, now: DateTime<Utc>) -> PageResult {
    need(st, Action::AnswerTickets)?;
    match uc::close_ticket(db, id, now).await {
        Ok(t) => {
            audit(
                db,
                st,
                now,
                "ticket.close",
                id,
                Some(json!({"status": t.ticket.status})),
                Some(json!({"status": "closed"})),
            )
            .await?;
            Ok(done(st, &format!("tickets/{id}"), "closed"))
        }
        Err(UseCaseError::NotFound(_)) => Err(PageError::NotFound),
        Err(UseCaseError::Conflict(_)) => Ok(done(st, &format!("tickets/{id}"), "closed")),
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(_) => Err(PageError::NotFound),
    }
}
