//! The portal pages' HTML, from plain data.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::plan::Plan;
use crate::domain::plan_change::Quote;
use crate::store::payments::Payment;
use crate::store::subscribers::WithBalance;
use crate::web::form::{FieldError, error_summary, field_error};
use crate::web::session::csrf_field;
use crate::web::{PageCtx, fmt};

/// The portal's menu.
pub fn nav(cx: &PageCtx, base: &str) -> Markup {
    let here = cx.path.as_str();
    let items = [
        ("home", "portal.nav.home"),
        ("topup", "portal.nav.pay"),
        ("plans", "portal.nav.plans"),
        ("payments", "portal.nav.payments"),
    ];
    html! {
        nav.tabs aria-label="Portal" {
            @for (slug, key) in items {
                @let href = format!("{base}/{slug}");
                @if here == href || here.starts_with(&format!("{href}/")) {
                    a href=(href) aria-current="page" { (cx.t(key)) }
                } @else {
                    a href=(href) { (cx.t(key)) }
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn text_field(
    cx: &PageCtx,
    errors: &[FieldError],
    id: &'static str,
    label: &'static str,
    hint: Option<&'static str>,
    kind: &str,
    value: &str,
    extra: Markup,
) -> Markup {
    let e = field_error(errors, id);
    html! {
        div class=@if e.is_some() { "has-error" } @else { "" } {
            label for=(id) { (cx.t(label)) @if let Some(h) = hint { span.hint { (cx.t(h)) } } }
            @if let Some(msg) = e { p.field-error { (msg) } }
            input type=(kind) id=(id) name=(id) value=(value) { (extra) }
        }
    }
}

pub fn login(cx: &PageCtx, base: &str, csrf: &str, who: &str, errors: &[FieldError]) -> Markup {
    html! {
        (error_summary(cx, errors))
        h1 { (cx.t("portal.sign_in_title")) }
        p { (cx.t("portal.sign_in_lead")) }
        form method="post" action={ (base) "/login" } {
            (csrf_field(csrf))
            (text_field(cx, errors, "who", "portal.who", Some("portal.who_hint"), "text", who, html! {}))
            p { button.block type="submit" { (cx.t("portal.send_code")) } }
        }
    }
}

pub fn verify(cx: &PageCtx, base: &str, csrf: &str, challenge: &str, errors: &[FieldError]) -> Markup {
    html! {
        (error_summary(cx, errors))
        h1 { (cx.t("portal.code_title")) }
        p { (cx.t("portal.code_lead")) }
        form method="post" action={ (base) "/verify" } {
            (csrf_field(csrf))
            input type="hidden" name="c" value=(challenge);
            (text_field(cx, errors, "code", "portal.code", None, "text", "", html! {}))
            p { button.block type="submit" { (cx.t("portal.sign_in")) } }
        }
        p { a href={ (base) "/login" } { (cx.t("portal.new_code")) } }
    }
}

#[allow(clippy::too_many_arguments)]
/// What the home page offers about a pause.
pub enum PauseBox {
    /// Paused until then: a resume button.
    Paused(DateTime<Utc>),
    /// The tenant allows pauses up to this many days and the account has paid time.
    Offer(i64),
    None,
}

#[allow(clippy::too_many_arguments)]
pub fn home(
    cx: &PageCtx,
    base: &str,
    me: &WithBalance,
    plan: &Plan,
    used_bytes: i64,
    now: DateTime<Utc>,
    csrf: &str,
    notice: Option<&str>,
    pause: &PauseBox,
) -> Markup {
    let s = &me.subscriber;
    let due = (plan.price.cents() - me.balance_cents).max(0);
    let (badge, status_key) = match s.status {
        crate::domain::subscriber::Status::Active => ("badge ok", "portal.status.active"),
        crate::domain::subscriber::Status::Pending => ("badge warn", "portal.status.pending"),
        crate::domain::subscriber::Status::Expired => ("badge bad", "portal.status.expired"),
        crate::domain::subscriber::Status::Suspended => ("badge bad", "portal.status.suspended"),
    };
    html! {
        @if let Some(n) = notice { div.notice.ok role="status" { (n) } }
        h1 { (cx.tf("portal.hello", &[("name", &s.name)])) }
        div.card {
            p { span class=(badge) { (cx.t(status_key)) } " " span.muted.small { (cx.t("portal.account")) " " (s.account_no.as_str()) } }
            dl.kv {
                dt { (cx.t("portal.plan")) } dd { (plan.name) " · " (cx.kes(plan.price.cents())) }
                dt { (cx.t("portal.expires")) }
                dd {
                    @match s.expires_at {
                        Some(e) => {
                            (cx.eat(e))
                            @if e > now { br; span.muted.small { (cx.tf("portal.time_left", &[("left", &fmt::duration((e - now).num_seconds(), cx.lang))])) } }
                        }
                        None => { (cx.t("portal.never_paid")) }
                    }
                }
                dt { (cx.t("portal.balance")) } dd { (cx.kes(me.balance_cents)) }
                dt { (cx.t("portal.usage")) }
                dd {
                    (fmt::bytes(used_bytes))
                    @if let Some(cap) = plan.data_cap_bytes { " / " (fmt::bytes(cap)) }
                }
            }
        }
        p { a.btn.block href={ (base) "/topup" } { (cx.t("portal.pay_now")) @if due > 0 { " · " (cx.kes(due)) } } }
        p.row {
            a.btn.secondary href={ (base) "/plans" } { (cx.t("portal.change_plan")) }
            a.btn.secondary href={ (base) "/payments" } { (cx.t("portal.nav.payments")) }
            a.btn.secondary href={ (base) "/devices" } { (cx.t("portal.devices_title")) }
            a.btn.secondary href={ (base) "/tickets" } { (cx.t("portal.tickets_title")) }
        }
        @match pause {
            PauseBox::Paused(until) => {
                div.card {
                    p { (cx.tf("portal.paused_until", &[("until", &cx.eat(*until))])) }
                    form method="post" action={ (base) "/resume" } {
                        (csrf_field(csrf))
                        button.block type="submit" { (cx.t("portal.resume")) }
                    }
                }
            }
            PauseBox::Offer(max) => {
                details.card {
                    summary { (cx.t("portal.pause")) }
                    p.muted.small { (cx.t("portal.pause_lead")) }
                    form method="post" action={ (base) "/pause" } {
                        (csrf_field(csrf))
                        label for="days" { (cx.tf("portal.pause_days", &[("max", &max.to_string())])) }
                        input type="number" id="days" name="days" min="1" max=(max) value="7";
                        p { button.secondary type="submit" { (cx.t("portal.pause")) } }
                    }
                }
            }
            PauseBox::None => {}
        }
        form method="post" action={ (base) "/logout" } {
            (csrf_field(csrf))
            button.secondary type="submit" { (cx.t("common.sign_out")) }
        }
    }
}

pub fn topup(
    cx: &PageCtx,
    base: &str,
    csrf: &str,
    amount: &str,
    phone: &str,
    balance_cents: i64,
    errors: &[FieldError],
) -> Markup {
    html! {
        (error_summary(cx, errors))
        h1 { (cx.t("portal.pay_title")) }
        p.muted { (cx.t("portal.balance")) ": " (cx.kes(balance_cents)) }
        form method="post" action={ (base) "/topup" } {
            (csrf_field(csrf))
            (text_field(cx, errors, "amount", "portal.amount", Some("portal.amount_hint"), "number", amount, html! {}))
            (text_field(cx, errors, "phone", "portal.phone", Some("portal.phone_hint"), "tel", phone, html! {}))
            p { button.block type="submit" { (cx.t("portal.send_prompt")) } }
        }
    }
}

pub fn waiting(cx: &PageCtx, here: &str, amount_cents: i64, phone: &str) -> Markup {
    html! {
        h1 { (cx.t("portal.waiting_title")) }
        div.notice role="status" { (cx.tf("portal.waiting", &[("amount", &cx.kes(amount_cents)), ("phone", phone)])) }
        p.muted { (cx.t("portal.waiting_refresh")) }
        p { a.btn.secondary href=(here) { (cx.t("portal.check_again")) } }
    }
}

pub fn failed(cx: &PageCtx, base: &str, reason: &str) -> Markup {
    html! {
        h1 { (cx.t("portal.failed_title")) }
        div.notice.bad role="alert" { (cx.t("portal.failed")) @if !reason.is_empty() { br; span.small { (reason) } } }
        p { a.btn href={ (base) "/topup" } { (cx.t("portal.try_again")) } }
    }
}

pub fn paid(cx: &PageCtx, base: &str, amount_cents: i64, balance_cents: i64) -> Markup {
    html! {
        h1 { (cx.t("portal.paid_title")) }
        div.notice.ok role="status" { (cx.tf("portal.paid", &[("amount", &cx.kes(amount_cents))])) }
        p { (cx.t("portal.balance")) ": " strong { (cx.kes(balance_cents)) } }
        p { a.btn href={ (base) "/home" } { (cx.t("portal.nav.home")) } }
    }
}

pub fn plans(cx: &PageCtx, base: &str, list: &[Plan], current: &str) -> Markup {
    html! {
        h1 { (cx.t("portal.plans_title")) }
        @for p in list {
            div.card {
                div.row {
                    div style="flex:1" {
                        strong { (p.name) } br;
                        span.muted.small { (fmt::duration(p.period_seconds, cx.lang)) " · " (p.down_kbps / 1000) "/" (p.up_kbps / 1000) " Mbps"
                            @if let Some(cap) = p.data_cap_bytes { " · " (fmt::bytes(cap)) } }
                    }
                    span.big { (cx.kes(p.price.cents())) }
                }
                @if p.id == current {
                    p { span.badge.ok { (cx.t("portal.current_plan")) } }
                } @else {
                    p { a.btn.secondary href={ (base) "/plans/" (p.id) } { (cx.t("portal.see_price")) } }
                }
            }
        }
    }
}

pub fn quote(cx: &PageCtx, base: &str, csrf: &str, to: &Plan, q: &Quote, error: Option<&str>) -> Markup {
    html! {
        @if let Some(e) = error { div.error-summary role="alert" { h2 { (cx.t("form.there_is_a_problem")) } p { (e) } } }
        h1 { (cx.tf("portal.quote_for", &[("plan", &to.name)])) }
        div.card {
            dl.kv {
                dt { (cx.t("portal.quote_credit")) } dd { (cx.kes(q.credit_cents)) }
                dt { (cx.t("portal.quote_charge")) } dd { (cx.kes(q.charge_cents)) }
                dt { (cx.t("portal.quote_balance")) } dd { (cx.kes(q.balance_before_cents)) " → " (cx.kes(q.balance_after_cents)) }
            }
            p.small.muted { (q.explanation) }
        }
        @if q.affordable {
            form method="post" action={ (base) "/plans/" (to.id) } {
                (csrf_field(csrf))
                button.block type="submit" { (cx.tf("portal.confirm_change", &[("plan", &to.name)])) }
            }
        } @else {
            div.notice.bad { (cx.tf("portal.top_up_first", &[("amount", &cx.kes(-q.balance_after_cents))])) }
            p { a.btn href={ (base) "/topup" } { (cx.t("portal.pay_now")) } }
        }
        p { a href={ (base) "/plans" } { (cx.t("common.back")) } }
    }
}

pub fn payments(cx: &PageCtx, base: &str, list: &[Payment]) -> Markup {
    html! {
        h1 { (cx.t("portal.payments_title")) }
        p { a.btn.secondary href={ (base) "/statement" } { (cx.t("portal.statement_title")) } }
        @if list.is_empty() { p { (cx.t("portal.no_payments")) } }
        @else {
            div.table-wrap { table {
                thead { tr { th { (cx.t("portal.date")) } th { (cx.t("portal.receipt")) } th.num { (cx.t("portal.amount")) } } }
                tbody { @for p in list { tr {
                    td { (p.paid_at.as_deref().or(Some(&p.received_at)).and_then(crate::domain::time::parse_ts).map(|t| cx.eat(t)).unwrap_or_default()) }
                    td { a href={ (base) "/payments/" (p.id) } { (p.receipt.as_deref().unwrap_or(&p.provider_ref)) } }
                    td.num { (cx.kes(p.amount_cents)) }
                } } }
            } }
        }
    }
}

pub fn receipt(cx: &PageCtx, base: &str, isp: &str, me: &WithBalance, p: &Payment) -> Markup {
    let when = p
        .paid_at
        .as_deref()
        .or(Some(&p.received_at))
        .and_then(crate::domain::time::parse_ts)
        .map(|t| cx.eat(t))
        .unwrap_or_default();
    html! {
        h1 { (cx.t("portal.receipt_title")) }
        div.card {
            dl.kv {
                dt { (cx.t("portal.issued_by")) } dd { (isp) }
                dt { (cx.t("portal.receipt")) } dd { (p.receipt.as_deref().unwrap_or(&p.provider_ref)) }
                dt { (cx.t("portal.account")) } dd { (me.subscriber.account_no.as_str()) " · " (me.subscriber.name) }
                dt { (cx.t("portal.amount")) } dd { (cx.kes(p.amount_cents)) }
                dt { (cx.t("portal.method")) } dd { (p.provider) " " (p.method) }
                dt { (cx.t("portal.date")) } dd { (when) }
            }
        }
        p.noprint { a href={ (base) "/payments" } { (cx.t("common.back")) } }
    }
}

pub fn devices(
    cx: &PageCtx,
    base: &str,
    csrf: &str,
    list: &[crate::store::self_service::Device],
    mac: &str,
    name: &str,
    errors: &[FieldError],
) -> Markup {
    html! {
        (error_summary(cx, errors))
        h1 { (cx.t("portal.devices_title")) }
        p.muted { (cx.t("portal.devices_lead")) }
        @if list.is_empty() { p { (cx.t("portal.no_devices")) } }
        @else {
            div.card { @for d in list {
                form.row method="post" action={ (base) "/devices/" (d.mac) "/remove" } {
                    (csrf_field(csrf))
                    span { (d.name) br; span.muted.small { (d.mac) } }
                    button.secondary type="submit" { (cx.t("portal.remove")) }
                }
            } }
        }
        h2 { (cx.t("portal.add_device")) }
        form method="post" action={ (base) "/devices" } {
            (csrf_field(csrf))
            (text_field(cx, errors, "mac", "portal.mac", Some("portal.mac_hint"), "text", mac, html! {}))
            (text_field(cx, errors, "name", "portal.device_name", None, "text", name, html! {}))
            p { button.block type="submit" { (cx.t("portal.add_device")) } }
        }
    }
}

/// The printable statement: every ledger entry, oldest first, with the balance after it (the
/// layout's print style drops the header, tabs and footer).
pub fn statement(
    cx: &PageCtx,
    isp: &str,
    me: &WithBalance,
    entries: &[crate::store::ledger::Entry],
    now: DateTime<Utc>,
) -> Markup {
    html! {
        h1 { (cx.t("portal.statement_title")) }
        p.muted.small.noprint { (cx.t("portal.statement_print")) }
        div.card {
            dl.kv {
                dt { (cx.t("portal.issued_by")) } dd { (isp) }
                dt { (cx.t("portal.account")) } dd { (me.subscriber.account_no.as_str()) " · " (me.subscriber.name) }
                dt { (cx.t("portal.balance")) } dd { (cx.kes(me.balance_cents)) }
            }
            p.muted.small { (cx.tf("portal.statement_made", &[("when", &cx.eat(now))])) }
        }
        @if entries.is_empty() { p { (cx.t("portal.no_entries")) } }
        @else {
            div.table-wrap { table {
                thead { tr { th { (cx.t("portal.date")) } th { (cx.t("portal.entry")) } th.num { (cx.t("portal.amount")) } th.num { (cx.t("portal.balance")) } } }
                tbody { @for e in entries { tr {
                    td { (crate::domain::time::parse_ts(&e.created_at).map(|t| cx.eat(t)).unwrap_or_else(|| e.created_at.clone())) }
                    td { (e.memo) }
                    td.num { (cx.kes(e.amount_cents)) }
                    td.num { (cx.kes(e.balance_cents)) }
                } } }
            } }
        }
    }
}

fn ticket_status(cx: &PageCtx, status: &str) -> &'static str {
    match status {
        "answered" => cx.t("portal.ticket_status.answered"),
        "closed" => cx.t("portal.ticket_status.closed"),
        _ => cx.t("portal.ticket_status.open"),
    }
}

fn message_field(cx: &PageCtx, errors: &[FieldError], value: &str) -> Markup {
    let e = field_error(errors, "message");
    html! {
        div class=@if e.is_some() { "has-error" } @else { "" } {
            label for="message" { (cx.t("portal.message")) }
            @if let Some(msg) = e { p.field-error { (msg) } }
            textarea #message name="message" rows="4" maxlength="2000" { (value) }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn tickets(
    cx: &PageCtx,
    base: &str,
    csrf: &str,
    list: &[crate::store::self_service::Ticket],
    subject: &str,
    message: &str,
    errors: &[FieldError],
) -> Markup {
    html! {
        (error_summary(cx, errors))
        h1 { (cx.t("portal.tickets_title")) }
        p.muted { (cx.t("portal.tickets_lead")) }
        @if list.is_empty() { p { (cx.t("portal.no_tickets")) } }
        @else {
            div.card { @for t in list {
                p { a href={ (base) "/tickets/" (t.id) } { (t.subject) } br;
                    span.muted.small { (ticket_status(cx, &t.status)) " · "
                        (crate::domain::time::parse_ts(&t.updated_at).map(|x| cx.eat(x)).unwrap_or_default()) } }
            } }
        }
        h2 { (cx.t("portal.new_ticket")) }
        form method="post" action={ (base) "/tickets" } {
            (csrf_field(csrf))
            (text_field(cx, errors, "subject", "portal.subject", None, "text", subject, html! {}))
            (message_field(cx, errors, message))
            p { button.block type="submit" { (cx.t("portal.send")) } }
        }
    }
}

pub fn ticket(
    cx: &PageCtx,
    base: &str,
    csrf: &str,
    t: &crate::usecases::self_service::TicketView,
    message: &str,
    errors: &[FieldError],
) -> Markup {
    html! {
        (error_summary(cx, errors))
        h1 { (t.ticket.subject) }
        p.muted.small { (ticket_status(cx, &t.ticket.status)) }
        @for m in &t.messages {
            div.card {
                p.muted.small {
                    @if m.author == "subscriber" { (cx.t("portal.you")) } @else { (cx.t("portal.issued_by")) }
                    " · " (crate::domain::time::parse_ts(&m.created_at).map(|x| cx.eat(x)).unwrap_or_default())
                }
                p { (m.body) }
            }
        }
        h2 { (cx.t("portal.reply")) }
        form method="post" action={ (base) "/tickets/" (t.ticket.id) } {
            (csrf_field(csrf))
            (message_field(cx, errors, message))
            p { button.block type="submit" { (cx.t("portal.send")) } }
        }
        p { a href={ (base) "/tickets" } { (cx.t("common.back")) } }
    }
}
