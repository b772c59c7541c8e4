//! The subscriber portal (`/p/{realm}/...`): sign in by a code sent by SMS, see plan, expiry,
//! balance and usage, pay with M-Pesa (a waiting page that refreshes itself), change plan after
//! seeing its quote, payments and receipts. Routes its own sub-paths (`params.rest`).
//!
//! The pages call the same use cases as the customer API ([`crate::usecases::customer_auth`],
//! [`crate::usecases::customer`], [`crate::usecases::topup`]). The session is a signed cookie
//! (`HttpOnly; Secure; SameSite=Strict`, path `/p/{realm}`) naming the subscriber and the sign-in
//! (the refresh family, revoked on sign-out and checked on every page, so a copied cookie dies with
//! the sign-in); every form carries a CSRF token bound to it (before
//! sign-in, to a random `kp_pre` cookie). Every action is a form POST answered 303.

mod pages;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use maud::Markup;
use serde::{Deserialize, Serialize};

use super::form::{self, FieldError};
use super::session::{self, Expiring};
use super::{PageCtx, Policy};
use crate::Ctx;
use crate::api::Params;
use crate::domain::Msisdn;
use crate::domain::plan_change::When;
use crate::ids::IdGen;
use crate::platform::{Level, Platform};
use crate::store::subscribers::{self, WithBalance};
use crate::store::tenants::Tenant;
use crate::store::{customer, payments, plans, stk};
use crate::usecases::customer as uc;
use crate::usecases::customer_auth::{self as auth, AuthError, Keys};
use crate::usecases::self_service as ss;
use crate::usecases::{UseCaseError, topup};

pub const SESSION_COOKIE: &str = "kp_session";
pub const PRE_COOKIE: &str = "kp_pre";
/// A portal session lasts 12 hours.
pub const SESSION_SECONDS: i64 = 12 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    exp: i64,
}

impl Expiring for Claims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// One request's page state.
pub(crate) struct Page<'a, P: Platform> {
    p: &'a P,
    db: P::Db,
    tenant: Tenant,
    cx: PageCtx,
    base: String,
    skey: [u8; 32],
    ckey: [u8; 32],
    keys: Keys,
    ctx: &'a Ctx,
}

impl<P: Platform> Page<'_, P> {
    fn render(
        &self,
        status: StatusCode,
        title: &str,
        nav: bool,
        body: Markup,
        head: Option<Markup>,
    ) -> Response<Bytes> {
        let nav = nav.then(|| pages::nav(&self.cx, &self.base));
        let mut r = super::html(status, super::layout::page_with(&self.cx, title, nav, body, head), &Policy::default());
        self.cx.remember(&mut r);
        r
    }

    fn unavailable(&self, what: &str, e: impl std::fmt::Display) -> Response<Bytes> {
        self.p.log(Level::Error, &format!("portal {} {what}: {e}", self.tenant.realm.as_str()));
        super::error_page(&self.cx)
    }
}

pub(crate) async fn handle<P: Platform>(p: &P, params: &Params, req: Request<Bytes>, ctx: &Ctx) -> Response<Bytes> {
    let Some((tenant, db, cx)) = super::tenant_page(p, params, &req).await else {
        return super::not_found(p, params, &req).await;
    };
    let realm = tenant.realm.as_str().to_owned();
    let secret = p.settings().voucher_secret.expose().to_owned();
    let Some(keys) = Keys::of(p.settings(), &realm) else {
        p.log(Level::Error, "portal: no platform secret configured, so no session key; the portal is off");
        return super::error_page(&cx);
    };
    let page = Page {
        p,
        db,
        skey: session::derive_key(&secret, "portal-session", &realm),
        ckey: session::derive_key(&secret, "portal-csrf", &realm),
        keys,
        base: format!("/p/{realm}"),
        tenant,
        cx,
        ctx,
    };
    let rest = params.rest.as_deref().unwrap_or("").trim_matches('/').to_owned();
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let m = req.method().clone();
    let now = ctx.now;

    // Before sign-in: the two sign-in pages.
    if matches!(segs.as_slice(), ["login"] | ["verify"]) {
        let (pre, fresh) = match session::cookie(&req, PRE_COOKIE).filter(|v| v.len() >= 16 && v.len() <= 64) {
            Some(v) => (v.to_owned(), false),
            None => (session::random_id(&ctx.entropy, b"portal-pre"), true),
        };
        let csrf = session::csrf_token(&page.ckey, &pre);
        let mut r = if m == Method::POST {
            let f = form::parse(&req);
            if !session::csrf_ok(&page.ckey, &pre, f.as_ref().and_then(|f| f.get("csrf"))) {
                csrf_refused(&page)
            } else if segs == ["login"] {
                login_post(&page, &req, f.as_ref(), &csrf).await
            } else {
                verify_post(&page, &req, f.as_ref(), &csrf).await
            }
        } else if segs == ["login"] {
            page.render(
                StatusCode::OK,
                page.cx.t("portal.sign_in_title"),
                false,
                pages::login(&page.cx, &page.base, &csrf, "", &[]),
                None,
            )
        } else {
            let q = crate::api::Query::parse(req.uri().query());
            let c = q.get("c").unwrap_or("").to_owned();
            page.render(
                StatusCode::OK,
                page.cx.t("portal.code_title"),
                false,
                pages::verify(&page.cx, &page.base, &csrf, &c, &[]),
                None,
            )
        };
        if fresh {
            super::add_cookie(&mut r, &session::set_cookie(PRE_COOKIE, &pre, &page.base, 3600, false));
        }
        return r;
    }

    // Everything else needs a session.
    let claims =
        session::cookie(&req, SESSION_COOKIE).and_then(|t| session::verify::<Claims>(&page.skey, t, now.timestamp()));
    // A page costs one read more than the API's stateless check: a signed-out (revoked) sign-in
    // ends here at once, even with a copy of the cookie.
    let me = match &claims {
        Some(c) => match customer::family_live(&page.db, &c.sid, &crate::domain::time::fmt_ts(now)).await {
            Ok(false) => None,
            Ok(true) => match subscribers::get(&page.db, &c.sub).await {
                Ok(s) => s,
                Err(e) => return page.unavailable("session", e),
            },
            Err(e) => return page.unavailable("session", e),
        },
        None => None,
    };
    let (Some(me), Some(claims)) = (me, claims) else {
        // Signed out: a page that exists asks for sign-in; one that does not is a 404 either way.
        if m == Method::GET && !is_page(&segs) {
            return super::not_found_page(&page.cx);
        }
        if m == Method::GET {
            return super::see_other(&format!("{}/login", page.base));
        }
        let body = maud::html! { h1 { (page.cx.t("common.session_expired")) } p { a.btn href={ (page.base) "/login" } { (page.cx.t("portal.sign_in")) } } };
        return page.render(StatusCode::UNAUTHORIZED, page.cx.t("common.session_expired"), false, body, None);
    };
    let csrf = session::csrf_token(&page.ckey, &claims.sid);
    let form = if m == Method::POST {
        let f = form::parse(&req);
        if !session::csrf_ok(&page.ckey, &claims.sid, f.as_ref().and_then(|f| f.get("csrf"))) {
            return csrf_refused(&page);
        }
        f
    } else {
        None
    };
    let q = crate::api::Query::parse(req.uri().query());
    match (&m, segs.as_slice()) {
        (&Method::GET, []) | (&Method::GET, ["home"]) => home(&page, &me, &csrf, q.get("done")).await,
        (&Method::POST, ["logout"]) => {
            if let Err(e) = auth::logout(&page.db, &claims.sid, now).await {
                return page.unavailable("logout", e);
            }
            let mut r = super::see_other(&format!("{}/login", page.base));
            super::add_cookie(&mut r, &session::clear_cookie(SESSION_COOKIE, &page.base));
            r
        }
        (&Method::GET, ["topup"]) => topup_form(&page, &me, &csrf, None, None, &[]).await,
        (&Method::POST, ["topup"]) => topup_post(&page, &me, &csrf, form.as_ref()).await,
        (&Method::GET, ["topup", id]) => topup_wait(&page, &me, id).await,
        (&Method::GET, ["plans"]) => plans_list(&page, &me).await,
        (&Method::GET, ["plans", id]) => plan_quote(&page, &me, &csrf, id, None).await,
        (&Method::POST, ["plans", id]) => {
            let input = uc::PlanChangeInput { plan: (*id).to_owned(), when: When::Now };
            match uc::change_plan(&page.db, &me.subscriber.id, &input, now).await {
                Ok(_) => super::see_other(&format!("{}/home?done=plan", page.base)),
                Err(UseCaseError::Invalid(msg)) => plan_quote(&page, &me, &csrf, id, Some(msg)).await,
                Err(UseCaseError::NotFound(_)) => super::not_found_page(&page.cx),
                Err(e) => page.unavailable("plan change", e),
            }
        }
        (&Method::POST, ["pause"]) => {
            let days = form.as_ref().and_then(|f| f.get("days")).unwrap_or("").trim().parse::<i64>().unwrap_or(0);
            let input = crate::usecases::self_service::PauseInput { days };
            match crate::usecases::self_service::pause(&page.db, &page.tenant.settings, &me.subscriber.id, &input, now)
                .await
            {
                Ok(_) => super::see_other(&format!("{}/home?done=paused", page.base)),
                Err(UseCaseError::Invalid(msg)) | Err(UseCaseError::Conflict(msg)) => refused(&page, &msg),
                Err(e) => page.unavailable("pause", e),
            }
        }
        (&Method::POST, ["resume"]) => {
            match crate::usecases::self_service::resume(&page.db, &me.subscriber.id, now).await {
                Ok(_) => super::see_other(&format!("{}/home?done=resumed", page.base)),
                Err(UseCaseError::Conflict(msg)) => refused(&page, &msg),
                Err(e) => page.unavailable("resume", e),
            }
        }
        (&Method::GET, ["statement"]) => {
            match crate::store::ledger::for_subscriber(&page.db, &me.subscriber.id).await {
                Ok(entries) => page.render(
                    StatusCode::OK,
                    page.cx.t("portal.statement_title"),
                    true,
                    pages::statement(&page.cx, &page.tenant.name, &me, &entries, now),
                    None,
                ),
                Err(e) => page.unavailable("statement", e),
            }
        }
        (&Method::GET, ["tickets"]) => tickets_page(&page, &me, &csrf, "", "", &[]).await,
        (&Method::POST, ["tickets"]) => {
            let get = |k: &str| form.as_ref().and_then(|f| f.get(k)).unwrap_or("").to_owned();
            let (subject, message) = (get("subject"), get("message"));
            let input = ss::TicketInput { subject: subject.clone(), message: message.clone() };
            let mut ids = IdGen::new(page.ctx);
            match ss::open_ticket(&page.db, &me.subscriber.id, &input, &mut ids, now).await {
                Ok(t) => super::see_other(&format!("{}/tickets/{}", page.base, t.ticket.id)),
                Err(UseCaseError::Invalid(msg)) => {
                    let field = if msg.starts_with("subject") { "subject" } else { "message" };
                    tickets_page(&page, &me, &csrf, &subject, &message, &err(field, msg)).await
                }
                Err(UseCaseError::Throttled(_)) => refused(&page, page.cx.t("portal.too_many_messages")),
                Err(e) => page.unavailable("ticket", e),
            }
        }
        (&Method::GET, ["tickets", id]) => ticket_page(&page, &me, &csrf, id, "", &[]).await,
        (&Method::POST, ["tickets", id]) => {
            let message = form.as_ref().and_then(|f| f.get("message")).unwrap_or("").to_owned();
            let input = ss::MessageInput { message: message.clone() };
            match ss::add_message(&page.db, &me.subscriber.id, id, &input, now).await {
                Ok(_) => super::see_other(&format!("{}/tickets/{}", page.base, id)),
                Err(UseCaseError::NotFound(_)) => super::not_found_page(&page.cx),
                Err(UseCaseError::Invalid(msg)) => {
                    ticket_page(&page, &me, &csrf, id, &message, &err("message", msg)).await
                }
                Err(UseCaseError::Throttled(_)) => refused(&page, page.cx.t("portal.too_many_messages")),
                Err(e) => page.unavailable("ticket", e),
            }
        }
        (&Method::GET, ["devices"]) => devices_page(&page, &me, &csrf, "", "", &[]).await,
        (&Method::POST, ["devices"]) => {
            let mac = form.as_ref().and_then(|f| f.get("mac")).unwrap_or("").trim().to_owned();
            let name = form.as_ref().and_then(|f| f.get("name")).unwrap_or("").trim().to_owned();
            let input = crate::usecases::self_service::DeviceInput { mac: mac.clone(), name: Some(name.clone()) };
            match crate::usecases::self_service::add_device(&page.db, &me.subscriber.id, &input, now).await {
                Ok(_) => super::see_other(&format!("{}/devices", page.base)),
                Err(UseCaseError::Invalid(msg)) | Err(UseCaseError::Conflict(msg)) => {
                    devices_page(&page, &me, &csrf, &mac, &name, &err("mac", msg)).await
                }
                Err(e) => page.unavailable("add device", e),
            }
        }
        (&Method::POST, ["devices", mac, "remove"]) => {
            match crate::usecases::self_service::remove_device(&page.db, &me.subscriber.id, mac).await {
                Ok(()) => super::see_other(&format!("{}/devices", page.base)),
                Err(UseCaseError::NotFound(_)) => super::not_found_page(&page.cx),
                Err(e) => page.unavailable("remove device", e),
            }
        }
        (&Method::GET, ["payments"]) => match customer::payments_page(&page.db, &me.subscriber.id, None, 50).await {
            Ok(list) => page.render(
                StatusCode::OK,
                page.cx.t("portal.payments_title"),
                true,
                pages::payments(&page.cx, &page.base, &list),
                None,
            ),
            Err(e) => page.unavailable("payments", e),
        },
        (&Method::GET, ["payments", id]) => match payments::get(&page.db, id).await {
            Ok(Some(pay)) if pay.subscriber_id.as_deref() == Some(me.subscriber.id.as_str()) => page.render(
                StatusCode::OK,
                page.cx.t("portal.receipt_title"),
                true,
                pages::receipt(&page.cx, &page.base, &page.tenant.name, &me, &pay),
                None,
            ),
            Ok(_) => super::not_found_page(&page.cx),
            Err(e) => page.unavailable("receipt", e),
        },
        _ => super::not_found_page(&page.cx),
    }
}

/// A page with a form: 200, or 400 when it comes back with errors; a store failure is a 503.
fn form_page<P: Platform, E: std::fmt::Display>(
    page: &Page<'_, P>,
    title: &'static str,
    errors: &[FieldError],
    body: Result<maud::Markup, E>,
) -> Response<Bytes> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    match body {
        Ok(body) => page.render(status, page.cx.t(title), true, body, None),
        Err(e) => page.unavailable(title, e),
    }
}

async fn devices_page<P: Platform>(
    page: &Page<'_, P>,
    me: &WithBalance,
    csrf: &str,
    mac: &str,
    name: &str,
    errors: &[FieldError],
) -> Response<Bytes> {
    let body = crate::store::self_service::devices(&page.db, &me.subscriber.id)
        .await
        .map(|list| pages::devices(&page.cx, &page.base, csrf, &list, mac, name, errors));
    form_page(page, "portal.devices_title", errors, body)
}

async fn tickets_page<P: Platform>(
    page: &Page<'_, P>,
    me: &WithBalance,
    csrf: &str,
    subject: &str,
    message: &str,
    errors: &[FieldError],
) -> Response<Bytes> {
    let body = crate::store::self_service::tickets(&page.db, &me.subscriber.id, 50)
        .await
        .map(|list| pages::tickets(&page.cx, &page.base, csrf, &list, subject, message, errors));
    form_page(page, "portal.tickets_title", errors, body)
}

async fn ticket_page<P: Platform>(
    page: &Page<'_, P>,
    me: &WithBalance,
    csrf: &str,
    id: &str,
    message: &str,
    errors: &[FieldError],
) -> Response<Bytes> {
    match ss::ticket(&page.db, &me.subscriber.id, id).await {
        Err(UseCaseError::NotFound(_)) => super::not_found_page(&page.cx),
        body => form_page(
            page,
            "portal.tickets_title",
            errors,
            body.map(|t| pages::ticket(&page.cx, &page.base, csrf, &t, message, errors)),
        ),
    }
}

/// A request the rules refuse, said in plain words with the way back.
fn refused<P: Platform>(page: &Page<'_, P>, msg: &str) -> Response<Bytes> {
    let body = maud::html! {
        div.notice.bad role="alert" { (msg) }
        p { a.btn href={ (page.base) "/home" } { (page.cx.t("common.back")) } }
    };
    page.render(StatusCode::BAD_REQUEST, page.cx.t("portal.home_title"), true, body, None)
}

fn csrf_refused<P: Platform>(page: &Page<'_, P>) -> Response<Bytes> {
    let body = maud::html! { h1 { (page.cx.t("form.csrf_failed")) } p { a href=(page.cx.path) { (page.cx.t("common.back")) } } };
    page.render(StatusCode::FORBIDDEN, page.cx.t("form.csrf_failed"), false, body, None)
}

fn err(field: &'static str, message: String) -> Vec<FieldError> {
    vec![FieldError { field, message }]
}

async fn login_post<P: Platform>(
    page: &Page<'_, P>,
    req: &Request<Bytes>,
    f: Option<&form::Form>,
    csrf: &str,
) -> Response<Bytes> {
    let cx = &page.cx;
    let who = f.and_then(|f| f.get("who")).unwrap_or("").trim().to_owned();
    let again = |errors: Vec<FieldError>| {
        page.render(
            StatusCode::BAD_REQUEST,
            cx.t("portal.sign_in_title"),
            false,
            pages::login(cx, &page.base, csrf, &who, &errors),
            None,
        )
    };
    if who.is_empty() {
        return again(err("who", cx.t("portal.who_missing").to_owned()));
    }
    let input = if Msisdn::parse(&who).is_ok() {
        auth::OtpInput { phone: Some(who.clone()), account: None }
    } else {
        auth::OtpInput { phone: None, account: Some(who.clone()) }
    };
    let ip = crate::api::client_ip(req);
    let mut ids = IdGen::new(page.ctx);
    match auth::send_otp(&page.db, &page.keys, &page.tenant, &input, &ip, &mut ids, page.ctx.now).await {
        Ok(sent) => super::see_other(&format!("{}/verify?c={}", page.base, sent.challenge_id)),
        Err(AuthError::Throttled(s)) => {
            again(err("who", cx.tf("portal.wait_minutes", &[("minutes", &(s.div_euclid(60) + 1).to_string())])))
        }
        Err(AuthError::Invalid(_)) => again(err("who", cx.t("portal.who_missing").to_owned())),
        Err(e) => page.unavailable("send code", e),
    }
}

async fn verify_post<P: Platform>(
    page: &Page<'_, P>,
    req: &Request<Bytes>,
    f: Option<&form::Form>,
    csrf: &str,
) -> Response<Bytes> {
    let cx = &page.cx;
    let c = f.and_then(|f| f.get("c")).unwrap_or("").trim().to_owned();
    let code: String = f.and_then(|f| f.get("code")).unwrap_or("").chars().filter(char::is_ascii_digit).collect();
    let again = |errors: Vec<FieldError>| {
        page.render(
            StatusCode::BAD_REQUEST,
            cx.t("portal.code_title"),
            false,
            pages::verify(cx, &page.base, csrf, &c, &errors),
            None,
        )
    };
    let ip = crate::api::client_ip(req);
    let mut ids = IdGen::new(page.ctx);
    match auth::verify_otp(&page.db, &page.keys, &c, &code, &ip, &mut ids, page.ctx.now).await {
        Ok(t) => {
            let sid = auth::verify_access(&page.keys, &t.access_token, page.ctx.now).map(|a| a.sid).unwrap_or_default();
            let claims = Claims { sub: t.subscriber_id, sid, exp: page.ctx.now.timestamp() + SESSION_SECONDS };
            let mut r = super::see_other(&format!("{}/home", page.base));
            super::add_cookie(
                &mut r,
                &session::set_cookie(
                    SESSION_COOKIE,
                    &session::sign(&page.skey, &claims),
                    &page.base,
                    SESSION_SECONDS,
                    false,
                ),
            );
            super::add_cookie(&mut r, &session::clear_cookie(PRE_COOKIE, &page.base));
            r
        }
        Err(AuthError::Refused(_)) | Err(AuthError::Invalid(_)) => {
            again(err("code", cx.t("portal.code_wrong").to_owned()))
        }
        Err(AuthError::Throttled(s)) => {
            again(err("code", cx.tf("portal.wait_minutes", &[("minutes", &(s.div_euclid(60) + 1).to_string())])))
        }
        Err(e) => page.unavailable("verify code", e),
    }
}

async fn home<P: Platform>(page: &Page<'_, P>, me: &WithBalance, csrf: &str, done: Option<&str>) -> Response<Bytes> {
    let plan = match plans::get(&page.db, &me.subscriber.plan_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return page.unavailable("plan", "missing"),
        Err(e) => return page.unavailable("plan", e),
    };
    let now = page.ctx.now;
    let start = match me.subscriber.expires_at {
        Some(e) if e > now => e - chrono::Duration::seconds(plan.period_seconds),
        _ => now - chrono::Duration::days(30),
    };
    let day =
        |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&crate::domain::time::eat()).format("%Y-%m-%d").to_string();
    let used = match customer::usage_between(&page.db, me.subscriber.username.as_str(), &day(start), &day(now)).await {
        Ok((up, down, _)) => up + down,
        Err(e) => return page.unavailable("usage", e),
    };
    let notice = match done {
        Some("plan") => Some(page.cx.t("portal.plan_changed")),
        Some("paused") => Some(page.cx.t("portal.paused_done")),
        Some("resumed") => Some(page.cx.t("portal.resumed_done")),
        _ => None,
    };
    let extras = match crate::store::self_service::extras(&page.db, &me.subscriber.id).await {
        Ok(x) => x,
        Err(e) => return page.unavailable("pause", e),
    };
    let max = page.tenant.settings.pause_max_days;
    // Not offered once this year's pauses are used up (the use case would refuse it).
    let year_ago = crate::domain::time::fmt_ts(now - chrono::Duration::days(365));
    let pauses_this_year = if max > 0 {
        match crate::store::self_service::pauses_since(&page.db, &me.subscriber.id, &year_ago).await {
            Ok(v) => v.len() as i64,
            Err(e) => return page.unavailable("pause", e),
        }
    } else {
        0
    };
    let pause = match extras.paused_until.as_deref().and_then(crate::domain::time::parse_ts) {
        Some(until) => pages::PauseBox::Paused(until),
        None if max > 0
            && pauses_this_year < page.tenant.settings.pause_max_per_year.max(1)
            && me.subscriber.status == crate::domain::subscriber::Status::Active
            && me.subscriber.expires_at.is_some_and(|e| e > now) =>
        {
            pages::PauseBox::Offer(max)
        }
        None => pages::PauseBox::None,
    };
    let body = pages::home(&page.cx, &page.base, me, &plan, used, now, csrf, notice, &pause);
    page.render(StatusCode::OK, page.cx.t("portal.home_title"), true, body, None)
}

async fn due_kes(db: &impl crate::db::Db, me: &WithBalance) -> Result<i64, crate::db::StoreError> {
    let plan = plans::get(db, &me.subscriber.plan_id).await?.ok_or(crate::db::StoreError::NotFound)?;
    Ok((plan.price - me.balance()).whole_shillings_ceil().max(1))
}

async fn topup_form<P: Platform>(
    page: &Page<'_, P>,
    me: &WithBalance,
    csrf: &str,
    amount: Option<&str>,
    phone: Option<&str>,
    errors: &[FieldError],
) -> Response<Bytes> {
    let due = match due_kes(&page.db, me).await {
        Ok(d) => d,
        Err(e) => return page.unavailable("top-up", e),
    };
    let on_file = me.subscriber.phone.as_ref().map(|m| format!("0{}", &m.as_str()[3..])).unwrap_or_default();
    let amount = amount.map_or_else(|| due.to_string(), str::to_owned);
    let phone = phone.map_or(on_file, str::to_owned);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let body = pages::topup(&page.cx, &page.base, csrf, &amount, &phone, me.balance_cents, errors);
    page.render(status, page.cx.t("portal.pay_title"), true, body, None)
}

async fn topup_post<P: Platform>(
    page: &Page<'_, P>,
    me: &WithBalance,
    csrf: &str,
    f: Option<&form::Form>,
) -> Response<Bytes> {
    let cx = &page.cx;
    let amount = f.and_then(|f| f.get("amount")).unwrap_or("").trim().to_owned();
    let phone = f.and_then(|f| f.get("phone")).unwrap_or("").trim().to_owned();
    // Every refusal goes back to the form with what was typed and the reason at its field.
    let outcome: Result<String, (&'static str, String)> = async {
        let kes = amount
            .replace(',', "")
            .parse::<u64>()
            .ok()
            .filter(|k| *k > 0)
            .ok_or_else(|| ("amount", cx.t("portal.amount_invalid").to_owned()))?;
        if Msisdn::parse(&phone).is_err() {
            return Err(("phone", cx.t("portal.phone_invalid").to_owned()));
        }
        let input = topup::TopupInput {
            account: me.subscriber.account_no.to_string(),
            phone: Some(phone.clone()),
            amount_kes: Some(kes),
            amount_cents: None,
        };
        let caller = topup::Caller::Subscriber { id: &me.subscriber.id };
        match topup::start(page.p, &page.db, &page.tenant, input, caller, page.ctx.now).await {
            Ok(s) => Ok(s.checkout_request_id),
            Err(UseCaseError::Invalid(m)) => Err(("amount", m)),
            Err(e) => {
                page.p.log(Level::Warn, &format!("portal {}: top-up: {e}", page.tenant.realm.as_str()));
                Err(("phone", cx.t("portal.stk_unavailable").to_owned()))
            }
        }
    }
    .await;
    match outcome {
        Ok(id) => super::see_other(&format!("{}/topup/{}", page.base, id)),
        Err((field, msg)) => topup_form(page, me, csrf, Some(&amount), Some(&phone), &err(field, msg)).await,
    }
}

async fn topup_wait<P: Platform>(page: &Page<'_, P>, me: &WithBalance, id: &str) -> Response<Bytes> {
    let cx = &page.cx;
    let here = format!("{}/topup/{}", page.base, id);
    let r = match stk::get(&page.db, id).await {
        Ok(Some(r)) if r.subscriber_id == me.subscriber.id => r,
        Ok(_) => return super::not_found_page(cx),
        Err(e) => return page.unavailable("top-up", e),
    };
    match r.status {
        crate::domain::payment::StkStatus::Pending => {
            let phone = Msisdn::parse(&r.msisdn).map(|m| m.masked()).unwrap_or_default();
            let head = maud::html! { meta http-equiv="refresh" content={ "3;url=" (here) }; };
            page.render(
                StatusCode::OK,
                cx.t("portal.waiting_title"),
                true,
                pages::waiting(cx, &here, r.amount_cents, &phone),
                Some(head),
            )
        }
        crate::domain::payment::StkStatus::Failed => page.render(
            StatusCode::OK,
            cx.t("portal.failed_title"),
            true,
            pages::failed(cx, &page.base, r.result_desc.as_deref().unwrap_or("")),
            None,
        ),
        crate::domain::payment::StkStatus::Paid => page.render(
            StatusCode::OK,
            cx.t("portal.paid_title"),
            true,
            pages::paid(cx, &page.base, r.amount_cents, me.balance_cents),
            None,
        ),
    }
}

async fn plans_list<P: Platform>(page: &Page<'_, P>, me: &WithBalance) -> Response<Bytes> {
    match uc::offered_plans(&page.db).await {
        Ok(list) => page.render(
            StatusCode::OK,
            page.cx.t("portal.plans_title"),
            true,
            pages::plans(&page.cx, &page.base, &list, &me.subscriber.plan_id),
            None,
        ),
        Err(e) => page.unavailable("plans", e),
    }
}

async fn plan_quote<P: Platform>(
    page: &Page<'_, P>,
    me: &WithBalance,
    csrf: &str,
    id: &str,
    error: Option<String>,
) -> Response<Bytes> {
    let input = uc::PlanChangeInput { plan: id.to_owned(), when: When::Now };
    let q = match uc::quote(&page.db, &me.subscriber.id, &input, page.ctx.now).await {
        Ok(q) => q,
        Err(UseCaseError::NotFound(_)) | Err(UseCaseError::Invalid(_)) => return super::not_found_page(&page.cx),
        Err(e) => return page.unavailable("quote", e),
    };
    let to = match plans::get(&page.db, &q.to_plan).await {
        Ok(Some(p)) => p,
        _ => return super::not_found_page(&page.cx),
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    page.render(
        status,
        page.cx.t("portal.quote_title"),
        true,
        pages::quote(&page.cx, &page.base, csrf, &to, &q, error.as_deref()),
        None,
    )
}

/// The portal's pages a signed-in subscriber can GET (the routes below sign-in).
fn is_page(segs: &[&str]) -> bool {
    matches!(
        segs,
        [] | ["home"]
            | ["topup"]
            | ["topup", _]
            | ["plans"]
            | ["plans", _]
            | ["payments"]
            | ["payments", _]
            | ["devices"]
            | ["statement"]
            | ["tickets"]
            | ["tickets", _]
    )
}
