//! The console's pages. Every handler checks the role table before reading or writing; every
//! POST (CSRF already checked by the caller) answers `303` to a page, or re-renders its form with
//! an error summary.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use maud::{Markup, html};

use super::{PRE_COOKIE, Staff, page, role_key, session_cookie};
use crate::Ctx;
use crate::api::Query;
use crate::db::{Db, StoreError};
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::platform::Platform;
use crate::store::{callbacks, held, ledger, payments, plans, reports, staff, subscribers, usage};
use crate::usecases::UseCaseError;
use crate::usecases::staff::{self as uc_staff, Action, Role};
use crate::web::form::{self, FieldError};
use crate::web::{PageCtx, Policy, session};

pub(crate) enum PageError {
    NotFound,
    Forbidden,
    Store(StoreError),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Store(e)
    }
}

pub(super) type PageResult = Result<Response<Bytes>, PageError>;

pub(super) fn need(st: &Staff, a: Action) -> Result<(), PageError> {
    if st.may(a) { Ok(()) } else { Err(PageError::Forbidden) }
}

/// Where a POST goes next, with a notice key in the query (`?done=...`).
pub(super) fn done(st: &Staff, path: &str, what: &str) -> Response<Bytes> {
    crate::web::see_other(&format!("{}/{path}?done={what}", st.base()))
}

pub(super) fn notice(cx: &PageCtx, q: &Query) -> Markup {
    let key: Option<&'static str> = match q.get("done") {
        Some("cash") => Some("console.done.cash"),
        Some("assigned") => Some("console.done.assigned"),
        Some("status") => Some("console.done.status"),
        Some("plan") => Some("console.done.plan"),
        Some("stk") => Some("console.done.stk"),
        Some("created") => Some("console.done.created"),
        Some("saved") => Some("console.done.saved"),
        Some("revoked") => Some("console.done.revoked"),
        Some("replied") => Some("console.done.replied"),
        Some("closed") => Some("console.done.closed"),
        Some("disables_confirmed") => Some("console.done.disables_confirmed"),
        _ => None,
    };
    let err = q.get("error").filter(|e| !e.is_empty());
    html! {
        @if let Some(k) = key { div.notice.ok role="status" { (cx.t(k)) } }
        @if let Some(e) = err { div.notice.bad role="alert" { (e) } }
    }
}

pub(super) fn uc_message(e: &UseCaseError) -> String {
    match e {
        UseCaseError::Store(_) | UseCaseError::Unavailable(_) => "storage unavailable; try again".into(),
        other => other.to_string(),
    }
}

pub(super) fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn eat_opt(cx: &PageCtx, t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".into(), |t| cx.eat(t))
}

pub(super) fn eat_str(cx: &PageCtx, s: &str) -> String {
    crate::domain::time::parse_ts(s).map_or_else(|| s.to_owned(), |t| cx.eat(t))
}

fn status_badge(cx: &PageCtx, s: &str) -> Markup {
    let class = match s {
        "active" | "applied" => "badge ok",
        "expired" | "suspended" | "unmatched" => "badge bad",
        _ => "badge warn",
    };
    let key: &'static str = match s {
        "active" => "console.status.active",
        "expired" => "console.status.expired",
        "suspended" => "console.status.suspended",
        "pending" => "console.status.pending",
        "applied" => "console.status.applied",
        "unmatched" => "console.status.unmatched",
        _ => "console.status.other",
    };
    html! { span class=(class) { (cx.t(key)) } }
}

/// Previous / next links of a paged list (`has_next`: another page follows).
pub(super) fn pager(
    cx: &PageCtx,
    page_no: i64,
    of: Option<i64>,
    has_next: bool,
    href: impl Fn(i64) -> String,
) -> Markup {
    html! {
        nav.row aria-label="pages" {
            @if page_no > 1 { a.btn.secondary href=(href(page_no - 1)) rel="prev" { (cx.t("console.prev")) } }
            @if let Some(of) = of { span { (cx.tf("console.page_of", &[("n", &page_no.to_string()), ("of", &of.to_string())])) } }
            @if has_next { a.btn.secondary href=(href(page_no + 1)) rel="next" { (cx.t("console.next")) } }
        }
    }
}

/// A raw body (callback, router report) under its summary line, cut at 4,000 characters.
fn raw_details(summary: Markup, detail: Option<Markup>, raw: &str) -> Markup {
    html! {
        details.card {
            summary { (summary) }
            @if let Some(d) = detail { p.small { (d) } }
            pre.small style="white-space:pre-wrap;word-break:break-all" { (raw.chars().take(4000).collect::<String>()) }
        }
    }
}

/// The role picker of the users and API keys forms.
fn role_select(cx: &PageCtx, id: Option<&str>, selected: Option<Role>) -> Markup {
    html! {
        select id=[id] name="role" aria-label=(cx.t("console.users.role")) {
            @for r in Role::ALL { option value=(r.as_str()) selected[Some(r) == selected] { (cx.t(role_key(r))) } }
        }
    }
}

/// A plan's name by id (the id itself when the plan is gone).
pub(super) fn plan_name<'a>(all: &'a [crate::domain::plan::Plan], id: &'a str) -> &'a str {
    all.iter().find(|p| p.id == id).map_or(id, |p| p.name.as_str())
}

// ---------------------------------------------------------------------------------------------
// Sign-in

pub(crate) async fn login(
    db: &impl Db,
    cx: &PageCtx,
    req: &Request<Bytes>,
    base: &str,
    skey: &[u8; 32],
    ckey: &[u8; 32],
    ctx: &Ctx,
) -> Response<Bytes> {
    let pre = session::PreSession::of(req, PRE_COOKIE, &ctx.entropy, b"console-pre");
    let render = |status: StatusCode, errors: &[FieldError], login: &str| {
        let body = html! {
            h1 { (cx.t("console.sign_in")) }
            (form::error_summary(cx, errors))
            form method="post" action={ (base) "/login" } {
                (pre.csrf_field(ckey))
                label for="login" { (cx.t("console.login")) }
                input #login type="text" name="login" value=(login) autocomplete="username" required;
                label for="password" { (cx.t("console.password")) }
                input #password type="password" name="password" autocomplete="current-password" required;
                p { button.block type="submit" { (cx.t("console.sign_in")) } }
            }
        };
        let mut r = crate::web::html(
            status,
            crate::web::layout::page(cx, cx.t("console.sign_in"), None, html! { div.narrow { (body) } }),
            &Policy::default(),
        );
        if let Some(c) = pre.set_cookie(PRE_COOKIE, base) {
            crate::web::add_cookie(&mut r, &c);
        }
        cx.remember(&mut r);
        r
    };
    if req.method() == Method::GET {
        return render(StatusCode::OK, &[], "");
    }
    if req.method() != Method::POST {
        return render(StatusCode::METHOD_NOT_ALLOWED, &[], "");
    }
    let f = form::parse(req).unwrap_or_else(|| Query::parse(None));
    let login = f.get("login").unwrap_or("").trim().to_owned();
    if !pre.csrf_ok(ckey, f.get("csrf")) {
        let e = FieldError { field: "login", message: cx.t("form.csrf_failed").into() };
        return render(StatusCode::FORBIDDEN, &[e], &login);
    }
    match uc_staff::sign_in(db, &login, f.get("password").unwrap_or(""), ctx.now).await {
        Ok(uc_staff::SignIn::Ok(user)) => {
            let mut r = crate::web::see_other(base);
            crate::web::add_cookie(&mut r, &session_cookie(skey, &user, base, ctx));
            r
        }
        Ok(uc_staff::SignIn::Wrong) => {
            let e = FieldError { field: "login", message: cx.t("console.wrong_login").into() };
            render(StatusCode::UNAUTHORIZED, &[e], &login)
        }
        Ok(uc_staff::SignIn::Throttled { retry_after_seconds }) => {
            let mins = ((retry_after_seconds + 59) / 60).to_string();
            let e = FieldError { field: "login", message: cx.tf("console.throttled", &[("minutes", &mins)]) };
            render(StatusCode::TOO_MANY_REQUESTS, &[e], &login)
        }
        Err(_) => crate::web::error_page(cx),
    }
}

// ---------------------------------------------------------------------------------------------
// Routing

pub(crate) async fn route<P: Platform>(
    p: &P,
    db: &P::Db,
    cx: &PageCtx,
    st: &Staff,
    rest: &str,
    req: &Request<Bytes>,
    ctx: &Ctx,
) -> PageResult {
    let q = Query::parse(req.uri().query());
    let f = form::parse(req).unwrap_or_else(|| Query::parse(None));
    let post = req.method() == Method::POST;
    let parts: Vec<&str> = rest.split('/').collect();
    let mut ids = IdGen::new(ctx);
    match (parts.as_slice(), post) {
        (["dashboard"], false) => super::dash::dashboard(db, cx, st, &q, ctx.now).await,
        (["subscribers"], false) => subscribers_page(db, cx, st, &q, ctx.now).await,
        (["subscribers.csv"], false) => subscribers_csv(db, st).await,
        (["subscribers", "new"], false) => new_subscriber(db, cx, st, &[], &f).await,
        (["subscribers"], true) => create_subscriber(db, cx, st, &f, &mut ids, ctx.now).await,
        (["subscribers", id], false) => subscriber_page(db, cx, st, id, &q).await,
        (["subscribers", id, action], true) => subscriber_action(p, db, st, id, action, &f, &mut ids, ctx).await,
        (["payments"], false) => payments_page(db, cx, st, &q).await,
        (["payments.csv"], false) => payments_csv(db, st).await,
        (["unmatched"], false) => unmatched_page(db, cx, st, &q, ctx.now).await,
        (["unmatched", id, "assign"], true) => assign(db, st, id, &f, &mut ids, ctx.now).await,
        (["plans"], false) => plans_page(db, cx, st).await,
        (["tickets"], false) => super::tickets::list(db, cx, st, &q).await,
        (["tickets", id], false) => super::tickets::thread(db, cx, st, id, &q, "", &[]).await,
        (["tickets", id, "reply"], true) => super::tickets::reply(db, cx, st, id, &f, &mut ids, ctx.now).await,
        (["tickets", id, "close"], true) => super::tickets::close(db, st, id, ctx.now).await,
        (["vouchers"], false) => super::vouchers::page(db, cx, st, &q, ctx.now, &[], &f).await,
        (["vouchers"], true) => super::vouchers::create(p, db, cx, st, &f, &mut ids, ctx.now).await,
        (["vouchers", id, "sheet"], false) => super::vouchers::sheet(p, db, st, id, req).await,
        (["sms"], false) => super::sms::page(db, cx, st, &q, ctx.now).await,
        (["sms", "broadcast"], false) => super::sms::compose(db, cx, st, &f, &[]).await,
        (["sms", "broadcast"], true) => super::sms::broadcast(db, cx, st, &f, &mut ids, ctx.now).await,
        (["sms", id, "resend"], true) => super::sms::resend(db, st, id, &mut ids, ctx.now).await,
        (["callbacks"], false) => callbacks_page(db, cx, st, &q).await,
        (["routers"], false) => routers_page(db, cx, st, &q, ctx.now).await,
        (["routers", "confirm-disables"], true) => confirm_disables(db, st, &f, ctx.now).await,
        (["online"], false) => online_page(db, cx, st).await,
        (["settings"], false) => super::settings::page(p, cx, st, &q, &Query::parse(None), &[]),
        (["settings"], true) => super::settings::save(p, db, cx, st, &f, ctx.now).await,
        (["users"], false) => users_page(db, cx, st, &q, None).await,
        (["users"], true) => create_user(db, cx, st, &f, &mut ids, ctx.now).await,
        (["users", id], true) => update_user(db, st, id, &f, ctx.now).await,
        (["keys"], true) => create_key(db, cx, st, &f, &mut ids, ctx.now).await,
        (["keys", id, "revoke"], true) => revoke_key(db, st, id, ctx.now).await,
        (["audit"], false) => audit_page(db, cx, st, &q).await,
        _ => Err(PageError::NotFound),
    }
}

// ---------------------------------------------------------------------------------------------
// Subscribers

pub(crate) const PAGE_SIZE: i64 = 50;

async fn subscribers_page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ViewBilling)?;
    let all_plans = plans::list(db).await?;
    let text = q.get("q").unwrap_or("");
    let status = q.get("status").filter(|s| ["active", "expired", "suspended", "pending"].contains(s));
    let plan = q.get("plan").filter(|p| all_plans.iter().any(|x| x.id == *p));
    let within = q.get("expires").and_then(|d| d.parse::<i64>().ok()).filter(|d| (1..=366).contains(d));
    let page_no = q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1);
    let search =
        subscribers::Search { text, status, plan_id: plan, expires_before: within.map(|d| now + Duration::days(d)) };
    let (rows, total) = subscribers::search(db, &search, PAGE_SIZE, (page_no - 1) * PAGE_SIZE).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let base = st.base();
    let qs = |pg: i64| {
        format!(
            "{base}/subscribers?q={}&status={}&plan={}&expires={}&page={pg}",
            enc(text),
            status.unwrap_or(""),
            plan.unwrap_or(""),
            within.map(|d| d.to_string()).unwrap_or_default()
        )
    };
    let body = html! {
        (notice(cx, q))
        div.row {
            h1 { (cx.t("console.nav.subscribers")) }
            @if st.may(Action::EditSubscribers) { a.btn href={ (base) "/subscribers/new" } { (cx.t("console.sub.new")) } }
            @if st.may(Action::Export) { a.btn.secondary href={ (base) "/subscribers.csv" } download { (cx.t("console.export_csv")) } }
        }
        form.card method="get" action={ (base) "/subscribers" } role="search" {
            label for="q" { (cx.t("console.sub.search")) span.hint { (cx.t("console.sub.search_hint")) } }
            input #q type="search" name="q" value=(text);
            div.grid {
                div {
                    label for="status" { (cx.t("console.sub.status")) }
                    select #status name="status" {
                        option value="" { (cx.t("console.any")) }
                        @for s in ["active", "expired", "suspended", "pending"] {
                            option value=(s) selected[status == Some(s)] { (status_label(cx, s)) }
                        }
                    }
                }
                div {
                    label for="plan" { (cx.t("console.sub.plan")) }
                    select #plan name="plan" {
                        option value="" { (cx.t("console.any")) }
                        @for pl in &all_plans { option value=(pl.id) selected[plan == Some(pl.id.as_str())] { (pl.name) } }
                    }
                }
                div {
                    label for="expires" { (cx.t("console.sub.expires_within")) }
                    select #expires name="expires" {
                        option value="" { (cx.t("console.any")) }
                        @for d in [1i64, 3, 7, 30] {
                            option value=(d) selected[within == Some(d)] { (cx.tf("console.days", &[("n", &d.to_string())])) }
                        }
                    }
                }
            }
            p { button type="submit" { (cx.t("console.sub.find")) } }
        }
        p.muted { (cx.tf("console.sub.found", &[("n", &total.to_string())])) }
        div.table-wrap { table {
            thead { tr {
                th { (cx.t("console.sub.account")) } th { (cx.t("console.sub.name")) } th { (cx.t("console.sub.phone")) }
                th { (cx.t("console.sub.plan")) } th { (cx.t("console.sub.status")) } th { (cx.t("console.sub.expires")) }
                th.num { (cx.t("console.sub.balance")) }
            } }
            tbody {
                @for s in &rows {
                    tr {
                        td { a href={ (base) "/subscribers/" (s.subscriber.id) } { (s.subscriber.account_no) } }
                        td { (s.subscriber.name) }
                        td { (s.subscriber.phone.as_deref().unwrap_or("—")) }
                        td { (plan_name(&all_plans, &s.subscriber.plan_id)) }
                        td { (status_badge(cx, s.subscriber.status.as_str())) }
                        td { (eat_opt(cx, s.subscriber.expires_at)) }
                        td.num { (cx.kes(s.balance_cents)) }
                    }
                }
            }
        } }
        (pager(cx, page_no, Some(pages), page_no < pages, qs))
    };
    Ok(page(cx, st, "subscribers", cx.t("console.nav.subscribers"), body))
}

fn status_label(cx: &PageCtx, s: &str) -> &'static str {
    match s {
        "active" => cx.t("console.status.active"),
        "expired" => cx.t("console.status.expired"),
        "suspended" => cx.t("console.status.suspended"),
        _ => cx.t("console.status.pending"),
    }
}

/// CSV cell: quoted, quotes doubled, and a leading `= + - @` neutralised (spreadsheet formulas).
pub(crate) fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn csv_response(name: &str, body: String) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn subscribers_csv(db: &impl Db, st: &Staff) -> PageResult {
    need(st, Action::Export)?;
    let all_plans = plans::list(db).await?;
    let mut out = String::from("account_no,name,phone,username,plan,status,expires_at,balance_kes,site,created_at\n");
    let mut offset = 0;
    loop {
        let rows = subscribers::list(db, None, 1000, offset).await?;
        for s in &rows {
            let x = &s.subscriber;
            let plan = all_plans.iter().find(|p| p.id == x.plan_id).map_or(x.plan_id.as_str(), |p| p.code.as_str());
            let cells = [
                csv_cell(&x.account_no),
                csv_cell(&x.name),
                csv_cell(x.phone.as_deref().unwrap_or("")),
                csv_cell(&x.username),
                csv_cell(plan),
                csv_cell(x.status.as_str()),
                csv_cell(&x.expires_at.map(fmt_ts).unwrap_or_default()),
                format!("{}.{:02}", s.balance_cents / 100, (s.balance_cents % 100).abs()),
                csv_cell(x.site.as_deref().unwrap_or("")),
                csv_cell(&fmt_ts(x.created_at)),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        if rows.len() < 1000 {
            break;
        }
        offset += 1000;
    }
    Ok(csv_response("subscribers.csv", out))
}

async fn new_subscriber(db: &impl Db, cx: &PageCtx, st: &Staff, errors: &[FieldError], f: &Query) -> PageResult {
    need(st, Action::EditSubscribers)?;
    let all_plans = plans::list(db).await?;
    let base = st.base();
    let v = |k: &str| f.get(k).unwrap_or("").to_owned();
    let body = html! {
        h1 { (cx.t("console.sub.new")) }
        (form::error_summary(cx, errors))
        form.card method="post" action={ (base) "/subscribers" } {
            (st.csrf_field())
            label for="name" { (cx.t("console.sub.name")) }
            input #name type="text" name="name" value=(v("name")) required;
            label for="phone" { (cx.t("console.sub.phone")) }
            input #phone type="tel" name="phone" value=(v("phone"));
            label for="account_no" { (cx.t("console.sub.account")) span.hint { (cx.t("console.sub.account_hint")) } }
            input #account_no type="text" name="account_no" value=(v("account_no"));
            label for="plan" { (cx.t("console.sub.plan")) }
            select #plan name="plan" { @for pl in &all_plans { option value=(pl.code) selected[v("plan") == pl.code] { (pl.name) " · " (cx.kes(pl.price.0)) } } }
            label for="site" { (cx.t("console.sub.site")) }
            input #site type="text" name="site" value=(v("site"));
            p { button type="submit" { (cx.t("console.sub.create")) } }
        }
    };
    Ok(page(cx, st, "subscribers", cx.t("console.sub.new"), body))
}

async fn create_subscriber(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::EditSubscribers)?;
    let opt = |k: &str| f.get(k).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let input = crate::usecases::subscribers::SubscriberInput {
        name: f.get("name").unwrap_or("").to_owned(),
        plan: f.get("plan").unwrap_or("").to_owned(),
        phone: opt("phone"),
        account_no: opt("account_no"),
        username: None,
        password: None,
        site: opt("site"),
        static_ip: None,
        auto_renew: Some(true),
    };
    match crate::usecases::subscribers::create_subscriber(db, input, ids, now).await {
        Ok(s) => {
            let after = serde_json::json!({"account_no": s.subscriber.account_no, "name": s.subscriber.name,
                "plan_id": s.subscriber.plan_id, "phone": s.subscriber.phone});
            audit(db, st, now, "subscriber.create", &s.subscriber.account_no, None, Some(after)).await?;
            Ok(crate::web::see_other(&format!("{}/subscribers/{}?done=created", st.base(), s.subscriber.id)))
        }
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => new_subscriber(db, cx, st, &[FieldError { field: "name", message: uc_message(&e) }], f).await,
    }
}

/// Writes one audit row (after the change it records has been written).
pub(super) async fn audit(
    db: &impl Db,
    st: &Staff,
    now: DateTime<Utc>,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    db.batch(&[staff::audit(&fmt_ts(now), &st.user.login, action, target, before.as_ref(), after.as_ref())])
        .await
        .map(|_| ())
}

async fn subscriber_page(db: &impl Db, cx: &PageCtx, st: &Staff, id: &str, q: &Query) -> PageResult {
    need(st, Action::ViewBilling)?;
    let s = subscribers::get(db, id).await?.ok_or(PageError::NotFound)?;
    let all_plans = plans::list(db).await?;
    let entries = ledger::for_subscriber(db, id).await?;
    let x = &s.subscriber;
    let base = format!("{}/subscribers/{}", st.base(), x.id);
    let plan = all_plans.iter().find(|p| p.id == x.plan_id);
    let body = html! {
        (notice(cx, q))
        p { a href={ (st.base()) "/subscribers" } { "← " (cx.t("console.nav.subscribers")) } }
        h1 { (x.name) " " span.muted { (x.account_no) } }
        div.grid {
            div.card { dl.kv {
                dt { (cx.t("console.sub.status")) } dd { (status_badge(cx, x.status.as_str())) }
                dt { (cx.t("console.sub.plan")) } dd { (plan.map_or("—", |p| p.name.as_str())) }
                dt { (cx.t("console.sub.expires")) } dd { (eat_opt(cx, x.expires_at)) }
                dt { (cx.t("console.sub.balance")) } dd { (cx.kes(s.balance_cents)) }
                dt { (cx.t("console.sub.phone")) } dd { (x.phone.as_deref().unwrap_or("—")) }
                dt { (cx.t("console.sub.username")) } dd { (x.username) }
                dt { (cx.t("console.sub.site")) } dd { (x.site.as_deref().unwrap_or("—")) }
            } }
            @if st.may(Action::TakeMoney) {
                form.card method="post" action={ (base) "/cash" } {
                    h2 { (cx.t("console.sub.record_cash")) }
                    (st.csrf_field())
                    label for="amount" { (cx.t("console.amount_kes")) }
                    input #amount type="number" name="amount_kes" min="1" step="1" inputmode="numeric" required;
                    label for="memo" { (cx.t("console.memo")) }
                    input #memo type="text" name="memo" value="Cash at the office" required;
                    p { button type="submit" { (cx.t("console.sub.record_cash")) } }
                }
                form.card method="post" action={ (base) "/stk" } {
                    h2 { (cx.t("console.sub.send_stk")) }
                    (st.csrf_field())
                    label for="stk_amount" { (cx.t("console.amount_kes")) span.hint { (cx.t("console.sub.stk_hint")) } }
                    input #stk_amount type="number" name="amount_kes" min="1" step="1" inputmode="numeric";
                    p { button type="submit" { (cx.t("console.sub.send_stk")) } }
                }
            }
            @if st.may(Action::EditSubscribers) {
                div.card {
                    h2 { (cx.t("console.sub.manage")) }
                    form method="post" action={ (base) "/status" } {
                        (st.csrf_field())
                        @if x.status.as_str() == "suspended" {
                            input type="hidden" name="status" value="active";
                            button type="submit" { (cx.t("console.sub.resume")) }
                        } @else {
                            input type="hidden" name="status" value="suspended";
                            button.warn type="submit" { (cx.t("console.sub.suspend")) }
                        }
                    }
                    form method="post" action={ (base) "/plan" } {
                        (st.csrf_field())
                        label for="newplan" { (cx.t("console.sub.change_plan")) }
                        select #newplan name="plan" { @for pl in &all_plans { option value=(pl.code) selected[pl.id == x.plan_id] { (pl.name) " · " (cx.kes(pl.price.0)) } } }
                        p { button.secondary type="submit" { (cx.t("console.sub.change_plan")) } }
                    }
                }
            }
        }
        h2 { (cx.t("console.sub.ledger")) }
        // at phone width each entry stacks into labelled rows (table.stack, as the dashboard's)
        div.table-wrap { table.stack {
            thead { tr { th { (cx.t("console.when")) } th { (cx.t("console.kind")) } th { (cx.t("console.memo")) } th.num { (cx.t("console.amount")) } th.num { (cx.t("console.sub.balance")) } } }
            tbody { @for e in entries.iter().rev().take(200) {
                tr {
                    td data-label=(cx.t("console.when")) { (eat_str(cx, &e.created_at)) }
                    td data-label=(cx.t("console.kind")) { (e.kind) }
                    td data-label=(cx.t("console.memo")) { (e.memo) }
                    td.num data-label=(cx.t("console.amount")) { (cx.kes(e.amount_cents)) }
                    td.num data-label=(cx.t("console.sub.balance")) { (cx.kes(e.balance_cents)) }
                }
            } }
        } }
    };
    Ok(page(cx, st, "subscribers", &x.name, body))
}

#[allow(clippy::too_many_arguments)]
async fn subscriber_action<P: Platform>(
    p: &P,
    db: &P::Db,
    st: &Staff,
    id: &str,
    action: &str,
    f: &Query,
    ids: &mut IdGen,
    ctx: &Ctx,
) -> PageResult {
    let s = subscribers::get(db, id).await?.ok_or(PageError::NotFound)?;
    let back = format!("subscribers/{}", s.subscriber.id);
    let fail = |e: UseCaseError| match e {
        UseCaseError::Store(e) => Err(PageError::Store(e)),
        e => Ok(crate::web::see_other(&format!("{}/{back}?error={}", st.base(), enc(&uc_message(&e))))),
    };
    let acct = s.subscriber.account_no.clone();
    match action {
        "cash" => {
            need(st, Action::TakeMoney)?;
            let kes = f.get("amount_kes").and_then(|a| a.trim().parse::<i64>().ok()).unwrap_or(0);
            let memo = f.get("memo").unwrap_or("").trim();
            let memo = format!("{memo} (by {})", st.user.login);
            let r = crate::usecases::operator_money::adjust(
                db,
                &st.tenant.settings,
                id,
                kes.saturating_mul(100),
                &memo,
                ids,
                ctx.now,
            )
            .await;
            match r {
                Ok(_) => {
                    let before = serde_json::json!({"balance_cents": s.balance_cents});
                    let after =
                        serde_json::json!({"balance_cents": s.balance_cents + kes * 100, "cash_cents": kes * 100});
                    audit(db, st, ctx.now, "subscriber.cash", &acct, Some(before), Some(after)).await?;
                    Ok(done(st, &back, "cash"))
                }
                Err(e) => fail(e),
            }
        }
        "stk" => {
            need(st, Action::TakeMoney)?;
            let amount_kes = f.get("amount_kes").and_then(|a| a.trim().parse::<u64>().ok()).filter(|a| *a > 0);
            let input =
                crate::usecases::topup::TopupInput { account: acct.to_string(), amount_kes, ..Default::default() };
            let caller = crate::usecases::topup::Caller::Operator;
            match crate::usecases::topup::start(p, db, &st.tenant, input, caller, ctx.now).await {
                Ok(started) => {
                    let after = serde_json::json!({"checkout_request_id": started.checkout_request_id, "amount_kes": started.amount_kes});
                    audit(db, st, ctx.now, "subscriber.stk", &acct, None, Some(after)).await?;
                    Ok(done(st, &back, "stk"))
                }
                Err(e) => fail(e),
            }
        }
        "status" | "plan" => {
            need(st, Action::EditSubscribers)?;
            let mut patch = crate::usecases::subscribers::SubscriberPatch::default();
            let before;
            if action == "status" {
                patch.status = f.get("status").map(str::to_owned);
                before = serde_json::json!({"status": s.subscriber.status.as_str()});
            } else {
                patch.plan = f.get("plan").map(str::to_owned);
                before = serde_json::json!({"plan_id": s.subscriber.plan_id});
            }
            match crate::usecases::subscribers::update_subscriber(db, id, patch, ctx.now).await {
                Ok(n) => {
                    let after = if action == "status" {
                        serde_json::json!({"status": n.subscriber.status.as_str()})
                    } else {
                        serde_json::json!({"plan_id": n.subscriber.plan_id})
                    };
                    audit(db, st, ctx.now, &format!("subscriber.{action}"), &acct, Some(before), Some(after)).await?;
                    Ok(done(st, &back, action))
                }
                Err(e) => fail(e),
            }
        }
        _ => Err(PageError::NotFound),
    }
}

// ---------------------------------------------------------------------------------------------
// Payments and the unmatched inbox

fn payments_table(cx: &PageCtx, st: &Staff, list: &[payments::Payment]) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.when")) } th { (cx.t("console.pay.method")) } th { (cx.t("console.pay.receipt")) } th { (cx.t("console.pay.payer")) } th { (cx.t("console.pay.account")) } th { (cx.t("console.sub.status")) } th.num { (cx.t("console.amount")) } } }
            tbody { @for x in list {
                tr {
                    td { (eat_str(cx, &x.received_at)) }
                    td { (x.provider) " " (x.method) }
                    td { (x.receipt.as_deref().unwrap_or(&x.provider_ref)) }
                    td { (x.payer_name.as_deref().unwrap_or("")) " " span.muted { (x.msisdn.as_deref().unwrap_or("")) } }
                    td { @if let Some(sid) = &x.subscriber_id { a href={ (st.base()) "/subscribers/" (sid) } { (x.bill_ref.as_deref().unwrap_or("→")) } } @else { (x.bill_ref.as_deref().unwrap_or("")) } }
                    td { (status_badge(cx, x.status.as_str())) }
                    td.num { (cx.kes(x.amount_cents)) }
                }
            } }
        } }
    }
}

async fn payments_page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query) -> PageResult {
    need(st, Action::ViewBilling)?;
    let list = payments::list(db, None, None, 200).await?;
    let body = html! {
        (notice(cx, q))
        div.row {
            h1 { (cx.t("console.nav.payments")) }
            @if st.may(Action::Export) { a.btn.secondary href={ (st.base()) "/payments.csv" } download { (cx.t("console.export_csv")) } }
        }
        p.muted { (cx.t("console.pay.latest")) }
        (payments_table(cx, st, &list))
    };
    Ok(page(cx, st, "payments", cx.t("console.nav.payments"), body))
}

async fn payments_csv(db: &impl Db, st: &Staff) -> PageResult {
    need(st, Action::Export)?;
    let rows = db
        .query(&crate::stmt!(
            "SELECT p.received_at, p.provider, p.method, p.provider_ref, p.receipt, p.amount_cents, p.status, \
             p.msisdn, p.payer_name, p.bill_ref, s.account_no FROM payments p \
             LEFT JOIN subscribers s ON s.id = p.subscriber_id ORDER BY p.received_at, p.id"
        ))
        .await?;
    let mut out = String::from(
        "received_at,provider,method,reference,receipt,amount_kes,status,msisdn,payer,bill_ref,account_no\n",
    );
    for r in rows.iter() {
        let t = |k: &str| r.opt_text(k).ok().flatten().unwrap_or_default();
        let cents = r.int("amount_cents")?;
        let cells = [
            csv_cell(&t("received_at")),
            csv_cell(&t("provider")),
            csv_cell(&t("method")),
            csv_cell(&t("provider_ref")),
            csv_cell(&t("receipt")),
            format!("{}.{:02}", cents / 100, cents % 100),
            csv_cell(&t("status")),
            csv_cell(&t("msisdn")),
            csv_cell(&t("payer_name")),
            csv_cell(&t("bill_ref")),
            csv_cell(&t("account_no")),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    Ok(csv_response("payments.csv", out))
}

async fn unmatched_page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ViewBilling)?;
    let list = payments::list(db, Some(payments::PaymentStatus::Unmatched), None, 200).await?;
    let oldest = list.iter().filter_map(|p| crate::domain::time::parse_ts(&p.received_at)).min();
    let body = html! {
        (notice(cx, q))
        h1 { (cx.t("console.nav.unmatched")) }
        p { (cx.tf("console.unmatched.summary", &[("n", &list.len().to_string()),
            ("age", &oldest.map_or_else(|| "—".into(), |o| crate::web::fmt::duration((now - o).num_seconds(), cx.lang)))])) }
        @for x in &list {
            div.card {
                dl.kv {
                    dt { (cx.t("console.when")) } dd { (eat_str(cx, &x.received_at)) }
                    dt { (cx.t("console.amount")) } dd { (cx.kes(x.amount_cents)) }
                    dt { (cx.t("console.pay.receipt")) } dd { (x.receipt.as_deref().unwrap_or(&x.provider_ref)) }
                    dt { (cx.t("console.pay.payer")) } dd { (x.payer_name.as_deref().unwrap_or("")) " " (x.msisdn.as_deref().unwrap_or("")) }
                    dt { (cx.t("console.pay.typed")) } dd { (x.bill_ref.as_deref().unwrap_or("—")) }
                }
                @if st.may(Action::TakeMoney) {
                    form method="post" action={ (st.base()) "/unmatched/" (x.id) "/assign" } {
                        (st.csrf_field())
                        label for={ "to-" (x.id) } { (cx.t("console.unmatched.assign_to")) span.hint { (cx.t("console.unmatched.assign_hint")) } }
                        input id={ "to-" (x.id) } type="text" name="subscriber" required;
                        p { button type="submit" { (cx.t("console.unmatched.assign")) } }
                    }
                }
            }
        }
    };
    Ok(page(cx, st, "unmatched", cx.t("console.nav.unmatched"), body))
}

async fn assign(db: &impl Db, st: &Staff, id: &str, f: &Query, ids: &mut IdGen, now: DateTime<Utc>) -> PageResult {
    need(st, Action::TakeMoney)?;
    let who = f.get("subscriber").unwrap_or("").trim().to_owned();
    let input = crate::usecases::operator_money::AssignInput {
        subscriber: who.clone(),
        note: Some(format!("assigned by {}", st.user.login)),
    };
    match crate::usecases::operator_money::assign_unmatched(db, &st.tenant.settings, id, input, ids, now).await {
        Ok(_) => {
            let before = serde_json::json!({"status": "unmatched"});
            let after = serde_json::json!({"status": "applied", "subscriber": who});
            audit(db, st, now, "payment.assign", id, Some(before), Some(after)).await?;
            Ok(done(st, "unmatched", "assigned"))
        }
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => Ok(crate::web::see_other(&format!("{}/unmatched?error={}", st.base(), enc(&uc_message(&e))))),
    }
}

// ---------------------------------------------------------------------------------------------
// Plans, vouchers, callbacks, routers, online, settings

async fn plans_page(db: &impl Db, cx: &PageCtx, st: &Staff) -> PageResult {
    need(st, Action::ViewBilling)?;
    let list = plans::list(db).await?;
    let body = html! {
        h1 { (cx.t("console.nav.plans")) }
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.plan.code")) } th { (cx.t("console.plan.name")) } th { (cx.t("console.plan.kind")) } th.num { (cx.t("console.plan.price")) } th { (cx.t("console.plan.period")) } th { (cx.t("console.plan.speed")) } th.num { (cx.t("console.plan.per_30_days")) } } }
            tbody { @for pl in &list {
                tr {
                    td { (pl.code) } td { (pl.name) } td { (pl.kind.as_str()) }
                    td.num { (cx.kes(pl.price.0)) }
                    td { (crate::web::fmt::duration(pl.period_seconds, cx.lang)) }
                    td { (pl.down_kbps / 1000) "/" (pl.up_kbps / 1000) " Mbps" }
                    td.num { (cx.kes(crate::domain::mrr::monthly_cents(pl.price.0, pl.period_seconds))) }
                }
            } }
        } }
    };
    Ok(page(cx, st, "plans", cx.t("console.nav.plans"), body))
}

async fn callbacks_page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query) -> PageResult {
    need(st, Action::ViewNetwork)?;
    let list = callbacks::list(db, q.get("outcome").filter(|o| !o.is_empty()), 50).await?;
    let body = html! {
        h1 { (cx.t("console.nav.callbacks")) }
        @for c in &list {
            (raw_details(
                html! { (eat_str(cx, &c.received_at)) " · " (c.provider) " " (c.kind) " · " (c.outcome) " · HTTP " (c.http_status) },
                Some(html! { (c.detail.as_deref().unwrap_or("")) " " (c.provider_ref.as_deref().unwrap_or("")) }),
                &c.raw_body,
            ))
        }
    };
    Ok(page(cx, st, "callbacks", cx.t("console.nav.callbacks"), body))
}

/// `HH:MM` (East Africa Time) when `t` is today there, else the date and time.
fn eat_since(cx: &PageCtx, t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let full = cx.eat(t);
    let day = |x| crate::web::fmt::eat_date(x, cx.lang);
    if day(t) == day(now) { full.rsplit(", ").next().unwrap_or(&full).to_owned() } else { full }
}

/// One router's held disables: the line, who, and the Confirm form (for those the role table
/// lets confirm) or who already confirmed.
fn held_card(cx: &PageCtx, st: &Staff, h: &held::RouterHold, now: DateTime<Utc>) -> Markup {
    let since =
        crate::domain::time::parse_ts(&h.held.since).map_or_else(|| h.held.since.clone(), |t| eat_since(cx, t, now));
    let n = h.held.disables.to_string();
    let listed = h.held.usernames.len() as u64;
    let more = h.held.disables.saturating_sub(listed);
    html! {
        section.card.notice.bad id={ "held-" (h.router) } aria-labelledby={ "held-h-" (h.router) } {
            h2 id={ "held-h-" (h.router) } { (h.router) }
            p.held-line { strong { (cx.tf("console.router.held", &[("n", &n), ("since", &since)])) } }
            @if !h.held.usernames.is_empty() {
                details {
                    summary { (cx.t("console.router.held_who")) }
                    p.small {
                        (h.held.usernames.join(", "))
                        @if more > 0 { " " (cx.tf("console.router.held_more", &[("n", &more.to_string())])) }
                    }
                }
            }
            @if let Some((at, who)) = &h.confirmed {
                p role="status" { (cx.tf("console.router.held_confirmed", &[("who", who), ("at", &eat_str(cx, at))])) }
            } @else if st.may(Action::ConfirmDisables) {
                p.small { (cx.t("console.router.held_hint")) }
                form method="post" action={ (st.base()) "/routers/confirm-disables" } {
                    (st.csrf_field())
                    input type="hidden" name="router" value=(h.router);
                    input type="hidden" name="hold_id" value=(h.held.hold_id);
                    button.block type="submit" { (cx.tf("console.router.confirm", &[("n", &n)])) }
                }
            }
        }
    }
}

/// The Confirm button: records the confirmation of that hold (the reconciler picks it up
/// through the sync API) and audits it. A hold that changed meanwhile is refused.
async fn confirm_disables(db: &impl Db, st: &Staff, f: &Query, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ConfirmDisables)?;
    let router = f.get("router").unwrap_or("");
    let Some(hold_id) = f.get("hold_id").and_then(|h| h.parse::<u64>().ok()) else {
        return Ok(crate::web::see_other(&format!("{}/routers?error=hold_id", st.base())));
    };
    match crate::usecases::held::confirm(db, router, hold_id, &st.user.login, now).await {
        Ok(c) => {
            if c.recorded {
                let after = serde_json::json!({"hold_id": c.hold_id, "disables": c.disables});
                audit(db, st, now, "router.confirm_disables", router, None, Some(after)).await?;
            }
            Ok(done(st, "routers", "disables_confirmed"))
        }
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => Ok(crate::web::see_other(&format!("{}/routers?error={}", st.base(), enc(&uc_message(&e))))),
    }
}

async fn routers_page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ViewNetwork)?;
    let holds = held::holds(db).await?;
    let list = reports::list(db, None, None, 200).await?;
    // the last report of each router
    let mut last: Vec<&reports::RunReport> = Vec::new();
    for r in &list {
        if !last.iter().any(|l| l.router == r.router) {
            last.push(r);
        }
    }
    let body = html! {
        (notice(cx, q))
        h1 { (cx.t("console.nav.routers")) }
        @for h in &holds { (held_card(cx, st, h, now)) }
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.router")) } th { (cx.t("console.router.last")) } th { (cx.t("console.router.outcome")) } th.num { (cx.t("console.router.drift_found")) } th.num { (cx.t("console.router.drift_fixed")) } } }
            tbody { @for r in &last {
                tr { td { (r.router) } td { (eat_str(cx, r.finished_at.as_deref().unwrap_or(&r.received_at))) } td { (r.outcome) } td.num { (r.drift_found) } td.num { (r.drift_fixed) } }
            } }
        } }
        h2 { (cx.t("console.router.reports")) }
        @for r in list.iter().take(30) {
            (raw_details(
                html! { (r.router) " · " (eat_str(cx, &r.received_at)) " · " (r.outcome) },
                None,
                &serde_json::to_string_pretty(&r.report).unwrap_or_default(),
            ))
        }
    };
    Ok(page(cx, st, "routers", cx.t("console.nav.routers"), body))
}

async fn online_page(db: &impl Db, cx: &PageCtx, st: &Staff) -> PageResult {
    need(st, Action::ViewNetwork)?;
    let list = usage::online(db).await?;
    let body = html! {
        h1 { (cx.t("console.nav.online")) }
        p { (cx.tf("console.online.count", &[("n", &list.len().to_string())])) }
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.sub.username")) } th { (cx.t("console.sub.name")) } th { "NAS" } th { "IP" } th.num { "↓" } th.num { "↑" } } }
            tbody { @for v in &list {
                tr { td { (v.username) } td { (v.name.as_deref().unwrap_or("")) } td { (v.nas_ip) } td { (v.framed_ip.as_deref().unwrap_or("")) }
                     td.num { (crate::web::fmt::bytes(v.output_octets)) } td.num { (crate::web::fmt::bytes(v.input_octets)) } }
            } }
        } }
    };
    Ok(page(cx, st, "online", cx.t("console.nav.online"), body))
}

// ---------------------------------------------------------------------------------------------
// Users, API keys, audit log

async fn users_page(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    q: &Query,
    new_secret: Option<(&str, &[FieldError])>,
) -> PageResult {
    need(st, Action::ManageUsers)?;
    let users = staff::users(db).await?;
    let keys = staff::keys(db).await?;
    let errors: &[FieldError] = new_secret.map_or(&[], |n| n.1);
    let secret = new_secret.map(|n| n.0).filter(|s| !s.is_empty());
    let base = st.base();
    let body = html! {
        (notice(cx, q))
        (form::error_summary(cx, errors))
        @if let Some(sec) = secret {
            div.notice.ok role="status" { p { (cx.t("console.keys.shown_once")) } p { code { (sec) } } }
        }
        h1 { (cx.t("console.nav.users")) }
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.login")) } th { (cx.t("console.sub.name")) } th { (cx.t("console.users.role")) } th { (cx.t("console.users.last_login")) } th {} } }
            tbody { @for u in &users {
                tr {
                    td { (u.login) } td { (u.name) }
                    td { (cx.t(role_key(u.role))) @if !u.active { " " span.badge.bad { (cx.t("console.users.off")) } } }
                    td { (u.last_login_at.as_deref().map_or_else(|| "—".into(), |t| eat_str(cx, t))) }
                    td { @if u.id != st.user.id {
                        form.row method="post" action={ (base) "/users/" (u.id) } {
                            (st.csrf_field())
                            (role_select(cx, None, Some(u.role)))
                            select name="active" aria-label=(cx.t("console.users.active")) {
                                option value="1" selected[u.active] { (cx.t("console.users.on")) }
                                option value="0" selected[!u.active] { (cx.t("console.users.off")) }
                            }
                            button.secondary type="submit" { (cx.t("console.save")) }
                        }
                    } }
                }
            } }
        } }
        form.card method="post" action={ (base) "/users" } {
            h2 { (cx.t("console.users.add")) }
            (st.csrf_field())
            label for="u_login" { (cx.t("console.login")) }
            input #u_login type="text" name="login" required;
            label for="u_name" { (cx.t("console.sub.name")) }
            input #u_name type="text" name="name" required;
            label for="u_role" { (cx.t("console.users.role")) }
            (role_select(cx, Some("u_role"), None))
            label for="u_password" { (cx.t("console.password")) span.hint { (cx.t("console.users.password_hint")) } }
            input #u_password type="password" name="password" autocomplete="new-password" required;
            p { button type="submit" { (cx.t("console.users.add")) } }
        }
        h2 { (cx.t("console.keys.title")) }
        p.muted { (cx.t("console.keys.hint")) }
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.plan.name")) } th { (cx.t("console.keys.prefix")) } th { (cx.t("console.users.role")) } th { (cx.t("console.when")) } th {} } }
            tbody { @for k in &keys {
                tr {
                    td { (k.name) } td { code { (k.prefix) "…" } } td { (cx.t(role_key(k.role))) }
                    td { (eat_str(cx, &k.created_at)) }
                    td { @if k.revoked_at.is_some() { span.badge.bad { (cx.t("console.keys.revoked")) } } @else {
                        form method="post" action={ (base) "/keys/" (k.id) "/revoke" } { (st.csrf_field()) button.warn type="submit" { (cx.t("console.keys.revoke")) } }
                    } }
                }
            } }
        } }
        form.card method="post" action={ (base) "/keys" } {
            h2 { (cx.t("console.keys.add")) }
            (st.csrf_field())
            label for="k_name" { (cx.t("console.plan.name")) }
            input #k_name type="text" name="name" required;
            label for="k_role" { (cx.t("console.users.role")) }
            (role_select(cx, Some("k_role"), None))
            p { button type="submit" { (cx.t("console.keys.add")) } }
        }
    };
    Ok(page(cx, st, "users", cx.t("console.nav.users"), body))
}

async fn create_user(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::ManageUsers)?;
    let role = f.get("role").and_then(Role::parse).unwrap_or(Role::ReadOnly);
    let r = uc_staff::create_user(
        db,
        &st.user.login,
        f.get("login").unwrap_or(""),
        f.get("name").unwrap_or(""),
        role,
        f.get("password").unwrap_or(""),
        ids,
        now,
    )
    .await;
    match r {
        Ok(_) => Ok(done(st, "users", "created")),
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => {
            let errs = [FieldError { field: "u_login", message: uc_message(&e) }];
            let mut r = users_page(db, cx, st, &Query::parse(None), Some(("", &errs))).await?;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
    }
}

async fn update_user(db: &impl Db, st: &Staff, id: &str, f: &Query, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ManageUsers)?;
    if id == st.user.id {
        return Err(PageError::Forbidden);
    }
    let role = f.get("role").and_then(Role::parse).ok_or(PageError::NotFound)?;
    let active = f.get("active") != Some("0");
    match uc_staff::set_user(db, &st.user.login, id, role, active, now).await {
        Ok(()) => Ok(done(st, "users", "saved")),
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(_) => Err(PageError::NotFound),
    }
}

async fn create_key(
    db: &impl Db,
    cx: &PageCtx,
    st: &Staff,
    f: &Query,
    ids: &mut IdGen,
    now: DateTime<Utc>,
) -> PageResult {
    need(st, Action::ManageUsers)?;
    let role = f.get("role").and_then(Role::parse).unwrap_or(Role::ReadOnly);
    match uc_staff::create_key(db, &st.user.login, f.get("name").unwrap_or(""), role, ids, now).await {
        // The secret is shown once, on this answer (not a redirect: it must not sit in a URL).
        Ok(k) => users_page(db, cx, st, &Query::parse(None), Some((&k.secret, &[]))).await,
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(e) => {
            let errs = [FieldError { field: "k_name", message: uc_message(&e) }];
            users_page(db, cx, st, &Query::parse(None), Some(("", &errs))).await
        }
    }
}

async fn revoke_key(db: &impl Db, st: &Staff, id: &str, now: DateTime<Utc>) -> PageResult {
    need(st, Action::ManageUsers)?;
    match uc_staff::revoke_key(db, &st.user.login, id, now).await {
        Ok(()) => Ok(done(st, "users", "revoked")),
        Err(UseCaseError::Store(e)) => Err(e.into()),
        Err(_) => Err(PageError::NotFound),
    }
}

async fn audit_page(db: &impl Db, cx: &PageCtx, st: &Staff, q: &Query) -> PageResult {
    need(st, Action::ViewAudit)?;
    let page_no = q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1);
    let list = staff::audit_list(db, 100, (page_no - 1) * 100).await?;
    let body = html! {
        h1 { (cx.t("console.nav.audit")) }
        div.table-wrap { table {
            thead { tr { th { (cx.t("console.when")) } th { (cx.t("console.audit.who")) } th { (cx.t("console.audit.what")) } th { (cx.t("console.audit.target")) } th { (cx.t("console.audit.before")) } th { (cx.t("console.audit.after")) } } }
            tbody { @for e in &list {
                tr { td { (eat_str(cx, &e.at)) } td { (e.actor) } td { (e.action) } td { (e.target) }
                     td.small { code { (e.before.as_deref().unwrap_or("")) } } td.small { code { (e.after.as_deref().unwrap_or("")) } } }
            } }
        } }
        (pager(cx, page_no, None, list.len() == 100, |n| format!("{}/audit?page={n}", st.base())))
    };
    Ok(page(cx, st, "audit", cx.t("console.nav.audit"), body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, run};

    fn staff(role: Role) -> Staff {
        Staff {
            user: staff::StaffUser {
                id: "u1".into(),
                login: format!("{}@acme", role.as_str()),
                name: "N".into(),
                role,
                password_hash: String::new(),
                active: true,
                session_gen: 0,
                created_at: "2026-12-01T00:00:00Z".into(),
                last_login_at: None,
            },
            csrf: "tok".into(),
            realm: "acme".into(),
            tenant: crate::testing::tenant(Default::default()),
        }
    }

    fn cx(lang: &str) -> PageCtx {
        let req = Request::builder().uri(format!("/c/acme/routers?lang={lang}")).body(Bytes::new()).unwrap();
        PageCtx::from_request(&req, crate::web::layout::Brand::platform(), "en")
    }

    fn now() -> DateTime<Utc> {
        crate::domain::time::parse_ts("2026-12-06T09:30:00Z").unwrap()
    }

    /// tower-1 holds 12 disables since 07:15 UTC (10:15 EAT); tower-2 holds nothing.
    fn db_with_hold() -> TestDb {
        let db = TestDb::tenant();
        for (router, held) in [
            (
                "tower-1",
                Some(serde_json::json!({"hold_id": 1_765_005_300_000u64, "disables": 12,
                    "since": "2026-12-06T07:15:00Z", "reason": "limit", "usernames": ["m1", "m2"]})),
            ),
            ("tower-2", None),
        ] {
            db.report(router, held, 12, "2026-12-06T09:00:00Z");
        }
        db
    }

    fn body(r: PageResult) -> String {
        let Ok(r) = r else { panic!("page error") };
        String::from_utf8(r.body().to_vec()).unwrap()
    }

    #[test]
    fn routers_page_held_disables_line_and_confirm_form_for_owner_and_staff_only() {
        let db = db_with_hold();
        for role in [Role::Owner, Role::Staff] {
            let html = body(run(routers_page(&db, &cx("en"), &staff(role), &Query::parse(None), now())));
            assert!(
                html.contains("12 disconnections held by the safety limit since 10:15 — confirm to apply."),
                "{html}"
            );
            assert!(html.contains(r#"action="/c/acme/routers/confirm-disables""#), "{role:?}");
            assert!(html.contains(r#"name="hold_id" value="1765005300000""#) && html.contains(r#"name="csrf""#));
            assert!(html.contains("m1, m2 and 10 more"), "{html}");
            assert!(!html.contains("held-tower-2"), "nothing held on tower-2: no line");
        }
        let html = body(run(routers_page(&db, &cx("sw"), &staff(Role::ReadOnly), &Query::parse(None), now())));
        assert!(html.contains("Makatizo 12 yamezuiliwa na kikomo cha usalama tangu 10:15"), "{html}");
        assert!(!html.contains("confirm-disables"), "read-only sees the line, not the button");
        assert!(matches!(
            run(routers_page(&db, &cx("en"), &staff(Role::Agent), &Query::parse(None), now())),
            Err(PageError::Forbidden)
        ));
    }

    #[test]
    fn confirm_disables_form_records_audits_and_refuses_readonly_agent_and_a_changed_hold() {
        let db = db_with_hold();
        let form = |hold: &str| Query::parse(Some(&format!("router=tower-1&hold_id={hold}")));
        for role in [Role::ReadOnly, Role::Agent] {
            assert!(matches!(
                run(confirm_disables(&db, &staff(role), &form("1765005300000"), now())),
                Err(PageError::Forbidden)
            ));
        }
        // A page older than the hold: refused, nothing recorded.
        let r = run(confirm_disables(&db, &staff(Role::Staff), &form("1"), now())).ok().expect("redirect");
        assert!(r.headers()["location"].to_str().unwrap().contains("error="));
        assert!(run(held::latest_confirmations(&db)).unwrap().is_empty());
        let r = run(confirm_disables(&db, &staff(Role::Staff), &form("1765005300000"), now())).ok().expect("redirect");
        assert_eq!(
            (r.status(), r.headers()["location"].to_str().unwrap()),
            (StatusCode::SEE_OTHER, "/c/acme/routers?done=disables_confirmed")
        );
        let log = run(staff::audit_list(&db, 10, 0)).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (log[0].actor.as_str(), log[0].action.as_str(), log[0].target.as_str()),
            ("staff@acme", "router.confirm_disables", "tower-1")
        );
        assert!(log[0].after.as_deref().is_some_and(|a| a.contains("\"disables\":12")));
        // Confirmed: the page says by whom instead of offering the button again.
        let html = body(run(routers_page(&db, &cx("en"), &staff(Role::Owner), &Query::parse(None), now())));
        assert!(html.contains("Confirmed by staff@acme"), "{html}");
        assert!(!html.contains(r#"name="hold_id""#));
        // Confirming again records (and audits) nothing more.
        run(confirm_disables(&db, &staff(Role::Owner), &form("1765005300000"), now())).ok().expect("redirect");
        assert_eq!(run(staff::audit_list(&db, 10, 0)).unwrap().len(), 1);
    }
}
