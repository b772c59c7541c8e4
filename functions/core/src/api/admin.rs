//! The operator's JSON API: `/api/tenants` (platform) and `/api/t/{realm}/...` (tenant admin).

use crate::usecases as uc;
use bytes::Bytes;
use http::{Method, Request};
use serde::Deserialize;

use super::{ApiError, ApiResult, Params, Query, Route, bearer, body_json, created, is_platform, ok, tenant_of};
use crate::Ctx;
use crate::db::Db;
use crate::ids::IdGen;
use crate::openapi::Flag;
use crate::platform::Platform;
use crate::secret::constant_time_eq;
use crate::store::tenants::{self, Tenant};
use crate::store::{callbacks, feed, ledger, payments, plans, reports, sms, staff, subscribers, usage};
use crate::usecases::staff::{Action, Role};
use crate::usecases::{credit, expiry, sweep};

/// Who is calling the tenant admin API: the platform token or the tenant's admin token act as the
/// owner; a named API key acts with its own role. `None`: no valid credential.
async fn caller<P: Platform>(
    p: &P,
    t: &Tenant,
    db: &P::Db,
    req: &Request<Bytes>,
) -> Result<Option<(Role, String)>, ApiError> {
    if is_platform(p, req) {
        return Ok(Some((Role::Owner, "platform".into())));
    }
    let Some(tok) = bearer(req) else { return Ok(None) };
    if constant_time_eq(uc::tenants::token_hash(tok).as_bytes(), t.admin_token_hash.as_bytes()) {
        return Ok(Some((Role::Owner, "admin-token".into())));
    }
    Ok(staff::key_by_secret(db, tok).await?.map(|k| (k.role, format!("api-key:{}", k.name))))
}

/// What an admin route does, for the role table ([`uc::staff::ROLE_TABLE`]).
pub(crate) fn route_action(route: Route, m: &Method) -> Action {
    let read = *m == Method::GET;
    match route {
        Route::Plans | Route::Plan if read => Action::ViewBilling,
        Route::Plans | Route::Plan => Action::EditPlans,
        Route::Subscribers | Route::Subscriber | Route::Ledger if read => Action::ViewBilling,
        Route::Subscribers | Route::Subscriber | Route::Ledger => Action::EditSubscribers,
        Route::Adjust | Route::StkPush | Route::Assign => Action::TakeMoney,
        Route::Payments | Route::Unmatched => Action::ViewBilling,
        Route::Callbacks | Route::Usage | Route::Online | Route::Reports => Action::ViewNetwork,
        Route::ConfirmDisables => Action::ConfirmDisables,
        Route::NetworkNotices if read => Action::ViewNetwork,
        Route::NetworkNotices => Action::EditSubscribers,
        Route::VoucherBatches | Route::VoucherCodes | Route::VoucherSheet | Route::VoucherReport if read => {
            Action::ViewVouchers
        }
        Route::Reversals => Action::ViewBilling,
        Route::SmsOutbox | Route::SmsCosts | Route::SmsOptouts if read => Action::ViewSms,
        Route::SmsBroadcast => Action::SendSms,
        Route::SmsOptouts => Action::EditSubscribers,
        Route::VoucherBatches | Route::VoucherCodes => Action::SellVouchers,
        Route::StaffUsers => Action::ManageUsers,
        // settings, sweep, C2B registration, the change feed, anything new: owner only
        _ => Action::Settings,
    }
}

/// The OpenAPI 3.1 document of the admin API (every route under `/api/t/{realm}/` and
/// `/api/tenants`), served at `GET /api/t/{realm}/openapi.json` without a credential. Generated from
/// the code ([`super::admin_doc`]); tests hold it to the route table ([`super::admin_api_paths`])
/// and the answers to its schemas.
pub const OPENAPI: &str = include_str!("admin_openapi.json");

/// `GET /api/t/{realm}/openapi.json`: an unknown tenant is 404, as on every tenant route.
pub(crate) async fn openapi<P: Platform>(p: &P, params: &Params, req: &Request<Bytes>) -> ApiResult {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    tenant_of(p, params).await?;
    let mut r = http::Response::new(Bytes::from_static(OPENAPI.as_bytes()));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("public, max-age=300"));
    Ok(r)
}

/// One tenant of the platform.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Tenant")]
pub(crate) struct TenantView<'a> {
    realm: &'a str,
    name: &'a str,
    status: &'a str,
    created_at: String,
    daraja_configured: bool,
}

pub(crate) async fn handle<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> ApiResult {
    let mut ids = IdGen::new(ctx);
    let m = req.method().clone();
    if route == Route::Tenants {
        if !is_platform(p, &req) {
            return Err(ApiError::Unauthorized);
        }
        return match m {
            Method::GET => {
                let list = tenants::list(p.control()).await?;
                let views: Vec<_> = list
                    .iter()
                    .map(|t| TenantView {
                        realm: t.realm.as_str(),
                        name: &t.name,
                        status: t.status.as_str(),
                        created_at: crate::domain::time::fmt_ts(t.created_at),
                        daraja_configured: t.daraja.is_configured(),
                    })
                    .collect();
                ok(&views)
            }
            Method::POST => {
                // who, for the platform audit log (written in the same batch as the registration):
                // the platform token's tag and the client's address, as the platform console says it
                let tag = crate::store::platform_audit::token_tag(bearer(&req).unwrap_or(""));
                let actor = crate::store::platform_audit::actor(&tag, &super::client_ip(&req));
                created(&uc::tenants::create_tenant(p, body_json(&req)?, &actor, &mut ids, ctx.now).await?)
            }
            _ => Err(ApiError::MethodNotAllowed),
        };
    }

    let (tenant, db) = tenant_of(p, params).await?;
    let Some((role, actor)) = caller(p, &tenant, &db, &req).await? else {
        return Err(ApiError::Unauthorized);
    };
    if !uc::staff::allowed(role, route_action(route, &m)) {
        return Err(ApiError::Forbidden);
    }
    let write = m != Method::GET;
    // Every change through the API is audited: who, what, when, and what was asked (a settings
    // change records which fields, never their values: they may hold Daraja secrets).
    let asked = if route == Route::Settings || route == Route::StaffUsers {
        serde_json::from_slice::<serde_json::Value>(req.body())
            .ok()
            .and_then(|v| v.as_object().map(|o| serde_json::json!({"fields": o.keys().collect::<Vec<_>>()})))
    } else {
        serde_json::from_slice::<serde_json::Value>(req.body()).ok()
    };
    let what = format!("api {} {}", m, req.uri().path());
    let result = if role == Role::Agent {
        // An agent's key acts for the agent it is named after, on that agent's batches only.
        let agent = actor.strip_prefix("api-key:").unwrap_or(&actor);
        super::vouchers::for_agent(p, route, params, &req, ctx, &tenant, &db, agent, &mut ids).await
    } else {
        tenant_route(p, route, params, req, ctx, &tenant, &db, m, &mut ids, &actor).await
    };
    if write && result.as_ref().is_ok_and(|r| r.status().is_success()) {
        let at = crate::domain::time::fmt_ts(ctx.now);
        let target = params.id.as_deref().unwrap_or("");
        if let Err(e) = db.batch(&[staff::audit(&at, &actor, &what, target, None, asked.as_ref())]).await {
            p.log(crate::platform::Level::Warn, &format!("audit write failed: {e}"));
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn tenant_route<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
    tenant_ref: &Tenant,
    db: &P::Db,
    m: Method,
    ids: &mut IdGen,
    actor: &str,
) -> ApiResult {
    let tenant = tenant_ref;
    let q = Query::parse(req.uri().query());
    let raw_id = params.id.as_deref().unwrap_or("");
    // Subscriber routes take an id, an account number or a username; the rest of this function
    // sees the id.
    let resolved;
    let id = if matches!(route, Route::Subscriber | Route::Ledger | Route::Adjust | Route::StkPush) {
        resolved = subscribers::find(db, raw_id).await?.ok_or_else(|| ApiError::NotFound("subscriber".into()))?;
        resolved.subscriber.id.as_str()
    } else {
        raw_id
    };
    match (route, m) {
        (Route::Plans, Method::GET) => ok(&plans::list(db).await?),
        (Route::Plans, Method::POST) => created(&uc::plans::create_plan(db, body_json(&req)?, ids, ctx.now).await?),
        (Route::Plan, Method::GET) => {
            ok(&plans::get(db, id).await?.ok_or_else(|| ApiError::NotFound("plan".into()))?)
        }
        (Route::Plan, Method::PATCH) => ok(&uc::plans::update_plan(db, id, body_json(&req)?, ctx.now).await?),

        (Route::Subscribers, Method::GET) => {
            let limit = q.int("limit", 100, 1000)?;
            let offset = q.int("offset", 0, i64::MAX)?;
            ok(&subscribers::list(db, q.get("status"), limit, offset).await?)
        }
        (Route::Subscribers, Method::POST) => {
            created(&uc::subscribers::create_subscriber(db, body_json(&req)?, ids, ctx.now).await?)
        }
        (Route::Subscriber, Method::GET) => {
            let s = subscribers::get(db, id).await?.ok_or_else(|| ApiError::NotFound("subscriber".into()))?;
            ok(&s)
        }
        (Route::Subscriber, Method::PATCH) => {
            ok(&uc::subscribers::update_subscriber(db, id, body_json(&req)?, ctx.now).await?)
        }
        (Route::Ledger, Method::GET) => {
            subscribers::get(db, id).await?.ok_or_else(|| ApiError::NotFound("subscriber".into()))?;
            ok(&ledger::for_subscriber(db, id).await?)
        }
        (Route::Adjust, Method::POST) => {
            let a: AdjustInput = body_json(&req)?;
            ok(&uc::operator_money::adjust(db, &tenant.settings, id, a.amount_cents, &a.memo, ids, ctx.now).await?)
        }
        (Route::StkPush, Method::POST) => {
            let body: StkPushInput = body_json(&req)?;
            let s = subscribers::get(db, id).await?.ok_or_else(|| ApiError::NotFound("subscriber".into()))?;
            let input = crate::usecases::topup::TopupInput {
                account: s.subscriber.account_no.to_string(),
                phone: body.phone,
                amount_kes: body.amount_kes,
                amount_cents: None,
            };
            let caller = crate::usecases::topup::Caller::Operator;
            Ok(super::json(
                http::StatusCode::ACCEPTED,
                &crate::usecases::topup::start(p, db, tenant, input, caller, ctx.now).await?,
            ))
        }
        (Route::Payments, Method::GET) => {
            let limit = q.int("limit", 100, 1000)?;
            let status = match q.get("status") {
                None => None,
                Some(s) => Some(
                    payments::PaymentStatus::parse(s)
                        .ok_or_else(|| ApiError::BadRequest("status is applied or unmatched".into()))?,
                ),
            };
            ok(&payments::list(db, status, q.get("subscriber"), limit).await?)
        }
        (Route::Unmatched, Method::GET) => {
            let limit = q.int("limit", 100, 1000)?;
            ok(&payments::list(db, Some(payments::PaymentStatus::Unmatched), None, limit).await?)
        }
        (Route::Assign, Method::POST) => {
            ok(&uc::operator_money::assign_unmatched(db, &tenant.settings, id, body_json(&req)?, ids, ctx.now).await?)
        }
        (Route::Callbacks, Method::GET) => {
            let limit = q.int("limit", 50, 500)?;
            ok(&callbacks::list(db, q.get("outcome"), limit).await?)
        }
        (Route::Settings, Method::GET) => {
            let stripe: crate::store::cards::StripeKeys = crate::store::cards::keys(db, "stripe").await?;
            let paystack: crate::store::cards::PaystackKeys = crate::store::cards::keys(db, "paystack").await?;
            let sms_keys: sms::SmsKeys = crate::store::cards::keys(db, sms::PROVIDER).await?;
            let d = &tenant.daraja;
            let hook = |what: &str| crate::mpesa::hook_url(&p.settings().public_base_url, tenant, what);
            ok(&SettingsView {
                settings: tenant.settings.clone(),
                daraja: DarajaView {
                    environment: d.environment.clone(),
                    shortcode: d.shortcode.clone(),
                    till: d.till.clone(),
                    c2b_api_version: d.c2b_api_version.clone(),
                    configured: d.is_configured(),
                    // which secrets are set, never their values
                    consumer_key_set: !d.consumer_key.is_empty(),
                    consumer_secret_set: !d.consumer_secret.is_empty(),
                    passkey_set: !d.passkey.is_empty(),
                },
                stripe: uc::cards::stripe_view(&stripe),
                paystack: uc::cards::paystack_view(&paystack),
                sms: uc::sms::keys_view(&sms_keys),
                callback_urls: CallbackUrls {
                    sms_delivery_reports: hook("sms/delivery"),
                    stripe: hook("stripe"),
                    paystack: hook("paystack"),
                    stk: hook("stk"),
                    c2b_validation: hook("c2b/validate"),
                    c2b_confirmation: hook("c2b/confirm"),
                },
            })
        }
        (Route::Settings, Method::PUT) => {
            let patch: serde_json::Value = body_json(&req)?;
            let (settings, daraja) = uc::tenants::merge_settings(&tenant.settings, &tenant.daraja, &patch)?;
            let mut keys = uc::cards::merge_keys(db, &patch, ctx.now).await?;
            keys.extend(uc::sms::merge_keys(db, &patch, ctx.now).await?);
            tenants::update_settings(p.control(), &tenant.realm, &settings, &daraja).await?;
            if !keys.is_empty() {
                db.batch(&keys).await?;
            }
            ok(&Updated { updated: Flag })
        }
        (Route::RegisterC2b, Method::POST) => {
            let ack = crate::mpesa::register_c2b(p, db, tenant, ctx.now)
                .await
                .map_err(|e| ApiError::Provider(e.to_string()))?;
            ok(&Registered { registered: Flag, description: ack.response_description })
        }
        (Route::Sweep, Method::POST) => {
            let s =
                if tenant.daraja.is_configured() { Some(sweep::run(p, db, tenant, ids, ctx.now).await?) } else { None };
            let settled = credit::settle_pending(db, &tenant.settings, ids, ctx.now).await?;
            let e = expiry::run(db, &tenant.settings, ids, ctx.now).await?;
            ok(&SweepRun { sweep: s, settled, expiry: e })
        }
        (Route::Usage, Method::GET) => {
            let limit = q.int("limit", 366, 10_000)?;
            let from = q.get("from").unwrap_or("0000-00-00");
            let to = q.get("to").unwrap_or("9999-99-99");
            let who = match q.get("subscriber") {
                Some(sid) => Some(
                    subscribers::get(db, sid)
                        .await?
                        .ok_or_else(|| ApiError::NotFound("subscriber".into()))?
                        .subscriber
                        .username
                        .to_string(),
                ),
                None => q.get("username").map(str::to_owned),
            };
            let days = usage::days(db, who.as_deref(), from, to, limit).await?;
            ok(&days.into_iter().map(UsageDay::from).collect::<Vec<_>>())
        }
        (Route::Online, Method::GET) => ok(&usage::online(db).await?),
        (Route::NetworkNotices, Method::GET) => {
            ok(&crate::store::self_service::notices(db, None, &crate::domain::time::fmt_ts(ctx.now)).await?)
        }
        (Route::NetworkNotices, Method::POST) => {
            created(&uc::self_service::announce(db, &body_json(&req)?, ids, ctx.now).await?)
        }
        (Route::Reports, Method::GET) => {
            let limit = q.int("limit", 100, 1000)?;
            ok(&reports::list(db, q.get("router"), q.get("outcome"), limit).await?)
        }
        (Route::ConfirmDisables, Method::POST) => {
            let c: ConfirmDisablesInput = body_json(&req)?;
            ok(&uc::held::confirm(db, raw_id, c.hold_id, actor, ctx.now).await?)
        }
        (Route::VoucherBatches, Method::GET) => super::vouchers::list(db).await,
        (Route::VoucherBatches, Method::POST) => super::vouchers::create(p, tenant, db, &req, ids, ctx).await,
        (Route::VoucherCodes, Method::GET) => super::vouchers::codes(p, tenant, db, params, &q).await,
        (Route::StaffUsers, Method::GET) => ok(&staff::users(db).await?),
        (Route::StaffUsers, Method::POST) => {
            let u: StaffUserInput = body_json(&req)?;
            let role = Role::parse(&u.role)
                .ok_or_else(|| ApiError::BadRequest("role is owner, staff, agent or readonly".into()))?;
            created(&uc::staff::create_user(db, "api", &u.login, &u.name, role, &u.password, ids, ctx.now).await?)
        }
        (Route::VoucherSheet, Method::GET) => super::vouchers::sheet(p, tenant, db, params, &q, &req).await,
        (Route::VoucherReport, Method::GET) => super::vouchers::report(db, &q, ctx).await,
        (Route::Reversals, Method::GET) => {
            let limit = q.int("limit", 100, 1000)?;
            ok(&crate::store::cards::reversals(db, limit).await?)
        }
        (Route::Feed, Method::GET) => {
            let after = q.int("after", 0, i64::MAX)?;
            let limit = q.int("limit", 500, 5000)?;
            ok(&feed::after(db, after, limit).await?)
        }
        (Route::SmsOutbox, Method::GET) => {
            let limit = q.int("limit", 50, 500)?;
            ok(&sms::list(db, q.get("to"), q.get("status"), limit).await?)
        }
        (Route::SmsBroadcast, Method::POST) => {
            let input: uc::sms::BroadcastInput = body_json(&req)?;
            created(&uc::sms::broadcast(db, &tenant.settings, input, ids, ctx.now).await?)
        }
        (Route::SmsOptouts, Method::GET) => {
            let list = sms::optouts(db).await?;
            ok(&list
                .into_iter()
                .map(|(msisdn, source, created_at)| OptOutEntry { msisdn, source, created_at })
                .collect::<Vec<_>>())
        }
        (Route::SmsOptouts, Method::POST) => {
            let input: OptOutInput = body_json(&req)?;
            let msisdn = crate::domain::msisdn::Msisdn::parse(&input.phone)
                .map_err(|e| ApiError::BadRequest(format!("phone: {e}")))?;
            let stmt = if input.opt_out {
                sms::opt_out(msisdn.as_str(), "operator", &crate::domain::time::fmt_ts(ctx.now))
            } else {
                sms::opt_in(msisdn.as_str())
            };
            db.batch(&[stmt]).await?;
            ok(&OptOut { msisdn: msisdn.as_str().to_owned(), opted_out: input.opt_out })
        }
        (Route::SmsCosts, Method::GET) => {
            let days = q.int("days", 30, 3660)?;
            let since = crate::domain::time::fmt_ts(ctx.now - chrono::Duration::days(days));
            let per_day = sms::costs(db, &since).await?;
            let total: i64 = per_day.iter().map(|d| d.2).sum();
            let messages: i64 = per_day.iter().map(|d| d.1).sum();
            ok(&SmsCosts {
                days,
                messages,
                cost_e4: total,
                cost_kes: format!("{}.{:04}", total / 10_000, total % 10_000),
                per_day: per_day
                    .into_iter()
                    .map(|(day, messages, cost_e4)| SmsCostDay { day, messages, cost_e4 })
                    .collect(),
            })
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// `POST subscribers/{id}/adjust`: money on (positive) or off (negative) the balance, by hand.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct AdjustInput {
    /// cents; negative takes money off
    amount_cents: i64,
    /// why, for the ledger
    memo: String,
}

/// `POST subscribers/{id}/stk-push`.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct StkPushInput {
    /// another phone to prompt (default: the one on file)
    #[serde(default)]
    phone: Option<String>,
    /// default: what the next period costs, less the balance
    #[serde(default)]
    amount_kes: Option<u64>,
}

/// `POST routers/{id}/confirm-disables`.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct ConfirmDisablesInput {
    /// the `hold_id` of the run report that shows the hold
    hold_id: u64,
}

/// `POST users`.
#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct StaffUserInput {
    login: String,
    name: String,
    #[schemars(extend("enum" = ["owner", "staff", "agent", "readonly"]))]
    role: String,
    password: String,
}

/// `POST sms/optouts`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OptOutInput {
    phone: String,
    /// false: opt back in
    #[serde(default = "yes")]
    opt_out: bool,
}

fn yes() -> bool {
    true
}

/// `PUT settings`: any of the sections, each laid field by field over what is stored (a secret
/// stays unless a new one is given; `null` clears it). The handler reads the body as this shape
/// ([`uc::tenants::merge_settings`] and the key merges refuse any other field).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct SettingsPatch {
    settings: Option<crate::store::tenants::TenantSettings>,
    daraja: Option<crate::store::tenants::DarajaSettings>,
    stripe: Option<crate::store::cards::StripeKeys>,
    paystack: Option<crate::store::cards::PaystackKeys>,
    sms: Option<sms::SmsKeys>,
}

/// `GET settings`: the tenant's settings, and which provider keys are set (never their values).
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Settings")]
pub(crate) struct SettingsView {
    settings: crate::store::tenants::TenantSettings,
    daraja: DarajaView,
    stripe: uc::cards::StripeView,
    paystack: uc::cards::PaystackView,
    sms: uc::sms::SmsKeysView,
    callback_urls: CallbackUrls,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(inline)]
struct DarajaView {
    environment: String,
    shortcode: String,
    till: String,
    c2b_api_version: String,
    configured: bool,
    consumer_key_set: bool,
    consumer_secret_set: bool,
    passkey_set: bool,
}

/// What to give each provider as the tenant's callback address.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(inline)]
struct CallbackUrls {
    sms_delivery_reports: String,
    stripe: String,
    paystack: String,
    stk: String,
    c2b_validation: String,
    c2b_confirmation: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub(crate) struct Updated {
    updated: Flag<true>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub(crate) struct Registered {
    registered: Flag<true>,
    /// Daraja's ResponseDescription
    description: String,
}

/// `POST sweep`: what the scheduled pass did now.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Sweep")]
pub(crate) struct SweepRun {
    /// the STK query sweep; null when M-Pesa is not configured
    sweep: Option<sweep::SweepReport>,
    /// pending credits settled
    settled: usize,
    expiry: expiry::ExpiryReport,
}

/// One subscriber's usage on one day.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Usage")]
pub(crate) struct UsageDay {
    username: String,
    #[schemars(schema_with = "crate::openapi::field::day")]
    day: String,
    input_octets: i64,
    output_octets: i64,
    online_seconds: i64,
    sessions: i64,
}

impl From<usage::DailyUsage> for UsageDay {
    fn from(d: usage::DailyUsage) -> Self {
        UsageDay {
            username: d.username,
            day: d.day,
            input_octets: d.input_octets,
            output_octets: d.output_octets,
            online_seconds: d.online_seconds,
            sessions: d.sessions,
        }
    }
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct OptOutEntry {
    msisdn: String,
    /// who opted it out: subscriber, operator or provider
    source: String,
    #[schemars(schema_with = "crate::openapi::field::ts")]
    created_at: String,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct OptOut {
    msisdn: String,
    opted_out: bool,
}

/// What SMS cost, in ten-thousandths of a shilling (`_e4`).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub(crate) struct SmsCosts {
    days: i64,
    messages: i64,
    cost_e4: i64,
    /// the same in shillings, four decimals
    cost_kes: String,
    per_day: Vec<SmsCostDay>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(inline)]
struct SmsCostDay {
    day: String,
    messages: i64,
    cost_e4: i64,
}

/// Every admin error answer.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub(crate) struct AdminError {
    pub error: String,
}

#[cfg(test)]
mod openapi_tests {
    use serde_json::Value;

    #[test]
    fn admin_openapi_document_has_every_admin_route_and_no_other() {
        let doc: Value = serde_json::from_str(super::OPENAPI).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented: Vec<&str> = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            documented.push(path);
            let ops: Vec<_> = item
                .as_object()
                .expect("path item")
                .iter()
                .filter(|(k, _)| ["get", "put", "post", "patch", "delete"].contains(&k.as_str()))
                .collect();
            assert!(!ops.is_empty(), "{path}: no operation");
            for (method, op) in ops {
                assert!(op["summary"].is_string() && op["security"].is_array(), "{method} {path}");
                let ok: Vec<&String> =
                    op["responses"].as_object().expect("responses").keys().filter(|k| k.starts_with('2')).collect();
                assert_eq!(ok.len(), 1, "{method} {path}: one success answer");
                let content = op["responses"][ok[0].as_str()]["content"].as_object().expect("content");
                assert!(content.values().all(|c| c["schema"].is_object()), "{method} {path}: success schema");
                for e in ["4XX", "5XX"] {
                    assert_eq!(
                        op["responses"][e]["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path}: {e}"
                    );
                }
            }
        }
        for (i, _) in super::OPENAPI.match_indices("#/components/schemas/") {
            let name: String = super::OPENAPI[i + 21..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(doc["components"]["schemas"][&name].is_object(), "{name} is referenced but not defined");
        }
        documented.sort_unstable();
        let mut routes = crate::api::admin_api_paths();
        routes.sort_unstable();
        assert_eq!(documented, routes, "admin_openapi.json and the route table differ");
    }
}
