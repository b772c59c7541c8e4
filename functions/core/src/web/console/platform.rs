//! The platform operator's console (`/platform/...`): every tenant with its health, a new tenant
//! (with its first console owner), suspend and resume.
//!
//! The operator signs in with the platform token (the one `/api/tenants` takes); failures are
//! throttled per client address in the control database. The session is a signed cookie
//! (`HttpOnly; Secure; SameSite=Strict`, path `/platform`) bound to a hash of the token, so
//! rotating the token ends every session; every form carries a CSRF token bound to the session.
//! With no platform token configured the console does not exist (404).

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{Method, Request, Response, StatusCode};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use crate::Ctx;
use crate::api::{Params, Query};
use crate::db::Db;
use crate::domain::Realm;
use crate::domain::time::fmt_ts;
use crate::ids::IdGen;
use crate::platform::{Level, Platform};
use crate::store::platform_audit::{self, token_tag};
use crate::store::tenants::{self, Tenant, TenantStatus};
use crate::store::{health, throttle};
use crate::usecases::UseCaseError;
use crate::usecases::staff::Role;
use crate::web::form::{self, FieldError};
use crate::web::session::{self, Expiring};
use crate::web::{Brand, PageCtx, Policy};

pub const SESSION_COOKIE: &str = "kp_session";
const PRE_COOKIE: &str = "kp_pre";
const BASE: &str = "/platform";
/// A platform session lasts 8 hours.
const SESSION_SECONDS: i64 = 8 * 3600;
/// Failed sign-ins per client address in 15 minutes.
pub const LOGIN_LIMIT: throttle::Limit = throttle::Limit { limit: 5, window_seconds: 900 };
/// Entries of the audit log the tenants page shows (newest first).
const AUDIT_PAGE: i64 = 50;

/// The catalogue key that says an audit action.
fn audit_key(action: &str) -> &'static str {
    match action {
        "tenant.create" => "console.platform.audit_create",
        "tenant.disabled" => "console.platform.audit_disabled",
        "tenant.active" => "console.platform.audit_active",
        _ => "console.platform.audit_other",
    }
}

/// Tenants whose health one page shows (each opens its own database).
const HEALTH_PAGE: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// First 16 hex digits of SHA-256 of the platform token: a new token ends old sessions.
    tk: String,
    sid: String,
    exp: i64,
}

impl Expiring for Claims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

struct Keys {
    session: [u8; 32],
    csrf: [u8; 32],
    token: String,
}

fn keys<P: Platform>(p: &P) -> Option<Keys> {
    let s = p.settings();
    let (secret, token) = (s.voucher_secret.expose(), s.platform_token.expose());
    if secret.is_empty() || token.is_empty() {
        return None;
    }
    Some(Keys {
        session: session::derive_key(secret, "platform-session", "platform"),
        csrf: session::derive_key(secret, "platform-csrf", "platform"),
        token: token.to_owned(),
    })
}

fn respond(cx: &PageCtx, status: StatusCode, title: &str, nav: bool, body: Markup) -> Response<Bytes> {
    let nav = nav.then(|| {
        html! { nav.tabs aria-label="Platform" { a href={ (BASE) "/tenants" } aria-current="page" { (cx.t("console.platform.tenants")) } } }
    });
    let mut r = crate::web::html(status, crate::web::layout::page(cx, title, nav, body), &Policy::default());
    cx.remember(&mut r);
    r
}

pub(crate) async fn handle<P: Platform>(p: &P, params: &Params, req: Request<Bytes>, ctx: &Ctx) -> Response<Bytes> {
    let cx = PageCtx::from_request(&req, Brand::platform(), "en");
    let Some(k) = keys(p) else {
        return crate::web::not_found_page(&cx);
    };
    let rest = params.rest.as_deref().unwrap_or("").trim_matches('/').to_owned();
    let m = req.method().clone();
    if rest == "login" {
        return login(p, &cx, &req, &k, ctx).await;
    }
    let claims = session::cookie(&req, SESSION_COOKIE)
        .and_then(|t| session::verify::<Claims>(&k.session, t, ctx.now.timestamp()))
        .filter(|c| c.tk == token_tag(&k.token));
    let Some(claims) = claims else {
        if m == Method::GET {
            return crate::web::see_other(&format!("{BASE}/login"));
        }
        let body = html! { h1 { (cx.t("common.session_expired")) } p { a href={ (BASE) "/login" } { (cx.t("console.sign_in")) } } };
        return respond(&cx, StatusCode::UNAUTHORIZED, cx.t("common.session_expired"), false, body);
    };
    let csrf = session::csrf_token(&k.csrf, &claims.sid);
    let f = form::parse(&req).unwrap_or_else(|| Query::parse(None));
    if m == Method::POST && !session::csrf_ok(&k.csrf, &claims.sid, f.get("csrf")) {
        let body = html! { h1 { (cx.t("form.csrf_failed")) } p { a href=(cx.path) { (cx.t("common.back")) } } };
        return respond(&cx, StatusCode::FORBIDDEN, cx.t("form.csrf_failed"), false, body);
    }
    // who acts, for the audit log: the platform token (by its tag) and the client's address
    let actor = platform_audit::actor(&claims.tk, &crate::api::client_ip(&req));
    let parts: Vec<&str> = rest.split('/').collect();
    let r = match (parts.as_slice(), m == Method::POST) {
        ([""], false) => Ok(crate::web::see_other(&format!("{BASE}/tenants"))),
        (["logout"], true) => {
            let mut r = crate::web::see_other(&format!("{BASE}/login"));
            crate::web::add_cookie(&mut r, &session::clear_cookie(SESSION_COOKIE, BASE));
            Ok(r)
        }
        (["tenants"], false) => {
            tenants_page(p, &cx, &csrf, &Query::parse(req.uri().query()), &f, &[], None, ctx.now).await
        }
        (["tenants"], true) => create(p, &cx, &csrf, &f, &actor, ctx).await,
        (["tenants", realm, "status"], true) => set_status(p, realm, &f, &actor, ctx.now).await,
        _ => return crate::web::not_found_page(&cx),
    };
    r.unwrap_or_else(|e| match e {
        UseCaseError::NotFound(_) | UseCaseError::Invalid(_) => crate::web::not_found_page(&cx),
        e => {
            p.log(Level::Error, &format!("platform console {rest}: {e}"));
            crate::web::error_page(&cx)
        }
    })
}

async fn login<P: Platform>(p: &P, cx: &PageCtx, req: &Request<Bytes>, k: &Keys, ctx: &Ctx) -> Response<Bytes> {
    let pre = session::PreSession::of(req, PRE_COOKIE, &ctx.entropy, b"platform-pre");
    let render = |status: StatusCode, errors: &[FieldError]| {
        let body = html! {
            div.narrow {
                h1 { (cx.t("console.platform.title")) }
                (form::error_summary(cx, errors))
                form method="post" action={ (BASE) "/login" } {
                    (pre.csrf_field(&k.csrf))
                    label for="token" { (cx.t("console.platform.token")) span.hint { (cx.t("console.platform.token_hint")) } }
                    input #token type="password" name="token" autocomplete="current-password" required;
                    p { button.block type="submit" { (cx.t("console.sign_in")) } }
                }
            }
        };
        let mut r = respond(cx, status, cx.t("console.platform.title"), false, body);
        if let Some(c) = pre.set_cookie(PRE_COOKIE, BASE) {
            crate::web::add_cookie(&mut r, &c);
        }
        r
    };
    match *req.method() {
        Method::GET => return render(StatusCode::OK, &[]),
        Method::POST => {}
        _ => return render(StatusCode::METHOD_NOT_ALLOWED, &[]),
    }
    let f = form::parse(req).unwrap_or_else(|| Query::parse(None));
    if !pre.csrf_ok(&k.csrf, f.get("csrf")) {
        return render(
            StatusCode::FORBIDDEN,
            &[FieldError { field: "token", message: cx.t("form.csrf_failed").into() }],
        );
    }
    let key = format!("platform-login-fail:{}", crate::api::client_ip(req));
    let db = p.control();
    match throttle::check(db, &key, LOGIN_LIMIT, ctx.now).await {
        Ok(throttle::Verdict::Limited { retry_after_seconds }) => {
            let mins = ((retry_after_seconds + 59) / 60).to_string();
            let e = FieldError { field: "token", message: cx.tf("console.throttled", &[("minutes", &mins)]) };
            return render(StatusCode::TOO_MANY_REQUESTS, &[e]);
        }
        Ok(_) => {}
        Err(e) => {
            p.log(Level::Error, &format!("platform sign-in: {e}"));
            return crate::web::error_page(cx);
        }
    }
    let typed = f.get("token").unwrap_or("").trim();
    let good = crate::secret::constant_time_eq(typed.as_bytes(), k.token.as_bytes());
    let write =
        if good { throttle::reset(&key, LOGIN_LIMIT, ctx.now) } else { throttle::bump(&key, LOGIN_LIMIT, ctx.now) };
    if let Err(e) = db.batch(&[write]).await {
        p.log(Level::Error, &format!("platform sign-in: {e}"));
        return crate::web::error_page(cx);
    }
    if !good {
        return render(
            StatusCode::UNAUTHORIZED,
            &[FieldError { field: "token", message: cx.t("console.platform.wrong_token").into() }],
        );
    }
    let sid = session::random_id(&ctx.entropy, b"platform-sid");
    let claims = Claims { tk: token_tag(&k.token), sid, exp: ctx.now.timestamp() + SESSION_SECONDS };
    let mut r = crate::web::see_other(&format!("{BASE}/tenants"));
    crate::web::add_cookie(
        &mut r,
        &session::set_cookie(SESSION_COOKIE, &session::sign(&k.session, &claims), BASE, SESSION_SECONDS, false),
    );
    r
}

/// What the page shows once after a tenant is made: its secrets.
struct Made {
    realm: String,
    admin_token: String,
    callback_token: String,
    sync_key: String,
    owner: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn tenants_page<P: Platform>(
    p: &P,
    cx: &PageCtx,
    csrf: &str,
    q: &Query,
    f: &Query,
    errors: &[FieldError],
    made: Option<&Made>,
    now: DateTime<Utc>,
) -> Result<Response<Bytes>, UseCaseError> {
    let list = tenants::list(p.control()).await?;
    let audit = platform_audit::recent(p.control(), AUDIT_PAGE).await?;
    let since = fmt_ts(now - Duration::days(1));
    let mut rows: Vec<(&Tenant, Option<health::Health>)> = Vec::new();
    for t in list.iter().take(HEALTH_PAGE) {
        // A tenant whose database does not answer shows as such; the others still show.
        let h = match p.tenant_db(&t.db_key).await {
            Ok(db) => health::of(&db, &since).await.ok(),
            Err(_) => None,
        };
        rows.push((t, h));
    }
    let eat = |s: &Option<String>| {
        s.as_deref().and_then(crate::domain::time::parse_ts).map_or_else(|| "—".to_owned(), |t| cx.eat(t))
    };
    let v = |k: &str| f.get(k).unwrap_or("").to_owned();
    let field = session::csrf_field(csrf);
    let body = html! {
        @match q.get("done") {
            Some("disabled") => div.notice.ok role="status" { (cx.t("console.platform.done_disabled")) },
            Some("active") => div.notice.ok role="status" { (cx.t("console.platform.done_active")) },
            _ => {},
        }
        @if let Some(m) = made {
            div.notice.ok role="status" {
                p { strong { (cx.tf("console.platform.made", &[("realm", &m.realm)])) } }
                p { (cx.t("console.platform.shown_once")) }
                dl.kv {
                    dt { (cx.t("console.platform.admin_token")) } dd { code { (m.admin_token) } }
                    dt { (cx.t("console.platform.callback_token")) } dd { code { (m.callback_token) } }
                    dt { (cx.t("console.platform.sync_key")) } dd { code { (m.sync_key) } }
                    @if let Some(o) = &m.owner {
                        dt { (cx.t("console.platform.owner")) } dd { a href={ "/c/" (m.realm) "/login" } { (o) " → /c/" (m.realm) "/login" } }
                    }
                }
            }
        }
        div.row {
            h1 { (cx.t("console.platform.tenants")) }
            form.inline method="post" action={ (BASE) "/logout" } { (field) button.secondary type="submit" { (cx.t("common.sign_out")) } }
        }
        p.muted { (cx.t("console.platform.health_hint")) }
        div.table-wrap { table.stack {
            thead { tr {
                th { (cx.t("console.platform.realm")) } th { (cx.t("console.platform.state")) }
                th.num { (cx.t("console.nav.subscribers")) } th.num { (cx.t("console.platform.paid_24h")) }
                th.num { (cx.t("console.nav.unmatched")) } th { (cx.t("console.platform.last_callback")) }
                th { (cx.t("console.platform.last_router")) } th {}
            } }
            tbody { @for (t, h) in &rows {
                tr {
                    td data-label=(cx.t("console.platform.realm")) { strong { (t.realm.as_str()) } br; span.small { (t.name) } }
                    td data-label=(cx.t("console.platform.state")) {
                        @if t.status == TenantStatus::Active { span.badge.ok { (cx.t("console.platform.active")) } } @else { span.badge.bad { (cx.t("console.platform.suspended")) } }
                        " "
                        @if !t.daraja.is_configured() { span.badge.warn { (cx.t("console.platform.no_daraja")) } }
                        @if h.is_none() { span.badge.bad { (cx.t("console.platform.db_down")) } }
                    }
                    @if let Some(h) = h {
                        td.num data-label=(cx.t("console.nav.subscribers")) { (h.active) " / " (h.subscribers) }
                        td.num data-label=(cx.t("console.platform.paid_24h")) { (h.paid_count) " · " (cx.kes(h.paid_cents)) }
                        td.num data-label=(cx.t("console.nav.unmatched")) { (h.unmatched) @if h.unmatched > 0 { br; span.small { (eat(&h.oldest_unmatched)) } } }
                        td data-label=(cx.t("console.platform.last_callback")) { (eat(&h.last_callback)) @if h.callback_errors > 0 { " " span.badge.bad { (cx.tf("console.platform.errors", &[("n", &h.callback_errors.to_string())])) } } }
                        td data-label=(cx.t("console.platform.last_router")) { (eat(&h.last_router_report)) @if h.router_failures > 0 { " " span.badge.bad { (cx.tf("console.platform.errors", &[("n", &h.router_failures.to_string())])) } } }
                    } @else {
                        td {} td {} td {} td {} td {}
                    }
                    td {
                        form method="post" action={ (BASE) "/tenants/" (t.realm.as_str()) "/status" } {
                            (field)
                            @if t.status == TenantStatus::Active {
                                input type="hidden" name="status" value="disabled";
                                button.warn type="submit" { (cx.t("console.platform.suspend")) }
                            } @else {
                                input type="hidden" name="status" value="active";
                                button type="submit" { (cx.t("console.platform.resume")) }
                            }
                        }
                    }
                }
            } }
        } }
        @if list.len() > HEALTH_PAGE { p.muted { (cx.tf("console.platform.more", &[("n", &(list.len() - HEALTH_PAGE).to_string())])) } }
        h2 #audit { (cx.t("console.platform.audit")) }
        @if audit.is_empty() {
            p.muted { (cx.t("console.platform.audit_none")) }
        } @else {
            div.table-wrap { table.stack {
                thead { tr {
                    th { (cx.t("console.platform.audit_when")) } th { (cx.t("console.platform.audit_who")) }
                    th { (cx.t("console.platform.audit_what")) } th { (cx.t("console.platform.realm")) }
                } }
                tbody { @for a in &audit {
                    tr {
                        td data-label=(cx.t("console.platform.audit_when")) { (eat(&Some(a.at.clone()))) }
                        td data-label=(cx.t("console.platform.audit_who")) { (a.actor) }
                        td data-label=(cx.t("console.platform.audit_what")) { (cx.t(audit_key(&a.action))) }
                        td data-label=(cx.t("console.platform.realm")) { (a.realm) }
                    }
                } }
            } }
        }
        form.card method="post" action={ (BASE) "/tenants" } {
            h2 { (cx.t("console.platform.new")) }
            (form::error_summary(cx, errors))
            (field)
            label for="realm" { (cx.t("console.platform.realm")) span.hint { (cx.t("console.platform.realm_hint")) } }
            input #realm type="text" name="realm" value=(v("realm")) required autocomplete="off";
            label for="name" { (cx.t("console.plan.name")) }
            input #name type="text" name="name" value=(v("name")) required;
            label for="owner_login" { (cx.t("console.platform.owner_login")) span.hint { (cx.t("console.platform.owner_hint")) } }
            input #owner_login type="text" name="owner_login" value=(v("owner_login")) autocomplete="off";
            label for="owner_password" { (cx.t("console.password")) span.hint { (cx.t("console.users.password_hint")) } }
            input #owner_password type="password" name="owner_password" autocomplete="new-password";
            p { button type="submit" { (cx.t("console.platform.create")) } }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(respond(cx, status, cx.t("console.platform.tenants"), true, body))
}

/// `POST /platform/tenants`: a tenant, its database, and optionally its first console owner.
async fn create<P: Platform>(
    p: &P,
    cx: &PageCtx,
    csrf: &str,
    f: &Query,
    actor: &str,
    ctx: &Ctx,
) -> Result<Response<Bytes>, UseCaseError> {
    let again = |field: &'static str, message: String| async move {
        tenants_page(p, cx, csrf, &Query::parse(None), f, &[FieldError { field, message }], None, ctx.now).await
    };
    let owner_login = f.get("owner_login").unwrap_or("").trim().to_owned();
    let owner_password = f.get("owner_password").unwrap_or("");
    if !owner_login.is_empty() && owner_password.chars().count() < 8 {
        return again("owner_password", cx.t("console.users.password_hint").into()).await;
    }
    let input = crate::usecases::tenants::TenantInput {
        realm: f.get("realm").unwrap_or("").trim().to_owned(),
        name: f.get("name").unwrap_or("").to_owned(),
        settings: None,
        daraja: None,
        admin_token: None,
        callback_token: None,
        sync_key: None,
    };
    let mut ids = IdGen::new(ctx);
    let made = match crate::usecases::tenants::create_tenant(p, input, actor, &mut ids, ctx.now).await {
        Ok(m) => m,
        Err(UseCaseError::Store(e)) => return Err(e.into()),
        Err(e) => {
            let field = if e.to_string().contains("name") { "name" } else { "realm" };
            return again(field, e.to_string()).await;
        }
    };
    let mut owner = None;
    if !owner_login.is_empty() {
        let realm = Realm::parse(&made.realm).map_err(|e| UseCaseError::Invalid(e.to_string()))?;
        let t = tenants::get(p.control(), &realm).await?.ok_or(UseCaseError::NotFound("tenant"))?;
        let db = p.tenant_db(&t.db_key).await?;
        let r = crate::usecases::staff::create_user(
            &db,
            "platform",
            &owner_login,
            "Owner",
            Role::Owner,
            owner_password,
            &mut ids,
            ctx.now,
        )
        .await;
        match r {
            Ok(u) => owner = Some(u.login),
            // The tenant exists; say why its owner was not made (the operator can add one by API).
            Err(e) => p.log(Level::Warn, &format!("platform console: owner of {} not created: {e}", made.realm)),
        }
    }
    p.log(Level::Info, &format!("platform console: tenant {} created", made.realm));
    let m = Made {
        realm: made.realm,
        admin_token: made.admin_token,
        callback_token: made.callback_token,
        sync_key: made.sync_key,
        owner,
    };
    // The secrets are shown on this answer, never in a URL: no redirect.
    let mut r = tenants_page(p, cx, csrf, &Query::parse(None), &Query::parse(None), &[], Some(&m), ctx.now).await?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// `POST /platform/tenants/{realm}/status` with `status=disabled|active`.
async fn set_status<P: Platform>(
    p: &P,
    realm: &str,
    f: &Query,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Response<Bytes>, UseCaseError> {
    let Ok(realm) = Realm::parse(realm) else {
        return Err(UseCaseError::NotFound("tenant"));
    };
    let status = match f.get("status").and_then(TenantStatus::parse) {
        Some(s) => s,
        None => return Err(UseCaseError::Invalid("status must be active or disabled".into())),
    };
    // the change and its audit entry in one atomic batch
    tenants::set_status(p.control(), &realm, status, now, actor).await.map_err(|e| match e {
        crate::db::StoreError::NotFound => UseCaseError::NotFound("tenant"),
        e => e.into(),
    })?;
    p.log(Level::Info, &format!("platform console: tenant {realm} is now {status}"));
    Ok(crate::web::see_other(&format!("{BASE}/tenants?done={status}")))
}
