//! The versioned customer API (`/api/p/{realm}/v1/...`): what a signed-in subscriber can see and do.
//! Routes its own sub-paths (`params.rest`).
//!
//! - Sign-in (`auth/...`) hands out a short access token (HMAC-signed, checked without a database
//!   read) and a refresh token ([`crate::usecases::customer_auth`]). Every other route needs
//!   `Authorization: Bearer <access token>` and acts on the token's subscriber only: an id in the
//!   path that is not theirs (another subscriber's, another tenant's) is a 404 and writes nothing.
//! - Errors are `{"error": {"code", "message"}}` with a stable `code`; 429s carry `Retry-After`.
//! - Money is integer cents with `currency`; lists page by `cursor` (`next_cursor` in the answer);
//!   reads carry an `ETag` and answer `304` to a matching `If-None-Match`.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, Params, Query, body_json, client_ip, tenant_of};
use crate::Ctx;
use crate::db::{Db, StoreError};
use crate::domain::money::CURRENCY;
use crate::domain::plan::Plan;
use crate::domain::time::fmt_ts;
use crate::domain::{Msisdn, time};
use crate::ids::IdGen;
use crate::openapi::Flag;
use crate::platform::{Level, Platform};
use crate::store::subscribers::WithBalance;
use crate::store::tenants::Tenant;
use crate::store::{customer, payments, plans, stk, subscribers, usage};
use crate::usecases::UseCaseError;
use crate::usecases::customer as uc;
use crate::usecases::customer_auth::{self as auth, AuthError, Keys};
use crate::usecases::self_service as ss;
use crate::usecases::topup;

pub mod doc;
pub(crate) mod views;
use views as v;

/// A customer-API error: status, stable code, message for people.
#[derive(Debug)]
pub(crate) struct CustError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<i64>,
}

impl CustError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        CustError { status, code, message: message.into(), retry_after: None }
    }
    fn not_found(what: &str) -> Self {
        CustError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    fn unauthorized() -> Self {
        CustError::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first: Authorization: Bearer <access token>")
    }
    fn throttled(secs: i64) -> Self {
        CustError {
            retry_after: Some(secs.max(1)),
            ..CustError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many attempts; try again in {secs} seconds"),
            )
        }
    }
    pub(crate) fn into_response(self) -> Response<Bytes> {
        let body = v::ErrorBody { error: v::ErrorDetail { code: self.code, message: self.message } };
        let mut r = super::json(self.status, &body);
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<StoreError> for CustError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CustError::not_found("record"),
            StoreError::Conflict(m) => CustError::new(StatusCode::CONFLICT, "conflict", m),
            other => CustError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", other.to_string()),
        }
    }
}

impl From<UseCaseError> for CustError {
    fn from(e: UseCaseError) -> Self {
        match e {
            UseCaseError::Invalid(m) => CustError::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            UseCaseError::NotFound(w) => CustError::not_found(w),
            UseCaseError::Conflict(m) => CustError::new(StatusCode::CONFLICT, "conflict", m),
            UseCaseError::Provider(m) => CustError::new(StatusCode::BAD_GATEWAY, "provider_error", m),
            UseCaseError::Unavailable(m) => CustError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            UseCaseError::Throttled(s) => CustError::throttled(s),
            UseCaseError::Store(s) => s.into(),
        }
    }
}

impl From<AuthError> for CustError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(m) => CustError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", m),
            AuthError::Throttled(s) => CustError::throttled(s),
            AuthError::Invalid(m) => CustError::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            AuthError::Store(s) => s.into(),
        }
    }
}

impl From<ApiError> for CustError {
    fn from(e: ApiError) -> Self {
        let msg = e.to_string();
        match e {
            ApiError::BadRequest(_) => CustError::new(StatusCode::BAD_REQUEST, "invalid_request", msg),
            ApiError::TooLarge => CustError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", msg),
            ApiError::NotFound(_) => CustError::new(StatusCode::NOT_FOUND, "not_found", msg),
            ApiError::Unauthorized => CustError::unauthorized(),
            ApiError::TooMany(s) => CustError::throttled(s),
            ApiError::Conflict(_) => CustError::new(StatusCode::CONFLICT, "conflict", msg),
            _ => CustError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", msg),
        }
    }
}

type CResult = Result<Response<Bytes>, CustError>;

fn answer<T: Serialize>(status: StatusCode, body: &T) -> CResult {
    Ok(super::json(status, body))
}

/// A read's answer with its `ETag`; `304` when the client already has it.
fn read<T: Serialize>(req: &Request<Bytes>, body: &T) -> CResult {
    let mut r = super::json(StatusCode::OK, body);
    let tag = format!("\"{}\"", &hex::encode(Sha256::digest(r.body()))[..32]);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if matches {
        r = Response::new(Bytes::new());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

pub(crate) async fn handle<P: Platform>(p: &P, params: &Params, req: Request<Bytes>, ctx: &Ctx) -> ApiResult {
    let rest = params.rest.clone().unwrap_or_default();
    Ok(match route(p, params, &rest, req, ctx).await {
        Ok(r) => r,
        Err(e) => {
            if e.status.is_server_error() {
                p.log(Level::Error, &format!("customer api v1/{rest}: {}", e.message));
            }
            e.into_response()
        }
    })
}

/// Every route of the customer API: (method, path under `v1/`). The OpenAPI check and the
/// router test walk this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "auth/otp"),
    ("POST", "auth/otp/verify"),
    ("POST", "auth/login"),
    ("POST", "auth/refresh"),
    ("POST", "auth/logout"),
    ("GET", "me"),
    ("PATCH", "me"),
    ("PUT", "me/password"),
    ("PUT", "me/pppoe-password"),
    ("GET", "me/notifications"),
    ("PUT", "me/notification-preferences"),
    ("GET", "plans"),
    ("GET", "plans/{id}"),
    ("GET", "subscription"),
    ("POST", "subscription/renew"),
    ("POST", "subscription/plan-change/quote"),
    ("POST", "subscription/plan-change"),
    ("DELETE", "subscription/plan-change"),
    ("PUT", "subscription/auto-renew"),
    ("POST", "subscription/pause"),
    ("POST", "subscription/resume"),
    ("GET", "usage"),
    ("GET", "usage/daily"),
    ("GET", "sessions"),
    ("GET", "sessions/current"),
    ("DELETE", "sessions/current"),
    ("GET", "wallet"),
    ("GET", "wallet/entries"),
    ("GET", "wallet/statement"),
    ("POST", "topups"),
    ("GET", "topups"),
    ("GET", "topups/{id}"),
    ("GET", "payments"),
    ("GET", "payments/{id}"),
    ("GET", "payments/{id}/receipt"),
    ("POST", "payments/claim"),
    ("GET", "payment-methods"),
    ("POST", "vouchers/redeem"),
    ("GET", "invoices"),
    ("GET", "invoices/{id}"),
    ("GET", "devices"),
    ("POST", "devices"),
    ("DELETE", "devices/{id}"),
    ("GET", "tickets"),
    ("POST", "tickets"),
    ("GET", "tickets/{id}"),
    ("POST", "tickets/{id}/messages"),
    ("GET", "network/status"),
];

/// The OpenAPI 3.1 document of [`ROUTES`], served at `GET v1/openapi.json`; a test keeps the two
/// the same both ways.
pub const OPENAPI: &str = include_str!("openapi.json");

fn known_path(segs: &[&str]) -> bool {
    ROUTES.iter().any(|(_, path)| {
        let want: Vec<&str> = path.split('/').collect();
        want.len() == segs.len() && want.iter().zip(segs).all(|(w, s)| *w == "{id}" || w == s)
    })
}

/// `POST auth/otp/verify`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OtpVerifyInput {
    challenge_id: String,
    #[schemars(pattern(r"^[0-9]{6}$"))]
    code: String,
}

/// `POST auth/login`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginInput {
    /// account number or PPPoE username
    login: String,
    password: String,
}

/// `POST auth/refresh`, and `POST auth/logout` without an access token (the refresh token's
/// sign-in ends).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshInput {
    refresh_token: String,
}

/// `PUT me/password`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordInput {
    #[schemars(length(min = 8))]
    password: String,
}

/// `PUT me/pppoe-password`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PppoePasswordInput {
    /// 6-64 printable ASCII characters (what a RouterOS secret and RADIUS both take)
    #[schemars(length(min = 6, max = 64), pattern(r"^[\x21-\x7e]*$"))]
    password: String,
}

/// `PUT me/notification-preferences`: one of them at least.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub(crate) struct NotificationPreferencesInput {
    /// Offers and announcements by SMS (receipts, reminders and codes always go).
    #[serde(default)]
    promotional_sms: Option<bool>,
    /// An SMS when staff reply to one of the subscriber's tickets (on until turned off).
    #[serde(default)]
    ticket_reply_sms: Option<bool>,
}

/// `POST topups`: an M-Pesa prompt; the amount due for the next period unless one is given.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopupInput {
    /// another phone to prompt (default: the one on file)
    #[serde(default)]
    #[schemars(pattern(r"^(\+?254|0)?[17][0-9]{8}$"))]
    phone: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1))]
    amount_kes: Option<u64>,
    /// whole shillings only
    #[serde(default)]
    #[schemars(range(min = 100))]
    amount_cents: Option<i64>,
}

/// `PUT subscription/auto-renew`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoRenewInput {
    auto_renew: bool,
}

/// The signed-in subscriber of a request.
pub(crate) struct Me {
    pub sub: WithBalance,
    pub sid: String,
}

async fn route<P: Platform>(p: &P, params: &Params, rest: &str, req: Request<Bytes>, ctx: &Ctx) -> CResult {
    let (tenant, db) = tenant_of(p, params).await?;
    let realm = tenant.realm.as_str().to_owned();
    let keys = Keys::of(p.settings(), &realm)
        .ok_or_else(|| CustError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "sign-in is not configured"))?;
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let m = req.method().clone();
    let now = ctx.now;
    let mut ids = IdGen::new(ctx);
    let ip = client_ip(&req);

    // Sign-in and the API's description: no token needed.
    match (&m, segs.as_slice()) {
        (&Method::GET, ["openapi.json"]) => {
            let mut r = Response::new(Bytes::from_static(OPENAPI.as_bytes()));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            return Ok(r);
        }
        (&Method::POST, ["auth", "otp"]) => {
            let input: auth::OtpInput = body_json(&req)?;
            let sent = auth::send_otp(&db, &keys, &tenant, &input, &ip, &mut ids, now).await?;
            return answer(StatusCode::ACCEPTED, &sent);
        }
        (&Method::POST, ["auth", "otp", "verify"]) => {
            let v: OtpVerifyInput = body_json(&req)?;
            return answer(
                StatusCode::OK,
                &auth::verify_otp(&db, &keys, &v.challenge_id, &v.code, &ip, &mut ids, now).await?,
            );
        }
        (&Method::POST, ["auth", "login"]) => {
            let l: LoginInput = body_json(&req)?;
            return answer(StatusCode::OK, &auth::login(&db, &keys, &l.login, &l.password, &ip, &mut ids, now).await?);
        }
        (&Method::POST, ["auth", "refresh"]) => {
            let r: RefreshInput = body_json(&req)?;
            return answer(StatusCode::OK, &auth::refresh(&db, &keys, &r.refresh_token, &mut ids, now).await?);
        }
        (&Method::POST, ["auth", "logout"]) => {
            let family = match super::bearer(&req).and_then(|t| auth::verify_access(&keys, t, now)) {
                Some(a) => Some(a.sid),
                None => match body_json::<RefreshInput>(&req) {
                    Ok(r) => auth::family_of(&db, &r.refresh_token).await?.map(|(f, _)| f),
                    Err(_) => None,
                },
            };
            let family = family.ok_or_else(CustError::unauthorized)?;
            auth::logout(&db, &family, now).await?;
            return answer(StatusCode::OK, &v::SignedOut { signed_out: Flag });
        }
        _ => {}
    }

    if !known_path(&segs) {
        return Err(CustError::new(StatusCode::NOT_FOUND, "not_found", format!("no route v1/{rest}")));
    }
    let access =
        super::bearer(&req).and_then(|t| auth::verify_access(&keys, t, now)).ok_or_else(CustError::unauthorized)?;
    let sub = subscribers::get(&db, &access.sub).await?.ok_or_else(CustError::unauthorized)?;
    let me = Me { sub, sid: access.sid };
    let q = Query::parse(req.uri().query());

    match (&m, segs.as_slice()) {
        (&Method::GET, ["me"]) => read(&req, &me_view(&db, &me).await?),
        (&Method::PATCH, ["me"]) => {
            let patch: uc::ProfilePatch = body_json(&req)?;
            uc::patch_profile(&db, &me.sub.subscriber.id, &patch).await?;
            let me = Me {
                sub: subscribers::get(&db, &me.sub.subscriber.id).await?.ok_or_else(CustError::unauthorized)?,
                ..me
            };
            answer(StatusCode::OK, &me_view(&db, &me).await?)
        }
        (&Method::PUT, ["me", "password"]) => {
            let b: PasswordInput = body_json(&req)?;
            auth::set_password(&db, &me.sub.subscriber.id, &me.sid, &b.password, &mut ids, now).await?;
            answer(StatusCode::OK, &v::PasswordSet { password_set: Flag, other_sign_ins_ended: Flag })
        }
        (&Method::PUT, ["me", "pppoe-password"]) => {
            let b: PppoePasswordInput = body_json(&req)?;
            // The operator's path: the new secret reaches RADIUS and the router through the change feed.
            let patch =
                crate::usecases::subscribers::SubscriberPatch { password: Some(b.password), ..Default::default() };
            crate::usecases::subscribers::update_subscriber(&db, &me.sub.subscriber.id, patch, now).await?;
            answer(
                StatusCode::OK,
                &v::PppoePasswordSet { pppoe_password_set: Flag, applies: "at your next connection" },
            )
        }
        (&Method::GET, ["me", "notifications"]) => {
            let limit = q.int("limit", 20, 100).map_err(CustError::from)?.max(1);
            let items = customer::notifications(&db, &me.sub.subscriber.id, limit).await?;
            read(&req, &v::Items { items })
        }
        (&Method::PUT, ["me", "notification-preferences"]) => {
            let n: NotificationPreferencesInput = body_json(&req)?;
            let phone = me.sub.subscriber.phone.as_ref().ok_or_else(|| {
                CustError::new(StatusCode::BAD_REQUEST, "invalid_request", "this account has no phone number on file")
            })?;
            let mut stmts = Vec::new();
            match n.promotional_sms {
                Some(true) => stmts.push(customer::opt_in_own(phone.as_str())),
                Some(false) => stmts.push(crate::store::sms::opt_out(phone.as_str(), "subscriber", &fmt_ts(now))),
                None => {}
            }
            if let Some(on) = n.ticket_reply_sms {
                stmts.push(crate::store::self_service::set_ticket_reply_sms(&me.sub.subscriber.id, on));
            }
            if stmts.is_empty() {
                return Err(CustError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "say promotional_sms or ticket_reply_sms (true or false)",
                ));
            }
            db.batch(&stmts).await?;
            let out = crate::store::sms::opted_out(&db, phone.as_str()).await?;
            let replies = crate::store::self_service::ticket_reply_sms(&db, &me.sub.subscriber.id).await?;
            answer(
                StatusCode::OK,
                &v::NotificationPreferences {
                    promotional_sms: !out,
                    ticket_reply_sms: replies,
                    transactional_sms: Flag,
                },
            )
        }
        (&Method::GET, ["sessions", "current"]) => {
            let items = customer::online_of(&db, me.sub.subscriber.username.as_str()).await?;
            let first = items.into_iter().next().ok_or_else(|| CustError::not_found("online session"))?;
            read(&req, &first)
        }
        (&Method::GET, ["wallet", "statement"]) => {
            let entries = crate::store::ledger::for_subscriber(&db, &me.sub.subscriber.id).await?;
            let mut csv = String::from("date,kind,memo,amount_kes,balance_kes\r\n");
            let cell = |s: &str| {
                // Quoted, and a leading = + - @ made inert for spreadsheets.
                let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
                format!("\"{}\"", s.replace('"', "\"\""))
            };
            let kes = |c: i64| format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100);
            for e in &entries {
                csv.push_str(&format!(
                    "{},{},{},{},{}\r\n",
                    e.created_at,
                    e.kind,
                    cell(&e.memo),
                    kes(e.amount_cents),
                    kes(e.balance_cents)
                ));
            }
            let mut r = Response::new(Bytes::from(csv));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"statement-{}.csv\"",
                me.sub.subscriber.account_no.as_str()
            )) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            Ok(r)
        }
        (&Method::POST, ["vouchers", "redeem"]) => {
            let input: uc::RedeemInput = body_json(&req)?;
            let r = uc::redeem_voucher(&db, p.settings(), &tenant, &me.sub.subscriber.id, &input, &ip, &mut ids, now)
                .await?;
            answer(StatusCode::OK, &r)
        }
        (&Method::GET, ["invoices"]) => {
            let limit = q.int("limit", 20, 100).map_err(CustError::from)?.max(1);
            let cursor = q.get("cursor").filter(|c| !c.is_empty());
            let items = customer::invoices(&db, &me.sub.subscriber.id, cursor, limit).await?;
            let next = (items.len() as i64 == limit).then(|| items.last().map(|i| i.id.clone())).flatten();
            read(&req, &v::Page { items, next_cursor: next })
        }
        (&Method::GET, ["invoices", id]) => {
            let inv = customer::invoice_of(&db, &me.sub.subscriber.id, id)
                .await?
                .ok_or_else(|| CustError::not_found("invoice"))?;
            read(&req, &inv)
        }
        (&Method::GET, ["plans"]) => {
            let items: Vec<v::Plan> = uc::offered_plans(&db).await?.iter().map(|p| plan_view(p, &me)).collect();
            read(&req, &v::Items { items })
        }
        (&Method::GET, ["plans", id]) => {
            let p = plans::get(&db, id)
                .await?
                .filter(|p| {
                    p.id == me.sub.subscriber.plan_id || (p.active && p.kind == crate::domain::plan::PlanKind::Pppoe)
                })
                .ok_or_else(|| CustError::not_found("plan"))?;
            read(&req, &plan_view(&p, &me))
        }
        (&Method::GET, ["subscription"]) => read(&req, &subscription_view(&db, &tenant, &me, now).await?),
        (&Method::POST, ["subscription", "renew"]) => {
            let a = uc::renew(&db, &tenant.settings, &me.sub.subscriber.id, &mut ids, now).await?;
            answer(StatusCode::OK, &a)
        }
        (&Method::POST, ["subscription", "plan-change", "quote"]) => {
            let input: uc::PlanChangeInput = body_json(&req)?;
            answer(StatusCode::OK, &uc::quote(&db, &me.sub.subscriber.id, &input, now).await?)
        }
        (&Method::POST, ["subscription", "plan-change"]) => {
            let input: uc::PlanChangeInput = body_json(&req)?;
            if input.when == crate::domain::plan_change::When::AtRenewal {
                let q = ss::schedule_plan_change(&db, &me.sub.subscriber.id, &input, now).await?;
                return answer(StatusCode::OK, &v::PlanChanged::AtRenewal { changed: Flag, scheduled: Flag, quote: q });
            }
            let quote = uc::change_plan(&db, &me.sub.subscriber.id, &input, now).await?;
            answer(StatusCode::OK, &v::PlanChanged::Now { changed: Flag, quote })
        }
        (&Method::DELETE, ["subscription", "plan-change"]) => {
            let plan_id = ss::cancel_plan_change(&db, &me.sub.subscriber.id).await?;
            answer(StatusCode::OK, &v::PlanChangeCancelled { cancelled: Flag, plan_id })
        }
        (&Method::POST, ["subscription", "pause"]) => {
            let input: ss::PauseInput = body_json(&req)?;
            answer(StatusCode::OK, &ss::pause(&db, &tenant.settings, &me.sub.subscriber.id, &input, now).await?)
        }
        (&Method::POST, ["subscription", "resume"]) => {
            answer(StatusCode::OK, &ss::resume(&db, &me.sub.subscriber.id, now).await?)
        }
        (&Method::DELETE, ["sessions", "current"]) => {
            answer(StatusCode::ACCEPTED, &ss::request_disconnect(&db, &me.sub.subscriber.id, now).await?)
        }
        (&Method::GET, ["devices"]) => {
            read(&req, &v::Items { items: crate::store::self_service::devices(&db, &me.sub.subscriber.id).await? })
        }
        (&Method::POST, ["devices"]) => {
            let input: ss::DeviceInput = body_json(&req)?;
            answer(StatusCode::CREATED, &ss::add_device(&db, &me.sub.subscriber.id, &input, now).await?)
        }
        (&Method::DELETE, ["devices", mac]) => {
            ss::remove_device(&db, &me.sub.subscriber.id, &super::percent_decode(mac)).await?;
            answer(StatusCode::OK, &v::Removed { removed: Flag })
        }
        (&Method::GET, ["tickets"]) => {
            let limit = q.int("limit", 20, 100).map_err(CustError::from)?.max(1);
            read(
                &req,
                &v::Items { items: crate::store::self_service::tickets(&db, &me.sub.subscriber.id, limit).await? },
            )
        }
        (&Method::POST, ["tickets"]) => {
            let input: ss::TicketInput = body_json(&req)?;
            answer(StatusCode::CREATED, &ss::open_ticket(&db, &me.sub.subscriber.id, &input, &mut ids, now).await?)
        }
        (&Method::GET, ["tickets", id]) => read(&req, &ss::ticket(&db, &me.sub.subscriber.id, id).await?),
        (&Method::POST, ["tickets", id, "messages"]) => {
            let input: ss::MessageInput = body_json(&req)?;
            answer(StatusCode::CREATED, &ss::add_message(&db, &me.sub.subscriber.id, id, &input, now).await?)
        }
        (&Method::GET, ["network", "status"]) => {
            read(&req, &ss::network_status(&db, &me.sub.subscriber.id, now).await?)
        }
        (&Method::PUT, ["subscription", "auto-renew"]) => {
            let a: AutoRenewInput = body_json(&req)?;
            let patch =
                crate::usecases::subscribers::SubscriberPatch { auto_renew: Some(a.auto_renew), ..Default::default() };
            crate::usecases::subscribers::update_subscriber(&db, &me.sub.subscriber.id, patch, now).await?;
            answer(StatusCode::OK, &v::AutoRenew { auto_renew: a.auto_renew })
        }
        (&Method::GET, ["usage"]) => read(&req, &usage_view(&db, &me, now).await?),
        (&Method::GET, ["usage", "daily"]) => {
            let to = q.get("to").map(str::to_owned).unwrap_or_else(|| nairobi_day(now));
            let from = q.get("from").map(str::to_owned).unwrap_or_else(|| nairobi_day(now - Duration::days(29)));
            for d in [&from, &to] {
                if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                    return Err(CustError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "from and to are days: YYYY-MM-DD",
                    ));
                }
            }
            let days = usage::days(&db, Some(&me.sub.subscriber.username), &from, &to, 400).await?;
            let items: Vec<v::UsageDay> = days
                .iter()
                .map(|d| v::UsageDay {
                    day: d.day.clone(),
                    download_bytes: d.output_octets,
                    upload_bytes: d.input_octets,
                    online_seconds: d.online_seconds,
                    sessions: d.sessions,
                })
                .collect();
            read(&req, &v::UsageDaily { from, to, items })
        }
        (&Method::GET, ["sessions"]) => {
            // The history the agent's usage pushes leave behind, newest first; open ones too.
            let limit = q.int("limit", 20, 100).map_err(CustError::from)?.max(1);
            let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
                Some(c) => Some(
                    c.parse::<i64>()
                        .map_err(|_| CustError::new(StatusCode::BAD_REQUEST, "invalid_request", "bad cursor"))?,
                ),
                None => None,
            };
            let online = !customer::online_of(&db, &me.sub.subscriber.username).await?.is_empty();
            let items = customer::session_history(&db, &me.sub.subscriber.username, cursor, limit).await?;
            let next = (items.len() as i64 == limit).then(|| items.last().map(|s| s.cursor.to_string())).flatten();
            read(&req, &v::Sessions { online, items, next_cursor: next })
        }
        (&Method::GET, ["wallet"]) => {
            let plan =
                plans::get(&db, &me.sub.subscriber.plan_id).await?.ok_or_else(|| CustError::not_found("plan"))?;
            let due = (plan.price.cents() - me.sub.balance_cents).max(0);
            read(
                &req,
                &v::Wallet {
                    balance_cents: me.sub.balance_cents,
                    currency: CURRENCY,
                    next_period_price_cents: plan.price.cents(),
                    due_for_next_period_cents: due,
                },
            )
        }
        (&Method::GET, ["wallet", "entries"]) => {
            let limit = q.int("limit", 20, 100).map_err(CustError::from)?.max(1);
            let cursor = match q.get("cursor").filter(|c| !c.is_empty()) {
                Some(c) => Some(
                    c.parse::<i64>()
                        .map_err(|_| CustError::new(StatusCode::BAD_REQUEST, "invalid_request", "bad cursor"))?,
                ),
                None => None,
            };
            let items = customer::wallet_page(&db, &me.sub.subscriber.id, cursor, limit, me.sub.balance_cents).await?;
            let next = (items.len() as i64 == limit).then(|| items.last().map(|e| e.id.to_string())).flatten();
            read(&req, &v::Page { items, next_cursor: next })
        }
        (&Method::POST, ["topups"]) => {
            let t: TopupInput = body_json(&req)?;
            let input = topup::TopupInput {
                account: me.sub.subscriber.account_no.to_string(),
                phone: t.phone,
                amount_kes: t.amount_kes,
                amount_cents: t.amount_cents,
            };
            let caller = topup::Caller::Subscriber { id: &me.sub.subscriber.id };
            let started = topup::start(p, &db, &tenant, input, caller, now).await?;
            let id = started.checkout_request_id.clone();
            let status_url = format!("/api/p/{realm}/v1/topups/{id}");
            answer(
                StatusCode::ACCEPTED,
                &v::TopupStarted {
                    id,
                    status: "pending",
                    amount_cents: started.amount_kes as i64 * 100,
                    currency: CURRENCY,
                    phone: started.phone.to_string(),
                    message: started.customer_message.to_string(),
                    next: v::NextStep { action: "enter_mpesa_pin_on_phone", status_url },
                },
            )
        }
        (&Method::GET, ["topups"]) => {
            let mut items = Vec::new();
            for id in
                customer::topups(&db, &me.sub.subscriber.id, q.int("limit", 20, 100).map_err(CustError::from)?).await?
            {
                if let Some(s) = stk::get(&db, &id).await? {
                    items.push(topup_view(&s));
                }
            }
            read(&req, &v::Items { items })
        }
        (&Method::GET, ["topups", id]) => {
            let s = stk::get(&db, id)
                .await?
                .filter(|s| s.subscriber_id == me.sub.subscriber.id)
                .ok_or_else(|| CustError::not_found("top-up"))?;
            read(&req, &topup_view(&s))
        }
        (&Method::POST, ["payments", "claim"]) => {
            let input: uc::ClaimInput = body_json(&req)?;
            let c = uc::claim(&db, &tenant.settings, &me.sub.subscriber.id, &input, &mut ids, now).await?;
            answer(StatusCode::OK, &c)
        }
        (&Method::GET, ["payments"]) => {
            let limit = q.int("limit", 20, 100).map_err(CustError::from)?.max(1);
            let cursor = q.get("cursor").filter(|c| !c.is_empty());
            let list = customer::payments_page(&db, &me.sub.subscriber.id, cursor, limit).await?;
            let next = (list.len() as i64 == limit).then(|| list.last().map(|p| p.id.clone())).flatten();
            let items: Vec<v::Payment> = list.iter().map(payment_view).collect();
            read(&req, &v::Page { items, next_cursor: next })
        }
        (&Method::GET, ["payments", id]) => read(&req, &payment_view(&own_payment(&db, &me, id).await?)),
        (&Method::GET, ["payments", id, "receipt"]) => {
            let pay = own_payment(&db, &me, id).await?;
            read(&req, &receipt_view(&tenant, &me, &pay))
        }
        (&Method::GET, ["payment-methods"]) => {
            let d = &tenant.daraja;
            let stripe: crate::store::cards::StripeKeys =
                crate::store::cards::keys(&db, "stripe").await.unwrap_or_default();
            let paystack: crate::store::cards::PaystackKeys =
                crate::store::cards::keys(&db, "paystack").await.unwrap_or_default();
            let mut methods = Vec::new();
            if d.is_configured() {
                methods.push(v::PaymentMethod::MpesaStk { how: "POST topups: a prompt on your phone" });
            }
            if !d.shortcode.is_empty() && d.till.is_empty() {
                methods.push(v::PaymentMethod::MpesaPaybill {
                    business_number: d.shortcode.clone(),
                    account_number: me.sub.subscriber.account_no.to_string(),
                });
            }
            if !d.till.is_empty() {
                methods.push(v::PaymentMethod::MpesaTill { till_number: d.till.clone() });
            }
            let checkout = format!("POST /api/p/{realm}/checkout");
            if stripe.is_configured() {
                methods.push(v::PaymentMethod::Card { provider: v::CardProvider::Stripe, how: checkout.clone() });
            }
            if paystack.is_configured() {
                methods.push(v::PaymentMethod::Card { provider: v::CardProvider::Paystack, how: checkout });
            }
            read(&req, &v::Items { items: methods })
        }
        _ => Err(CustError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{m} is not allowed on v1/{rest}"),
        )),
    }
}

fn nairobi_day(t: DateTime<Utc>) -> String {
    t.with_timezone(&time::eat()).format("%Y-%m-%d").to_string()
}

async fn own_payment(db: &impl crate::db::Db, me: &Me, id: &str) -> Result<payments::Payment, CustError> {
    payments::get(db, id)
        .await?
        .filter(|p| p.subscriber_id.as_deref() == Some(me.sub.subscriber.id.as_str()))
        .ok_or_else(|| CustError::not_found("payment"))
}

async fn me_view(db: &impl crate::db::Db, me: &Me) -> Result<v::Me, CustError> {
    let prof = customer::profile(db, &me.sub.subscriber.id).await?;
    let s = &me.sub.subscriber;
    Ok(v::Me {
        id: s.id.clone(),
        account_no: s.account_no.to_string(),
        name: s.name.clone(),
        phone: s.phone.as_ref().map(|p| p.as_str().to_owned()),
        username: s.username.to_string(),
        email: prof.email,
        language: prof.language,
        status: s.status,
        plan_id: s.plan_id.clone(),
        has_password: prof.portal_password_hash.is_some(),
    })
}

fn plan_view(p: &Plan, me: &Me) -> v::Plan {
    v::Plan {
        id: p.id.clone(),
        code: p.code.clone(),
        name: p.name.clone(),
        price_cents: p.price.cents(),
        currency: CURRENCY,
        period_seconds: p.period_seconds,
        down_kbps: p.down_kbps,
        up_kbps: p.up_kbps,
        data_cap_bytes: p.data_cap_bytes,
        current: p.id == me.sub.subscriber.plan_id,
    }
}

/// What `GET subscription` answers (also the portal's home page).
pub(crate) async fn subscription_view(
    db: &impl crate::db::Db,
    tenant: &Tenant,
    me_sub: &Me,
    now: DateTime<Utc>,
) -> Result<v::Subscription, CustError> {
    let s = &me_sub.sub;
    let plan = plans::get(db, &s.subscriber.plan_id).await?.ok_or_else(|| CustError::not_found("plan"))?;
    let left = s.subscriber.expires_at.map(|e| (e - now).num_seconds().max(0));
    let due = (plan.price.cents() - s.balance_cents).max(0);
    let x = crate::store::self_service::extras(db, &s.subscriber.id).await?;
    let pending = match &x.pending_plan_id {
        Some(id) => plans::get(db, id).await?.map(|p| plan_view(&p, me_sub)),
        None => None,
    };
    let pause = x.paused_at.as_ref().map(|at| v::Pause {
        since: at.clone(),
        until: x.paused_until.clone(),
        seconds_left: x.paused_seconds_left,
    });
    Ok(v::Subscription {
        status: if pause.is_some() { "paused" } else { s.subscriber.status.as_str() },
        pending_plan_change: pending.map(|plan| v::PendingPlanChange {
            plan,
            when: "at_renewal",
            at: s.subscriber.expires_at.map(fmt_ts),
        }),
        pause,
        plan: plan_view(&plan, me_sub),
        expires_at: s.subscriber.expires_at.map(fmt_ts),
        seconds_left: left,
        grace_seconds: tenant.settings.grace_seconds,
        auto_renew: s.subscriber.auto_renew,
        balance_cents: s.balance_cents,
        currency: CURRENCY,
        due_for_next_period_cents: due,
    })
}

async fn usage_view(db: &impl crate::db::Db, me: &Me, now: DateTime<Utc>) -> Result<v::Usage, CustError> {
    let plan = plans::get(db, &me.sub.subscriber.plan_id).await?.ok_or_else(|| CustError::not_found("plan"))?;
    // The paid period `now` is in: with several periods paid ahead, the one ending first.
    let start = match me.sub.subscriber.expires_at {
        Some(e) if e > now && plan.period_seconds > 0 => {
            let ahead = (e - now).num_seconds();
            let periods = (ahead + plan.period_seconds - 1) / plan.period_seconds;
            e - Duration::seconds(periods * plan.period_seconds)
        }
        _ => now - Duration::days(30),
    };
    let (from, to) = (nairobi_day(start), nairobi_day(now));
    let (up, down, secs) = customer::usage_between(db, &me.sub.subscriber.username, &from, &to).await?;
    let used = up + down;
    Ok(v::Usage {
        from,
        to,
        download_bytes: down,
        upload_bytes: up,
        total_bytes: used,
        online_seconds: secs,
        data_cap_bytes: plan.data_cap_bytes,
        cap_used_percent: plan.data_cap_bytes.filter(|c| *c > 0).map(|c| (used as i128 * 100 / c as i128) as i64),
    })
}

fn topup_view(s: &stk::StkRequest) -> v::Topup {
    v::Topup {
        id: s.checkout_request_id.clone(),
        status: s.status,
        amount_cents: s.amount_cents,
        currency: CURRENCY,
        phone: Msisdn::parse(&s.msisdn).map(|m| m.masked()).unwrap_or_default(),
        result: s.result_desc.clone(),
        created_at: s.created_at.clone(),
        resolved_at: s.resolved_at.clone(),
    }
}

fn payment_view(p: &payments::Payment) -> v::Payment {
    v::Payment {
        id: p.id.clone(),
        provider: p.provider.clone(),
        method: p.method.clone(),
        receipt: p.receipt.clone(),
        amount_cents: p.amount_cents,
        currency: CURRENCY,
        paid_at: p.paid_at.clone(),
        received_at: p.received_at.clone(),
    }
}

fn receipt_view(t: &Tenant, me: &Me, p: &payments::Payment) -> v::Receipt {
    v::Receipt {
        receipt_no: p.receipt.clone().unwrap_or_else(|| p.provider_ref.clone()),
        issued_by: t.name.clone(),
        account_no: me.sub.subscriber.account_no.to_string(),
        name: me.sub.subscriber.name.clone(),
        amount_cents: p.amount_cents,
        currency: CURRENCY,
        method: p.method.clone(),
        provider: p.provider.clone(),
        paid_at: p.paid_at.clone().unwrap_or_else(|| p.received_at.clone()),
        payment_id: p.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn customer_routes_are_unique_and_known() {
        for (i, (m, p)) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[..i].contains(&(m, p)), "{m} {p} twice");
            let segs: Vec<&str> = p.split('/').map(|s| if s == "{id}" { "x1" } else { s }).collect();
            assert!(known_path(&segs), "{p}");
        }
        assert!(!known_path(&["nope"]));
    }

    #[test]
    fn openapi_document_has_every_route_and_no_other() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = Vec::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for (method, op) in ops.as_object().expect("operations") {
                documented.push((method.to_ascii_uppercase(), path.trim_start_matches('/').to_owned()));
                assert!(op["summary"].is_string() && op["responses"].is_object(), "{method} {path}");
                let path_param = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter().any(|p| p["in"] == "path" && p["name"] == "id" && p["required"] == true)
                });
                assert_eq!(path.contains("{id}"), path_param, "{method} {path}: path parameter");
                // a success answer with its schema, errors in the one error shape, and a security rule
                let ok: Vec<&String> =
                    op["responses"].as_object().expect("responses").keys().filter(|k| k.starts_with('2')).collect();
                assert_eq!(ok.len(), 1, "{method} {path}: one success answer");
                let content = &op["responses"][ok[0].as_str()]["content"];
                assert!(
                    content["application/json"]["schema"].is_object() || content["text/csv"]["schema"].is_object(),
                    "{method} {path}: success schema"
                );
                for e in ["4XX", "5XX"] {
                    assert_eq!(
                        op["responses"][e]["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path}: {e}"
                    );
                }
                assert!(op["security"].is_array(), "{method} {path}: security");
            }
        }
        let text = OPENAPI.to_owned();
        for (i, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[i + 21..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(doc["components"]["schemas"][&name].is_object(), "{name} is referenced but not defined");
        }
        documented.sort();
        let mut routes: Vec<(String, String)> =
            ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
        routes.sort();
        assert_eq!(documented, routes, "openapi.json and ROUTES differ");
    }
}
