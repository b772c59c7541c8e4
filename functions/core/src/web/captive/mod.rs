//! The captive portal (`/h/{realm}/...`): what a hotspot buyer sees after the MikroTik hotspot
//! sends them here (see `functions/hotspot-html`).
//!
//! - `GET  /h/{realm}`: the tenant's packages with prices and the voucher form. The router's
//!   variables (`mac`, `ip`, `link-login-only`, `chap-id`, `chap-challenge`, `dst`) arrive in the
//!   query (or a form POST from the router's `login.html`) and are kept in a signed cookie for the
//!   rest of the visit; `?code=` (from a printed QR code) fills the voucher form in.
//! - `GET|POST /h/{realm}/buy?plan=`: the phone that pays; the POST starts the STK push and
//!   answers `303` to the waiting page.
//! - `GET  /h/{realm}/wait/{checkout}`: refreshes itself (`<meta refresh>`) until the push is paid
//!   or failed; once paid it shows the code minted for the sale (only to the browser that bought
//!   it) and the form that logs the device in through the router (CHAP or PAP).
//! - `POST /h/{realm}/voucher` then `GET /h/{realm}/connect`: the same for a typed code.
//! - `GET|POST /h/{realm}/suspended?account=`: why a subscriber is cut off, what to pay, a pay
//!   button (STK); `GET /h/{realm}/topup/{checkout}` waits for that payment.
//!
//! Every page works with JavaScript off (POST -> 303 -> GET); the one script (submitting the
//! login form after the code has been seen) is allowed by its hash.

pub mod login;
pub mod pages;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use maud::Markup;
use serde::{Deserialize, Serialize};

use self::login::Router;
use super::form::{self, FieldError};
use super::session::{self, Expiring};
use super::{PageCtx, Policy, html, layout, see_other};
use crate::Ctx;
use crate::api::{Params, Query};
use crate::domain::redemption::{Binding, Mac, Refusal};
use crate::domain::voucher::VoucherCode;
use crate::ids::IdGen;
use crate::platform::{Level, Platform};
use crate::store::tenants::Tenant;
use crate::store::{plans, stk, subscribers};
use crate::usecases::hotspot_sales::{self, BuyError, SaleState};
use crate::usecases::topup;
use crate::usecases::vouchers::{self as vouchers_uc, RedeemError};

/// How long a visit (the router's variables, the visitor id) is remembered.
const VISIT_SECONDS: i64 = 6 * 3600;
const COOKIE: &str = "kh_visit";

/// One visit to the portal, in a signed cookie: who the visitor is (CSRF binding, the sales they
/// may see) and what the router said.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Visit {
    v: String,
    #[serde(default)]
    r: Router,
    /// A code typed in the voucher form, waiting on the connect page, in its canonical form
    /// ([`VoucherCode::compact`]: what the redemption stored and the router logs in with).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    code: String,
    /// What happened to the code's device binding, as a catalogue key for the connect page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    note: String,
    exp: i64,
}

impl Expiring for Visit {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

struct Page<'a, P: Platform> {
    p: &'a P,
    tenant: Tenant,
    db: P::Db,
    cx: PageCtx,
    visit: Visit,
    csrf_key: [u8; 32],
    ctx: &'a Ctx,
    base: String,
}

impl<P: Platform> Page<'_, P> {
    fn csrf(&self) -> String {
        session::csrf_token(&self.csrf_key, &self.visit.v)
    }

    fn csrf_ok(&self, f: &form::Form) -> bool {
        session::csrf_ok(&self.csrf_key, &self.visit.v, f.get("csrf"))
    }

    fn policy(&self, scripts: Vec<&'static str>) -> Policy {
        Policy { form_action: self.visit.r.login_origin().into_iter().collect(), scripts }
    }

    fn render(
        &self,
        status: StatusCode,
        title: &str,
        body: Markup,
        head: Option<Markup>,
        policy: &Policy,
    ) -> Response<Bytes> {
        html(status, layout::page_with(&self.cx, title, None, body, head), policy)
    }

    fn unavailable(&self, what: &str, e: impl std::fmt::Display) -> Response<Bytes> {
        self.p.log(Level::Error, &format!("captive {}: {what}: {e}", self.tenant.realm.as_str()));
        super::error_page(&self.cx)
    }
}

pub(crate) async fn handle<P: Platform>(p: &P, params: &Params, req: Request<Bytes>, ctx: &Ctx) -> Response<Bytes> {
    let Some((tenant, db, cx)) = super::tenant_page(p, params, &req).await else {
        return super::not_found(p, params, &req).await;
    };
    let secret = p.settings().voucher_secret.expose().to_owned();
    let realm = tenant.realm.as_str().to_owned();
    let cookie_key = session::derive_key(&secret, "captive-visit", &realm);
    let now_unix = ctx.now.timestamp();
    let mut visit = session::cookie(&req, COOKIE)
        .and_then(|c| session::verify::<Visit>(&cookie_key, c, now_unix))
        .unwrap_or_else(|| Visit { v: session::random_id(&ctx.entropy, b"captive-visitor"), ..Visit::default() });
    visit.exp = now_unix + VISIT_SECONDS;
    let base = format!("/h/{realm}");
    let mut page =
        Page { p, csrf_key: session::derive_key(&secret, "captive-csrf", &realm), tenant, db, cx, visit, ctx, base };
    let rest = params.rest.as_deref().unwrap_or("").trim_matches('/').to_owned();
    let segs: Vec<&str> = if rest.is_empty() { vec![] } else { rest.split('/').collect() };
    let query = Query::parse(req.uri().query());
    let post = req.method() == Method::POST;
    if post && !super::is_form_post(&req) {
        return super::not_found_page(&page.cx);
    }
    let mut r = match (post, segs.as_slice()) {
        (false, []) => {
            if let Some(router) = Router::from_query(&query) {
                page.visit.r = router;
            }
            home(&page, query.get("code").unwrap_or(""), &[], None).await
        }
        // The router's login.html may POST its variables here: remember them, then GET.
        (true, []) => match form::parse(&req) {
            Some(f) => {
                if let Some(router) = Router::from_query(&f) {
                    page.visit.r = router;
                }
                see_other(&page.base)
            }
            None => super::not_found_page(&page.cx),
        },
        (false, ["buy"]) => buy_form(&page, query.get("plan").unwrap_or(""), "", &[]).await,
        (true, ["buy"]) => buy_post(&page, &req).await,
        (false, ["wait", id]) => wait(&page, id).await,
        (true, ["voucher"]) => voucher_post(&mut page, &req).await,
        (false, ["connect"]) => connect(&page),
        (false, ["suspended"]) => suspended(&page, query.get("account").unwrap_or(""), "", &[]).await,
        (true, ["suspended"]) => suspended_pay(&page, &req).await,
        (false, ["topup", id]) => topup_wait(&page, id).await,
        _ => super::not_found_page(&page.cx),
    };
    let cookie = session::sign(&cookie_key, &page.visit);
    super::add_cookie(&mut r, &session::set_cookie(COOKIE, &cookie, &page.base, VISIT_SECONDS, true));
    page.cx.remember(&mut r);
    r
}

async fn home<P: Platform>(
    page: &Page<'_, P>,
    code: &str,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Response<Bytes> {
    let packages = match hotspot_sales::packages(&page.db).await {
        Ok(p) => p,
        Err(e) => return page.unavailable("packages", e),
    };
    let code: String = code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(20).collect();
    let body = pages::home(&page.cx, &page.base, &packages, &page.csrf(), &code, errors, notice);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page.render(status, page.cx.t("captive.title"), body, None, &page.policy(vec![]))
}

async fn buy_form<P: Platform>(page: &Page<'_, P>, plan: &str, phone: &str, errors: &[FieldError]) -> Response<Bytes> {
    let plan = match hotspot_sales::package(&page.db, plan).await {
        Ok(Some(p)) => p,
        Ok(None) => return see_other(&page.base),
        Err(e) => return page.unavailable("package", e),
    };
    let body = pages::buy(&page.cx, &page.base, &plan, &page.csrf(), phone, errors);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page.render(status, &plan.name, body, None, &page.policy(vec![]))
}

fn csrf_error(cx: &PageCtx, field: &'static str) -> Vec<FieldError> {
    vec![FieldError { field, message: cx.t("form.csrf_failed").to_owned() }]
}

async fn buy_post<P: Platform>(page: &Page<'_, P>, req: &Request<Bytes>) -> Response<Bytes> {
    let Some(f) = form::parse(req) else { return see_other(&page.base) };
    let plan = f.get("plan").unwrap_or("").to_owned();
    let phone = f.get("phone").unwrap_or("").trim().to_owned();
    if !page.csrf_ok(&f) {
        return buy_form(page, &plan, &phone, &csrf_error(&page.cx, "phone")).await;
    }
    let mut ids = IdGen::new(page.ctx);
    let mac = Some(page.visit.r.mac.as_str());
    let started =
        hotspot_sales::start(page.p, &page.db, &page.tenant, &plan, &phone, &page.visit.v, mac, &mut ids, page.ctx.now)
            .await;
    match started {
        Ok(s) => see_other(&format!("{}/wait/{}", page.base, s.checkout_request_id)),
        Err(BuyError::Package) => see_other(&page.base),
        Err(BuyError::Phone) => {
            let e = vec![FieldError { field: "phone", message: page.cx.t("captive.phone_invalid").to_owned() }];
            buy_form(page, &plan, &phone, &e).await
        }
        Err(BuyError::Other(e)) => {
            page.p.log(Level::Warn, &format!("captive {}: STK push: {e}", page.tenant.realm.as_str()));
            let e = vec![FieldError { field: "phone", message: page.cx.t("captive.stk_unavailable").to_owned() }];
            buy_form(page, &plan, &phone, &e).await
        }
    }
}

async fn wait<P: Platform>(page: &Page<'_, P>, id: &str) -> Response<Bytes> {
    let key = match crate::usecases::vouchers::key(page.p.settings(), &page.tenant.realm) {
        Ok(k) => k,
        Err(e) => return page.unavailable("voucher key", e),
    };
    let here = format!("{}/wait/{}", page.base, id);
    let state = hotspot_sales::state(&page.db, &key, &page.tenant.realm, id, &page.visit.v, page.ctx.now).await;
    let cx = &page.cx;
    match state {
        Ok(None) => super::not_found_page(cx),
        Ok(Some((sale, SaleState::Pending))) => {
            let phone = crate::domain::Msisdn::parse(&sale.msisdn).map(|m| m.masked()).unwrap_or_default();
            let body = pages::waiting(cx, &here, sale.amount_cents, &phone);
            page.render(
                StatusCode::OK,
                cx.t("captive.waiting_title"),
                body,
                Some(pages::refresh_head(&here)),
                &page.policy(vec![]),
            )
        }
        Ok(Some((sale, SaleState::Failed(reason)))) => {
            let plan = plans::get(&page.db, &sale.plan_id).await.ok().flatten();
            let retry = match plan {
                Some(p) => format!("{}/buy?plan={}", page.base, p.code),
                None => page.base.clone(),
            };
            let body = pages::failed(cx, &retry, &reason);
            page.render(StatusCode::OK, cx.t("captive.failed_title"), body, None, &page.policy(vec![]))
        }
        Ok(Some((_, SaleState::Paid { code, plan }))) => code_response(page, &code, Some(&plan), true, None),
        Err(e) => page.unavailable("sale state", e),
    }
}

fn code_response<P: Platform>(
    page: &Page<'_, P>,
    code: &VoucherCode,
    plan: Option<&crate::domain::plan::Plan>,
    paid: bool,
    note: Option<&'static str>,
) -> Response<Bytes> {
    let form = login::login_form(&page.visit.r, code);
    let scripts = if form.is_some() { vec![pages::AUTO_LOGIN_JS] } else { vec![] };
    let head = form.as_ref().map(|_| maud::html! { script { (maud::PreEscaped(pages::AUTO_LOGIN_JS)) } });
    let shown = code.to_string();
    let body = pages::code_page(&page.cx, &page.base, &shown, plan, form.as_ref(), paid, note);
    let title = page.cx.t(if paid { "captive.paid_title" } else { "captive.code_title" });
    page.render(StatusCode::OK, title, body, head, &page.policy(scripts))
}

/// The words a buyer reads for a refused code.
fn refusal_message(cx: &PageCtx, r: &Refusal) -> String {
    match r {
        Refusal::Malformed { .. } => cx.t("captive.code_malformed").to_owned(),
        Refusal::Unknown => cx.t("captive.code_not_genuine").to_owned(),
        Refusal::Expired => cx.t("captive.code_expired").to_owned(),
        Refusal::Voided => cx.t("captive.code_voided").to_owned(),
        Refusal::DataUsedUp => cx.t("captive.code_data_used_up").to_owned(),
        Refusal::InUseElsewhere => cx.t("captive.code_in_use").to_owned(),
        Refusal::Throttled { retry_after_seconds } => {
            let minutes = ((retry_after_seconds + 59) / 60).max(1).to_string();
            cx.tf("captive.code_throttled", &[("minutes", &minutes)])
        }
    }
}

/// The catalogue key that tells the buyer what happened to the code's devices, when worth saying.
fn binding_note(b: &Binding) -> &'static str {
    match b {
        Binding::Moved { .. } => "captive.binding_moved",
        Binding::New | Binding::Same => "",
    }
}

async fn voucher_post<P: Platform>(page: &mut Page<'_, P>, req: &Request<Bytes>) -> Response<Bytes> {
    let Some(f) = form::parse(req) else { return see_other(&page.base) };
    let typed = f.get("code").unwrap_or("").trim().to_owned();
    if !page.csrf_ok(&f) {
        return home(page, &typed, &csrf_error(&page.cx, "code"), None).await;
    }
    // The router's client address, when it is one (failed guesses are counted per address).
    let ip = page.visit.r.ip.parse::<std::net::IpAddr>().map(|a| a.to_string()).unwrap_or_default();
    let (settings, now) = (page.p.settings(), page.ctx.now);
    // Opened by a hotspot (a device MAC): this is the code's use on that device, recorded as its
    // first use if it is one. Opened elsewhere: checked only; time starts when a device logs in.
    let outcome = match Mac::parse(&page.visit.r.mac) {
        Some(mac) => vouchers_uc::redeem(settings, &page.db, &page.tenant, &typed, mac.as_str(), &ip, now)
            .await
            .map(|r| (r.username, binding_note(&r.binding))),
        None => {
            vouchers_uc::inspect(settings, &page.db, &page.tenant, &typed, &ip, now).await.map(|i| (i.username, ""))
        }
    };
    match outcome {
        Ok((username, note)) => {
            page.visit.code = username;
            page.visit.note = note.to_owned();
            see_other(&format!("{}/connect", page.base))
        }
        Err(RedeemError::Refused(r)) => {
            let e = vec![FieldError { field: "code", message: refusal_message(&page.cx, &r) }];
            home(page, &typed, &e, None).await
        }
        Err(RedeemError::Failed(e)) => page.unavailable("voucher redemption", e),
    }
}

fn connect<P: Platform>(page: &Page<'_, P>) -> Response<Bytes> {
    let Ok(code) = VoucherCode::parse(&page.visit.code) else { return see_other(&page.base) };
    let note = (page.visit.note == "captive.binding_moved").then_some("captive.binding_moved");
    code_response(page, &code, None, false, note)
}

async fn suspended<P: Platform>(
    page: &Page<'_, P>,
    account: &str,
    phone: &str,
    errors: &[FieldError],
) -> Response<Bytes> {
    let cx = &page.cx;
    if account.trim().is_empty() {
        // Where the walled garden sends a subscriber it could not tell apart: ask.
        let body = pages::no_account(cx, &page.base, "");
        return page.render(StatusCode::OK, cx.t("captive.suspended_title"), body, None, &page.policy(vec![]));
    }
    let found = match subscribers::find(&page.db, account.trim()).await {
        Ok(s) => s.filter(|s| s.subscriber.id != crate::store::hotspot_sales::SALES_ACCOUNT_ID),
        Err(e) => return page.unavailable("subscriber", e),
    };
    let Some(s) = found else {
        return page.render(
            StatusCode::NOT_FOUND,
            cx.t("captive.suspended_title"),
            pages::no_account(cx, &page.base, account.trim()),
            None,
            &page.policy(vec![]),
        );
    };
    let plan = match plans::get(&page.db, &s.subscriber.plan_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return page.unavailable("plan", "missing"),
        Err(e) => return page.unavailable("plan", e),
    };
    let due_cents = ((plan.price - s.balance()).whole_shillings_ceil().max(1)) * 100;
    // Anyone who knows an account number can open this page: the phone on file is shown masked
    // (never put in the field), and only the first name is shown.
    let on_file = s.subscriber.phone.as_ref().map(|m| format!("0{}****{}", &m.as_str()[3..5], &m.as_str()[9..]));
    let first_name = s.subscriber.name.split_whitespace().next().unwrap_or("");
    let info = pages::Suspension {
        name: first_name,
        phone_on_file: on_file.as_deref(),
        account_no: &s.subscriber.account_no,
        status: s.subscriber.status.as_str(),
        plan: &plan.name,
        expired_at: s.subscriber.expires_at.map(|t| cx.eat(t)),
        due_cents,
        phone,
    };
    let body = pages::suspended(cx, &page.base, &info, &page.csrf(), errors);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page.render(status, cx.t("captive.suspended_title"), body, None, &page.policy(vec![]))
}

async fn suspended_pay<P: Platform>(page: &Page<'_, P>, req: &Request<Bytes>) -> Response<Bytes> {
    let Some(f) = form::parse(req) else { return see_other(&page.base) };
    let account = f.get("account").unwrap_or("").to_owned();
    let phone = f.get("phone").unwrap_or("").trim().to_owned();
    if !page.csrf_ok(&f) {
        return suspended(page, &account, &phone, &csrf_error(&page.cx, "phone")).await;
    }
    // Empty: the phone on file (the page shows it masked).
    if !phone.is_empty() && crate::domain::Msisdn::parse(&phone).is_err() {
        let e = vec![FieldError { field: "phone", message: page.cx.t("captive.phone_invalid").to_owned() }];
        return suspended(page, &account, &phone, &e).await;
    }
    let input = topup::TopupInput {
        account: account.clone(),
        phone: (!phone.is_empty()).then(|| phone.clone()),
        ..Default::default()
    };
    let ip = crate::api::client_ip(req);
    match topup::start(page.p, &page.db, &page.tenant, input, topup::Caller::Anonymous { ip: &ip }, page.ctx.now).await
    {
        Ok(s) => see_other(&format!("{}/topup/{}", page.base, s.checkout_request_id)),
        Err(e) => {
            page.p.log(Level::Warn, &format!("captive {}: top-up: {e}", page.tenant.realm.as_str()));
            let message = match e {
                // Anonymous prompts ring only the phone on file (the phone was checked as a number above).
                crate::usecases::UseCaseError::Invalid(_) => page.cx.t("captive.phone_not_on_file").to_owned(),
                crate::usecases::UseCaseError::Throttled(s) => {
                    page.cx.tf("captive.prompts_throttled", &[("minutes", &(s.div_euclid(60) + 1).to_string())])
                }
                _ => page.cx.t("captive.stk_unavailable").to_owned(),
            };
            suspended(page, &account, &phone, &[FieldError { field: "phone", message }]).await
        }
    }
}

async fn topup_wait<P: Platform>(page: &Page<'_, P>, id: &str) -> Response<Bytes> {
    let cx = &page.cx;
    let here = format!("{}/topup/{}", page.base, id);
    let req = match stk::get(&page.db, id).await {
        Ok(Some(r)) if r.subscriber_id != crate::store::hotspot_sales::SALES_ACCOUNT_ID => r,
        Ok(_) => return super::not_found_page(cx),
        Err(e) => return page.unavailable("top-up", e),
    };
    let policy = page.policy(vec![]);
    match req.status {
        crate::domain::payment::StkStatus::Pending => {
            let phone = crate::domain::Msisdn::parse(&req.msisdn).map(|m| m.masked()).unwrap_or_default();
            let body = pages::waiting(cx, &here, req.amount_cents, &phone);
            page.render(StatusCode::OK, cx.t("captive.waiting_title"), body, Some(pages::refresh_head(&here)), &policy)
        }
        crate::domain::payment::StkStatus::Failed => {
            let retry = match subscribers::get(&page.db, &req.subscriber_id).await {
                Ok(Some(s)) => format!("{}/suspended?account={}", page.base, s.subscriber.account_no),
                _ => page.base.clone(),
            };
            let body = pages::failed(cx, &retry, req.result_desc.as_deref().unwrap_or(""));
            page.render(StatusCode::OK, cx.t("captive.failed_title"), body, None, &policy)
        }
        crate::domain::payment::StkStatus::Paid => page.render(
            StatusCode::OK,
            cx.t("captive.topup_paid_title"),
            pages::topup_paid(cx, req.amount_cents),
            None,
            &policy,
        ),
    }
}
