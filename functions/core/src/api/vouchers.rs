//! Hotspot vouchers: batches for the operator, and the public, stateless code check.
//!
//! - `POST /api/t/{realm}/voucher-batches` `{plan, count, note?, valid_days?}` (tenant admin): a batch.
//! - `GET  /api/t/{realm}/voucher-batches` (tenant admin): the newest 100 batches.
//! - `GET  /api/t/{realm}/voucher-batches/{id}/codes?offset=&limit=&format=csv` (tenant admin): its codes,
//!   derived again on every call (nothing per code is stored), JSON or CSV for printing.
//! - `GET  /api/v/{realm}/vouchers/{code}` (public): is this a code the tenant issued? Answers from the
//!   code and the platform secret alone, with no database, so it also runs where none is bound. It says
//!   nothing about whether the code was used: redemption is a separate, stateful step.

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
    ok(&serde_json::json!({"realm": realm.as_str(), "code": code, "batch": id.batch, "serial": id.serial}))
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
    created(&serde_json::json!({"batch": batch, "codes_url": codes_url}))
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
    let list: Vec<_> = codes.iter().map(|(serial, code)| serde_json::json!({"serial": serial, "code": code})).collect();
    ok(&serde_json::json!({"batch": batch, "offset": offset, "next_offset": next, "codes": list}))
}
