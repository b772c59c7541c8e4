//! The reconciler's signed sync API: desired network state, the change feed, reports, usage.
//!
//! The wire types, the signing and its header names are the contract crate's
//! ([`konnekted_sync_proto`]): this module reads the tenant's database into those types and
//! writes what the reconciler and the RADIUS agent report. Stale (±300 s) or wrong
//! signature: 401.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use konnekted_sync_proto as proto;

use super::{ApiError, ApiResult, Params, Query, Route, body_json, json, ok, tenant_of};
use crate::Ctx;
use crate::db::Db;
use crate::domain::plan::PlanKind;
use crate::domain::time::fmt_ts;
use crate::platform::Platform;
use crate::store::tenants::Tenant;
use crate::store::{feed, plans, reports, subscribers, usage};

pub use proto::{HEADER_SIGNATURE, HEADER_TIMESTAMP, REPLAY_WINDOW_SECS, sign};

fn verify(req: &Request<Bytes>, key: &str, now: i64) -> Result<(), ApiError> {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let pq = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    proto::verify(
        key.as_bytes(),
        req.method().as_str(),
        pq,
        header(HEADER_TIMESTAMP),
        header(HEADER_SIGNATURE),
        req.body(),
        now,
    )
    .map_err(|_| ApiError::Unauthorized)
}

pub(crate) async fn handle<P: Platform>(
    p: &P,
    route: Route,
    params: &Params,
    req: Request<Bytes>,
    ctx: &Ctx,
) -> ApiResult {
    let (tenant, db) = tenant_of(p, params).await?;
    verify(&req, tenant.sync_key.expose(), ctx.now.timestamp())?;
    match (route, req.method().clone()) {
        (Route::SyncDesired, Method::GET) => ok(&desired(&db, &tenant, ctx).await?),
        (Route::SyncFeed, Method::GET) => {
            let q = Query::parse(req.uri().query());
            let after = q.int("after", 0, i64::MAX)?;
            let limit = q.int("limit", proto::FEED_DEFAULT_LIMIT, proto::FEED_MAX_LIMIT)?;
            ok(&feed_page(&db, after, limit).await?)
        }
        (Route::SyncReports, Method::POST) => {
            let r: proto::Report = body_json(&req)?;
            if r.router.trim().is_empty() {
                return Err(ApiError::BadRequest("router is required; outcome is ok, refused or error".into()));
            }
            let report_json = serde_json::to_string(&r).unwrap_or_default();
            let received_at = fmt_ts(ctx.now);
            db.batch(&[reports::insert(&reports::NewReport {
                router: &r.router,
                started_at: r.started_at.as_deref(),
                finished_at: r.finished_at.as_deref(),
                outcome: r.outcome.as_str(),
                drift_found: i64::try_from(r.drift_found).unwrap_or(i64::MAX),
                drift_fixed: i64::try_from(r.drift_fixed).unwrap_or(i64::MAX),
                report_json: &report_json,
                received_at: &received_at,
            })])
            .await?;
            Ok(json(StatusCode::ACCEPTED, &proto::ReportAccepted { accepted: true }))
        }
        (Route::SyncUsage, Method::POST) => {
            let u: proto::UsageReport = body_json(&req)?;
            if u.days.len() > proto::MAX_USAGE_DAYS
                || u.online.as_ref().is_some_and(|o| o.len() > proto::MAX_ONLINE_SESSIONS)
            {
                return Err(ApiError::BadRequest("at most 10,000 day rows and 20,000 sessions per report".into()));
            }
            if u.days.iter().any(|d| d.day.len() != 10 || d.input_octets < 0 || d.output_octets < 0) {
                return Err(ApiError::BadRequest("day must be YYYY-MM-DD and octets non-negative".into()));
            }
            let at = fmt_ts(ctx.now);
            let mut batch: Vec<crate::db::Statement> = u.days.iter().map(|d| usage::upsert_day(d, &at)).collect();
            if let Some(online) = &u.online {
                batch.extend(usage::replace_online(online, &at));
            }
            if !batch.is_empty() {
                db.batch(&batch).await?;
            }
            let accepted = proto::UsageAccepted { days: u.days.len(), online: u.online.as_ref().map(Vec::len) };
            Ok(json(StatusCode::ACCEPTED, &accepted))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// The change-feed rows after `after`, at most `limit`, as the wire page.
async fn feed_page(db: &impl Db, after: i64, limit: i64) -> Result<proto::FeedPage, ApiError> {
    let changes: Vec<proto::FeedChange> = feed::after(db, after, limit)
        .await?
        .into_iter()
        .map(|c| proto::FeedChange {
            seq: c.seq,
            subscriber_id: c.subscriber_id,
            kind: proto::FeedKind::parse(&c.kind),
            payload: c.payload,
            created_at: Some(c.created_at),
        })
        .collect();
    let cursor = changes.last().map_or(after, |c| c.seq);
    Ok(proto::FeedPage { cursor, changes })
}

/// The tenant's whole desired network state.
pub(crate) async fn desired(db: &impl Db, tenant: &Tenant, ctx: &Ctx) -> Result<proto::DesiredState, ApiError> {
    let realm = tenant.realm.as_str();
    let cursor = feed::cursor(db).await?;
    // A hotspot plan's sessions get the tenant's Idle-Timeout from RADIUS's rows too, as from the
    // edge's voucher answer (0: none).
    let idle = u32::try_from(tenant.settings.hotspot_idle_timeout_seconds).ok().filter(|s| *s > 0);
    let kbps = |v: i64| u64::try_from(v).unwrap_or(0);
    let plans = plans::list(db)
        .await?
        .iter()
        .map(|p| proto::Plan {
            code: p.code.clone(),
            name: p.name.clone(),
            kind: p.kind.as_str().to_owned(),
            down_kbps: kbps(p.down_kbps),
            up_kbps: kbps(p.up_kbps),
            rate_limit: p.rate_limit(),
            idle_timeout_seconds: if p.kind == PlanKind::Hotspot { idle } else { None },
        })
        .collect();
    let subscribers = subscribers::network_rows(db)
        .await?
        .into_iter()
        .map(|r| proto::Subscriber {
            id: r.id,
            username: r.username,
            password: r.password.expose().to_owned(),
            plan: r.plan_code,
            status: proto::SubscriberStatus::parse(&r.status),
            static_ip: r.static_ip,
            site: r.site,
            expires_at: r.expires_at,
        })
        .collect();
    let vouchers = crate::store::redemptions::running(db, ctx.now, realm)
        .await?
        .into_iter()
        .map(|r| proto::Voucher {
            code: r.code,
            plan: r.plan,
            expires_at: r.expires_at,
            macs: r.macs,
            bytes_left: r.bytes_left.and_then(|b| u64::try_from(b).ok()),
        })
        .collect();
    let disable_confirmations = crate::store::held::latest_confirmations(db).await?;
    Ok(proto::DesiredState {
        realm: realm.to_owned(),
        generated_at: fmt_ts(ctx.now),
        cursor,
        plans,
        subscribers,
        vouchers,
        disable_confirmations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_is_hmac_over_method_path_time_and_body_hash() {
        // Computed independently with openssl dgst -sha256 -hmac k over 'GET\n/sync/acme/desired\n1700000000\n' + sha256('').
        let s = sign(b"k", "GET", "/sync/acme/desired", 1_700_000_000, b"");
        assert_eq!(s, "3b8c31e77f95ef1a35a3861c6b5098d303cb005598fe31ee08441e468f5ffc5b");
        assert_ne!(s, sign(b"k", "GET", "/sync/acme/desired", 1_700_000_001, b""));
        assert_ne!(s, sign(b"k2", "GET", "/sync/acme/desired", 1_700_000_000, b""));
        assert_ne!(s, sign(b"k", "GET", "/sync/beta/desired", 1_700_000_000, b""));
    }
}
