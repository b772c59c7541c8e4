//! Hotspot vouchers: batches for the operator, and the public, stateless code check.
//!
//! - `POST /api/t/{realm}/voucher-batches` `{plan, count, note?, valid_days?}` (tenant admin): a batch.
//! - `GET  /api/t/{realm}/voucher-batches` (tenant admin): the newest 100 batches.
//! - `GET  /api/t/{realm}/voucher-batches/{id}/codes?offset=&limit=&format=csv` (tenant admin): its codes,
//!   derived again on every call (nothing per code is stored), JSON or CSV for printing.
//! - `GET  /api/t/{realm}/voucher-batches/{id}/sheet?layout=a4|58|80&offset=&limit=` (tenant admin): the
//!   print-ready sheet (`web::sheets`), QR codes opening the portal with the code filled in.
//! - `GET  /api/t/{realm}/voucher-report?days=30` (tenant admin): per batch sold / redeemed / unused /
//!   expired, redemptions and revenue per day, revenue per agent.
//! - An agent's API key (role `agent`) acts for the agent it is named after: it lists, prints and
//!   reports only the printed batches made for that name, and a batch it makes is that agent's at
//!   the plan's price ([`for_agent`]).
//! - `GET  /api/v/{realm}/vouchers/{code}` (public): is this code well-formed and signed with the
//!   tenant's key? Answers from the code and the platform secret alone, with no database, so it also
//!   runs where none is bound. It does not say the batch exists, the serial was printed or the code is
//!   unused: redemption (`usecases::vouchers::redeem`) decides "issued and unused" from the database.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};

use super::{ApiError, ApiResult, Params, Query, created, ok};
use crate::Ctx;
use crate::db::Db;
use crate::domain::Realm;
use crate::ids::IdGen;
use crate::platform::Platform;
use crate::store::tenants::Tenant;
use crate::store::vouchers;
use crate::usecases::vouchers as uc;

fn realm_of(params: &Params) -> Result<Realm, ApiError> {
    params.realm.as_deref().and_then(|r| Realm::parse(r).ok()).ok_or_else(|| ApiError::NotFound("tenant".into()))
}

/// `GET /api/v/{realm}/vouchers/{code}`.
pub(crate) fn check<P: Platform>(p: &P, params: &Params) -> ApiResult {
    let realm = realm_of(params)?;
    let typed = params.id.as_deref().map(super::percent_decode).unwrap_or_default();
    let (code, id) = uc::check(p.settings(), &realm, &typed)?;
    ok(&serde_json::json!({"realm": realm.as_str(), "code": code, "batch": id.batch, "serial": id.serial,
        "status": "well_formed_and_signed"}))
}

pub(crate) async fn create<P: Platform>(
    p: &P,
    t: &Tenant,
    db: &P::Db,
    req: &Request<Bytes>,
    ids: &mut IdGen,
    ctx: &Ctx,
) -> ApiResult {
    // Refuse before writing: a batch whose codes cannot be printed is no use.
    uc::key(p.settings(), &t.realm)?;
    let batch = uc::create_batch(db, super::body_json(req)?, ids, ctx.now).await?;
    let codes_url = format!("/api/t/{}/voucher-batches/{}/codes", t.realm.as_str(), batch.id);
    created(&BatchCreated { batch, codes_url })
}

/// `POST voucher-batches`: the batch and where its codes are.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "VoucherBatchCreated")]
pub(crate) struct BatchCreated {
    pub batch: vouchers::Batch,
    pub codes_url: String,
}

/// `GET voucher-batches/{id}/codes` as JSON: one page of a batch's codes.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "VoucherCodes")]
pub(crate) struct Codes {
    pub batch: vouchers::Batch,
    pub offset: u32,
    /// the offset of the next page; null on the last
    pub next_offset: Option<u32>,
    pub codes: Vec<Code>,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(inline)]
pub(crate) struct Code {
    pub serial: u32,
    pub code: String,
}

pub(crate) async fn list(db: &impl Db) -> ApiResult {
    ok(&vouchers::list(db, 100).await?)
}

pub(crate) async fn codes<P: Platform>(p: &P, t: &Tenant, db: &P::Db, params: &Params, q: &Query) -> ApiResult {
    let id: u32 =
        params.id.as_deref().and_then(|s| s.parse().ok()).ok_or_else(|| ApiError::NotFound("voucher batch".into()))?;
    let batch = vouchers::get(db, id).await?.ok_or_else(|| ApiError::NotFound("voucher batch".into()))?;
    let key = uc::key(p.settings(), &t.realm)?;
    let offset = q.int("offset", 0, i64::from(u32::MAX))? as u32;
    let limit = q.int("limit", 1000, 5000)? as u32;
    let codes = uc::codes(&key, &t.realm, &batch, offset, limit);
    if q.get("format") == Some("csv") {
        let mut csv = String::with_capacity(24 * (codes.len() + 1));
        csv.push_str("batch,serial,code\n");
        for (serial, code) in &codes {
            csv.push_str(&format!("{},{serial},{code}\n", batch.id));
        }
        let mut r = Response::new(Bytes::from(csv));
        let disposition = format!("attachment; filename=\"vouchers-{}-batch-{}.csv\"", t.realm.as_str(), batch.id);
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        *r.status_mut() = StatusCode::OK;
        return Ok(r);
    }
    let next = (offset.saturating_add(limit) < batch.count).then(|| offset.saturating_add(limit));
    let codes = codes.into_iter().map(|(serial, code)| Code { serial, code }).collect();
    ok(&Codes { batch, offset, next_offset: next, codes })
}

/// `GET /api/t/{realm}/voucher-batches/{id}/sheet?layout=a4|58|80`.
pub(crate) async fn sheet<P: Platform>(
    p: &P,
    t: &Tenant,
    db: &P::Db,
    params: &Params,
    q: &Query,
    req: &Request<Bytes>,
) -> ApiResult {
    let id: u32 =
        params.id.as_deref().and_then(|s| s.parse().ok()).ok_or_else(|| ApiError::NotFound("voucher batch".into()))?;
    let batch = vouchers::get(db, id).await?.ok_or_else(|| ApiError::NotFound("voucher batch".into()))?;
    sheet_of(p, t, db, &batch, q, req).await
}

/// The print-ready sheet of `batch` (`?layout=a4|58|80&offset=&limit=`): the admin API's sheet
/// route and the console's print page both answer with it.
pub(crate) async fn sheet_of<P: Platform>(
    p: &P,
    t: &Tenant,
    db: &P::Db,
    batch: &vouchers::Batch,
    q: &Query,
    req: &Request<Bytes>,
) -> ApiResult {
    use crate::web::sheets::{self, Layout};
    let layout = Layout::parse(q.get("layout").unwrap_or("a4"))
        .ok_or_else(|| ApiError::BadRequest("layout must be a4, 58 or 80".into()))?;
    let plan = crate::store::plans::get(db, &batch.plan_id).await?.ok_or_else(|| ApiError::NotFound("plan".into()))?;
    let key = uc::key(p.settings(), &t.realm)?;
    let offset = q.int("offset", 0, i64::from(u32::MAX))? as u32;
    let limit = q.int("limit", 1000, 5000)? as u32;
    let codes = uc::codes(&key, &t.realm, batch, offset, limit);
    let base = match p.settings().public_base_url.trim_end_matches('/') {
        "" => {
            let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
        b => b.to_owned(),
    };
    let portal_url = format!("{base}/h/{}", t.realm.as_str());
    let lang = crate::web::Lang::En;
    let gives = crate::web::fmt::duration(plan.period_seconds, lang)
        + &plan.data_cap_bytes.map(|b| format!(" · {}", crate::web::fmt::bytes(b))).unwrap_or_default();
    let validity = batch
        .valid_until
        .as_deref()
        .and_then(crate::domain::time::parse_ts)
        .map(|t| format!("Use by {}", crate::web::fmt::eat_date(t, lang)))
        .unwrap_or_default();
    let s = sheets::Sheet {
        tenant_name: &t.name,
        portal_url: &portal_url,
        batch_id: batch.id,
        package: &plan.name,
        gives: &gives,
        price_cents: batch.price_cents.unwrap_or(plan.price.cents()),
        validity: &validity,
        agent: &batch.agent,
        codes: &codes,
    };
    let mut r = Response::new(Bytes::from(sheets::render(layout, &s)));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ),
    );
    Ok(r)
}

/// `GET /api/t/{realm}/voucher-report?days=30`.
pub(crate) async fn report(db: &impl Db, q: &Query, ctx: &Ctx) -> ApiResult {
    let days = q.int("days", 30, 366)?.max(1);
    ok(&crate::store::voucher_report::report(db, days, ctx.now).await?)
}

/// The voucher routes for an agent's API key: the agent is the key's name, and, as in the
/// console, sees, prints and sells only the printed batches made for that name; a batch the key
/// makes is the agent's, at the plan's price. Another batch is 404, as if it did not exist.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn for_agent<P: Platform>(
    p: &P,
    route: super::Route,
    params: &Params,
    req: &Request<Bytes>,
    ctx: &Ctx,
    t: &Tenant,
    db: &P::Db,
    agent: &str,
    ids: &mut IdGen,
) -> ApiResult {
    use super::Route;
    use http::Method;
    let q = Query::parse(req.uri().query());
    let own = |b: &vouchers::Batch| b.kind == vouchers::KIND_PRINTED && b.agent == agent;
    match (route, req.method().clone()) {
        (Route::VoucherBatches, Method::GET) => ok(&vouchers::list_for_agent(db, agent, 100).await?),
        (Route::VoucherBatches, Method::POST) => {
            uc::key(p.settings(), &t.realm)?;
            let mut input: uc::BatchInput = super::body_json(req)?;
            input.agent = agent.to_owned();
            input.price_cents = None;
            let batch = uc::create_batch(db, input, ids, ctx.now).await?;
            let codes_url = format!("/api/t/{}/voucher-batches/{}/codes", t.realm.as_str(), batch.id);
            created(&BatchCreated { batch, codes_url })
        }
        (Route::VoucherCodes | Route::VoucherSheet, Method::GET) => {
            let id: u32 = params.id.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
            let batch =
                vouchers::get(db, id).await?.filter(own).ok_or_else(|| ApiError::NotFound("voucher batch".into()))?;
            if route == Route::VoucherSheet {
                sheet_of(p, t, db, &batch, &q, req).await
            } else {
                codes(p, t, db, params, &q).await
            }
        }
        (Route::VoucherReport, Method::GET) => {
            let days = q.int("days", 30, 366)?.max(1);
            let mut r = crate::store::voucher_report::report(db, days, ctx.now).await?;
            r.batches.retain(|b| b.kind == vouchers::KIND_PRINTED && b.agent == agent);
            r.per_agent.retain(|a| a.agent == agent);
            // per day sums every seller's redemptions: not the agent's to see
            r.per_day.clear();
            ok(&r)
        }
        _ => Err(ApiError::Forbidden),
    }
}
